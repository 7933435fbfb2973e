"""Retention of closed executions in Redis (see engine/store/keys.py for the keys).

The closing commit (engine/store/lua/commit.lua) sets a TTL on the execution's record,
history and task ids and indexes it in `sfn:ended` and `sfn:closed`; the recovery sweep
calls `prune_closed` to delete the child keys of ended executions (once they can no longer
be redriven) and to drop executions past their retention from the indexes.
"""

from __future__ import annotations

from typing import Any

from engine.store import keys

#: AWS's redrive window (14 days), and what the sweep waits beyond it.
REDRIVE_SECONDS = 14 * 86400.0
REDRIVE_GRACE = 3600.0
REDRIVABLE = ("FAILED", "TIMED_OUT", "ABORTED")

#: Fields, list entries or keys per command when a big write or delete is cut up: each
#: command then takes well under a millisecond of Redis's time.
WRITE_CHUNK = 500


class RetentionMixin:
    """RedisStore's retention half: needs `r` (a decoding redis client) and
    `retention_seconds` (0: closed executions are kept forever)."""

    r: Any
    retention_seconds: float
    #: How long an ended FAILED, TIMED_OUT or ABORTED Standard execution keeps its child
    #: keys: while it can be redriven (Settings.redrive_seconds; 0: not kept).
    redrive_seconds: float = REDRIVE_SECONDS

    def prune_closed(self, now: float, limit: int = 20) -> int:
        """The sweep's cleaning, a few executions per call: the child keys (runs, joins,
        items, results) of executions that have ended, which nothing reads any more; and
        the index entries of executions closed longer than the retention, whose record
        and history Redis has expired (a read in between finds no record and lists
        nothing). Deletes go in chunks (UNLINK frees big values off Redis's main thread).
        Returns how many executions it cleaned."""
        cleaned = 0
        for eid in self.r.zrangebyscore(keys.ended(), "-inf", now, start=0, num=limit):
            status, kind, stop = self.r.hmget(keys.meta(eid), "status", "type", "stop")
            kept_until = (float(stop) if stop else 0.0) + self.redrive_seconds + REDRIVE_GRACE
            if (
                status in REDRIVABLE and kind != "EXPRESS" and self.redrive_seconds > 0
                and kept_until > now
            ):
                # It can still be redriven (engine/runtime/redrive.py), which needs its
                # runs, joins and results: looked at again once that window has passed
                # (with a grace, so that a redrive checked just inside it finds them).
                self.r.zadd(keys.ended(), {eid: kept_until})
                continue
            if status != "RUNNING":
                # (RUNNING: a refused closing commit indexed it, or it was redriven.)
                self._unlink_members(keys.child_keys(eid))
            self.r.zrem(keys.ended(), eid)
            cleaned += 1
        if self.retention_seconds <= 0:
            return cleaned
        cutoff = now - self.retention_seconds
        for eid in self.r.zrangebyscore(keys.closed(), "-inf", cutoff, start=0, num=limit):
            status, stop = self.r.hmget(keys.meta(eid), "status", "stop")
            pipe = self.r.pipeline(transaction=False)
            if status == "RUNNING":
                # The name was used again after the record expired: that execution keeps
                # its entries and is indexed here again when it ends.
                pipe.zrem(keys.closed(), eid)
            elif stop is not None and float(stop) > cutoff:
                pipe.zadd(keys.closed(), {eid: float(stop)})  # it ended again since
            else:
                # Expired (no record), or closed longer than the retention without a TTL
                # (it ended before retention was set): gone, from the indexes too.
                sm = keys.state_machine_of(eid)
                for index in (keys.executions(), keys.sm_executions(sm), keys.recent(),
                              keys.recent(sm), keys.due_index(), keys.closed()):
                    pipe.zrem(index, eid)
                # With them the callbacks' per-execution keys (heartbeats, the parent
                # link, the set of child executions), which the view reads until then.
                pipe.unlink(keys.meta(eid), keys.history(eid), keys.tasks(eid),
                            keys.run(eid, "0"), keys.outbox(eid), keys.outbox_due(eid),
                            keys.job_stops(eid),
                            keys.heartbeats(eid), keys.parent(eid), keys.children(eid),
                            keys.deliveries(eid))
            pipe.execute()
            cleaned += 1
        return cleaned

    def _unlink_members(self, set_key: str) -> None:
        cursor = 0
        while True:
            cursor, members = self.r.sscan(set_key, cursor, count=WRITE_CHUNK)
            if members:
                self.r.unlink(*members)
            if int(cursor) == 0:
                break
        self.r.unlink(set_key)

