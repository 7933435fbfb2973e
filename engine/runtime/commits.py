"""What one step commits: the interpreter's Transition turned into the store's Commit.

The driver (engine/runtime/driver.py) loads a run, advances it and hands the Transition
here: its events, the run's new snapshot, the outbox entries its commands need (a Task
message, a timer, a resume, a Parallel/Map's children through the joins), the execution's
closing fields when the root run ends. Pure of I/O except what the joins read to open or
finish a Parallel/Map (engine/runtime/joins.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.interpreter import history as h
from engine.interpreter import task_started_event
from engine.interpreter.types import (
    Continue,
    ScheduleTask,
    StartChildren,
    StartTimer,
    Transition,
    epoch_millis,
    iso_timestamp,
)
from engine.runtime import messages
from engine.runtime.messages import Message
from engine.runtime.quotas import history_limit
from engine.store.base import Commit, DocWrite, ExecutionRecord, LoadedRun, OutboxEntry

if TYPE_CHECKING:
    from engine.runtime.driver import DriverSettings
    from engine.runtime.joins import Joins


def build_commit(
    settings: DriverSettings,
    joins: Joins,
    eid: str,
    run: str,
    loaded: LoadedRun,
    tr: Transition,
    consumed: str,
    now: float,
    record: ExecutionRecord,
) -> tuple[Commit, list[OutboxEntry]]:
    """The commit of `tr` for `run` (whose step consumed the outbox entry `consumed`), and
    the entries to send at once after it."""
    version = loaded.version + 1
    commit = Commit(
        events=list(tr.events),
        history_limit=history_limit(settings.max_history_events, now),
    )
    entries: list[OutboxEntry] = []
    doc = dict(tr.doc)
    for command in tr.commands:
        entries.extend(
            _command_entries(settings, joins, eid, run, version, doc, command, now, commit,
                             record)
        )
    own = [e.id for e in entries if e.message["r"] == run]
    commit.outbox_remove = [*loaded.doc.get("outbox", []), consumed]
    doc["outbox"] = own
    commit.writes.append(
        DocWrite("run", run, loaded.version, doc, doc.get("phase", ""), doc.get("attempt", 0))
    )
    parent_join = (doc.get("parent") or {}).get("join")
    if parent_join is not None:
        # A branch or iteration moves on (or ends) only while its Parallel/Map still
        # waits for it: once a sibling failed the join (or the parent was aborted), it
        # is aborted too, and its steps are refused.
        commit.joins_running.append(parent_join)
    if tr.outcome is not None:
        parent = doc.get("parent")
        if parent is None:
            commit.execution = closing_fields(tr, now)
            commit.clear_outbox = True
            entries = []
        else:
            entries.extend(joins.finish_child(eid, parent, tr, commit, now, record))
    commit.outbox_add = entries
    return commit, [e for e in entries if e.immediate]


def outbox_entry(
    settings: DriverSettings, message: Message, now: float, delay: float = 0.0
) -> OutboxEntry:
    """`message`'s outbox entry: sent at once (a countdown the broker can hold) and due
    again after the redelivery interval, or a timer the sweep sends when it is due."""
    due = now + delay
    immediate = delay <= settings.countdown_max_seconds
    deadline = (due + settings.redeliver_seconds) if immediate else due
    return OutboxEntry(messages.entry_id(message), message, due, deadline, immediate)


def _command_entries(
    settings: DriverSettings,
    joins: Joins,
    eid: str,
    run: str,
    version: int,
    doc: dict[str, Any],
    command: Any,
    now: float,
    commit: Commit,
    record: ExecutionRecord,
) -> list[OutboxEntry]:
    sm, state = record.state_machine_name, doc.get("state")
    if isinstance(command, ScheduleTask):
        msg = messages.make(
            "task", eid, run, version, a=command.attempt, res=command.resource,
            h=(doc.get("task") or {}).get("handler"), s=state, m=sm,
            # A DISTRIBUTED Map's iterations are child executions on AWS: their
            # TaskStarted is not in the parent's history either; nor is a `.sync`
            # job's poll (the Task started once).
            q=1 if doc.get("quiet") or _unlogged(doc.get("task") or {}) else None,
        )
        return [outbox_entry(settings, msg, now)]
    if isinstance(command, StartTimer):
        msg = messages.make(  # d: when it is due (sfn_timer_lag_seconds)
            "timer", eid, run, version, t=command.kind, a=command.attempt, s=state, m=sm,
            d=round(now + command.delay, 3),
        )
        return [outbox_entry(settings, msg, now, command.delay)]
    if isinstance(command, Continue):
        resume = messages.make("resume", eid, run, version, s=state, m=sm)
        return [outbox_entry(settings, resume, now)]
    if isinstance(command, StartChildren):
        return joins.open(eid, version, doc, command, commit, now, sm)
    raise TypeError(f"unknown command {command!r}")


def started_event(message: Message, now: float) -> dict[str, Any] | None:
    """The TaskStarted (or LambdaFunctionStarted) event a claim logs for a task message;
    None for a DISTRIBUTED Map's iterations, whose events stay out of the history."""
    if message.get("q"):
        return None
    return task_started_event({"task": {"resource": message.get("res", "")}}, iso_timestamp(now))


def _unlogged(task: dict[str, Any]) -> bool:
    """A `.sync` job's poll and a Map's ItemReader/ResultWriter log no TaskStarted."""
    return "job" in task or "reader" in task or "writer" in task or "map_run" in task


def closing_fields(tr: Transition, now: float) -> dict[str, Any]:
    """The execution record's fields when its root run ends with `tr`."""
    outcome = tr.outcome
    assert outcome is not None
    if outcome.status == "SUCCEEDED":
        return {
            "status": "SUCCEEDED", "output": h.to_json_text(outcome.output),
            "stop": epoch_millis(now),
        }
    return {
        "status": "FAILED", "error": outcome.error, "cause": outcome.cause,
        "stop": epoch_millis(now),
    }
