"""RedriveExecution's one atomic step in each store (engine/runtime/redrive.py plans it).

A `RedrivePlan` reopens an ended execution: its record back to RUNNING with the redrive
fields, the ExecutionRedriven event appended to the history it keeps, the runs and joins
that start again written under compare-and-set, the results of the children that failed
forgotten, and the messages that re-enter those runs put in the outbox. All of it is one
Lua script over the execution's own `{eid}` keys (engine/store/lua/redrive.lua), or none:
a plan made from a record that changed meanwhile (a concurrent redrive) is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.store import keys
from engine.store.base import DocWrite, OutboxEntry

_SCRIPT = (Path(__file__).parent / "lua" / "redrive.lua").read_text(encoding="utf-8")

#: Record fields a redriven execution no longer has (DescribeExecution of a running one).
CLEARED_FIELDS = ("stop", "error", "cause", "output")


@dataclass(frozen=True)
class MapRunReopen:
    """A Map Run of the execution that runs its failed children again: its record back to
    RUNNING with `fields` set, its failed children (the `bad` hash) moved to `rd` (pending
    redrive), its failure counters zeroed (engine/runtime/map_runs.py admits them)."""

    run_id: str
    fields: dict[str, str]


#: A Map Run's parts (keys.map_run) that a reopen keeps past the retention they were given.
MAP_RUN_PARTS = ("", "run", "res", "buf", "files", "items", "bad", "rd")


@dataclass
class RedrivePlan:
    #: What the plan was made from: the record's status and redrive count.
    status: str
    redrive_count: int
    #: The redrive is refused when the execution stopped before this (epoch s; 0: no limit).
    stopped_after: float
    event: dict[str, Any]
    writes: list[DocWrite] = field(default_factory=list)
    #: events appended after `event` (a Map Run's MapRunRedriven)
    more_events: list[dict[str, Any]] = field(default_factory=list)
    #: Map Runs of this execution reopened (Redis only: the in-memory store has none)
    map_runs: list[MapRunReopen] = field(default_factory=list)
    #: join id -> indexes whose results go (children that run again)
    forget: dict[str, list[int]] = field(default_factory=dict)
    outbox: list[OutboxEntry] = field(default_factory=list)
    #: record fields to set
    execution: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RedriveResult:
    ok: bool
    reason: str = ""
    event_id: int = 0


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class RedisRedrive:
    """RedisStore's redrive: needs `r` (a decoding redis client)."""

    r: Any

    def redrive(self, eid: str, plan: RedrivePlan) -> RedriveResult:
        key_list = [keys.meta(eid), keys.history(eid), keys.outbox(eid),
                    keys.outbox_due(eid), keys.tasks(eid)]
        argv: list[str] = [""]

        def key_index(key: str) -> int:
            key_list.append(key)
            return len(key_list)

        def arg(value: str) -> int:
            argv.append(value)
            return len(argv)

        writes = [
            [key_index(keys.doc(eid, w.kind, w.id)), w.expected, arg(_dumps(w.doc)), w.phase,
             w.attempt]
            for w in plan.writes
        ]
        forget: list[list[Any]] = []
        for join, indexes in plan.forget.items():
            k = key_index(keys.results(eid, join))
            forget.extend([k, str(i)] for i in indexes)
        body = _dumps(plan.event)[1:]
        header = {
            "st": plan.status,
            "rc": plan.redrive_count,
            "dl": plan.stopped_after,
            "w": writes,
            "hd": forget,
            "ev": [arg(body), *(arg(_dumps(e)[1:]) for e in plan.more_events)],
            "mr": [
                [[key_index(keys.map_run(eid, m.run_id, part)) for part in MAP_RUN_PARTS],
                 arg(_dumps(m.fields))]
                for m in plan.map_runs
            ],
            "oa": [[arg(e.id), arg(_dumps(e.message)), repr(e.deadline)] for e in plan.outbox],
            "mt": {k: str(v) for k, v in plan.execution.items()},
            "del": list(CLEARED_FIELDS),
        }
        argv[0] = _dumps(header)
        result = self.r.register_script(_SCRIPT)(keys=key_list, args=argv)
        if int(result[0]) == 0:
            return RedriveResult(False, str(result[1]))
        # The indexes, outside the atomic step (each can be rebuilt from the records): the
        # sweep looks at it for its messages; ListExecutions orders it as a running one.
        pipe = self.r.pipeline(transaction=False)
        if plan.outbox:
            pipe.zadd(keys.due_index(), {eid: min(e.deadline for e in plan.outbox)}, lt=True)
        start = self.r.hget(keys.meta(eid), "start")
        if start is not None:
            sm = keys.state_machine_of(eid)
            for index in (keys.recent(), keys.recent(sm)):
                pipe.zadd(index, {eid: float(start)}, xx=True)
        pipe.execute()
        return RedriveResult(True, event_id=int(result[1]))


class MemoryRedrive:
    """MemoryStore's redrive, under its lock (the same checks and writes as the script)."""

    _lock: Any
    _executions: dict[str, Any]
    _due_index: dict[str, float]

    def redrive(self, eid: str, plan: RedrivePlan) -> RedriveResult:
        with self._lock:
            x = self._executions.get(eid)
            if x is None or x.record.status != plan.status:
                return RedriveResult(False, "status")
            if x.record.redrive_count != plan.redrive_count:
                return RedriveResult(False, "redriven")
            stop = x.record.stop
            if plan.stopped_after > 0 and stop is not None and stop < plan.stopped_after:
                return RedriveResult(False, "expired")
            for w in plan.writes:
                current = x.docs.get((w.kind, w.id))
                if (current["v"] if current else 0) != w.expected:
                    return RedriveResult(False, "conflict")
            for w in plan.writes:
                x.docs[(w.kind, w.id)] = {
                    "v": w.expected + 1, "d": _dumps(w.doc), "p": w.phase, "a": w.attempt,
                    "lo": None, "lu": 0.0, "st": None,
                }
            for join, indexes in plan.forget.items():
                results = x.hashes.get(f"res:{join}", {})
                for i in indexes:
                    results.pop(str(i), None)
            for event in [plan.event, *plan.more_events]:
                event_id = len(x.history) + 1
                x.history.append(_dumps({"id": event_id, "previousEventId": event_id - 1,
                                         **event}))
            for e in plan.outbox:
                x.outbox[e.id] = _dumps(e.message)
                x.due[e.id] = e.deadline
            if plan.outbox:
                soonest = min(e.deadline for e in plan.outbox)
                self._due_index[eid] = min(self._due_index.get(eid, soonest), soonest)
            for name in CLEARED_FIELDS:
                setattr(x.record, name, None)
            for name, value in plan.execution.items():
                setattr(x.record, name, value)
            return RedriveResult(True, event_id=event_id)
