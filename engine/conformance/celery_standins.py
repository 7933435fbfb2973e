"""The conformance stand-ins, served by real Celery workers.

A worker imports this module (SFN_HANDLER_MODULES=engine.conformance.celery_standins) and
serves one handler under every function name the corpus uses (SFN_CONFORMANCE_FUNCTIONS,
comma-separated). What a function does differs from case to case (the same name is an
identity function in one case and raises in another), so the runner writes each
execution's name -> behaviour map to Redis before it starts the execution, and the handler
looks its behaviour up there by the execution it runs for. One worker serves every case,
and cases run side by side.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Any, Final

import redis

from engine import arns
from engine.conformance.standins import BEHAVIOURS
from engine.handlers import TaskContext, TaskFailure, default_registry
from engine.store import keys

FUNCTIONS_ENV: Final = "SFN_CONFORMANCE_FUNCTIONS"


def behaviour_key(execution_name: str) -> str:
    """The Redis hash of one execution's stand-ins: function name -> {behaviour, sleep}."""
    return f"sfn:conformance:standins:{{{execution_name}}}"


@lru_cache(maxsize=1)
def _client() -> redis.Redis:
    url = os.environ.get("REDIS_URL")
    if not url:
        raise RuntimeError("the conformance stand-ins need REDIS_URL")
    return redis.Redis.from_url(url, decode_responses=True)


def _case_execution(execution_arn: str) -> str:
    """The name of the execution the runner started: a Distributed Map's child execution
    (a Map Run's) serves the stand-ins of its root parent, found up the Map Runs."""
    eid = arns.execution_id(execution_arn)
    client = _client()
    for _ in range(16):  # nested Distributed Maps: a few levels at most
        map_run_arn = client.hget(keys.meta(eid), "map_run_arn")
        if not map_run_arn:
            break
        parent = client.get(keys.map_run_parent(str(map_run_arn).rsplit(":", 1)[-1]))
        if parent is None:
            break
        eid = str(parent)
    # The execution's name (an EXPRESS execution's ARN ends with an id after it).
    return eid.split(":")[1]


def _handler_for(name: str) -> Any:
    def standin(event: Any, ctx: TaskContext) -> Any:
        execution = _case_execution(ctx.execution_arn)
        spec = _client().hget(behaviour_key(execution), name)
        if spec is None:
            raise TaskFailure(
                "Lambda.ResourceNotFoundException",
                f"Function not found: {name} (no stand-in for execution {execution})",
            )
        found = json.loads(spec)
        return BEHAVIOURS[found["behaviour"]](event, ctx, float(found.get("sleep", 0.0)))

    standin.__name__ = f"standin_{name}"
    return standin


def register_all() -> list[str]:
    names = [n.strip() for n in os.environ.get(FUNCTIONS_ENV, "").split(",") if n.strip()]
    for name in names:
        if default_registry.get(name) is None:
            default_registry.register(name, _handler_for(name))
    return names


register_all()
