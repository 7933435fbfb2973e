"""The recovery sweep's reads and writes on the Redis store: which executions are due for a
look (`sfn:due`), an execution's outbox entries past their deadline, settling an outbox
outside a commit (a refused commit's job stops), and the next look's time. Mixed into
`RedisStore` (engine/store/redis_store.py), which provides the client and the scripts."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from engine.store import keys
from engine.store.base import OutboxEntry
from engine.store.encoding import encode
from engine.store.scripts import Lua


class RedisRecovery:
    r: Any
    _settle: Lua
    _due_entries: Any
    _due_executions: Any
    _pipeline: Callable[..., list[Any]]

    def due_executions(self, now: float, limit: int, claim_for: float) -> list[str]:
        ids = self._due_executions(
            keys=[keys.due_index()], args=[repr(now), limit, repr(now + claim_for)]
        )
        return [str(i) for i in ids]

    def due_entries(
        self, eid: str, now: float, redeliver_after: float, limit: int = 100
    ) -> tuple[list[OutboxEntry], float | None, str]:
        flat, nxt, status = self._due_entries(
            keys=[keys.outbox(eid), keys.outbox_due(eid), keys.meta(eid)],
            args=[repr(now), repr(redeliver_after), limit],
        )
        entries = [
            OutboxEntry(flat[i], json.loads(flat[i + 1]), now, now + redeliver_after, True)
            for i in range(0, len(flat), 2)
        ]
        return entries, (float(nxt) if nxt else None), str(status)

    def settle_outbox(
        self, eid: str, *, add: list[OutboxEntry], remove: list[str]
    ) -> None:
        header = {"rm": remove,
                  "add": [[e.id, encode(e.message), repr(e.deadline)] for e in add]}

        def build(pipe: Any) -> None:
            self._settle.queue(pipe, [keys.outbox(eid), keys.outbox_due(eid),
                                      keys.job_stops(eid)],
                               [encode(header)])
            if add:
                pipe.zadd(keys.due_index(), {eid: min(e.deadline for e in add)}, lt=True)

        self._pipeline(build, durable=True)

    def reschedule_execution(self, eid: str, when: float | None) -> None:
        if when is None:
            self.r.zrem(keys.due_index(), eid)
        else:
            # LT: a commit may have asked for an earlier look meanwhile; keep the earlier.
            self.r.zadd(keys.due_index(), {eid: when}, lt=True)

    def running_execution_ids(self) -> list[str]:
        return [str(e) for e in self.r.zrange(keys.executions(), 0, -1)]
