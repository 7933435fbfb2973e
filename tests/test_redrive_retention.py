"""The sweep keeps an ended execution's child keys while it can be redriven (AWS: 14 days;
SFN_REDRIVE_SECONDS), and deletes them after; a succeeded one's at once (real Redis)."""

from __future__ import annotations

import uuid

import pytest
import redis

from engine.store import keys
from engine.store.redis_store import RedisStore
from engine.store.retention import REDRIVE_GRACE

pytestmark = pytest.mark.redis


def ended(r: redis.Redis, status: str, stop: float, kind: str = "STANDARD") -> tuple[str, str]:
    eid = f"Kept:{uuid.uuid4().hex[:10]}"
    child = keys.run(eid, "0/P#2.0/0")
    r.hset(keys.meta(eid), mapping={"status": status, "type": kind, "stop": stop})
    r.hset(child, mapping={"v": 1, "d": "{}"})
    r.sadd(keys.child_keys(eid), child)
    r.zadd(keys.ended(), {eid: stop})
    return eid, child


def test_child_keys_stay_while_redrivable(redis_url: str, redis_client: redis.Redis) -> None:
    store = RedisStore.from_url(redis_url)
    store.redrive_seconds = 100.0
    now = 1_900_000_000.0
    failed, failed_child = ended(redis_client, "FAILED", now - 10)
    express, express_child = ended(redis_client, "FAILED", now - 10, "EXPRESS")
    succeeded, succeeded_child = ended(redis_client, "SUCCEEDED", now - 10)
    store.prune_closed(now, limit=1000)
    assert redis_client.exists(failed_child)
    assert not redis_client.exists(express_child) and not redis_client.exists(succeeded_child)
    # Looked at again once the window (and its grace) has passed, then deleted.
    assert redis_client.zscore(keys.ended(), failed) == now - 10 + 100.0 + REDRIVE_GRACE
    store.prune_closed(now + 100.0, limit=1000)
    assert redis_client.exists(failed_child)
    store.prune_closed(now - 10 + 100.0 + REDRIVE_GRACE + 1, limit=1000)
    assert not redis_client.exists(failed_child)
    for eid in (failed, express, succeeded):
        assert redis_client.zscore(keys.ended(), eid) is None
