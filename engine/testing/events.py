"""Reading an execution's history for tests: the path of states, the Task outcomes, one-line
summaries of events, and where two histories first part ways.

Histories are AWS-shaped (GetExecutionHistory): `id`, `previousEventId`, `timestamp`, `type`
and one `...EventDetails` object. Everything here is read from the events alone, so it works
the same on a history recorded by real workers and on one produced by the inline runner.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

Event = dict[str, Any]

#: Fields that differ between two runs of the same thing (numbering and wall-clock time).
_VOLATILE = frozenset({"id", "previousEventId", "timestamp"})

#: The events that carry a Task's outcome, by prefix (`LambdaFunction...`, `Activity...`
#: or `Task...`).
TASK_OUTCOMES = ("Succeeded", "Failed", "TimedOut", "StartFailed", "ScheduleFailed",
                 "SubmitFailed")


def details(event: Event) -> dict[str, Any]:
    """The event's `...EventDetails` object ({} when it has none)."""
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            return value
    return {}


def is_state_entered(event: Event) -> bool:
    return str(event.get("type", "")).endswith("StateEntered")


def is_state_exited(event: Event) -> bool:
    return str(event.get("type", "")).endswith("StateExited")


def task_outcome_kind(event: Event) -> str | None:
    """"Succeeded", "Failed", ... for a Task's (or Lambda function's) outcome event."""
    kind = str(event.get("type", ""))
    for prefix in ("LambdaFunction", "Activity", "Task"):
        if kind.startswith(prefix):
            rest = kind[len(prefix):]
            if rest in TASK_OUTCOMES:
                return rest
    return None


def path(history: Sequence[Event]) -> list[str]:
    """The names of the states entered, in order (a retried state appears once per entry)."""
    return [str(details(e).get("name")) for e in history if is_state_entered(e)]


def with_states(history: Sequence[Event]) -> Iterator[tuple[str | None, Event]]:
    """Each event with the state it belongs to: the state most recently entered. (Branches
    of a Parallel or iterations of a Map interleave; their events are attributed to the
    state entered last, which is right for every event a Task writes about itself.)"""
    current: str | None = None
    for event in history:
        if is_state_entered(event):
            name = details(event).get("name")
            current = str(name) if name is not None else current
        yield current, event


def normalized(event: Event) -> dict[str, Any]:
    """The event without its numbering and timestamp, payloads parsed (so JSON text that
    differs only in spacing compares equal)."""
    out: dict[str, Any] = {}
    for key, value in event.items():
        if key in _VOLATILE:
            continue
        if isinstance(value, dict):
            out[key] = {k: _parsed(v) if k in ("input", "output", "parameters") else v
                        for k, v in value.items()}
        else:
            out[key] = value
    return out


def _parsed(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def summary(event: Event, limit: int = 160) -> str:
    """One readable line: `#5 LambdaFunctionFailed error=States.TaskFailed cause=...`."""
    number = f"#{event['id']} " if "id" in event else ""
    parts = [f"{number}{event.get('type')}"]
    found = details(event)
    for key in ("name", "error", "cause", "input", "output", "resource"):
        if key in found and found[key] is not None:
            text = found[key] if isinstance(found[key], str) else json.dumps(found[key])
            parts.append(f"{key}={_clip(text, 80)}")
    return _clip(" ".join(parts), limit)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Divergence:
    """Where two histories first differ: `index` is 0-based; either side may have ended."""

    index: int
    state: str | None
    expected: Event | None
    actual: Event | None

    def describe(self) -> str:
        where = f"event {self.index + 1}" + (f" (in state {self.state})" if self.state else "")
        expected = summary(self.expected) if self.expected else "(no more events)"
        actual = summary(self.actual) if self.actual else "(no more events)"
        lines = [f"first diverging event: {where}", f"  expected: {expected}",
                 f"  actual:   {actual}"]
        if self.expected is not None and self.actual is not None:
            lines.extend(_field_differences(self.expected, self.actual))
        return "\n".join(lines)


def _field_differences(expected: Event, actual: Event) -> list[str]:
    a, b = normalized(expected), normalized(actual)
    if a.get("type") != b.get("type"):
        return []
    da, db = details(a), details(b)
    lines = []
    for key in sorted(set(da) | set(db)):
        if da.get(key) != db.get(key):
            lines.append(f"  {key}: expected {_clip(json.dumps(da.get(key)), 120)}, "
                         f"got {_clip(json.dumps(db.get(key)), 120)}")
    return lines


def first_divergence(
    expected: Sequence[Event], actual: Sequence[Event], *, types_only: bool = False
) -> Divergence | None:
    """The first event (by position) where `actual` differs from `expected`, or None."""
    states = [state for state, _ in with_states(expected)]
    actual_states = [state for state, _ in with_states(actual)]
    for i in range(max(len(expected), len(actual))):
        e = expected[i] if i < len(expected) else None
        a = actual[i] if i < len(actual) else None
        if e is not None and a is not None:
            same = (e.get("type") == a.get("type")) if types_only else (
                normalized(e) == normalized(a))
            if same:
                continue
        state = _at(states, i) or _at(actual_states, i)
        return Divergence(i, state, e, a)
    return None


def _at(states: Sequence[str | None], i: int) -> str | None:
    if not states:
        return None
    return states[min(i, len(states) - 1)]
