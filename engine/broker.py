"""The kombu transport the engine's Celery app uses on a `redis://` broker.

kombu's Redis channel builds a new `redis.Redis` client for every synchronous command it
sends: each publish (LPUSH), each task event (PUBLISH), each acknowledgement. With redis-py
8 a client costs about 0.13 ms of CPU to build (it fills its table of ~170 reply
callbacks), so a Task hop paid for two of them on the publishing side alone, more than the
engine's own checkpoint costs in client CPU. This channel builds one client and reuses it:
a `redis.Redis` is only a handle on the connection pool, which stays kombu's (same
connections, same options, same retry). Nothing else of the transport changes; the
messages and their wire format are kombu's own.

Plugged in through kombu's documented transport-class setting (`broker_transport`), only
for the plain `redis://` scheme: `rediss://` (TLS), sentinel and other brokers keep the
transport kombu picks for them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu.transport import redis as kombu_redis

#: The value of Celery's `broker_transport` setting that selects this transport.
TRANSPORT = "engine.broker:Transport"


class Channel(kombu_redis.Channel):
    _sync_client: Any = None

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        pool = self.pool  # kombu's; a new one after it dropped the old (reconnect, close)
        cached = self._sync_client
        if cached is None or cached.connection_pool is not pool:
            cached = self._sync_client = self._create_client()  # type: ignore[no-untyped-call]
        yield cached


class Transport(kombu_redis.Transport):
    Channel = Channel


def transport_for(broker_url: str) -> str | None:
    """The `broker_transport` setting for `broker_url`: this transport for `redis://`,
    None (kombu's choice) for anything else."""
    return TRANSPORT if broker_url.split("://", 1)[0] == "redis" else None


def transport_options_for(broker_url: str) -> dict[str, object]:
    """Celery's `broker_transport_options` for `broker_url` (docs/fleets.md).

    Redis: unacknowledged messages of a dead worker come back after `visibility_timeout`;
    the engine's own leases and outbox recover sooner, so a long value only avoids needless
    duplicates. RabbitMQ (`amqp://`, `pyamqp://`): publisher confirms, so a publish returns
    only once the broker has taken the (persistent) message into its durable queue; with
    late acknowledgement, a broker restart then loses nothing that was sent or not yet
    done."""
    scheme = broker_url.split("://", 1)[0]
    if scheme in ("amqp", "amqps", "pyamqp"):
        return {"confirm_publish": True}
    return {"visibility_timeout": 3600}
