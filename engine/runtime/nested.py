"""Nested executions: `arn:aws:states:::states:startExecution[.sync|.sync:2|.waitForTaskToken]`,
served by the engine itself unless a handler is registered under `states:startExecution`.

The worker that claims the Task starts the child (a real execution of another state
machine: listed, described, drawn like any) and:

- request-response: the Task succeeds with `{"ExecutionArn", "StartDate"}`;
- `.waitForTaskToken`: the Task is submitted and waits for its token (the child, or
  anyone, answers it: engine/runtime/callbacks.py);
- `.sync` / `.sync:2`: the Task is submitted and waits for the child's end. The child's
  final commit wakes the parent at once (`wake_parent`); a "poll" timer every
  `JOB_POLL_SECONDS` bounds the wait if that wake-up is lost. The result is the child's
  DescribeExecution (Input/Output as JSON text for `.sync`, parsed for `.sync:2`); a child
  that fails, times out or is stopped fails the Task with States.TaskFailed and that
  description as the cause.

Starting is idempotent: without a `Name` the child's name is derived from the parent's
execution, run, state and attempt, so a Task run twice (its worker died) starts one child.
Stopping the parent stops its `.sync` children (AWS: best effort).
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from engine import arns
from engine.asl import errors, resources
from engine.errors import EngineError, ExecutionAlreadyExists
from engine.interpreter.callbacks import JOB_POLL_SECONDS
from engine.interpreter.types import Occurrence, TaskFailed, TaskSubmitted, TaskSucceeded
from engine.runtime import messages
from engine.runtime.callbacks import rearm
from engine.runtime.messages import Message
from engine.store.base import ExecutionRecord, LoadedRun
from engine.store.tokens import heartbeats

if TYPE_CHECKING:
    from engine.client import Client
    from engine.runtime.driver import Dispatcher, Driver


def is_nested(resource: str) -> bool:
    ref = resources.parse_resource(resource)
    return ref is not None and resources.starts_execution(ref)


def serves(driver: Driver, message: Message) -> bool:
    """Whether the engine starts the child itself (no handler registered for it)."""
    return is_nested(str(message.get("res", ""))) and driver.registry.get(message.get("h")) is None


def _millis(epoch_seconds: float) -> int:
    return int(round(epoch_seconds * 1000))


def _client(driver: Driver) -> Client:
    from engine.client import Client

    return Client(
        driver.store, driver.dispatcher, region=driver.settings.region,
        account=driver.settings.account, clock=driver.clock,
    )


def start_child(driver: Driver, eid: str, run: str, loaded: LoadedRun) -> Occurrence:
    """Start the child execution the Task asks for; what the Task does next."""
    task = loaded.doc["task"]
    attempt = int(loaded.doc.get("attempt", 0))
    ref = resources.parse_resource(task["resource"])
    assert ref is not None
    params = task["input"] if isinstance(task["input"], dict) else {}
    machine = params.get("StateMachineArn")
    if not isinstance(machine, str) or not machine:
        return TaskFailed(
            attempt, errors.TASK_FAILED, "The field 'StateMachineArn' is required"
        )
    value = params.get("Input", {})
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    record, info = driver.execution(eid) or (None, None)
    assert record is not None
    name = params.get("Name") or str(
        uuid.uuid5(uuid.NAMESPACE_URL, f"{record.arn}/{run}/{loaded.doc['state']}/{attempt}")
    )
    client = _client(driver)
    try:
        child_machine = arns.state_machine_name(machine)
        child_eid = f"{child_machine}:{name}"
        # The link first: the child may end before this worker says anything more.
        heartbeats(driver.store).link_child(
            eid, child_eid, {"x": eid, "r": run, "a": attempt, "s": ref.pattern == "sync"}
        )
        try:
            child = client.start_execution(child_machine, input_text=text, name=name)
        except ExecutionAlreadyExists:
            child = client.describe_execution(child_eid)
            if child.input != text:
                raise
    except EngineError as exc:
        return TaskFailed(attempt, f"StepFunctions.{exc.code}Exception", exc.message)
    response = {"ExecutionArn": child.arn, "StartDate": _millis(child.start)}
    if ref.pattern == "request-response":
        return TaskSucceeded(attempt, response)
    return TaskSubmitted(attempt, response)


def describe(child: ExecutionRecord, *, parsed: bool) -> dict[str, Any]:
    """The child as `.sync` returns it (DescribeExecution's members, capitalised);
    `parsed` (`.sync:2`): Input and Output as JSON values rather than text."""

    def data(text: str) -> Any:
        return json.loads(text) if parsed else text

    out: dict[str, Any] = {
        "ExecutionArn": child.arn,
        "Input": data(child.input),
        "InputDetails": {"Included": True},
        "Name": child.name,
    }
    if child.status == "SUCCEEDED" and child.output is not None:
        out["Output"] = data(child.output)
        out["OutputDetails"] = {"Included": True}
    out["StartDate"] = _millis(child.start)
    out["StateMachineArn"] = child.state_machine_arn
    out["Status"] = child.status
    if child.stop is not None:
        out["StopDate"] = _millis(child.stop)
    if child.error is not None:
        out["Error"] = child.error
    if child.cause is not None:
        out["Cause"] = child.cause
    return out


def poll(driver: Driver, message: Message, loaded: LoadedRun) -> Occurrence | None:
    """The `.sync` Task's poll timer fired (or the child's end sent it early): the
    child's outcome, or None when it still runs (the timer is set again)."""
    task = loaded.doc.get("task") or {}
    attempt = int(message["a"])
    job = task.get("job") or {}
    child = driver.store.get_execution(arns.execution_id(str(job.get("ExecutionArn", ""))))
    if child is None:
        return TaskFailed(attempt, errors.TASK_FAILED, f"Execution Does Not Exist: {job}")
    if child.status == "RUNNING":
        rearm(driver, message, driver.clock() + JOB_POLL_SECONDS)
        return None
    result = describe(child, parsed=str(task.get("resource", "")).endswith(".sync:2"))
    if child.status == "SUCCEEDED":
        return TaskSucceeded(attempt, result)
    return TaskFailed(attempt, errors.TASK_FAILED, json.dumps(result, separators=(",", ":")))


def wake_parent(store: Any, dispatcher: Dispatcher, eid: str) -> None:
    """An execution ended: if a `.sync` Task of another execution waits for it, deliver
    that Task's poll now (best effort: its poll timer is the durable path)."""
    link = heartbeats(store).parent_of(eid)
    if not link or not link.get("s"):
        return
    parent, run = str(link["x"]), str(link["r"])
    loaded = store.load_run(parent, run)
    if loaded is None or loaded.doc.get("phase") != "task":
        return
    job = (loaded.doc.get("task") or {}).get("job") or {}
    if loaded.doc.get("attempt") != link["a"] or arns.execution_id(
        str(job.get("ExecutionArn", ""))
    ) != eid:
        return
    dispatcher.send(
        messages.make(
            "timer", parent, run, loaded.version, t="poll", a=link["a"],
            s=loaded.doc.get("state"), m=parent.split(":", 1)[0],
        )
    )


def stop_children(client: Client, eid: str) -> None:
    """The parent was stopped: stop the `.sync` children still running (as AWS does)."""
    links = heartbeats(client.store)
    for child in links.children_of(eid):
        link = links.parent_of(child) or {}
        if not link.get("s"):
            continue
        try:
            client.stop_execution(child)
        except EngineError:  # it ended meanwhile (ExecutionNotRunning), or is gone
            continue


__all__ = ["describe", "is_nested", "poll", "serves", "start_child", "stop_children",
           "wake_parent"]
