"""Mock files, the harness and replay on Tasks that wait for an answer from outside:
`.waitForTaskToken` callbacks, activities and child executions (engine/testing/waiting.py),
in-process. Step Functions Local's documented semantics: a mocked Task never calls the
service, a mocked `.waitForTaskToken` Task gets a generated token, and the mocked response
is the Task's outcome (the token's answer; a `.sync` job's final response)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from engine.cli import app, executions, testing  # noqa: F401  (register the commands)
from engine.handlers import Registry, TaskFailure
from engine.testing import Workflow
from engine.testing.mockconfig import MockConfig
from engine.testing.waiting import MOCK_WORKER

HERE = Path(__file__).resolve().parent / "workflow_testing"
DEFINITION = HERE / "fulfilment.asl.json"
MOCKS = HERE / "fulfilment.mocks.json"
ORDER = {"order": {"id": "A-1"}}


def calls_nothing() -> tuple[Registry, list[str]]:
    """Handlers that record being called: a mocked Task must call none of them."""
    called: list[str] = []
    registry = Registry()
    for name in ("RequestApproval", "pack", "states:startExecution"):
        registry.register(name, lambda event, ctx, name=name: called.append(name) or {})
    return registry, called


def types(run: Any) -> list[str]:
    return [e["type"] for e in run.history]


def test_a_mocked_callback_activity_and_children_answer_from_the_mocks() -> None:
    registry, called = calls_nothing()
    result = MockConfig.load(MOCKS).run(DEFINITION, "Approved", input=ORDER, registry=registry)
    assert result.passed, result.problems or result.execution.describe()
    run = result.execution
    assert called == []  # nothing real ran: no handler, no poller, no child execution
    run.assert_succeeded({
        "order": {"id": "A-1"},
        "approval": {"approved": True, "by": "ann"},  # the Return is the token's answer
        "parcel": {"parcel": "P-1", "kg": 2},
        "shipment": {"tracking": "TRK-42"},           # .sync:2: the child's final response
        "announced": {"announcement":
                      "arn:aws:states:us-east-1:000000000000:execution:Announcements:a-1"},
    })
    assert types(run) == [
        "ExecutionStarted",
        "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited",
        "TaskStateEntered", "ActivityScheduled", "ActivityStarted", "ActivitySucceeded",
        "TaskStateExited",
        "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited",
        "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited",
        "ExecutionSucceeded",
    ]
    # A token was generated for the callback: the handler would have got it.
    scheduled = run.events("TaskScheduled", state="Approve")[0]["taskScheduledEventDetails"]
    token = json.loads(scheduled["parameters"])["Payload"]["token"]
    assert isinstance(token, str) and len(token) >= 32
    started = run.events("ActivityStarted")[0]["activityStartedEventDetails"]
    assert started == {"workerName": MOCK_WORKER}


def test_a_mocked_throw_is_the_callbacks_failure_through_catch_and_retry() -> None:
    config = MockConfig.load(MOCKS)
    rejected = config.run(DEFINITION, "Rejected", input=ORDER, expected_status="FAILED")
    assert rejected.passed, rejected.execution.describe()
    rejected.execution.assert_failed("OrderRejected").assert_path(["Approve", "NotApproved"])
    failed = rejected.execution.events("TaskFailed")[0]["taskFailedEventDetails"]
    assert failed == {"error": "Rejected", "cause": "over budget", "resource":
                      "invoke.waitForTaskToken", "resourceType": "lambda"}

    busy = config.run(DEFINITION, "WarehouseBusyOnce", input=ORDER).execution
    busy.assert_succeeded()
    assert busy.task_attempts("Pack") == 2  # "0" threw Warehouse.Busy, retried after 60 s
    assert [e["type"] for e in busy.events(state="Pack")
            if e["type"].startswith("Activity")] == [
        "ActivityScheduled", "ActivityStarted", "ActivityFailed",
        "ActivityScheduled", "ActivityStarted", "ActivitySucceeded"]
    assert busy.state_output("Pack")["parcel"] == {"parcel": "P-2", "kg": 3}

    ship = config.run(DEFINITION, "ShippingFails", input=ORDER, expected_status="FAILED")
    assert ship.passed
    ship.execution.assert_failed("States.TaskFailed")


def test_an_unmocked_callback_calls_its_handler_and_waits() -> None:
    registry, called = calls_nothing()
    # "Rejected" mocks Approve only; here the test case mocks nothing: a hybrid run.
    config = MockConfig.parse({
        "StateMachines": {"fulfilment": {"TestCases": {"Real": {"Pack": "P"}}}},
        "MockedResponses": {"P": {"0": {"Return": {}}}}})
    run = config.run(DEFINITION, "Real", input=ORDER, registry=registry,
                     expected_status="FAILED").execution
    assert called == ["RequestApproval"]
    # Nobody answers the token: the heartbeat (3600 s, virtual) times the Task out.
    assert "TaskSubmitted" in types(run)
    assert run.events("TaskTimedOut", state="Approve")


def test_an_activity_played_by_a_handler_or_left_to_time_out() -> None:
    definition = {"StartAt": "Pack", "States": {"Pack": {
        "Type": "Task", "Resource": "arn:aws:states:us-east-1:000000000000:activity:pack",
        "TimeoutSeconds": 30, "End": True}}}
    served = Workflow(definition, registry=Registry(),
                      handlers={"pack": lambda event, ctx: {"packed": event["id"]}})
    served.run({"id": 7}).assert_succeeded({"packed": 7})

    failing = Workflow(definition, registry=Registry(), handlers={
        "pack": lambda event, ctx: (_ for _ in ()).throw(TaskFailure("Jammed", "belt"))})
    failing.run({"id": 7}).assert_failed("Jammed", "belt")

    nobody = Workflow(definition, registry=Registry()).run({"id": 7})
    nobody.assert_failed("States.Timeout")  # no worker took it within its TimeoutSeconds
    assert "ActivityStarted" not in types(nobody)


def test_sfn_test_runs_the_mock_file_of_waiting_tasks() -> None:
    result = CliRunner().invoke(app, [
        "test", str(DEFINITION), "--mock-config", str(MOCKS), "--input", json.dumps(ORDER),
        "--expect", "Rejected=FAILED", "--expect", "ShippingFails=FAILED", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["passed"], report["failed"]) == (4, 0)
    approved = next(c for c in report["testCases"] if c["testCase"] == "Approved")
    assert approved["output"]["shipment"] == {"tracking": "TRK-42"}


@pytest.mark.parametrize(("test_case", "status"), [
    ("Approved", "SUCCEEDED"), ("Rejected", "FAILED"), ("WarehouseBusyOnce", "SUCCEEDED")])
def test_the_plugin_fixture_runs_the_same_file(sfn_mock_config: Any, test_case: str,
                                               status: str) -> None:
    result = sfn_mock_config(MOCKS).run(DEFINITION, test_case, input=ORDER,
                                        expected_status=status)
    assert result.passed, result.problems or result.execution.describe()
