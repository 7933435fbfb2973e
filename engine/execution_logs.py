"""Execution log records, as Step Functions sends them to CloudWatch Logs, written as JSON
lines on our side.

A state machine whose `loggingConfiguration.level` is not OFF gets one record per history
event of the level asked, in AWS's shape:

    {"id": "3", "type": "TaskStateEntered", "details": {...}, "previous_event_id": "2",
     "event_timestamp": "1717243200123", "execution_arn": "arn:aws:states:..."}

`details` is the event's `*EventDetails` member; with `includeExecutionData: false` the
execution's data (input, output, parameters, assigned variables) is left out of it, as AWS
leaves it out; a payload over 248 KiB is cut there and its `*Details.truncated` set, as
CloudWatch Logs' quota makes AWS do. Levels (AWS's table): ALL every event; ERROR the
events of failures (`...Failed`, `...Aborted`, `...TimedOut`, FailStateEntered); FATAL the
execution's own failure (ExecutionFailed, ExecutionAborted, ExecutionTimedOut); OFF none.

Where: `SFN_EXECUTION_LOG` names a file to append to (created if missing; each batch of
lines is one `write` on an O_APPEND descriptor, so several worker processes share it line
by line); unset or `-`, the process's standard output (its file descriptor, under Celery's
redirection of `sys.stdout` into its own log).

When: right after the commit that appended the events, from the copy of the configuration
the execution record took at its start (`ExecutionRecord.logging`, cached by the workers):
no Redis round trip is added. As on AWS, delivery is best effort and at least once: a
record is written after its commit, so a process killed in between loses it, and a Task
claimed twice (its worker died) may log its TaskStarted twice.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, Final, Protocol

ENV: Final = "SFN_EXECUTION_LOG"

FATAL_TYPES: Final = frozenset({"ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"})
_ERROR_SUFFIXES: Final = ("Failed", "Aborted", "TimedOut")
#: The execution data `includeExecutionData: false` leaves out of `details`.
_DATA: Final = ("input", "output", "parameters", "assignedVariables")
#: CloudWatch Logs' event size quota makes AWS cut payloads over 248 KiB.
MAX_PAYLOAD: Final = 248 * 1024


class _Executed(Protocol):
    @property
    def arn(self) -> str: ...
    @property
    def logging(self) -> str | None: ...


def config_text(logging: dict[str, Any] | None) -> str | None:
    """What an execution record keeps of its machine's logging configuration: its JSON
    text when it logs at all, else None (nothing to do for it)."""
    if not logging or logging.get("level", "OFF") == "OFF":
        return None
    include = bool(logging.get("includeExecutionData"))
    return json.dumps(
        {"level": logging["level"], "includeExecutionData": include}, separators=(",", ":")
    )


def wanted(level: str, event_type: str) -> bool:
    if level == "ALL":
        return True
    if level == "FATAL":
        return event_type in FATAL_TYPES
    if level == "ERROR":
        return event_type.endswith(_ERROR_SUFFIXES) or event_type == "FailStateEntered"
    return False


def log_record(
    execution_arn: str, event: dict[str, Any], event_id: int, *, include_data: bool
) -> dict[str, Any]:
    """One CloudWatch Logs record of a history event (as committed: no id yet)."""
    details: dict[str, Any] = {}
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            details = dict(value)
            break
    if include_data:
        for member in ("input", "output"):
            text = details.get(member)
            if isinstance(text, str) and len(text.encode("utf-8", "surrogatepass")) > MAX_PAYLOAD:
                details[member] = text.encode("utf-8", "surrogatepass")[:MAX_PAYLOAD].decode(
                    "utf-8", "ignore"
                )
                details[f"{member}Details"] = {"truncated": True}
    else:
        for member in _DATA:
            details.pop(member, None)
            details.pop(f"{member}Details", None)
    return {
        "id": str(event_id),
        "type": event["type"],
        "details": details,
        "previous_event_id": str(event_id - 1),
        "event_timestamp": str(_millis(event["timestamp"])),
        "execution_arn": execution_arn,
    }


def committed(record: _Executed, events: Sequence[dict[str, Any]], last_event_id: int) -> None:
    """Write the records of `events`, just committed for `record`'s execution, the last
    of them numbered `last_event_id`."""
    if record.logging is None or not events or last_event_id < len(events):
        return
    level, include = _config(record.logging)
    first = last_event_id - len(events) + 1
    lines = [
        json.dumps(
            log_record(record.arn, event, first + offset, include_data=include),
            separators=(",", ":"), ensure_ascii=False,
        )
        for offset, event in enumerate(events)
        if wanted(level, str(event.get("type", "")))
    ]
    if lines:
        _sink().write(lines)


@lru_cache(maxsize=64)
def _config(text: str) -> tuple[str, bool]:
    value = json.loads(text)
    return str(value.get("level", "OFF")), bool(value.get("includeExecutionData"))


def _millis(iso: str) -> int:
    return round(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


class Sink:
    """Lines to one file descriptor, a batch per `write` call (opened lazily, again in a
    forked child, whose descriptor table is its own)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._fd: int | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def _descriptor(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            if self.target in ("", "-"):
                self._fd = 1
            else:
                self._fd = os.open(self.target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            self._pid = os.getpid()
        return self._fd

    def write(self, lines: list[str]) -> None:
        data = ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")
        with self._lock:
            fd = self._descriptor()
            while data:
                written = os.write(fd, data)
                data = data[written:]


_sinks: dict[str, Sink] = {}


def _sink() -> Sink:
    target = os.environ.get(ENV, "-")
    found = _sinks.get(target)
    if found is None:
        found = _sinks[target] = Sink(target)
    return found
