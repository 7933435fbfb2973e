"""Map Runs in Redis: a record per Map Run, its running children, its results (collected,
or buffered until written), all under the parent execution's hash tag (keys.map_run), so
every script below touches one slot. Each call is small: counters and at most one window
of indexes or one batch of results (engine/runtime/map_runs.py sizes them).

A child is counted once: `count` removes its index from the running hash and counts only
if it was there (the same child reported twice, by its own end and by a sweep, counts
once). The admission is a compare-and-set on the number admitted, under a lock that names
one admitter at a time.
"""

from __future__ import annotations

import json
from typing import Any, Final

from engine.store import keys

_CREATE: Final = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local fields = cjson.decode(ARGV[1])
for k, v in pairs(fields) do redis.call('HSET', KEYS[1], k, v) end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1
"""

_ADMIT: Final = """
if redis.call('HGET', KEYS[1], 'status') ~= 'RUNNING' then return -1 end
if redis.call('HGET', KEYS[1], 'admitted') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'admitted', ARGV[2], 'pos', ARGV[3], 'items', ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'total', ARGV[5]) end
local sizes = cjson.decode(ARGV[6])
for i, n in ipairs(sizes) do
  redis.call('HSET', KEYS[2], tonumber(ARGV[1]) + i - 1, n)
end
return 1
"""

_COUNT: Final = """
local n = redis.call('HGET', KEYS[2], ARGV[1])
if not n then return {0} end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
redis.call('HINCRBY', KEYS[1], 'items_' .. ARGV[2], tonumber(n))
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
  redis.call('HINCRBY', KEYS[1], 'bytes', string.len(ARGV[3]) + 1)
end
if ARGV[4] ~= '' then redis.call('RPUSH', KEYS[4], ARGV[4]) end
if ARGV[2] ~= 'succeeded' then
  -- a failure a redrive of the parent runs again (its item count, the child's redrives)
  redis.call('HSET', KEYS[5], ARGV[1], n .. '|' .. ARGV[5])
end
return {1}
"""

_REDRIVEN: Final = """
local v = redis.call('HGET', KEYS[2], ARGV[1])
if not v then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
local n = tonumber(string.match(v, '^(%d+)'))
if ARGV[2] == '' then
  redis.call('HSET', KEYS[3], ARGV[1], n)
  return 1
end
redis.call('HSET', KEYS[4], ARGV[1], v)
redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
redis.call('HINCRBY', KEYS[1], 'items_' .. ARGV[2], n)
redis.call('HINCRBY', KEYS[1], 'not_redrivable', 1)
return 1
"""

_FLUSHED: Final = """
if redis.call('HGET', KEYS[1], 'results_written') ~= ARGV[4] then return 0 end
redis.call('LTRIM', KEYS[2], tonumber(ARGV[1]), -1)
for _, f in ipairs(cjson.decode(ARGV[2])) do redis.call('RPUSH', KEYS[3], cjson.encode(f)) end
redis.call('HINCRBY', KEYS[1], 'results_written', tonumber(ARGV[3]))
return 1
"""

_FINISH: Final = """
if redis.call('HGET', KEYS[1], 'status') ~= 'RUNNING' then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'stop', ARGV[2], 'error', ARGV[3],
           'cause', ARGV[4])
for i = 1, #KEYS do
  if tonumber(ARGV[5]) > 0 then redis.call('EXPIRE', KEYS[i], tonumber(ARGV[5])) end
end
return 1
"""

_RELEASE: Final = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if redis.call('HGET', KEYS[2], 'dirty') == '1' then
  redis.call('HSET', KEYS[2], 'dirty', '0')
  return 2
end
return 1
"""

