"""DeleteStateMachine on the in-memory store and the inline driver (the Redis path is in
tests/test_api_faithful.py): DELETING, executions aborted at their next transition, then
gone."""

from __future__ import annotations

import heapq
import json

import pytest

from engine.deletion import StateMachineDeleting
from engine.errors import StateMachineDoesNotExist
from engine.handlers import Registry
from engine.runtime.inline import InlineRunner

WAIT = json.dumps({"StartAt": "W", "States": {
    "W": {"Type": "Wait", "Seconds": 30, "Next": "P"}, "P": {"Type": "Pass", "End": True}}})


def test_delete_marks_deleting_then_aborts_at_the_next_transition() -> None:
    runner = InlineRunner(Registry())
    client = runner.client
    machine = runner.create_state_machine("M", WAIT)
    running = client.start_execution("M", {})
    _, _, first = heapq.heappop(runner.queue.heap)
    runner.driver.handle(first)  # enters the Wait
    assert client.get_history(running.eid)[-1]["type"] == "WaitStateEntered"
    client.delete_state_machine(machine.arn)
    assert client.describe_state_machine("M").status == "DELETING"
    assert [r.name for r in client.list_state_machines()] == ["M"]
    with pytest.raises(StateMachineDeleting):
        client.start_execution("M", {})
    runner.drain(running.eid)  # the Wait ends: the next transition aborts it
    done = client.describe_execution(running.eid)
    assert done.status == "ABORTED"
    assert done.cause == f"The state machine '{machine.arn}' was deleted"
    assert [e["type"] for e in client.get_history(running.eid)][-1] == "ExecutionAborted"
    with pytest.raises(StateMachineDoesNotExist):
        client.describe_state_machine("M")
    assert client.list_state_machines() == []


def test_a_machine_without_running_executions_goes_at_once() -> None:
    runner = InlineRunner(Registry())
    runner.create_state_machine("M", WAIT)
    assert runner.client.delete_state_machine("M") is True
    assert runner.store.get_state_machine("M") is None
    assert runner.client.delete_state_machine("M") is False  # idempotent
