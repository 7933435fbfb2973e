"""What the pages show, read through the client: execution records, histories and the
derived state statuses, as JSON-ready dicts (the execution page's script polls the same
payload while the execution runs)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any, Final

from engine import arns
from engine.client import Client
from engine.runtime.messages import display_name
from engine.store.base import ExecutionRecord, StateMachineRecord
from engine.ui import status as st
from engine.ui.waiting import waiting

STATUSES: Final = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
#: Histories longer than this are shown in part (the newest events) in the event table;
#: the statuses are always derived from the whole history.
MAX_EVENTS: Final = 5000


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def duration(record: ExecutionRecord, now: float | None = None) -> float:
    end = record.stop if record.stop is not None else (now if now is not None else time.time())
    return max(0.0, end - record.start)


def human_duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def execution_summary(record: ExecutionRecord) -> dict[str, Any]:
    return {
        "eid": record.eid,
        "arn": record.arn,
        "name": record.name,
        "stateMachine": record.state_machine_name,
        "stateMachineArn": record.state_machine_arn,
        "status": record.status,
        "start": record.start,
        "stop": record.stop,
        "startText": iso(record.start),
        "stopText": iso(record.stop),
        "duration": duration(record),
        "durationText": human_duration(duration(record)),
        "input": record.input,
        "output": record.output,
        "error": record.error,
        "cause": record.cause,
        "type": record.type,
    }


def execution_payload(client: Client, eid: str) -> dict[str, Any]:
    """Everything the execution page shows (and refreshes while it runs)."""
    record = client.describe_execution(eid)
    machine = client.describe_state_machine_for_execution(record.eid)
    events = client.get_history(record.eid)
    total = len(events)
    start = max(0, total - MAX_EVENTS)
    try:
        definition = json.loads(machine.definition)
    except ValueError:
        definition = {}
    view = st.derive(
        definition if isinstance(definition, dict) else {}, events,
        execution_status=record.status, cause=record.cause,
    )
    return {
        "execution": execution_summary(record),
        "view": view.to_dict(),
        "events": events[start:],
        "eventsTotal": total,
        "eventsShownFrom": start + 1,
        "definitionSha": record.definition_sha,
        "taskNames": {
            name: display_name({"m": record.state_machine_name, "s": name})
            for name in view.states
        },
        # TaskStarted event id -> the Celery task that claimed it (each attempt knows its
        # TaskStarted id: the page shows the task id and links it to Flower).
        "taskIds": {str(k): v for k, v in sorted(client.store.task_ids(record.eid).items())},
        # States waiting for a callback, an activity worker or a child execution.
        "waiting": waiting(view, events, time.time(), _heartbeats(client, record.eid)),
    }


def _heartbeats(client: Client, eid: str) -> dict[str, float]:
    """The last SendTaskHeartbeat of each state that still waits (by state name)."""
    from engine.store.tokens import Heartbeats

    store = client.store
    if not isinstance(store, Heartbeats):
        return {}
    found: dict[str, float] = {}
    for run, (token, at) in store.heartbeats_of(eid).items():
        loaded = store.load_run(eid, run)
        task = (loaded.doc.get("task") or {}) if loaded else {}
        if loaded is not None and task.get("token") == token:
            state = str(loaded.doc.get("state"))
            found[state] = max(at, found.get(state, 0.0))
    return found


def machine_summary(client: Client, record: StateMachineRecord) -> dict[str, Any]:
    return {
        "name": record.name,
        "arn": record.arn,
        "type": record.type,
        "revision": record.revision,
        "created": iso(record.created),
        "updated": iso(record.updated),
        "executions": client.store.count_executions(record.name),
    }


def list_newest_started(
    client: Client,
    state_machine: str | None,
    *,
    status: str | None = None,
    limit: int = 50,
    after: tuple[float, str] | None = None,
) -> tuple[list[ExecutionRecord], tuple[float, str] | None]:
    """One page of executions, newest *started* first, and the cursor (start, eid) of the
    next page (None on the last).

    The view's order, not the API's: ListExecutions (`Client.list_executions_page`) orders
    as AWS does, a running execution by its start and an ended one by its stop, so a long
    execution that just ended jumps above those started after it. A person reading a list
    of runs expects them in the order they began, and a page that stays put while they end.
    """
    name = arns.state_machine_name(state_machine) if state_machine else None
    if name is not None:
        client.describe_state_machine(name)  # StateMachineDoesNotExist, named in the page
    found: list[ExecutionRecord] = []
    cursor = after
    scan = max(limit + 1, 100)
    while len(found) <= limit:
        page = client.store.list_executions_after(name, cursor, scan)  # by start
        found.extend(r for r in page if status is None or r.status == status)
        if len(page) < scan:
            break
        cursor = (page[-1].start, page[-1].eid)
    if len(found) <= limit:
        return found, None
    last = found[limit - 1]
    return found[:limit], (last.start, last.eid)


def encode_cursor(cursor: tuple[float, str] | None) -> str | None:
    if cursor is None:
        return None
    return f"{cursor[0]!r}|{cursor[1]}"


def decode_cursor(text: str | None) -> tuple[float, str] | None:
    if not text or "|" not in text:
        return None
    start, _, eid = text.partition("|")
    try:
        return float(start), eid
    except ValueError:
        return None
