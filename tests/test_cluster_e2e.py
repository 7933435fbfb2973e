"""The end-to-end core on a Redis Cluster store (tests/redis_cluster.py: 3 primaries, 3
replicas) with a plain Redis as the broker: the order workflow, Retry, a Map and a Parallel
on real workers; then a primary killed mid-run while commits WAIT for its replica
(docs/fleets.md)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.client import Client
from engine.connect import connect
from engine.embedded import RedisServer
from engine.settings import Settings
from engine.store import keys
from engine.store.redis_client import client_from_url
from tests.conftest import Worker
from tests.redis_cluster import LocalCluster

pytestmark = [pytest.mark.redis, pytest.mark.worker]

ORDER = json.loads(Path("workflows/order_processing.asl.json").read_text())
REDELIVER = "3"
ECHO = "arn:aws:lambda:us-east-1:123456789012:function:EchoLambda"

MAP = {"StartAt": "Each", "States": {"Each": {
    "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 4, "End": True,
    "ItemProcessor": {"StartAt": "Echo", "States": {
        "Echo": {"Type": "Task", "End": True, "Resource": ECHO}}},
}}}

PARALLEL = {"StartAt": "Both", "States": {"Both": {
    "Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": ECHO, "End": True}}},
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": "b", "End": True}}},
    ],
}}}


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("cluster-broker"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cluster_worker(
    redis_cluster: LocalCluster, broker: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    log = tmp_path_factory.mktemp("cluster-worker") / "worker.log"
    worker = Worker(
        redis_cluster.url,
        env={"BROKER_URL": broker.url, "SFN_REDELIVER_SECONDS": REDELIVER,
             "SFN_LEASE_SECONDS": "5", "SFN_REDIS_WAIT_REPLICAS": "1"},
        log_path=log,
    ).start()
    yield worker
    worker.stop()


@pytest.fixture
def client(cluster_worker: Worker, redis_cluster: LocalCluster, broker: RedisServer) -> Client:
    return connect(Settings(
        redis_url=redis_cluster.url, broker_url=broker.url, redeliver_seconds=float(REDELIVER),
        redis_wait_replicas=1,
    ))


def flaky(interval: int = 1) -> dict[str, Any]:
    definition = json.loads(json.dumps(ORDER))
    send = definition["States"]["SendEmail"]
    send["Resource"] = send["Resource"].replace("SendEmailLambda", "FlakySendEmailLambda")
    send["Retry"][0].update(IntervalSeconds=interval, MaxAttempts=3)
    return definition


def test_the_core_runs_on_a_redis_cluster(
    client: Client, redis_cluster: LocalCluster, unique: str
) -> None:
    client.create_state_machine(f"Order{unique}", json.dumps(ORDER))
    order = client.start_execution(f"Order{unique}", {"orderId": "7"})
    client.create_state_machine(f"Flaky{unique}", json.dumps(flaky()))
    arn = f"arn:aws:states:us-east-1:000000000000:execution:Flaky{unique}:run"
    client_from_url(redis_cluster.url).set(f"test:failures:{arn}", 2)
    client.start_execution(f"Flaky{unique}", {"orderId": "8"}, name="run")
    client.create_state_machine(f"Map{unique}", json.dumps(MAP))
    mapped = client.start_execution(f"Map{unique}", {"items": list(range(12))})
    client.create_state_machine(f"Par{unique}", json.dumps(PARALLEL))
    both = client.start_execution(f"Par{unique}", {"n": 1})

    done = client.wait(order.arn, timeout=60)
    assert (done.status, json.loads(done.output or "")) == (
        "SUCCEEDED", {"status": "Email Sent", "orderId": "7"}
    )
    retried = client.wait(arn, timeout=60)
    assert retried.status == "SUCCEEDED", retried.cause
    assert len([e for e in client.get_history(arn) if e["type"] == "LambdaFunctionFailed"]) == 2
    done = client.wait(mapped.arn, timeout=60)
    assert (done.status, json.loads(done.output or "")) == ("SUCCEEDED", list(range(12)))
    done = client.wait(both.arn, timeout=60)
    assert (done.status, json.loads(done.output or "")) == ("SUCCEEDED", [{"n": 1}, "b"])
    # The indexes across executions, on whichever primaries hold them, list them all.
    listed = {e.arn for e in client.list_executions(f"Map{unique}")}
    assert listed == {mapped.arn}


def test_a_primary_killed_mid_run_loses_nothing(
    client: Client, redis_cluster: LocalCluster, unique: str
) -> None:
    waits = {"StartAt": "Price", "States": {
        "Price": {"Type": "Task", "Next": "Hold", "Resource": ECHO},
        "Hold": {"Type": "Wait", "Seconds": 2, "Next": "Each"},
        "Each": {**MAP["States"]["Each"]},  # type: ignore[dict-item]
    }}
    client.create_state_machine(f"Fail{unique}", json.dumps(waits))
    arns = [client.start_execution(f"Fail{unique}", {"items": [i, i + 1]}, name=f"f{i}").arn
            for i in range(24)]
    # The primary of the most executions' slots, while their timers and Maps run.
    owners = Counter(redis_cluster.primary_of(keys.meta(f"Fail{unique}:f{i}")).port
                     for i in range(24))
    port = owners.most_common(1)[0][0]
    primary = next(n for n in redis_cluster.nodes if n.port == port)
    replica = redis_cluster.replica_of(primary)
    assert any(client.describe_execution(a).status == "RUNNING" for a in arns)
    redis_cluster.kill(primary)
    began = time.monotonic()
    redis_cluster.wait_promoted(replica)
    failover = time.monotonic() - began
    try:
        records = {arn: client.wait(arn, timeout=120) for arn in arns}
    finally:
        redis_cluster.restart(primary)  # back as a replica: the session's cluster heals
        redis_cluster.wait_healthy()
    assert {a: r.status for a, r in records.items() if r.status != "SUCCEEDED"} == {}
    for i, arn in enumerate(arns):
        assert json.loads(records[arn].output or "") == [i, i + 1]
        history = client.get_history(arn)
        assert [e["id"] for e in history] == list(range(1, len(history) + 1))
        entered = Counter(e["stateEnteredEventDetails"]["name"] for e in history
                          if e["type"].endswith("StateEntered"))
        assert entered == {"Price": 1, "Hold": 1, "Each": 1, "Echo": 2}, (arn, entered)
    print(f"failover took {failover:.1f}s")
