"""A start's message queued by the store's own write (engine/direct_starts.py): the message
is the one Celery's `send_task` would queue, real workers run it, a name used again queues
nothing, and every case the direct path does not cover keeps `send_task`."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery import signals

from engine.celery_app import STEP_TASK, CeleryDispatcher, build_app
from engine.client import Client
from engine.connect import connect
from engine.direct_starts import DirectStarts
from engine.errors import ExecutionAlreadyExists
from engine.runtime import messages
from engine.settings import Settings
from engine.store.redis_store import RedisStore

pytestmark = [pytest.mark.redis]

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


def _db(redis_url: str, db: int) -> str:
    return redis_url.rsplit("/", 1)[0] + f"/{db}"


class IdleQueue(CeleryDispatcher):
    """The engine's dispatcher, its start messages sent to a queue no worker consumes."""

    def __init__(self, app: Any, queue: str) -> None:
        super().__init__(app, lambda handler: queue)
        self.idle = queue

    def queue(self, message: messages.Message) -> str:
        return self.idle


def no_send_task(app: Any) -> Any:
    """`app`, its `send_task` failing: what still gets queued was queued by the store's
    write."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("sent through send_task")

    app.send_task = refuse
    return app


@pytest.fixture
def url(redis_url: str) -> Iterator[str]:
    url = _db(redis_url, 13)
    r = redis.Redis.from_url(url)
    r.flushdb()
    yield url
    r.close()


def _decoded(raw: Any) -> dict[str, Any]:
    envelope: dict[str, Any] = json.loads(raw)
    envelope["body"] = json.loads(base64.b64decode(envelope["body"]))
    return envelope


def _normalized(envelope: dict[str, Any]) -> dict[str, Any]:
    """The envelope with what differs from one message to the next (ids, the clock, the
    time) replaced by a placeholder."""
    envelope = json.loads(json.dumps(envelope))
    headers, props = envelope["headers"], envelope["properties"]
    for field in ("id", "root_id"):
        if field in headers:
            headers[field] = "ID"
    for field in ("correlation_id", "delivery_tag"):
        if field in props:
            props[field] = "ID"
    body = envelope["body"]
    if isinstance(body, dict):  # an event
        for field in ("uuid", "root_id", "clock", "timestamp"):
            body[field] = field.upper()
    return envelope


def _both_ways(url: str, app: Any) -> tuple[dict[str, Any], dict[str, Any], list[Any]]:
    """The start message and its task-sent event, queued by the store's write and by
    Celery's send_task for the same engine message."""
    r = redis.Redis.from_url(url, decode_responses=True)
    events = r.pubsub()  # type: ignore[no-untyped-call]
    events.psubscribe("*")
    events.get_message(timeout=1)
    store = RedisStore.from_url(url)
    client = Client(store, IdleQueue(no_send_task(app), "direct-q"))
    client.create_state_machine("Same", PASS)
    record = client.start_execution("Same", {"a": 1}, name="n1")
    (direct_raw,) = r.lrange("direct-q", 0, -1)
    message = json.loads(base64.b64decode(json.loads(direct_raw)["body"]))[0][0]
    assert message["x"] == record.eid and message["k"] == "start"
    del app.send_task
    IdleQueue(app, "direct-q").send(message)  # Celery's own way, same queue
    celery_raw = r.lrange("direct-q", 0, 0)[0]
    seen: list[Any] = []
    deadline = time.monotonic() + 5
    while len(seen) < 2 and time.monotonic() < deadline:
        got = events.get_message(timeout=0.5)
        if got and got["type"] == "pmessage":
            seen.append((got["channel"], _decoded(got["data"])))
    events.close()
    return _decoded(direct_raw), _decoded(celery_raw), seen


def test_the_store_queues_the_message_celery_would_with_its_task_sent_event(url: str) -> None:
    app = build_app(url)
    direct, celery, events = _both_ways(url, app)
    assert direct["headers"]["id"] != celery["headers"]["id"]
    for field in (direct["headers"]["id"], direct["properties"]["delivery_tag"]):
        assert uuid.UUID(field).version == 4 and str(uuid.UUID(field)) == field
    assert _normalized(direct) == _normalized(celery)
    assert direct["headers"]["shadow"] == "Same.P"
    assert direct["headers"]["ignore_result"] is None
    assert len(events) == 2
    (channel_a, event_a), (channel_b, event_b) = events
    assert channel_a == channel_b
    assert event_a["body"]["type"] == "task-sent"
    assert event_a["body"]["uuid"] == direct["headers"]["id"]
    assert _normalized(event_a) == _normalized(event_b)


