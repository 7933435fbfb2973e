"""End to end, on real workers: a failed branch stops its running siblings in the same
commit (their *Aborted events, their snapshots done, their pending messages consumed)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import redis

from engine.connect import connect
from engine.settings import Settings
from engine.store import keys

pytestmark = [pytest.mark.redis, pytest.mark.worker]

DEFINITION = {
    "StartAt": "Fan",
    "States": {
        "Fan": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 30,
                                                        "End": True}}},
                # Fails a second later, once the other branch is surely in its Wait.
                {"StartAt": "Soon", "States": {"Soon": {"Type": "Wait", "Seconds": 1,
                                                        "Next": "Boom"},
                                               "Boom": {"Type": "Fail", "Error": "E"}}},
            ],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Later"}],
            "End": True,
        },
        # Keeps the execution running, so that its outbox can be looked at.
        "Later": {"Type": "Wait", "Seconds": 600, "End": True},
    },
}


def test_a_failed_branch_aborts_a_waiting_sibling_and_consumes_its_timer(
    worker: Any, redis_url: str, redis_client: redis.Redis, unique: str
) -> None:
    client = connect(Settings(redis_url=redis_url))
    client.create_state_machine(f"Abort{unique}", json.dumps(DEFINITION))
    execution = client.start_execution(f"Abort{unique}", {})
    deadline = time.monotonic() + 30
    while True:
        types = [e["type"] for e in client.get_history(execution.arn)]
        if types[-2:] == ["ParallelStateExited", "WaitStateEntered"]:
            break  # caught, and waiting in Later
        assert time.monotonic() < deadline, types
        time.sleep(0.05)
    assert types[:3] == ["ExecutionStarted", "ParallelStateEntered", "ParallelStateStarted"]
    assert types[3:5] == ["WaitStateEntered", "WaitStateEntered"]  # in either order
    assert types[5:] == ["WaitStateExited", "FailStateEntered", "WaitStateAborted",
                         "ParallelStateFailed", "ParallelStateExited", "WaitStateEntered"]
    eid = execution.eid
    # Pending now: the outer Wait's timer only; the aborted branch's 30 s timer is gone.
    pending = [json.loads(m) for m in redis_client.hvals(keys.outbox(eid))]
    assert [(m["k"], m["s"]) for m in pending] == [("timer", "Later")]
    branches = {
        key: json.loads(redis_client.hget(key, "d") or "{}")
        for key in redis_client.scan_iter(keys.run(eid, "0/*"))
    }
    aborted = [doc for doc in branches.values() if doc.get("aborted")]
    assert len(branches) == 2 and len(aborted) == 1
    assert aborted[0]["phase"] == "done" and aborted[0]["parent"]["index"] == 0
    client.stop_execution(execution.arn)
