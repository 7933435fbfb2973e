"""The engine's kombu channel (engine/broker.py) and the messages the dispatcher publishes,
against a real redis-server: one Redis client per channel, rebuilt when kombu replaces its
pool, and messages that are Celery's own protocol with the engine message as `argsrepr`."""

from __future__ import annotations

import base64
import json
from typing import Any

import redis

from engine.broker import TRANSPORT, Channel, transport_for
from engine.celery_app import STEP_TASK, CeleryDispatcher, build_app


def test_only_plain_redis_urls_get_the_engine_channel() -> None:
    assert transport_for("redis://localhost:6379/0") == TRANSPORT
    assert transport_for("redis://:secret@10.0.0.5:6380/3") == TRANSPORT
    # TLS, sentinel, sockets and other brokers keep kombu's choice.
    for url in ["rediss://host:6380/0", "sentinel://host:26379", "redis+socket:///tmp/r.sock",
                "amqp://guest@localhost//", "memory://"]:
        assert transport_for(url) is None, url
    assert build_app("amqp://guest@localhost//").conf.broker_transport is None


def test_a_channel_reuses_one_client_until_kombu_replaces_its_pool(redis_url: str) -> None:
    app = build_app(redis_url)
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        assert isinstance(channel, Channel)
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
            assert first is second
            assert first.connection_pool is channel.pool
        given = redis.Redis.from_url(redis_url)
        with channel.conn_or_acquire(given) as passed:
            assert passed is given  # a caller's own client is used as it is
        given.close()
        # What kombu does when a connection fails: drop its pools. The next command must go
        # through a client on the new pool, not the cached one on the old.
        channel._disconnect_pools()
        with channel.conn_or_acquire() as third:
            assert third is not first
            assert third.connection_pool is channel.pool
            assert third.ping()


def test_dispatched_messages_are_celery_messages_with_the_engine_message_as_argsrepr(
    redis_url: str, redis_client: redis.Redis
) -> None:
    app = build_app(redis_url)
    queue = "test-broker-dispatch"
    redis_client.delete(queue)
    dispatcher = CeleryDispatcher(app, lambda handler: queue)
    sent = [
        {"k": "task", "x": f"e{i}", "r": "0", "v": i, "a": 0, "h": "Echo", "s": "Ship",
         "m": "Orders", "note": "é" * 10}
        for i in range(30)
    ]
    for message in sent:
        dispatcher.send(message)
    raw = redis_client.lrange(queue, 0, -1)
    assert len(raw) == len(sent)
    received: list[dict[str, Any]] = []
    for item in reversed(raw):  # LPUSH: the newest first
        envelope = json.loads(item)
        headers = envelope["headers"]
        assert headers["task"] == STEP_TASK
        assert headers["shadow"] == "Orders.Ship"
        body = json.loads(base64.b64decode(envelope["body"]))
        args, kwargs, _embed = body
        assert kwargs == {}
        assert json.loads(headers["argsrepr"]) == args
        assert headers["kwargsrepr"] == "{}"
        received.append(args[0])
    assert received == sent
    redis_client.delete(queue)


def test_a_long_message_has_a_cut_argsrepr_and_a_whole_body(
    redis_url: str, redis_client: redis.Redis
) -> None:
    app = build_app(redis_url)
    queue = "test-broker-long"
    redis_client.delete(queue)
    message = {"k": "task", "x": "e1", "r": "0", "v": 0, "a": 0, "m": "M", "pad": "x" * 5000}
    CeleryDispatcher(app, lambda handler: queue).send(message)
    envelope = json.loads(redis_client.lindex(queue, 0))  # type: ignore[arg-type]
    assert len(envelope["headers"]["argsrepr"]) <= 1024
    assert envelope["headers"]["argsrepr"].endswith("...]")
    assert json.loads(base64.b64decode(envelope["body"]))[0] == [message]
    redis_client.delete(queue)
