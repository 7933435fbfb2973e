"""Delivery counts of outbox entries, for the poison-message guard (engine/runtime/poison.py).

Kept in one hash per execution (`keys.deliveries`), beside the execution's other keys and
under its hash tag. Outside the commit's atomic step on purpose: a count is written *before*
the step it guards runs, so a step that kills its process is counted all the same.
"""

from __future__ import annotations

from typing import Any, Final

from engine.store import keys

#: Counts outlive any redelivery cycle; they go away on their own a week after the last one.
TTL_SECONDS: Final = 7 * 24 * 3600

_FAULT: Final = "fault|"

#: Take one count back; a count back at zero is removed (and the hash with its last
#: field): a message redelivered after its execution was deleted (an EXPRESS Map Run child
#: forgotten once counted) leaves no key behind.
_UNCOUNT: Final = """
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if n <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return n
"""


class RedisDeliveries:
    def __init__(self, client: Any) -> None:
        self.r = client  # decode_responses=True (the store's client)
        self._uncount = client.register_script(_UNCOUNT)

    def count(self, eid: str, entry: str) -> int:
        """Count one more redelivery of `entry`; returns how many there have been."""
        key = keys.deliveries(eid)
        pipe = self.r.pipeline(transaction=False)
        pipe.hincrby(key, entry, 1)
        pipe.expire(key, TTL_SECONDS)
        counted, _ = pipe.execute()
        return int(counted)

    def uncount(self, eid: str, entry: str) -> None:
        """Take back one count of `entry`: its delivery's step returned (it was no failure).
        Only after `count` for the same delivery, so the count never goes below zero."""
        self._uncount(keys=[keys.deliveries(eid)], args=[entry])

    def record_fault(self, eid: str, entry: str, text: str) -> None:
        key = keys.deliveries(eid)
        pipe = self.r.pipeline(transaction=False)
        pipe.hset(key, _FAULT + entry, text)
        pipe.expire(key, TTL_SECONDS)
        pipe.execute()

    def last_fault(self, eid: str, entry: str) -> str | None:
        found = self.r.hget(keys.deliveries(eid), _FAULT + entry)
        return None if found is None else str(found)

    def pending(self, eid: str, entry: str) -> bool:
        """Whether `entry` is still in the execution's outbox (not consumed yet)."""
        return bool(self.r.hexists(keys.outbox(eid), entry))
