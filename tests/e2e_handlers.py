"""Handlers the end-to-end tests ask real workers to run. They coordinate with the test
through Redis (the worker is another process): a handler that must fail N times counts its
calls under a key the test chose."""

from __future__ import annotations

import os
from typing import Any

from engine.handlers import TaskContext, handler
from engine.store.redis_client import client_from_url

_client: Any = None


def _redis() -> Any:
    """The store's Redis (a Redis Cluster too: tests/test_cluster_e2e.py)."""
    global _client
    if _client is None:
        _client = client_from_url(os.environ["REDIS_URL"], decode_responses=True)
    return _client


class EmailServiceDown(Exception):
    pass


@handler("FlakySendEmailLambda")
def flaky_send_email(event: dict[str, Any], context: TaskContext) -> dict[str, Any]:
    """Fails as many times as the test asked for this execution, then sends the e-mail."""
    r = _redis()
    calls = r.incr(f"test:calls:{context.execution_arn}")
    if calls <= int(r.get(f"test:failures:{context.execution_arn}") or 0):
        raise EmailServiceDown(f"SMTP relay refused the message (call {calls})")
    return {"status": "Email Sent", "orderId": event["orderId"]}


@handler("NotJsonLambda")
def not_json(event: Any, context: TaskContext) -> Any:
    return {1, 2, 3}


@handler("EchoLambda")
def echo(event: Any, context: TaskContext) -> Any:
    return event


@handler("LoneSurrogateLambda")
def lone_surrogate(event: Any, context: TaskContext) -> Any:
    """Returns a string no UTF-8 encoder takes: committing the Task's result raises an
    engine exception (UnicodeEncodeError) on every delivery, a poison message."""
    return {"a": "\ud800"}


@handler("KillsItsWorkerLambda")
def kills_its_worker(event: Any, context: TaskContext) -> Any:
    """Ends the worker process running it, on every delivery: a poison step no exception
    reports (a crashing C extension, the kernel's OOM killer). Only real workers run it."""
    import signal

    os.kill(os.getpid(), signal.SIGKILL)
    return event


@handler("RequestApprovalLambda")
def request_approval(event: dict[str, Any], context: TaskContext) -> dict[str, Any]:
    """A callback's handler: hands the task token to "the approver" (a Redis list the test
    reads) and returns at once; the state waits for the token's answer."""
    _redis().rpush(f"test:tokens:{context.execution_arn}", event["token"])
    return {"notified": event.get("approver", "nobody")}


@handler("ChainLinkLambda")
def chain_link(event: dict[str, Any], context: TaskContext) -> dict[str, Any]:
    """One link of a chain of Tasks: logs `state|pid` (the test kills that process mid-chain),
    takes `ms` milliseconds, and passes `n + 1` on."""
    import time

    _redis().rpush(f"test:chain:{context.execution_arn}", f"{context.state_name}|{os.getpid()}")
    time.sleep(int(event.get("ms", 0)) / 1000.0)
    return {"n": int(event["n"]) + 1, "ms": event.get("ms", 0)}
