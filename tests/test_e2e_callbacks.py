"""End to end, on real workers and a real Redis: a `.waitForTaskToken` Task hands its token
to a handler and waits durably (its handler has returned; no worker holds it) until the
token is answered from another process, a timeout or a missed heartbeat."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import redis

from engine.client import Client
from engine.connect import connect
from engine.errors import TaskTimedOut
from engine.settings import Settings

pytestmark = [pytest.mark.redis, pytest.mark.worker]


def approval(**task: Any) -> str:
    return json.dumps({
        "StartAt": "Approve",
        "States": {
            "Approve": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {
                    "FunctionName": "RequestApprovalLambda",
                    "Payload": {"token.$": "$$.Task.Token", "approver": "ann"},
                },
                "ResultPath": "$.decision",
                "End": True,
                **task,
            }
        },
    })


def token_of(r: redis.Redis, arn: str, count: int = 1, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tokens = r.lrange(f"test:tokens:{arn}", 0, -1)
        if len(tokens) >= count:
            return str(tokens[count - 1])
        time.sleep(0.05)
    raise AssertionError(f"no token handed out for {arn}")


def wait_for_type(client: Client, arn: str, event_type: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if event_type in [e["type"] for e in client.get_history(arn)]:
            return
        time.sleep(0.05)
    raise AssertionError(f"{event_type} never logged for {arn}")


def test_a_callback_waits_then_takes_the_answer_sent_from_another_client(
    worker: Any, redis_url: str, redis_client: redis.Redis, unique: str
) -> None:
    client = connect(Settings(redis_url=redis_url))
    client.create_state_machine(f"Approval{unique}", approval())
    execution = client.start_execution(f"Approval{unique}", {"order": 1})
    token = token_of(redis_client, execution.arn)
    wait_for_type(client, execution.arn, "TaskSubmitted")
    time.sleep(0.5)
    assert client.describe_execution(execution.arn).status == "RUNNING"
    # Another process's client (as the API server or the CLI would be) answers.
    answering = connect(Settings(redis_url=redis_url))
    answering.send_task_success(token, {"approved": True})
    done = client.wait(execution.arn, timeout=30)
    assert done.status == "SUCCEEDED"
    assert json.loads(done.output or "") == {"order": 1, "decision": {"approved": True}}
    with pytest.raises(TaskTimedOut):
        answering.send_task_success(token, {"approved": False})
    types = [e["type"] for e in client.get_history(execution.arn)]
    assert types == [
        "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted",
        "TaskSubmitted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded",
    ]


def test_a_callback_times_out_and_a_late_answer_is_refused(
    worker: Any, redis_url: str, redis_client: redis.Redis, unique: str
) -> None:
    client = connect(Settings(redis_url=redis_url))
    definition = json.loads(approval(
        TimeoutSeconds=2,
        Catch=[{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "Expired"}],
    ))
    del definition["States"]["Approve"]["End"]
    definition["States"]["Approve"]["Next"] = "Expired"
    definition["States"]["Expired"] = {"Type": "Pass", "End": True}
    client.create_state_machine(f"Late{unique}", json.dumps(definition))
    execution = client.start_execution(f"Late{unique}", {})
    token = token_of(redis_client, execution.arn)
    done = client.wait(execution.arn, timeout=30)
    assert done.status == "SUCCEEDED"
    assert json.loads(done.output or "")["error"] == {"Error": "States.Timeout", "Cause": ""}
    with pytest.raises(TaskTimedOut):
        client.send_task_success(token, {})
    assert "TaskTimedOut" in [e["type"] for e in client.get_history(execution.arn)]


def test_heartbeats_keep_a_callback_alive_and_a_missed_one_fails_it(
    worker: Any, redis_url: str, redis_client: redis.Redis, unique: str
) -> None:
    client = connect(Settings(redis_url=redis_url))
    client.create_state_machine(f"Beat{unique}", approval(HeartbeatSeconds=2))
    kept = client.start_execution(f"Beat{unique}", {}, name="kept")
    token = token_of(redis_client, kept.arn)
    wait_for_type(client, kept.arn, "TaskSubmitted")
    for _ in range(5):  # 5 s of heartbeats every second: more than two HeartbeatSeconds
        client.send_task_heartbeat(token)
        time.sleep(1.0)
    assert client.describe_execution(kept.arn).status == "RUNNING"
    client.send_task_success(token, "done")
    assert client.wait(kept.arn, timeout=30).status == "SUCCEEDED"

    missed = client.start_execution(f"Beat{unique}", {}, name="missed")
    token_of(redis_client, missed.arn)
    done = client.wait(missed.arn, timeout=30)
    assert (done.status, done.error) == ("FAILED", "States.Timeout")


def test_the_waiting_tasks_gauge_counts_a_waiting_callback(
    worker: Any, redis_url: str, redis_client: redis.Redis, unique: str
) -> None:
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from engine.metrics import build_registry

    client = connect(Settings(redis_url=redis_url))
    registry = build_registry(client.store)

    def callbacks_waiting() -> float:
        text = generate_latest(registry).decode()
        [family] = [f for f in text_string_to_metric_families(text)
                    if f.name == "sfn_tasks_waiting"]
        return next(s.value for s in family.samples if s.labels["kind"] == "callback")

    before = callbacks_waiting()
    client.create_state_machine(f"Gauge{unique}", approval())
    execution = client.start_execution(f"Gauge{unique}", {})
    token = token_of(redis_client, execution.arn)
    wait_for_type(client, execution.arn, "TaskSubmitted")
    assert callbacks_waiting() == before + 1
    client.send_task_success(token, {})
    assert client.wait(execution.arn, timeout=30).status == "SUCCEEDED"
    assert callbacks_waiting() == before