def test_in_a_process_that_registered_the_step_task_the_message_is_the_same(url: str) -> None:
    app = build_app(url)

    @app.task(name=STEP_TASK, bind=True, acks_late=True, max_retries=None, shared=False)  # type: ignore[untyped-decorator]
    def step(self: Any, message: Any) -> None:
        return None

    app.finalize()
    direct, celery, _ = _both_ways(url, app)
    assert _normalized(direct) == _normalized(celery)


def test_a_step_task_with_publish_options_of_its_own_keeps_send_task(url: str) -> None:
    app = build_app(url)

    @app.task(name=STEP_TASK, time_limit=30, shared=False)  # type: ignore[untyped-decorator]
    def step(message: Any) -> None:
        return None

    app.finalize()
    client = Client(RedisStore.from_url(url), IdleQueue(app, "options-q"))
    client.create_state_machine("Options", PASS)
    client.start_execution("Options", {})
    (raw,) = redis.Redis.from_url(url, decode_responses=True).lrange("options-q", 0, -1)
    assert _decoded(raw)["headers"]["timelimit"] == [30, None]


def test_written_and_queued_in_one_step_a_name_used_again_queues_nothing(url: str) -> None:
    r = redis.Redis.from_url(url, decode_responses=True)
    client = Client(RedisStore.from_url(url), IdleQueue(no_send_task(build_app(url)), "once-q"))
    client.create_state_machine("Once", PASS)
    first = client.start_execution("Once", {"a": 1}, name="same")
    assert r.llen("once-q") == 1
    assert client.start_execution("Once", {"a": 1}, name="same").arn == first.arn
    with pytest.raises(ExecutionAlreadyExists):
        client.start_execution("Once", {"a": 2}, name="same")
    assert r.llen("once-q") == 1
    # The outbox keeps the start message, the recovery sweep's safety net, as before.
    assert r.hlen(f"sfn:x:{{{first.eid}}}:outbox") == 1
    records = client.start_executions("Once", [{"i": i} for i in range(7)], batch_size=3)
    again = client.start_executions("Once", [{"i": 0}], names=[records[0].name])
    assert again[0].arn == records[0].arn
    queued = [_decoded(m)["body"][0][0]["x"] for m in reversed(r.lrange("once-q", 0, -1))]
    assert queued == [first.eid, *(x.eid for x in records)]


@pytest.mark.worker
def test_real_workers_run_what_the_store_queued(worker: Any, redis_url: str) -> None:
    client = connect(Settings(redis_url=redis_url))
    no_send_task(client.dispatcher.app)  # type: ignore[attr-defined]
    name = f"Direct{time.monotonic_ns()}"
    client.create_state_machine(name, PASS)
    single = client.start_execution(name, {"one": 1})
    bulk = client.start_executions(name, [{"i": i} for i in range(30)], batch_size=8)
    for record in [single, *bulk]:
        done = client.wait(record.arn, timeout=60)
        assert done.status == "SUCCEEDED"
        assert json.loads(done.output or "null") == json.loads(record.input)


def test_a_publish_signal_receiver_keeps_send_task(url: str) -> None:
    seen: list[str] = []

    def receiver(sender: str | None = None, **_: Any) -> None:
        seen.append(str(sender))

    signals.before_task_publish.connect(receiver, weak=False)
    try:
        client = Client(RedisStore.from_url(url), IdleQueue(build_app(url), "traced-q"))
        client.create_state_machine("Traced", PASS)
        client.start_execution("Traced", {})
    finally:
        signals.before_task_publish.disconnect(receiver)
    assert seen == [STEP_TASK]
    assert redis.Redis.from_url(url).llen("traced-q") == 1


def test_another_broker_database_or_an_in_memory_store_keeps_send_task(url: str) -> None:
    store = RedisStore.from_url(url)
    elsewhere = CeleryDispatcher(build_app(_db(url, 12)), lambda handler: "q")
    assert DirectStarts.for_dispatcher(elsewhere, store) is None
    routed = build_app(url)
    routed.conf.task_routes = {STEP_TASK: {"queue": "other"}}
    assert DirectStarts.for_dispatcher(CeleryDispatcher(routed, lambda h: "q"), store) is None
    same = CeleryDispatcher(build_app(url), lambda handler: "q")
    assert DirectStarts.for_dispatcher(same, store) is not None
    assert DirectStarts.for_dispatcher(same, object()) is None

    class Recording(CeleryDispatcher):
        def send(self, message: messages.Message, *, countdown: float = 0.0) -> None:
            super().send(message, countdown=countdown)

    recording = Recording(build_app(url), lambda handler: "q")
    assert DirectStarts.for_dispatcher(recording, store) is None
