"""Nested executions on real workers and a real Redis: a Task starts a child execution of
another state machine (request-response, `.sync`, `.sync:2`, `.waitForTaskToken`); the
parent waits durably and the child's end wakes it; a failed child fails the parent's
Task with States.TaskFailed and the child's description; stopping the parent stops a
`.sync` child."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from engine.client import Client
from engine.connect import connect
from engine.settings import Settings

pytestmark = [pytest.mark.redis, pytest.mark.worker]

START = "arn:aws:states:::states:startExecution"


def child_machine(**states: Any) -> str:
    return json.dumps({"StartAt": "C", "States": {"C": states or {
        "Type": "Pass", "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)"}, "End": True}}})


def parent_machine(resource: str, child_arn: str, **extra: Any) -> str:
    return json.dumps({
        "StartAt": "Child",
        "States": {"Child": {
            "Type": "Task", "Resource": resource, "End": True,
            "Parameters": {
                "StateMachineArn": child_arn,
                "Input": {"n.$": "$.n",
                          "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"},
                **extra.pop("params", {}),
            },
            **extra,
        }},
    })


def setup(client: Client, unique: str, resource: str, child: str | None = None,
          **extra: Any) -> tuple[str, str]:
    child_arn = client.create_state_machine(f"Kid{unique}", child or child_machine()).arn
    client.create_state_machine(f"Mom{unique}", parent_machine(resource, child_arn, **extra))
    return child_arn, f"Mom{unique}"


def children(client: Client, child_arn: str) -> list[Any]:
    return client.list_executions(child_arn)


def test_sync2_waits_for_the_child_and_parses_its_output(
    worker: Any, redis_url: str, unique: str
) -> None:
    client = connect(Settings(redis_url=redis_url))
    child_arn, parent = setup(client, unique, START + ".sync:2")
    execution = client.start_execution(parent, {"n": 21})
    done = client.wait(execution.arn, timeout=30)
    assert done.status == "SUCCEEDED", done
    output = json.loads(done.output or "")
    assert output["Output"] == {"doubled": 42} and output["Status"] == "SUCCEEDED"
    assert output["Input"]["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"] == execution.arn
    [kid] = children(client, child_arn)
    assert output["ExecutionArn"] == kid.arn and kid.status == "SUCCEEDED"
    types = [e["type"] for e in client.get_history(execution.arn)]
    assert types == ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted",
                     "TaskSubmitted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]


def test_sync_returns_the_output_as_json_text_and_request_response_the_arn(
    worker: Any, redis_url: str, unique: str
) -> None:
    client = connect(Settings(redis_url=redis_url))
    child_arn, parent = setup(client, unique, START + ".sync")
    done = client.wait(client.start_execution(parent, {"n": 2}).arn, timeout=30)
    assert json.loads(json.loads(done.output or "")["Output"]) == {"doubled": 4}

    client.create_state_machine(f"Fire{unique}", parent_machine(START, child_arn))
    fired = client.wait(client.start_execution(f"Fire{unique}", {"n": 1}).arn, timeout=30)
    response = json.loads(fired.output or "")
    assert set(response) == {"ExecutionArn", "StartDate"}
    kid = client.wait(response["ExecutionArn"], timeout=30)
    assert json.loads(kid.output or "") == {"doubled": 2}


def test_a_failed_child_fails_the_task_with_its_description(
    worker: Any, redis_url: str, unique: str
) -> None:
    client = connect(Settings(redis_url=redis_url))
    _, parent = setup(client, unique, START + ".sync:2",
                      child=child_machine(Type="Fail", Error="KidError", Cause="too young"))
    done = client.wait(client.start_execution(parent, {"n": 1}).arn, timeout=30)
    assert (done.status, done.error) == ("FAILED", "States.TaskFailed")
    cause = json.loads(done.cause or "")
    assert (cause["Status"], cause["Error"], cause["Cause"]) == ("FAILED", "KidError",
                                                                 "too young")


def test_stopping_the_parent_stops_a_sync_child(
    worker: Any, redis_url: str, unique: str
) -> None:
    client = connect(Settings(redis_url=redis_url))
    child_arn, parent = setup(client, unique, START + ".sync",
                              child=child_machine(Type="Wait", Seconds=300, End=True))
    execution = client.start_execution(parent, {"n": 1})
    deadline = time.monotonic() + 30
    while not children(client, child_arn) or "TaskSubmitted" not in [
        e["type"] for e in client.get_history(execution.arn)
    ]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    client.stop_execution(execution.arn)
    [kid] = children(client, child_arn)
    assert client.describe_execution(kid.arn).status == "ABORTED"


def test_wait_for_task_token_hands_the_child_a_token(
    worker: Any, redis_url: str, unique: str
) -> None:
    client = connect(Settings(redis_url=redis_url))
    child_arn, parent = setup(client, unique, START + ".waitForTaskToken",
                              child=child_machine(Type="Wait", Seconds=300, End=True),
                              params={"Input": {"token.$": "$$.Task.Token"}})
    execution = client.start_execution(parent, {"n": 1})
    deadline = time.monotonic() + 30
    while not children(client, child_arn):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    [kid] = children(client, child_arn)
    token = json.loads(kid.input)["token"]
    client.send_task_success(token, {"from": "child"})
    done = client.wait(execution.arn, timeout=30)
    assert json.loads(done.output or "") == {"from": "child"}
