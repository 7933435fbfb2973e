"""Which states of an execution wait on the outside world, for how long (pure): a callback
Task waiting for its token, an activity task waiting for a worker or for its answer, a
Task waiting for a child execution (linked).

    waiting(view, events, now, heartbeats={"Approve": 1764700000.0})

A running visit whose last event is TaskSubmitted, ActivityScheduled or ActivityStarted
waits; `since` is that event's time (the wait began), `heartbeat` the last
SendTaskHeartbeat for that state (recorded beside the runs, not in the history).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final

from engine.ui import status as st

_WAITS: Final = {
    "TaskSubmitted": "callback",
    "ActivityScheduled": "activity: no worker has taken it yet",
    "ActivityStarted": "activity: a worker has it",
}


def _epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def waiting(
    view: st.ExecutionView,
    events: Iterable[Mapping[str, Any]],
    now: float,
    heartbeats: Mapping[str, float] | None = None,
) -> list[dict[str, Any]]:
    by_id = {int(e["id"]): e for e in events}
    found: list[dict[str, Any]] = []
    for name, state in view.states.items():
        for visit in state.visits:
            if visit.status != st.RUNNING or not visit.events:
                continue
            last = by_id.get(visit.events[-1])
            if last is None or last["type"] not in _WAITS:
                continue
            since = _epoch(str(last["timestamp"]))
            item: dict[str, Any] = {
                "state": name,
                "kind": _WAITS[last["type"]],
                "since": since,
                "waited": max(0.0, now - since),
            }
            if last["type"] == "TaskSubmitted":
                details = last.get("taskSubmittedEventDetails") or {}
                resource = str(details.get("resource", ""))
                if ".sync" in resource:
                    item["kind"] = "child execution" if resource.startswith(
                        "startExecution") else "job"
                    try:
                        item["child"] = json.loads(details.get("output", "{}"))["ExecutionArn"]
                    except (ValueError, KeyError, TypeError):
                        pass
                else:
                    item["kind"] = "callback: waiting for its task token"
            beat = (heartbeats or {}).get(name)
            if beat is not None:
                item["heartbeat"] = beat
            found.append(item)
    return found


__all__ = ["waiting"]
