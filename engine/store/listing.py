"""ListExecutions on Redis: the executions by start or by recency, a page at a time
(moved out of engine/store/redis_store.py as it was; keys: engine/store/keys.py)."""

from __future__ import annotations

from typing import Any

from engine.store import keys
from engine.store.base import ExecutionRecord


class RedisListing:
    """RedisStore's listing half: needs `r` (a decoding redis client, or a cluster's)."""

    r: Any

    def _recent_index(self, state_machine: str | None) -> str:
        """The recency index, filled in first for executions started before it existed
        (a store written by an earlier version): once, when it counts fewer executions
        than the start index."""
        recent = keys.recent(state_machine)
        by_start = keys.sm_executions(state_machine) if state_machine else keys.executions()
        pipe = self.r.pipeline(transaction=False)
        pipe.zcard(recent)
        pipe.zcard(by_start)
        have, total = pipe.execute()
        if have < total:
            known = set(self.r.zrange(recent, 0, -1))
            missing = [e for e in self.r.zrange(by_start, 0, -1) if e not in known]
            pipe = self.r.pipeline(transaction=False)
            for eid in missing:
                pipe.hmget(keys.meta(eid), "start", "stop")
            scores = {
                eid: float(stop if stop is not None else start)
                for eid, (start, stop) in zip(missing, pipe.execute(), strict=True)
                if start is not None
            }
            if scores:
                self.r.zadd(recent, scores, nx=True)
        return recent

    def list_executions(
        self, state_machine: str | None, offset: int, limit: int
    ) -> list[ExecutionRecord]:
        index = self._recent_index(state_machine)
        eids = self.r.zrevrange(index, offset, offset + limit - 1)
        pipe = self.r.pipeline(transaction=False)
        for eid in eids:
            pipe.hgetall(keys.meta(eid))
        return [ExecutionRecord.from_fields(f) for f in pipe.execute() if f]

    def list_executions_after(
        self,
        state_machine: str | None,
        after: tuple[float, str] | None,
        limit: int,
        *,
        by_recency: bool = False,
    ) -> list[ExecutionRecord]:
        """Newest first (by start, or by `ExecutionRecord.recency` when `by_recency`; then
        eid descending, Redis's order for equal scores), strictly after `after` = (that
        time, eid) of the last record of the previous page: a cursor, so pages stay put
        while new executions start (an offset would shift)."""
        if by_recency:
            index = self._recent_index(state_machine)
        else:
            index = keys.sm_executions(state_machine) if state_machine else keys.executions()
        top: float | str = "+inf" if after is None else after[0]
        eids: list[str] = []
        offset = 0
        while len(eids) < limit:
            rows: list[tuple[str, float]] = self.r.zrevrangebyscore(
                index, top, "-inf", start=offset, num=limit + 16, withscores=True
            )
            if not rows:
                break
            offset += len(rows)
            for eid, score in rows:
                if after is not None and score == after[0] and eid >= after[1]:
                    continue  # the previous page's tail, at the cursor's own start time
                eids.append(str(eid))
        pipe = self.r.pipeline(transaction=False)
        for eid in eids[:limit]:
            pipe.hgetall(keys.meta(eid))
        return [ExecutionRecord.from_fields(f) for f in pipe.execute() if f]

    def count_executions(self, state_machine: str | None) -> int:
        index = keys.sm_executions(state_machine) if state_machine else keys.executions()
        return int(self.r.zcard(index))