_UPDATE: Final = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for k, v in pairs(cjson.decode(ARGV[1])) do redis.call('HSET', KEYS[1], k, v) end
redis.call('HSET', KEYS[1], 'dirty', '1')
return 1
"""

#: The counters of a Map Run, read together.
COUNTERS: Final = (
    "status", "admitted", "total", "items", "succeeded", "failed", "timed_out", "aborted",
    "items_succeeded", "items_failed", "items_timed_out", "items_aborted",
    "results_written", "bytes", "max_concurrency", "tolerated_count",
    "tolerated_percentage", "pos", "start", "stop", "error", "cause",
    "redrive_count", "redrive_date", "not_redrivable",
)


class RedisMapRuns:
    def __init__(self, client: Any, retention_seconds: float = 0.0) -> None:
        self.r = client
        self.retention = int(retention_seconds)
        self._create = client.register_script(_CREATE)
        self._admit = client.register_script(_ADMIT)
        self._count = client.register_script(_COUNT)
        self._flushed = client.register_script(_FLUSHED)
        self._finish = client.register_script(_FINISH)
        self._release = client.register_script(_RELEASE)
        self._update = client.register_script(_UPDATE)
        self._redriven = client.register_script(_REDRIVEN)

    def create(self, eid: str, run_id: str, fields: dict[str, str], start: float) -> bool:
        """The record, once (False: it exists already), and its parent's index."""
        created = self._create(
            keys=[keys.map_run(eid, run_id), keys.map_runs(eid)],
            args=[json.dumps(fields), start, run_id],
        )
        self.r.set(keys.map_run_parent(run_id), eid)
        return bool(created)

    def keep_parent(self, run_id: str) -> None:
        """The index from the ARN to the parent loses its expiry (a redrive reopened it)."""
        self.r.persist(keys.map_run_parent(run_id))

    def parent_of(self, run_id: str) -> str | None:
        found = self.r.get(keys.map_run_parent(run_id))
        return str(found) if found is not None else None

    def ids(self, eid: str) -> list[str]:
        return [str(x) for x in self.r.zrange(keys.map_runs(eid), 0, -1)]

    def field(self, eid: str, run_id: str, name: str) -> str | None:
        found = self.r.hget(keys.map_run(eid, run_id), name)
        return str(found) if found is not None else None

    def counters(self, eid: str, run_id: str) -> dict[str, str] | None:
        values = self.r.hmget(keys.map_run(eid, run_id), COUNTERS)
        if values[0] is None:
            return None
        return {k: v for k, v in zip(COUNTERS, values, strict=True) if v is not None}

    def record(self, eid: str, run_id: str, names: tuple[str, ...]) -> dict[str, str]:
        values = self.r.hmget(keys.map_run(eid, run_id), names)
        return {k: v for k, v in zip(names, values, strict=True) if v is not None}

    def acquire(self, eid: str, run_id: str, owner: str, seconds: float) -> bool:
        return bool(self.r.set(keys.map_run(eid, run_id, "lock"), owner, nx=True,
                               px=int(seconds * 1000)))

    def release(self, eid: str, run_id: str, owner: str) -> bool:
        """Give the lock back; True when a child ended meanwhile (admit again)."""
        found = self._release(keys=[keys.map_run(eid, run_id, "lock"),
                                    keys.map_run(eid, run_id)], args=[owner])
        return int(found) == 2

    def mark_dirty(self, eid: str, run_id: str) -> None:
        self.r.hset(keys.map_run(eid, run_id), "dirty", "1")

    def admit(self, eid: str, run_id: str, expected: int, position: dict[str, Any],
              items: int, total: int | None, sizes: list[int]) -> int:
        """Record children [expected, expected + len(sizes)) as admitted (each with its
        item count) and the reader's position: 1, 0 (someone admitted meanwhile) or -1
        (the Map Run has ended)."""
        return int(self._admit(
            keys=[keys.map_run(eid, run_id), keys.map_run(eid, run_id, "run")],
            args=[expected, expected + len(sizes), json.dumps(position), items,
                  "" if total is None else total, json.dumps(sizes)],
        ))

    def running(self, eid: str, run_id: str) -> list[int]:
        return sorted(int(i) for i in self.r.hkeys(keys.map_run(eid, run_id, "run")))

    def statuses(self, eids: list[str]) -> list[str | None]:
        """The status of each execution, in one round trip (a sweep's children)."""
        pipe = self.r.pipeline(transaction=False)
        for child in eids:
            pipe.hget(keys.meta(child), "status")
        return [None if s is None else str(s) for s in pipe.execute()]

    def count(self, eid: str, run_id: str, index: int, status_field: str,
              result: str | None, entry: str | None, redrives: int = 0) -> bool:
        """Count a child's end once; a failure is also kept (`bad`, with the child's
        `redrives`) for a redrive of the parent (engine/store/redrive.py reopens)."""
        found = self._count(
            keys=[keys.map_run(eid, run_id), keys.map_run(eid, run_id, "run"),
                  keys.map_run(eid, run_id, "res"), keys.map_run(eid, run_id, "buf"),
                  keys.map_run(eid, run_id, "bad")],
            args=[index, status_field, result or "", entry or "", redrives],
        )
        return bool(int(found[0]))

    def pending_redrive(self, eid: str, run_id: str, limit: int) -> list[tuple[int, int]]:
        """Up to `limit` failed children a redrive reopened: (index, the child's redrive
        count when it failed)."""
        _, found = self.r.hscan(keys.map_run(eid, run_id, "rd"), 0, count=max(limit, 10))
        out = [(int(i), int(str(v).split("|")[1])) for i, v in found.items()]
        return sorted(out)[:limit]

    def pending_redrive_count(self, eid: str, run_id: str) -> int:
        return int(self.r.hlen(keys.map_run(eid, run_id, "rd")))

    def pending_redrive_totals(self, eid: str, run_id: str) -> tuple[int, int]:
        """The children pending redrive and their items (DescribeMapRun's pendingRedrive)."""
        values = self.r.hvals(keys.map_run(eid, run_id, "rd"))
        return len(values), sum(int(str(v).split("|")[0]) for v in values)

    def redriven(self, eid: str, run_id: str, index: int, refused: str = "") -> bool:
        """A pending child was redriven (or runs): it is running again; `refused` (its
        status field): it cannot be, and counts as that failure again."""
        return bool(self._redriven(
            keys=[keys.map_run(eid, run_id), keys.map_run(eid, run_id, "rd"),
                  keys.map_run(eid, run_id, "run"), keys.map_run(eid, run_id, "bad")],
            args=[index, refused],
        ))

    def buffered(self, eid: str, run_id: str, limit: int) -> list[str]:
        return [str(x) for x in self.r.lrange(keys.map_run(eid, run_id, "buf"), 0, limit - 1)]

    def buffer_length(self, eid: str, run_id: str) -> int:
        return int(self.r.llen(keys.map_run(eid, run_id, "buf")))

    def flushed(self, eid: str, run_id: str, taken: int, files: list[dict[str, Any]],
                written: int) -> bool:
        """The buffer's first `taken` entries are in `files`: trim them, unless another
        writer did meanwhile (`written`: the entries written before, compared)."""
        return bool(self._flushed(
            keys=[keys.map_run(eid, run_id), keys.map_run(eid, run_id, "buf"),
                  keys.map_run(eid, run_id, "files")],
            args=[taken, json.dumps(files), taken, written],
        ))

    def files(self, eid: str, run_id: str) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self.r.lrange(keys.map_run(eid, run_id, "files"), 0, -1)]

    def results(self, eid: str, run_id: str, total: int, chunk: int = 1000) -> list[Any]:
        out: list[Any] = []
        key = keys.map_run(eid, run_id, "res")
        for start in range(0, total, chunk):
            indexes = list(range(start, min(total, start + chunk)))
            out.extend(json.loads(v) if v is not None else None
                       for v in self.r.hmget(key, indexes))
        return out

    def spool(self, eid: str, run_id: str, items: list[str], chunk: int = 500) -> None:
        """Keep the items a registered reader handler returned (JSON texts), pushed a
        chunk at a time; read back by `spooled`."""
        key = keys.map_run(eid, run_id, "items")
        self.r.delete(key)
        for start in range(0, len(items), chunk):
            self.r.rpush(key, *items[start:start + chunk])

    def spooled(self, eid: str, run_id: str, start: int, count: int) -> list[str]:
        return [str(x) for x in
                self.r.lrange(keys.map_run(eid, run_id, "items"), start, start + count - 1)]

    def finish(self, eid: str, run_id: str, status: str, stop: float, error: str | None,
               cause: str | None) -> bool:
        parts = ("", "run", "res", "buf", "files", "items", "bad", "rd")
        done = bool(self._finish(
            keys=[*(keys.map_run(eid, run_id, p) for p in parts), keys.map_runs(eid)],
            args=[status, stop, error or "", cause or "", self.retention],
        ))
        if done and self.retention > 0:  # another slot: not in the script
            self.r.expire(keys.map_run_parent(run_id), self.retention)
        return done

    def update(self, eid: str, run_id: str, fields: dict[str, str]) -> bool:
        return bool(self._update(keys=[keys.map_run(eid, run_id)], args=[json.dumps(fields)]))


__all__ = ["COUNTERS", "RedisMapRuns"]
