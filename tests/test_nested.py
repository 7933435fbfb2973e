"""Nested `.sync` executions and handler-served `.sync` over the in-memory store with a
virtual clock: the parent's poll timer finishes the Task when the child's wake-up is lost;
a child run twice is started once; a `.sync` resource a handler serves takes the handler's
return as the finished job."""

from __future__ import annotations

import json
from typing import Any

from engine.handlers import TaskContext
from tests.test_callbacks import World

START_SYNC = "arn:aws:states:::states:startExecution.sync:2"


def parent(child_arn: str) -> dict[str, Any]:
    return {"StartAt": "Child", "States": {"Child": {
        "Type": "Task", "Resource": START_SYNC, "End": True,
        "Parameters": {"StateMachineArn": child_arn, "Input": {"n.$": "$.n"}}}}}


def test_the_poll_timer_finishes_the_task_when_the_wake_up_is_lost() -> None:
    w = World()
    kid = w.client.create_state_machine(
        "Kid", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    )
    w.client.create_state_machine("Mom", parent(kid.arn))
    mom = w.client.start_execution("Mom", {"n": 5}, name="m")
    # Run everything, but lose the child's wake-up of its parent.
    while w.queue.sent:
        message, _ = w.queue.sent.pop(0)
        if message.get("t") == "poll":
            continue
        w.driver.handle(message)
    [child] = w.client.list_executions("Kid")
    assert child.status == "SUCCEEDED"
    assert w.store.get_execution(mom.eid).status == "RUNNING"  # type: ignore[union-attr]
    w.now += 31
    assert w.fire("poll") == "applied"
    done = w.store.get_execution(mom.eid)
    assert done is not None and done.status == "SUCCEEDED"
    assert json.loads(done.output or "")["Output"] == {"n": 5}


def test_a_poll_while_the_child_runs_sets_the_timer_again() -> None:
    w = World()
    kid = w.client.create_state_machine(
        "Kid", {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "End": True}}}
    )
    w.client.create_state_machine("Mom", parent(kid.arn))
    mom = w.client.start_execution("Mom", {"n": 1}, name="m")
    w.pump()
    w.now += 31
    assert w.fire("poll") == "job still running"
    w.now += 70
    w.fire("wait")  # the child's Wait ends: it succeeds and wakes its parent
    w.pump()
    assert w.store.get_execution(mom.eid).status == "SUCCEEDED"  # type: ignore[union-attr]


def test_a_task_message_delivered_twice_starts_one_child() -> None:
    w = World()
    kid = w.client.create_state_machine(
        "Kid", {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "End": True}}}
    )
    w.client.create_state_machine("Mom", parent(kid.arn))
    w.client.start_execution("Mom", {"n": 1}, name="m")
    w.driver.handle(w.queue.sent.pop(0)[0])  # start: schedules the task
    task = [m for m, _ in w.queue.sent if m["k"] == "task"][0]
    # The worker dies after starting the child, before committing: the task runs again.
    loaded = w.store.load_run(task["x"], "0")
    assert loaded is not None
    from engine.runtime import nested

    nested.start_child(w.driver, task["x"], "0", loaded)
    w.pump()
    assert len(w.client.list_executions("Kid")) == 1


def test_sync_on_a_handler_served_resource_is_the_handlers_return() -> None:
    w = World()

    def run_job(event: Any, context: TaskContext) -> Any:
        return {"JobRunState": "SUCCEEDED", "Arguments": event["Arguments"]}

    w.registry.register("glue:startJobRun", run_job)
    w.client.registry = w.registry
    w.client.create_state_machine("Glue", {"StartAt": "J", "States": {"J": {
        "Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
        "Parameters": {"JobName": "etl", "Arguments": {"day.$": "$.day"}}, "End": True}}})
    rec = w.client.start_execution("Glue", {"day": 3}, name="g")
    w.pump()
    done = w.store.get_execution(rec.eid)
    assert done is not None and done.status == "SUCCEEDED"
    assert json.loads(done.output or "") == {"JobRunState": "SUCCEEDED",
                                             "Arguments": {"day": 3}}
