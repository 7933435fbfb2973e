"""The handler tests/test_redrive_e2e.py asks real workers to run. It coordinates with the
test through Redis (the worker is another process): what each branch does is a key the test
sets, and each call is logged as `branch|$$.Execution.RedriveCount|pid`."""

from __future__ import annotations

import os
import signal
from typing import Any

import redis

from engine.handlers import TaskContext, handler

_client: redis.Redis | None = None


def _redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)
    return _client


class PartnerApiDown(Exception):
    pass


@handler("RedriveStepLambda")
def redrive_step(event: dict[str, Any], context: TaskContext) -> dict[str, Any]:
    """Mode `fail`: raise; `kill-once`: SIGKILL its own worker process the first time (a
    worker dying mid-Task), succeed after; anything else: succeed."""
    r = _redis()
    branch = event["branch"]
    r.rpush(f"test:redrive:calls:{context.execution_arn}",
            f"{branch}|{event.get('redrives')}|{os.getpid()}")
    mode = r.get(f"test:redrive:mode:{context.execution_arn}:{branch}")
    if mode == "fail":
        raise PartnerApiDown(f"branch {branch}: the partner API answered 503")
    if mode == "kill-once" and r.set(f"test:redrive:killed:{context.execution_arn}", "1", nx=True):
        os.kill(os.getpid(), signal.SIGKILL)
    return {"branch": branch, "redrives": event.get("redrives")}
