"""AWS's quotas end to end, on a real redis-server and real workers: the history cap ends a
loop in bounded time, a huge Map gets a bounded outcome, a stopped Map stops, closed
executions expire with their indexes; an ordinary execution completes meanwhile."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from engine.client import Client
from engine.connect import connect
from engine.embedded import RedisServer
from engine.errors import ExecutionDoesNotExist
from engine.settings import Settings
from engine.store import keys
from tests.conftest import Worker

pytestmark = [pytest.mark.redis, pytest.mark.worker]

ORDER = Path("workflows/order_processing.asl.json").read_text()

LOOP = {
    "StartAt": "Spin",
    "States": {
        "Spin": {"Type": "Pass", "Next": "Again"},
        "Again": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.stop", "IsPresent": True, "Next": "Done"}],
            "Default": "Spin",
        },
        "Done": {"Type": "Succeed"},
    },
}


def big_map(items: str, iteration: dict[str, Any] | None = None) -> str:
    return json.dumps({
        "QueryLanguage": "JSONata", "StartAt": "M",
        "States": {"M": {
            "Type": "Map", "Items": items, "MaxConcurrency": 0,
            "ItemProcessor": {"StartAt": "P", "States": {
                "P": iteration or {"Type": "Pass", "End": True}}},
            "End": True}},
    })


@pytest.fixture
def client(worker: Any, redis_url: str) -> Client:
    return connect(Settings(redis_url=redis_url))


def ordinary(client: Client, unique: str) -> str:
    client.create_state_machine(f"Order{unique}", ORDER)
    return client.start_execution(f"Order{unique}", {"orderId": unique}).arn


def test_a_loop_fails_at_the_history_cap_while_an_ordinary_execution_completes(
    client: Client, redis_client: redis.Redis, unique: str
) -> None:
    client.create_state_machine(f"Loop{unique}", json.dumps(LOOP))
    started = time.monotonic()
    loop = client.start_execution(f"Loop{unique}", {})
    order = ordinary(client, unique)
    assert client.wait(order, timeout=60).status == "SUCCEEDED"
    done = client.wait(loop.arn, timeout=180)
    print(f"history-cap loop failed after {time.monotonic() - started:.1f} s")
    assert (done.status, done.error, done.cause) == (
        "FAILED", "States.Runtime",
        "The execution reached the maximum number of history events (25000).",
    )
    assert client.store.history_length(loop.eid) == 25_000
    tail = client.get_history(loop.arn, 24_997, -1)
    assert [e["id"] for e in tail] == [24_998, 24_999, 25_000]
    assert tail[-1]["type"] == "ExecutionFailed"
    assert tail[-2]["type"].startswith(("Pass", "Choice"))
    assert redis_client.hlen(keys.outbox(loop.eid)) == 0  # nothing more runs for it


def test_a_map_over_a_million_items_fails_at_once_and_bounded(
    client: Client, redis_client: redis.Redis, unique: str
) -> None:
    client.create_state_machine(f"Huge{unique}", big_map("{% [1..1000000] %}"))
    huge = client.start_execution(f"Huge{unique}", {})
    order = ordinary(client, unique)
    done = client.wait(huge.arn, timeout=60)
    assert (done.status, done.error) == ("FAILED", "States.DataLimitExceeded")
    assert client.wait(order, timeout=60).status == "SUCCEEDED"
    assert not redis_client.exists(keys.items(huge.eid, "0/M#2.0"))


def test_a_map_of_10000_items_runs_40_at_a_time_and_meets_the_history_cap(
    client: Client, redis_client: redis.Redis, unique: str
) -> None:
    client.create_state_machine(f"Wide{unique}", big_map("{% [1..10000] %}"))
    started = time.monotonic()
    wide = client.start_execution(f"Wide{unique}", {})
    order = ordinary(client, unique)
    assert client.wait(order, timeout=60).status == "SUCCEEDED"
    peak = 0
    while client.describe_execution(wide.arn).status == "RUNNING":
        peak = max(peak, int(redis_client.hlen(keys.outbox(wide.eid))))
        assert time.monotonic() - started < 300
        time.sleep(0.05)
    done = client.describe_execution(wide.arn)
    print(f"10,000-item Map: {done.status} after {time.monotonic() - started:.1f} s, "
          f"outbox peak {peak}")
    assert (done.status, done.error) == ("FAILED", "States.Runtime")
    assert client.store.history_length(wide.eid) == 25_000
    assert peak <= 41  # 40 iterations in flight (and the execution's own messages)


def test_stop_execution_stops_a_big_map_at_once(
    client: Client, redis_client: redis.Redis, unique: str
) -> None:
    slow = {"Type": "Wait", "Seconds": 1, "End": True}
    client.create_state_machine(f"Stop{unique}", big_map("{% [1..5000] %}", slow))
    big = client.start_execution(f"Stop{unique}", {})
    deadline = time.monotonic() + 30
    while client.store.history_length(big.eid) < 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    client.stop_execution(big.arn)
    length = client.store.history_length(big.eid)
    time.sleep(3)  # what was in flight lands, and is refused
    assert client.store.history_length(big.eid) == length
    assert client.get_history(big.arn, -1, -1)[0]["type"] == "ExecutionAborted"
    assert redis_client.hlen(keys.outbox(big.eid)) == 0


# --- retention: a Redis and a worker of its own, with a retention of 2 seconds -----------


@pytest.fixture(scope="module")
def short_retention(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Worker]]:
    path = tmp_path_factory.mktemp("retention")
    server = RedisServer(path / "redis")
    server.start()
    worker = Worker(server.url, env={"SFN_RETENTION_SECONDS": "2"}, concurrency=1,
                    log_path=path / "worker.log").start()
    yield server.url, worker
    worker.stop()
    server.stop()


def test_closed_executions_expire_with_their_indexes_and_child_keys(
    short_retention: tuple[str, Worker], unique: str
) -> None:
    url, _ = short_retention
    r = redis.Redis.from_url(url, decode_responses=True)
    client = connect(Settings(redis_url=url, retention_seconds=2))
    client.create_state_machine("Kept", big_map("{% [1..3] %}"))
    gone = client.start_execution("Kept", {}, name=f"a{unique}")
    assert client.wait(gone.arn, timeout=30).status == "SUCCEEDED"
    assert 0 < r.ttl(keys.meta(gone.eid)) <= 2
    assert 0 < r.ttl(keys.history(gone.eid)) <= 2
    # The child keys are deleted by the sweep once the execution has ended.
    deadline = time.monotonic() + 10
    while r.exists(keys.children(gone.eid)) or r.keys(f"sfn:x:{{{gone.eid}}}:run:0/*"):
        assert time.monotonic() < deadline, r.keys(f"sfn:x:{{{gone.eid}}}:*")
        time.sleep(0.1)
    client.create_state_machine("Slow", json.dumps(
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 4, "End": True}}}
    ))
    running = client.start_execution("Slow", {}, name=f"b{unique}")
    time.sleep(3)
    with pytest.raises(ExecutionDoesNotExist):
        client.describe_execution(gone.arn)
    assert r.ttl(keys.meta(running.eid)) == -1  # a running execution never expires
    assert client.describe_execution(running.arn).status == "RUNNING"
    deadline = time.monotonic() + 10
    while gone.eid in r.zrange(keys.sm_executions("Kept"), 0, -1):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    for index in (keys.executions(), keys.recent(), keys.recent("Kept"), keys.closed()):
        assert r.zscore(index, gone.eid) is None, index
    assert r.keys(f"sfn:x:{{{gone.eid}}}:*") == []
    assert client.list_executions("Kept") == []
    assert [e.name for e in client.list_executions()] == [f"b{unique}"]
    # The name may be used again once the execution has expired.
    again = client.start_execution("Kept", {}, name=f"a{unique}")
    assert client.wait(again.arn, timeout=30).status == "SUCCEEDED"


def test_a_lone_surrogate_a_state_computes_is_stored_and_read_back(
    client: Client, unique: str
) -> None:
    # JSON text can escape a lone surrogate but UTF-8 cannot carry it: the commit used to
    # raise UnicodeEncodeError (and the step was retried forever). Now it is stored as its
    # escape and reads back as the same string, in the output and in an error's cause.
    client.create_state_machine(f"Surrogate{unique}", json.dumps({
        "QueryLanguage": "JSONata", "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Output": {"s": "{% 'a\\ud800b' %}"}, "End": True}},
    }))
    done = client.wait(client.start_execution(f"Surrogate{unique}", {}).arn, timeout=30)
    assert done.status == "SUCCEEDED"
    assert json.loads(done.output or "") == {"s": "a\ud800b"}
    client.create_state_machine(f"SurrogateFail{unique}", json.dumps({
        "QueryLanguage": "JSONata", "StartAt": "F",
        "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "{% 'x\\udc00' %}"}},
    }))
    failed = client.wait(client.start_execution(f"SurrogateFail{unique}", {}).arn, timeout=30)
    assert (failed.status, failed.error) == ("FAILED", "E")
    assert failed.cause == "x\\udc00"  # the escape's text: Redis holds UTF-8 only
    assert client.get_history(failed.arn)[-1]["executionFailedEventDetails"]["cause"] == (
        "x\udc00"
    )
