"""RabbitMQ as the broker, the store on Redis: the end-to-end core (the order workflow,
retries, a Map) on a real rabbitmq-server, and a broker restart in the middle of a run that
loses nothing (docs/fleets.md has the queue settings this relies on)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from engine.client import Client
from engine.connect import connect
from engine.embedded import RedisServer
from engine.fleet import NoWorkerWarning
from engine.settings import Settings
from tests.conftest import Worker
from tests.rabbitmq_server import RabbitServer, find_rabbitmq_server

pytestmark = [
    pytest.mark.redis,
    pytest.mark.worker,
    pytest.mark.skipif(
        find_rabbitmq_server() is None,
        reason="rabbitmq-server is not installed (scripts/ensure-rabbitmq.sh installs it)",
    ),
]

ORDER = json.loads(Path("workflows/order_processing.asl.json").read_text())
#: A re-delivery window short enough for the test (production keeps the default 30 s).
REDELIVER = "3"


@pytest.fixture(scope="module")
def rabbit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitServer]:
    server = RabbitServer(tmp_path_factory.mktemp("rabbitmq")).start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def store_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis-rabbit"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def rabbit_worker(
    rabbit: RabbitServer, store_redis: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    log = tmp_path_factory.mktemp("rabbit-worker") / "worker.log"
    worker = Worker(
        store_redis.url, env={"BROKER_URL": rabbit.url, "SFN_REDELIVER_SECONDS": REDELIVER},
        log_path=log,
    ).start()
    yield worker
    worker.stop()


@pytest.fixture
def client(rabbit_worker: Worker, rabbit: RabbitServer, store_redis: RedisServer) -> Client:
    return connect(Settings(
        redis_url=store_redis.url, broker_url=rabbit.url, redeliver_seconds=float(REDELIVER)
    ))


def flaky(interval: int = 1) -> dict[str, Any]:
    definition = json.loads(json.dumps(ORDER))
    send = definition["States"]["SendEmail"]
    send["Resource"] = send["Resource"].replace("SendEmailLambda", "FlakySendEmailLambda")
    send["Retry"][0].update(IntervalSeconds=interval, MaxAttempts=3)
    return definition


MAP = {
    "StartAt": "Each",
    "States": {
        "Each": {
            "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 4, "End": True,
            "ItemProcessor": {
                "StartAt": "Echo",
                "States": {"Echo": {
                    "Type": "Task", "End": True,
                    "Resource": "arn:aws:lambda:us-east-1:123456789012:function:EchoLambda",
                }},
            },
        },
    },
}


def test_the_core_runs_on_rabbitmq(client: Client, store_redis: RedisServer, unique: str) -> None:
    client.create_state_machine(f"Order{unique}", json.dumps(ORDER))
    order = client.start_execution(f"Order{unique}", {"orderId": "7"})
    client.create_state_machine(f"Flaky{unique}", json.dumps(flaky()))
    arn = f"arn:aws:states:us-east-1:000000000000:execution:Flaky{unique}:run"
    redis.Redis.from_url(store_redis.url).set(f"test:failures:{arn}", 2)
    client.start_execution(f"Flaky{unique}", {"orderId": "8"}, name="run")
    client.create_state_machine(f"Map{unique}", json.dumps(MAP))
    mapped = client.start_execution(f"Map{unique}", {"items": list(range(12))})

    done = client.wait(order.arn, timeout=60)
    assert (done.status, json.loads(done.output or "")) == (
        "SUCCEEDED", {"status": "Email Sent", "orderId": "7"}
    )
    retried = client.wait(arn, timeout=60)
    assert retried.status == "SUCCEEDED", retried.cause
    failed = [e for e in client.get_history(arn) if e["type"] == "LambdaFunctionFailed"]
    assert len(failed) == 2
    done = client.wait(mapped.arn, timeout=60)
    assert (done.status, json.loads(done.output or "")) == ("SUCCEEDED", list(range(12)))


def test_a_rabbitmq_restart_mid_run_loses_nothing(
    client: Client, rabbit: RabbitServer, store_redis: RedisServer, rabbit_worker: Worker,
    unique: str,
) -> None:
    waits = {
        "StartAt": "Price",
        "States": {
            "Price": {"Type": "Task", "Next": "Hold",
                      "Resource": "arn:aws:lambda:us-east-1:123456789012:function:EchoLambda"},
            "Hold": {"Type": "Wait", "Seconds": 2, "Next": "Each"},
            "Each": {**MAP["States"]["Each"], "ItemsPath": "$.items"},  # type: ignore[dict-item]
        },
    }
    client.create_state_machine(f"Restart{unique}", json.dumps(waits))
    client.create_state_machine(f"RFlaky{unique}", json.dumps(flaky(interval=2)))
    store = redis.Redis.from_url(store_redis.url)
    arns = [
        client.start_execution(f"Restart{unique}", {"items": [i, i + 1, i + 2]}, name=f"r{i}").arn
        for i in range(30)
    ]
    for i in range(10):
        arn = f"arn:aws:states:us-east-1:000000000000:execution:RFlaky{unique}:f{i}"
        store.set(f"test:failures:{arn}", 1)
        arns.append(client.start_execution(f"RFlaky{unique}", {"orderId": str(i)},
                                           name=f"f{i}").arn)
    # Mid-run: Wait timers and Retry backoffs pending, Map iterations in flight.
    running = [a for a in arns if client.describe_execution(a).status == "RUNNING"]
    assert running, "the restart must come while executions run"
    before = rabbit.process.pid if rabbit.process else None
    rabbit.restart()
    assert rabbit.process is not None and rabbit.process.pid != before
    log = rabbit_worker.log_path
    assert log is not None

    records = {arn: client.wait(arn, timeout=120) for arn in arns}
    assert {arn: r.status for arn, r in records.items() if r.status != "SUCCEEDED"} == {}
    # The worker did lose its broker connection, and connected again.
    assert log.read_text().count("Connected to amqp://") >= 2
    for i, arn in enumerate(arns[:30]):
        assert json.loads(records[arn].output or "") == [i, i + 1, i + 2]
    for arn in arns:
        history = client.get_history(arn)
        kinds = Counter(e["type"] for e in history)
        # Every transition happened once: one start, one end, each state entered once
        # (a Map's three iterations enter Echo once each).
        assert kinds["ExecutionSucceeded"] == 1 and kinds["ExecutionStarted"] == 1, arn
        entered = Counter(
            e["stateEnteredEventDetails"]["name"] for e in history
            if e["type"].endswith("StateEntered")
        )
        assert max(entered.values()) <= 3, (arn, entered)
        if "RFlaky" in arn:
            assert entered == {"ProcessOrder": 1, "SendEmail": 1}, (arn, entered)
        else:
            assert entered == {"Price": 1, "Hold": 1, "Each": 1, "Echo": 3}, (arn, entered)


def test_a_task_waits_on_rabbitmq_for_a_worker_with_its_handler(
    client: Client, rabbit: RabbitServer, store_redis: RedisServer, tmp_path: Path, unique: str
) -> None:
    # A worker once served FleetShipItem (announced), none does now: the queue of the
    # handler is declared by the first publish and keeps the message until one comes.
    client.store.announce_handlers({"FleetShipItem": "sfn"})  # type: ignore[attr-defined]
    definition = {"StartAt": "Ship", "States": {"Ship": {
        "Type": "Task", "End": True,
        "Resource": "arn:aws:lambda:us-east-1:123456789012:function:FleetShipItem",
    }}}
    client.create_state_machine(f"Ship{unique}", json.dumps(definition))
    with pytest.warns(NoWorkerWarning):
        execution = client.start_execution(f"Ship{unique}", {"n": 1})
    assert _eventually(lambda: client.waiting_tasks(execution.arn))
    shipping = Worker(
        store_redis.url, env={"BROKER_URL": rabbit.url, "SFN_HANDLER_MODULES":
                              "tests.fleet_handlers_b,workflows.order_processing"},
        log_path=tmp_path / "shipping.log",
    ).start()
    try:
        done = client.wait(execution.arn, timeout=60)
    finally:
        shipping.stop()
    assert (done.status, json.loads(done.output or "")) == ("SUCCEEDED", {"n": 1, "shipped": True})


def _eventually(probe: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    return None
