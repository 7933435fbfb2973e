"""The interpreter's callback paths, pure: the token comes in with the Ctx and reaches the
task's input; the handler's return submits the task (TaskSubmitted, timers issued again);
the answer, a timeout or a missed heartbeat decide the state."""

from __future__ import annotations

import random
from typing import Any

from engine.asl.loader import load
from engine.interpreter import advance, new_root_doc
from engine.interpreter.types import (
    Ctx,
    ExecutionInfo,
    RunStarted,
    ScheduleTask,
    StartTimer,
    TaskSubmitted,
    TaskSucceeded,
    TimerFired,
)

INFO = ExecutionInfo(
    arn="arn:aws:states:us-east-1:000000000000:execution:M:e",
    name="e",
    state_machine_arn="arn:aws:states:us-east-1:000000000000:stateMachine:M",
    state_machine_name="M",
    start_time="2025-01-01T00:00:00.000Z",
    input={},
)

MACHINE = load(
    """{"StartAt": "Ask", "States": {"Ask": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"MessageBody": {"t.$": "$$.Task.Token"}},
        "TimeoutSeconds": 100, "HeartbeatSeconds": 10, "End": true}}}"""
)


def ctx(now: float, token: str | None = None) -> Ctx:
    return Ctx(now=now, random=random.Random(1), execution=INFO, task_token=token)


def scheduled() -> Any:
    return advance(MACHINE, new_root_doc(), RunStarted({}), ctx(100.0, "tok-1"))


def test_the_token_reaches_the_task_and_both_timers_start() -> None:
    tr = scheduled()
    assert tr.doc["task"]["input"] == {"MessageBody": {"t": "tok-1"}}
    assert tr.doc["task"]["token"] == "tok-1"
    assert tr.doc["task"]["deadline"] == 200.0
    assert [type(c) for c in tr.commands] == [ScheduleTask, StartTimer, StartTimer]
    assert {(c.kind, c.delay) for c in tr.commands if isinstance(c, StartTimer)} == {
        ("task_timeout", 100.0), ("heartbeat", 10.0)
    }


def test_submission_logs_the_handlers_return_and_restarts_the_timers() -> None:
    tr = advance(MACHINE, scheduled().doc, TaskSubmitted(0, {"MessageId": "m"}), ctx(130.0))
    assert [e["type"] for e in tr.events] == ["TaskSubmitted"]
    details = tr.events[0]["taskSubmittedEventDetails"]
    assert details["output"] == '{"MessageId":"m"}'
    assert details["resource"] == "sendMessage.waitForTaskToken"
    assert tr.doc["phase"] == "task" and tr.doc["task"]["submitted"]
    # What remains of the 100 s, and a whole heartbeat from now.
    assert {(c.kind, c.delay) for c in tr.commands if isinstance(c, StartTimer)} == {
        ("task_timeout", 70.0), ("heartbeat", 10.0)
    }
    # A second submission (a re-run handler) is not applied.
    again = advance(MACHINE, tr.doc, TaskSubmitted(0, {}), ctx(131.0))
    assert not again.applied


def test_the_answer_is_the_result() -> None:
    tr = advance(MACHINE, scheduled().doc, TaskSucceeded(0, {"ok": 1}), ctx(140.0))
    assert tr.outcome is not None and tr.outcome.output == {"ok": 1}


def test_a_missed_heartbeat_is_a_timeout() -> None:
    tr = advance(MACHINE, scheduled().doc, TimerFired("heartbeat", 0), ctx(111.0))
    assert [e["type"] for e in tr.events] == ["TaskTimedOut", "ExecutionFailed"]
    assert tr.outcome is not None and tr.outcome.error == "States.Timeout"


def test_an_answer_for_another_attempt_is_not_applied() -> None:
    tr = advance(MACHINE, scheduled().doc, TaskSucceeded(1, {}), ctx(140.0))
    assert not tr.applied


def test_a_request_response_task_has_no_token_in_its_context() -> None:
    machine = load(
        """{"StartAt": "T", "States": {"T": {"Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage",
        "Parameters": {"c.$": "$$"}, "End": true}}}"""
    )
    tr = advance(machine, new_root_doc(), RunStarted({}), ctx(100.0, "tok"))
    assert "Task" not in tr.doc["task"]["input"]["c"]
    assert "token" not in tr.doc["task"]
