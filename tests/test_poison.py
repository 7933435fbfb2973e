"""The poison-message guard (engine/runtime/poison.py) on a real Redis: redeliveries are
counted durably, the execution fails with States.Runtime after the last allowed delivery, a
process that died without a word is accounted for too, and a stale duplicate is no poison."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from engine.client import Client
from engine.runtime import messages
from engine.runtime.poison import PoisonGuard, fault_text
from engine.store import keys
from engine.store.deliveries import RedisDeliveries
from engine.store.redis_store import RedisStore

pytestmark = [pytest.mark.redis]

DEFINITION = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})


class Queue:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any], *, countdown: float = 0.0) -> None:
        self.sent.append(message)


@pytest.fixture
def world(redis_url: str) -> Iterator[tuple[Client, RedisStore, Queue]]:
    store = RedisStore.from_url(redis_url)
    queue = Queue()
    yield Client(store, queue), store, queue


def started(world: tuple[Client, RedisStore, Queue], unique: str) -> tuple[str, dict[str, Any]]:
    client, _, queue = world
    client.create_state_machine(f"Poison{unique}", DEFINITION)
    record = client.start_execution(f"Poison{unique}", {})
    return record.eid, queue.sent[-1]


def boom() -> str:
    raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")


def test_after_the_last_allowed_delivery_the_execution_fails_with_states_runtime(
    world: tuple[Client, RedisStore, Queue], unique: str
) -> None:
    client, store, _ = world
    eid, message = started(world, unique)
    guard = PoisonGuard(store, RedisDeliveries(store.r), max_deliveries=3)
    for redelivered in (False, True):
        with pytest.raises(UnicodeEncodeError):
            guard.deliver(message, redelivered=redelivered, step=boom)
        assert client.describe_execution(eid).status == "RUNNING"
    with pytest.raises(UnicodeEncodeError):  # the third: raised, and the execution failed
        guard.deliver({**message, "n": 1}, redelivered=True, step=boom)
    record = client.describe_execution(eid)
    assert record.status == "FAILED" and record.error == "States.Runtime"
    assert record.cause == (
        "The engine failed to process the state 'P' (start step) 3 times in a row and gave "
        "up (at most 3 deliveries, SFN_MAX_DELIVERIES). Last failure: UnicodeEncodeError: "
        "'utf-8' codec can't encode character '\\ud800' in position 0: surrogates not "
        "allowed. The worker log has the traceback."
    )
    assert client.get_history(eid)[-1]["type"] == "ExecutionFailed"
    assert store.r.hget(keys.deliveries(eid), messages.entry_id(message)) == "2"


def test_a_step_whose_process_dies_each_time_is_failed_at_the_next_pickup(
    world: tuple[Client, RedisStore, Queue], unique: str
) -> None:
    client, store, _ = world
    eid, message = started(world, unique)
    guard = PoisonGuard(store, RedisDeliveries(store.r), max_deliveries=2)
    ran: list[int] = []
    # Deliveries 1 and 2 began and never finished (their process was killed: no fault).
    assert guard.admit(message, redelivered=False) == 1
    assert guard.admit(message, redelivered=True) == 2
    outcome = guard.deliver(message, redelivered=True, step=lambda: str(ran.append(3)))
    assert outcome == "execution failed (poison message)" and ran == []
    record = client.describe_execution(eid)
    assert record.status == "FAILED" and record.error == "States.Runtime"
    assert "the worker process running it was lost" in (record.cause or "")


def test_a_first_delivery_costs_no_redis_write_and_a_healthy_step_just_runs(
    world: tuple[Client, RedisStore, Queue], unique: str
) -> None:
    _, store, _ = world
    eid, message = started(world, unique)
    guard = PoisonGuard(store, RedisDeliveries(store.r), max_deliveries=1)
    assert guard.deliver(message, redelivered=False, step=lambda: "applied") == "applied"
    assert not store.r.exists(keys.deliveries(eid))


def test_a_stale_duplicate_past_the_count_is_not_poison(
    world: tuple[Client, RedisStore, Queue], unique: str
) -> None:
    client, store, _ = world
    eid, message = started(world, unique)
    guard = PoisonGuard(store, RedisDeliveries(store.r), max_deliveries=1)
    store.r.hdel(keys.outbox(eid), messages.entry_id(message))  # consumed meanwhile
    assert guard.deliver(message, redelivered=True, step=lambda: "stale") == "stale"
    assert client.describe_execution(eid).status == "RUNNING"


def test_a_fault_text_is_cut_and_always_encodable() -> None:
    text = fault_text(ValueError("\ud800" + "x" * 5000))
    text.encode("utf-8")
    assert text.startswith("ValueError: \\ud800x") and text.endswith("...")


def test_redeliveries_whose_step_returned_are_not_counted_as_failures(
    world: tuple[Client, RedisStore, Queue], unique: str
) -> None:
    """Copies of one message arriving together (the sweep's re-sends and the broker's
    requeued messages after a broker outage), each returning at once as a duplicate while
    the first still runs, are no poison: only deliveries that raised or died count."""
    client, store, _ = world
    eid, message = started(world, unique)
    guard = PoisonGuard(store, RedisDeliveries(store.r), max_deliveries=2)
    for _ in range(6):
        assert guard.deliver(message, redelivered=True, step=lambda: "busy") == "busy"
    assert client.describe_execution(eid).status == "RUNNING"
    # back at zero: no count left (the field is removed)
    assert store.r.hget(keys.deliveries(eid), messages.entry_id(message)) is None
    # A step that then raises twice is poison all the same.
    with pytest.raises(UnicodeEncodeError):
        guard.deliver(message, redelivered=True, step=boom)
    with pytest.raises(UnicodeEncodeError):
        guard.deliver(message, redelivered=True, step=boom)
    assert client.describe_execution(eid).status == "FAILED"


def test_a_redelivery_that_completes_leaves_no_count_behind(
    world: tuple[Client, RedisStore, Queue], unique: str
) -> None:
    """Counted, then taken back at zero: the field (and the hash) is removed, so a message
    redelivered after its execution was deleted (a forgotten EXPRESS Map Run child) leaves
    no key behind; a count above zero stays."""
    _, store, _ = world
    eid, message = started(world, unique)
    guard = PoisonGuard(store, RedisDeliveries(store.r), max_deliveries=5)
    with pytest.raises(UnicodeEncodeError):
        guard.deliver(message, redelivered=True, step=boom)
    assert guard.deliver(message, redelivered=True, step=lambda: "ok") == "ok"
    assert store.r.hget(keys.deliveries(eid), messages.entry_id(message)) == "1"
    gone = "sfn:x:{Gone:nothing}:deliveries"
    assert guard.deliver({**message, "x": "Gone:nothing"}, redelivered=True,
                         step=lambda: "unknown execution") == "unknown execution"
    assert store.r.exists(gone) == 0
