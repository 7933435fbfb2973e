"""Replay of executions that waited for answers from outside, recorded on real Celery
workers over a real redis-server: a `.waitForTaskToken` callback answered from another
client (its TaskSubmitted and TaskSucceeded), an activity task taken by a poller (its
ActivityStarted worker name and answer) and a `.sync:2` child execution. The replay takes
every submission and answer from the recording, runs nothing for real, and reproduces the
history event for event; a changed definition is caught where it first diverges."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import redis

from engine.client import Client
from engine.connect import connect
from engine.settings import Settings
from engine.testing.replay import export_execution, replay

pytestmark = [pytest.mark.redis, pytest.mark.worker]


def definition(child_arn: str, activity_arn: str) -> dict[str, Any]:
    return {
        "StartAt": "Approve",
        "States": {
            "Approve": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": "RequestApprovalLambda",
                               "Payload": {"token.$": "$$.Task.Token", "approver": "ann"}},
                "TimeoutSeconds": 300,
                "ResultPath": "$.decision",
                "Next": "Pack",
            },
            "Pack": {"Type": "Task", "Resource": activity_arn, "TimeoutSeconds": 300,
                     "ResultPath": "$.parcel", "Next": "Ship"},
            "Ship": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {"StateMachineArn": child_arn,
                               "Input": {"parcel.$": "$.parcel"}},
                "ResultSelector": {"tracking.$": "$.Output.tracking"},
                "ResultPath": "$.shipment",
                "End": True,
            },
        },
    }


def token_of(r: redis.Redis, arn: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tokens = r.lrange(f"test:tokens:{arn}", 0, -1)
        if tokens:
            return str(tokens[0])
        time.sleep(0.05)
    raise AssertionError(f"no token handed out for {arn}")


@pytest.fixture
def recording(worker: Any, redis_url: str, redis_client: redis.Redis,
              unique: str) -> dict[str, Any]:
    client: Client = connect(Settings(redis_url=redis_url))
    child = client.create_state_machine(f"Shipping{unique}", json.dumps({
        "StartAt": "Label", "States": {"Label": {
            "Type": "Pass", "Parameters": {"tracking.$": "States.Format('TRK-{}', $.parcel.id)"},
            "End": True}}}))
    activity = client.activities.create(f"pack{unique}")
    client.create_state_machine(f"Fulfil{unique}", definition(child.arn, activity.arn))
    execution = client.start_execution(f"Fulfil{unique}", {"order": 1}, name="o-1")
    # The approver answers from another client; then a poller takes the activity task.
    connect(Settings(redis_url=redis_url)).send_task_success(
        token_of(redis_client, execution.arn), {"approved": True})
    polled = client.activities.get_task(activity.arn, "packer-7", wait=30)
    assert polled is not None
    token, task_input = polled
    assert json.loads(task_input)["decision"] == {"approved": True}
    client.send_task_success(token, {"id": "P-9"})
    done = client.wait(execution.arn, timeout=60)
    assert done.status == "SUCCEEDED", done
    return export_execution(client, execution.arn)


def test_a_recorded_callback_activity_and_child_replay_the_same(
        recording: dict[str, Any]) -> None:
    recorded = [e["type"] for e in recording["history"]]
    for kind in ("TaskSubmitted", "ActivityStarted", "ActivitySucceeded"):
        assert kind in recorded
    assert recorded.count("TaskSubmitted") == 2  # the callback's handler, the child's start
    report = replay(recording).assert_same()
    assert report.same_outcome
    assert report.execution.output == {"order": 1, "decision": {"approved": True},
                                       "parcel": {"id": "P-9"},
                                       "shipment": {"tracking": "TRK-P-9"}}
    started = report.execution.events("ActivityStarted")[0]["activityStartedEventDetails"]
    assert started == {"workerName": "packer-7"}  # the recorded poller's name


def test_a_changed_callback_result_path_diverges_at_its_exit(
        recording: dict[str, Any]) -> None:
    changed = json.loads(recording["definition"])
    changed["States"]["Approve"]["ResultPath"] = "$.approval"
    report = replay(recording, definition=changed)
    assert not report.same
    d = report.divergence
    assert d is not None and d.state == "Approve"
    assert d.expected is not None and d.expected["type"] == "TaskStateExited"
    assert "approval" in json.loads(d.actual["stateExitedEventDetails"]["output"])
