"""An activity Task's TimeoutSeconds counts from ActivityStarted, as AWS documents it ("The
count begins after the task has been started, for example, when ActivityStarted ... [is]
logged"), not from its scheduling: a task that waits for a poller longer than its
TimeoutSeconds still gets its whole TimeoutSeconds once a poller takes it; a task taken and
never answered times out. Real redis-server and a real Celery worker."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from engine.client import Client
from engine.connect import connect
from engine.errors import TaskTimedOut
from engine.settings import Settings

pytestmark = [pytest.mark.redis, pytest.mark.worker]

TIMEOUT = 2


def setup(client: Client, unique: str) -> tuple[str, str]:
    activity = client.activities.create(f"slow{unique}").arn
    client.create_state_machine(f"Slow{unique}", json.dumps({
        "StartAt": "Work",
        "States": {"Work": {"Type": "Task", "Resource": activity,
                            "TimeoutSeconds": TIMEOUT, "End": True}},
    }))
    return activity, f"Slow{unique}"


def test_timeout_counts_from_activity_started_not_scheduling(
        worker: Any, redis_url: str, unique: str) -> None:
    client = connect(Settings(redis_url=redis_url))
    activity, machine = setup(client, unique)
    execution = client.start_execution(machine, {"n": 1})
    # No poller for longer than TimeoutSeconds: counted from scheduling, it would have
    # timed out by now.
    time.sleep(TIMEOUT * 2 + 0.5)
    assert client.describe_execution(execution.arn).status == "RUNNING"
    polled = client.activities.get_task(activity, "late-worker", wait=10)
    assert polled is not None, "the task waited for a poller"
    token, _ = polled
    client.send_task_success(token, {"done": True})
    done = client.wait(execution.arn, timeout=30)
    assert (done.status, json.loads(done.output or "null")) == ("SUCCEEDED", {"done": True})
    types = [e["type"] for e in client.get_history(execution.arn)]
    assert types[-4:] == ["ActivityStarted", "ActivitySucceeded", "TaskStateExited",
                          "ExecutionSucceeded"]


def test_a_task_taken_and_never_answered_times_out(
        worker: Any, redis_url: str, unique: str) -> None:
    client = connect(Settings(redis_url=redis_url))
    activity, machine = setup(client, unique)
    execution = client.start_execution(machine, {"n": 2})
    polled = client.activities.get_task(activity, "silent-worker", wait=10)
    assert polled is not None
    done = client.wait(execution.arn, timeout=60)
    assert (done.status, done.error) == ("FAILED", "States.Timeout")
    history = client.get_history(execution.arn)
    assert [e["type"] for e in history][-2:] == ["ActivityTimedOut", "ExecutionFailed"]
    with pytest.raises(TaskTimedOut):
        client.send_task_success(polled[0], {"late": True})
