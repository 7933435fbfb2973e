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


def _dispatch(redis_url: str, r: redis.Redis, messages: list[dict[str, Any]]) -> list[Any]:
    """Send `messages` through the engine's dispatcher to a fresh queue; their envelopes as
    kombu left them in Redis, in the order sent."""
    queue = "test-broker-dispatch"
    r.delete(queue)
    dispatcher = CeleryDispatcher(build_app(redis_url), lambda handler: queue)
    for message in messages:
        dispatcher.send(message)
    raw = r.lrange(queue, 0, -1)
    r.delete(queue)
    return [json.loads(item) for item in reversed(raw)]  # type: ignore[arg-type]  # LPUSH


def test_dispatched_messages_are_celery_messages_with_the_engine_message_as_argsrepr(
    redis_url: str, redis_client: redis.Redis
) -> None:
    sent = [
        {"k": "task", "x": f"e{i}", "r": "0", "v": i, "a": 0, "h": "Echo", "s": "Ship",
         "m": "Orders", "note": "é" * 10}
        for i in range(30)
    ]
    envelopes = _dispatch(redis_url, redis_client, sent)
    assert len(envelopes) == len(sent)
    received: list[dict[str, Any]] = []
    for envelope in envelopes:
        headers = envelope["headers"]
        assert headers["task"] == STEP_TASK
        assert headers["shadow"] == "Orders.Ship"
        args, kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
        assert kwargs == {}
        assert json.loads(headers["argsrepr"]) == args
        assert headers["kwargsrepr"] == "{}"
        received.append(args[0])
    assert received == sent


def test_a_long_message_has_a_cut_argsrepr_and_a_whole_body(
    redis_url: str, redis_client: redis.Redis
) -> None:
    message = {"k": "task", "x": "e1", "r": "0", "v": 0, "a": 0, "m": "M", "pad": "x" * 5000}
    (envelope,) = _dispatch(redis_url, redis_client, [message])
    assert len(envelope["headers"]["argsrepr"]) <= 1024
    assert envelope["headers"]["argsrepr"].endswith("...]")
    assert json.loads(base64.b64decode(envelope["body"]))[0] == [message]


def test_an_action_committed_while_the_broker_is_down_is_not_reported_as_failed(
    redis_url: str, unique: str
) -> None:
    """A start (or an answer, a stop) is committed with its message in the outbox before
    the message is published; a broker that is down then must not turn the committed action
    into an exception for its caller: the recovery sweep sends the message later."""
    import socket

    from engine.client import Client
    from engine.store.redis_store import RedisStore

    with socket.socket() as s:  # a port with nothing listening: the broker is down
        s.bind(("127.0.0.1", 0))
        dead = f"redis://127.0.0.1:{s.getsockname()[1]}/0"
    store = RedisStore.from_url(redis_url)
    client = Client(store, CeleryDispatcher(build_app(dead), lambda handler: "sfn"))
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    client.create_state_machine(f"Down{unique}", definition)
    record = client.start_execution(f"Down{unique}", {}, name="while-down")
    assert client.describe_execution(record.eid).status == "RUNNING"
    outbox = store.r.hkeys(f"sfn:x:{{{record.eid}}}:outbox")
    assert len(outbox) == 1  # the start, for the sweep to send
    stopped = client.stop_execution(record.eid)
    assert stopped.status == "ABORTED"
