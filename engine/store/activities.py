"""Activities in Redis: their records, their queues of tasks for pollers, and the atomic
steps that hand a task to exactly one poller (key schema: `engine/store/keys.py`).

An activity's keys share the hash tag `{<name>}`, so its queue script touches one slot;
the steps on an execution (parking the task message, starting the task) touch that
execution's slot only. A task reaches a poller in three steps, each safe to repeat:

1. the worker that got the Task's message queues a reference to it (once per outbox entry:
   the `in` set) and parks the message (its outbox deadline moves out; the sweep still
   sends it again now and then, which finds it queued and does nothing);
2. a poller pops the oldest reference (RPOP: one poller gets it);
3. the poller starts it in the execution's slot: only if the run still waits for that
   attempt and nobody started it (ActivityStarted is logged once). A reference to a task
   that has moved on (timed out, stopped) is dropped there and the poller polls on.

A poller that dies between 2 and 3 loses the reference, not the task: the parked message's
next send queues it again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from redis.exceptions import NoScriptError

from engine.store import keys
from engine.store.scripts import Lua as _Lua


@dataclass(frozen=True)
class ActivityRecord:
    name: str
    arn: str
    created: float


@dataclass(frozen=True)
class TaskRef:
    """A queued activity task: the run, version and attempt waiting, its outbox entry."""

    eid: str
    run: str
    version: int
    attempt: int
    entry: str

    def to_json(self) -> str:
        return json.dumps(
            {"x": self.eid, "r": self.run, "v": self.version, "a": self.attempt, "e": self.entry}
        )

    @classmethod
    def from_json(cls, text: str) -> TaskRef:
        d = json.loads(text)
        return cls(str(d["x"]), str(d["r"]), int(d["v"]), int(d["a"]), str(d["e"]))


class ActivityStore:
    def __init__(self, client: Any) -> None:
        self.r: Any = client
        self._queue = _Lua("activity_queue")
        self._park = _Lua("activity_park")
        self._start = _Lua("activity_start")

    def _eval(self, script: _Lua, key_list: list[str], args: list[Any]) -> Any:
        try:
            return self.r.evalsha(script.sha, len(key_list), *key_list, *args)
        except NoScriptError:  # first use, or Redis restarted: load it and go again
            script.sha = str(self.r.script_load(script.text))
            return self.r.evalsha(script.sha, len(key_list), *key_list, *args)

    # --- records --------------------------------------------------------------------

    def create(self, record: ActivityRecord) -> ActivityRecord:
        """Create the activity, or return the one of that name (CreateActivity is
        idempotent)."""
        key = keys.activity(record.name)
        if self.r.hsetnx(key, "name", record.name):
            self.r.hset(key, mapping={"arn": record.arn, "created": repr(record.created)})
            self.r.zadd(keys.activities(), {record.name: record.created})
            return record
        found = self.get(record.name)
        return found if found is not None else record

    def get(self, name: str) -> ActivityRecord | None:
        fields = self.r.hgetall(keys.activity(name))
        if not fields or "arn" not in fields:
            return None
        return ActivityRecord(fields["name"], fields["arn"], float(fields["created"]))

    def page(self, offset: int, limit: int) -> list[ActivityRecord]:
        """Oldest first (stable pages: new activities go last)."""
        names = self.r.zrange(keys.activities(), offset, offset + limit - 1)
        found = [self.get(str(n)) for n in names]
        return [f for f in found if f is not None]

    def count(self) -> int:
        return int(self.r.zcard(keys.activities()))

    def delete(self, name: str) -> None:
        """The record and its queue go: waiting tasks find no activity when their message
        is sent again (they wait out their timeouts, as on AWS)."""
        self.r.delete(keys.activity(name), keys.activity_queue(name), keys.activity_queued(name))
        self.r.zrem(keys.activities(), name)

    # --- tasks ----------------------------------------------------------------------

    def _queue_keys(self, name: str) -> list[str]:
        return [keys.activity_queue(name), keys.activity_queued(name), keys.activity(name)]

    def push(self, name: str, ref: TaskRef) -> int:
        """1: queued; 0: already queued; -1: no such activity."""
        member = f"{ref.eid}|{ref.entry}"  # entry ids are unique within an execution
        return int(self._eval(self._queue, self._queue_keys(name), ["push", member,
                                                                    ref.to_json()]))

    def pop(self, name: str) -> TaskRef | None | bool:
        """The oldest queued task; None when there is none; False: no such activity."""
        found = self._eval(self._queue, self._queue_keys(name), ["pop"])
        if found == -1:
            return False
        return None if not found else TaskRef.from_json(str(found))

    def waiting(self, name: str) -> int:
        return int(self.r.llen(keys.activity_queue(name)))

    def park(self, ref: TaskRef, until: float) -> int:
        """1: parked; 0: the run no longer waits for it; 2: a poller has started it."""
        return int(self._eval(
            self._park,
            [keys.run(ref.eid, ref.run), keys.outbox_due(ref.eid)],
            [ref.version, ref.attempt, ref.entry, repr(until)],
        ))

    def started_at(self, eid: str, run: str, version: int) -> float | None:
        """When a poller took the run's activity task of this version (None: not yet)."""
        taken, at = self.r.hmget(keys.run(eid, run), "as", "ast")
        if taken is None or at is None or int(taken) != version:
            return None
        return float(at)

    def start(
        self, ref: TaskRef, started_event: dict[str, Any], now: float, entry_until: float
    ) -> dict[str, Any] | None:
        """Start the task for one poller: its snapshot, or None when it no longer waits
        (or another poller started it)."""
        body = json.dumps(started_event, separators=(",", ":"), ensure_ascii=False)[1:]
        found = self._eval(
            self._start,
            [keys.run(ref.eid, ref.run), keys.meta(ref.eid), keys.history(ref.eid),
             keys.outbox_due(ref.eid), keys.heartbeats(ref.eid)],
            [ref.version, ref.attempt, body, ref.entry, repr(entry_until),
             repr(now), ref.run],
        )
        if int(found[0]) == 0:
            return None
        doc: dict[str, Any] = json.loads(found[1])
        return doc
