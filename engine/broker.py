"""The kombu transport the engine's Celery app uses on a `redis://` broker.

kombu's Redis channel builds a new `redis.Redis` client for every synchronous command it
sends: each publish (LPUSH), each task event (PUBLISH), each acknowledgement. With redis-py
8 a client costs about 0.13 ms of CPU to build (it fills its table of ~170 reply
callbacks), so a Task hop paid for two of them on the publishing side alone, more than the
engine's own checkpoint costs in client CPU. This channel builds one client and reuses it:
a `redis.Redis` is only a handle on the connection pool, which stays kombu's (same
connections, same options, same retry). Nothing else of the transport changes; the
messages and their wire format are kombu's own.

Redis full (an OOM answer under `maxmemory-policy noeviction`) is back-pressure, not a
fault: kombu counts OutOfMemoryError among its channel errors, which Celery does not
recover from, so a worker that met one while recording a delivered message (ZADD/HSET of
the unacked index) or acknowledging one exited with "Unrecoverable error" and stayed down.
Here those writes wait for memory with a capped backoff (logged once per episode), and an
OOM that still escapes counts as a connection error, so Celery restarts the consumer (and
reconnects) instead of exiting. What was not acknowledged is delivered again; the engine
drops a stale message by its version check.

Plugged in through kombu's documented transport-class setting (`broker_transport`), only
for the plain `redis://` scheme: `rediss://` (TLS), sentinel and other brokers keep the
transport kombu picks for them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final, TypeVar

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError

log = logging.getLogger("engine.broker")

T = TypeVar("T")

#: How long a broker write waits for Redis to have memory again before giving up (then
#: the consumer restarts, and waits again).
OOM_WAIT_SECONDS: Final = 60.0
_OOM_BACKOFF_CAP: Final = 2.0


def wait_for_memory(
    operation: Callable[[], T], *, limit: float = OOM_WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `operation`, again after a capped backoff while Redis answers OOM (a refused
    write wrote nothing: Redis checks memory before a command, and before a script's first
    write). After `limit` seconds, a ConnectionError: Celery's cue to restart the consumer."""
    deadline = time.monotonic() + limit
    delay = 0.1
    warned = False
    while True:
        try:
            return operation()
        except OutOfMemoryError as exc:
            if time.monotonic() + delay > deadline:
                raise RedisConnectionError(
                    f"Redis stayed out of memory for {limit:g} s: {exc}"
                ) from exc
            if not warned:
                log.warning("Redis is full (maxmemory reached, noeviction): waiting for "
                            "memory before going on (%s)", exc)
                warned = True
            sleep(delay)
            delay = min(delay * 2, _OOM_BACKOFF_CAP)

#: The value of Celery's `broker_transport` setting that selects this transport.
TRANSPORT = "engine.broker:Transport"


class QoS(kombu_redis.QoS):
    """kombu's unacked bookkeeping, waiting for memory instead of failing on OOM."""

    def append(self, message: Any, delivery_tag: str) -> None:
        wait_for_memory(lambda: super(QoS, self).append(message, delivery_tag))  # type: ignore[no-untyped-call]

    def ack(self, delivery_tag: str) -> None:
        wait_for_memory(lambda: super(QoS, self).ack(delivery_tag))  # type: ignore[no-untyped-call]

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        wait_for_memory(lambda: super(QoS, self).reject(delivery_tag, requeue))  # type: ignore[no-untyped-call]


class Channel(kombu_redis.Channel):
    QoS = QoS
    _sync_client: Any = None

    def _put(self, queue: str, message: Any, **kwargs: Any) -> None:
        wait_for_memory(lambda: super(Channel, self)._put(queue, message, **kwargs))  # type: ignore[no-untyped-call]

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
    # An OOM that escapes the waits above restarts the consumer (a connection error)
    # instead of ending the worker (kombu files it among the channel errors).
    connection_errors = (*kombu_redis.Transport.connection_errors, OutOfMemoryError)


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
