"""Callbacks and nested executions in the chaos workload.

`ChaosCallback` asks a handler (registered as `ecs:runTask`, a `.waitForTaskToken`
resource) to pass its task token on; the handler records the token in the ledger (the Redis
no fault touches) and returns. The `Answerer` thread of the harness plays the outside world:

    mode "ok"    once the task is submitted: SendTaskSuccess, then the same answer again
                 (must be refused: TaskTimedOut)
    mode "fail"  once submitted: SendTaskFailure (Chaos.Rejected, caught), then again
    mode "late"  never in time: the Task times out (TimeoutSeconds, caught); then the
                 answer is sent anyway (must be refused)

Every answer is retried through Redis outages until the engine says applied or refused; an
answer that should have been refused and applied is counted (`late_or_duplicate_applied`,
the run fails if it is not 0). `ChaosNested` starts a `ChaosFlaky` child with
`states:startExecution.sync:2` and waits for it.

The fault-free run (`answer_expected`) answers the same way in-process, so each execution's
expected status, output and history are known. Tokens and the child's dates differ between
two correct runs: `normalize` masks them before events are compared.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import Counter
from typing import Any

import redis

from engine.client import Client
from engine.errors import EngineError, TaskTimedOut

log = logging.getLogger(__name__)

ASKED = "chaos:asked"  # ledger hash: idempotency key -> JSON {token, mode, key, eid}
REJECTED = "Chaos.Rejected"
LATE_TIMEOUT_SECONDS = 30
_TOKEN = re.compile(r"T1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_DATES = re.compile(r'("(?:StartDate|StopDate)\\?":)\d+')


def normalize(text: str) -> str:
    """An event's JSON with what differs between two correct runs masked: task tokens
    (random by design) and a child execution's start and stop dates."""
    return _DATES.sub(r"\1 0", _TOKEN.sub("<token>", text))


def answer_of(key: str) -> dict[str, Any]:
    """What the outside world answers for a task (a stable function of its key)."""
    import zlib

    return {"n": zlib.crc32(key.encode()) % 1000, "by": "answerer"}


def ask(event: dict[str, Any], attempt: int) -> dict[str, Any]:
    """The handler's own result (shown in TaskSubmitted)."""
    return {"asked": event["key"], "mode": event["mode"]}


def record_token(r: redis.Redis, idempotency_key: str, event: dict[str, Any], eid: str) -> None:
    r.hset(ASKED, idempotency_key, json.dumps(
        {"token": event["token"], "mode": event["mode"], "key": event["key"], "eid": eid}
    ))


def answer_expected(client: Client, asked: list[dict[str, Any]]) -> None:
    """The fault-free run: answer what the faulted run's answerer will answer."""
    for event in asked:
        if event["mode"] == "ok":
            client.send_task_success(event["token"], answer_of(event["key"]))
        elif event["mode"] == "fail":
            client.send_task_failure(event["token"], error=REJECTED, cause=event["key"])


class Answerer(threading.Thread):
    """Answers the tokens the handlers recorded, as the module docstring says."""

    def __init__(self, client: Client, ledger_url: str, stop: threading.Event) -> None:
        super().__init__(name="chaos-answerer", daemon=True)
        self.client = client
        self.ledger = redis.Redis.from_url(ledger_url, decode_responses=True)
        self.stop = stop
        self.done: set[str] = set()  # tokens answered (or given up on)
        self.counts: Counter[str] = Counter()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                asked = self.ledger.hgetall(ASKED)
            except redis.RedisError:
                asked = {}
            for raw in asked.values():
                task = json.loads(raw)
                # By token: a scheduling lost to a Redis restart is made again with a new
                # token, which its handler records under the same key.
                if task["token"] not in self.done:
                    self._handle(task["token"], task)
            self.stop.wait(0.2)

    def _handle(self, key: str, task: dict[str, Any]) -> None:
        try:
            loaded = self.client.store.load_run(task["eid"], "0")
        except (redis.RedisError, OSError):
            return  # Redis is restarting: later
        doc = loaded.doc if loaded is not None else {}
        waiting = (doc.get("task") or {}).get("token") == task["token"]
        if task["mode"] == "late":
            if waiting:
                return  # not yet timed out: the answer must come after
            if self._send(task, "success") == "applied":
                self.counts["late_or_duplicate_applied"] += 1
            else:
                self.counts["late_refused"] += 1
            self.done.add(key)
            return
        if not waiting or not (doc.get("task") or {}).get("submitted"):
            return  # not submitted yet (its handler may run again): later
        first = self._send(task, "success" if task["mode"] == "ok" else "failure")
        self.counts[f"answered_{first}"] += 1
        second = self._send(task, "success" if task["mode"] == "ok" else "failure")
        if second == "applied":
            self.counts["late_or_duplicate_applied"] += 1
        else:
            self.counts["duplicate_refused"] += 1
        self.done.add(key)

    def _send(self, task: dict[str, Any], how: str) -> str:
        """"applied" or "refused" (TaskTimedOut), retried through Redis outages."""
        for _ in range(600):
            try:
                if how == "success":
                    self.client.send_task_success(task["token"], answer_of(task["key"]))
                else:
                    self.client.send_task_failure(task["token"], error=REJECTED,
                                                  cause=task["key"])
                return "applied"
            except TaskTimedOut:
                return "refused"
            except (EngineError, redis.RedisError, OSError) as exc:
                self.counts["answer_retries"] += 1
                log.debug("answer %s: %r", task["key"], exc)
                time.sleep(0.5)
        return "gave up"


__all__ = ["Answerer", "answer_expected", "answer_of", "ask", "normalize", "record_token"]
