"""Fleets of differently-equipped workers: Tasks routed to workers that serve their handler
(engine/routing.py), waiting while none is live, hand-backs, and the live fleet as workers
announce it (engine/fleet.py). Real redis-server, real Celery worker processes."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import pytest
import redis

from engine import routing
from engine.celery_app import STEP_TASK, build_app
from engine.client import Client
from engine.connect import connect
from engine.embedded import RedisServer
from engine.fleet import Fleet, NoWorkerWarning
from engine.handlers import Registry
from engine.metrics import build_registry
from engine.settings import Settings
from engine.store import keys
from tests.conftest import Worker
from tests.test_cli import ROOT, SFN, _subprocess_env, sfn

# --- routing (pure) -----------------------------------------------------------------------


def test_tasks_go_to_their_handlers_queue_and_engine_steps_to_the_control_queue() -> None:
    groups = {"PriceItem": "sfn", "Render": "gpu"}
    assert routing.message_queue({"k": "task", "h": "PriceItem"}, groups) == "sfn.h.PriceItem"
    assert routing.message_queue({"k": "task", "h": "Render"}, groups) == "gpu"
    # A handler nobody ever announced: the control queue (it fails there as on AWS).
    assert routing.message_queue({"k": "task", "h": "Unknown"}, groups) == "sfn"
    for kind in ("start", "timer", "resume", "join", "exec_timeout"):
        assert routing.message_queue({"k": kind, "h": "PriceItem"}, groups) == "sfn"
    assert routing.message_queue({"k": "task"}, groups) == "sfn"


def test_a_worker_consumes_the_queues_of_its_handlers_in_the_groups_it_was_started_on() -> None:
    handlers = {"PriceItem": "sfn", "ShipItem": "sfn", "Render": "gpu"}
    assert routing.worker_queues(handlers, ["sfn"]) == ["sfn.h.PriceItem", "sfn.h.ShipItem"]
    assert routing.worker_queues(handlers, ["gpu"]) == ["sfn.h.Render"]
    assert routing.worker_queues(handlers, ["sfn", "gpu"]) == [
        "sfn.h.PriceItem", "sfn.h.Render", "sfn.h.ShipItem"
    ]


def test_only_a_task_whose_handler_is_missing_here_but_known_is_handed_back() -> None:
    served = {"PriceItem"}

    def known(name: str) -> bool:
        return name == "ShipItem"

    def hand_back(message: dict[str, Any], came_from: str = "sfn") -> str | None:
        return routing.needs_hand_back(message, served, came_from, known)

    assert hand_back({"k": "task", "h": "ShipItem"}) == "ShipItem"
    assert hand_back({"k": "task", "h": "PriceItem"}) is None
    assert hand_back({"k": "start", "h": "ShipItem"}) is None
    assert hand_back({"k": "task"}) is None
    # Nobody ever announced it: run here (it fails as a missing Lambda function on AWS) ...
    assert hand_back({"k": "task", "h": "Typo"}) is None
    # ... unless it came from a queue whose workers were meant to serve it.
    assert hand_back({"k": "task", "h": "Typo"}, came_from="gpu") == "Typo"
    assert routing.hand_back_queue("ShipItem") == "sfn.h.ShipItem"


# --- the live fleet (real Redis) ----------------------------------------------------------


@pytest.mark.redis
def test_announcements_expire_and_a_withdrawn_worker_is_gone(redis_client: redis.Redis) -> None:
    now = [1000.0]
    fleet = Fleet(redis_client, clock=lambda: now[0])
    node = f"t-{uuid.uuid4().hex[:8]}@host"
    other = f"t-{uuid.uuid4().hex[:8]}@host"
    fleet.announce(node, {"FleetUnitA": "sfn"}, ["sfn", "sfn.h.FleetUnitA"], ttl=30)
    fleet.announce(other, {"FleetUnitB": "sfn"}, ["sfn", "sfn.h.FleetUnitB"], ttl=60)
    served = fleet.served()
    assert served["FleetUnitA"] == 1 and served["FleetUnitB"] == 1
    now[0] += 31  # the first announcement was not renewed
    served = fleet.served()
    assert served["FleetUnitA"] == 0 and served["FleetUnitB"] == 1
    fleet.withdraw(other)
    assert other not in {w.node for w in fleet.live()}
    assert redis_client.get(keys.worker(other)) is None


# --- real workers -------------------------------------------------------------------------

PRICE = "arn:aws:lambda:us-east-1:123456789012:function:FleetPriceItem"
SHIP = "arn:aws:lambda:us-east-1:123456789012:function:FleetShipItem"
BOTH = {
    "StartAt": "Price",
    "States": {
        "Price": {"Type": "Task", "Resource": PRICE, "Next": "Ship"},
        "Ship": {"Type": "Task", "Resource": SHIP, "End": True},
    },
}


class FleetWorker(Worker):
    """A worker serving only the handlers of `module` (no order workflow handlers)."""

    def __init__(self, redis_url: str, module: str, log_path: Path) -> None:
        super().__init__(redis_url, env={"SFN_HANDLER_MODULES": module}, log_path=log_path)
        self.module = module

    def _wait_announced(self, timeout: float = 30.0) -> None:
        fleet = Fleet(redis.Redis.from_url(self.redis_url, decode_responses=True))
        deadline = time.monotonic() + timeout
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited with {self.process.returncode}")
            if any(w.pid == self.process.pid for w in fleet.live()):
                time.sleep(1.0)  # the consumer connects just after the announcement
                return
            time.sleep(0.1)
        raise RuntimeError("worker did not come up")


def _client(redis_url: str) -> Client:
    # The test process knows the handlers by name (create_state_machine checks them); it
    # serves none of them.
    registry = Registry()
    for name in ("FleetPriceItem", "FleetShipItem", "FleetNobodyServes"):
        registry.register(name, lambda event, context: event)
    return connect(Settings(redis_url=redis_url), registry=registry)


@pytest.mark.redis
@pytest.mark.worker
def test_two_differently_equipped_workers_run_100_executions_needing_both(
    tmp_path: Path, unique: str
) -> None:
    # A Redis of its own: the only workers on it are these two (the session's worker, on
    # the shared Redis, would take the control queue's messages too).
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        _two_kinds_of_worker(server.url, tmp_path, unique)
    finally:
        server.stop()


def _two_kinds_of_worker(redis_url: str, tmp_path: Path, unique: str) -> None:
    client = _client(redis_url)
    client.create_state_machine(f"Fleet{unique}", json.dumps(BOTH))
    pricing = FleetWorker(redis_url, "tests.fleet_handlers_a", tmp_path / "a.log").start()
    shipping = FleetWorker(redis_url, "tests.fleet_handlers_b", tmp_path / "b.log").start()
    try:
        arns = [
            client.start_execution(f"Fleet{unique}", {"quantity": i}, name=f"e{i}").arn
            for i in range(100)
        ]
        records = [client.wait(arn, timeout=120) for arn in arns]
        assert [r for r in records if r.status != "SUCCEEDED"] == []
        for arn in arns:
            kinds = {e["type"] for e in client.get_history(arn)}
            assert not any("Failed" in kind for kind in kinds), arn
        assert json.loads(records[3].output or "") == {"quantity": 3, "price": 30, "shipped": True}

        # The shipping workers go away (a deploy): a new execution's Ship Task waits,
        # RUNNING and visible as waiting.
        shipping.stop()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            first = client.start_execution(f"Fleet{unique}", {"quantity": 2}, name="first")
        assert any(
            issubclass(w.category, NoWorkerWarning) and "FleetShipItem" in str(w.message)
            for w in caught
        )
        waiting = _wait_for(lambda: client.waiting_tasks(first.arn), 20)
        assert [(t.state, t.handler) for t in waiting] == [("Ship", "FleetShipItem")]
        assert client.describe_execution(first.arn).status == "RUNNING"
        assert _gauge(client, "sfn_tasks_waiting_for_worker", "FleetShipItem") >= 1
        assert _gauge(client, "sfn_handler_workers", "FleetPriceItem") >= 1
        described = sfn("describe", first.arn, "--json", env={"REDIS_URL": redis_url})
        assert described.exit_code == 0, described.output
        assert "FleetShipItem" in json.loads(described.stdout)["waitingForWorkers"][0]
        # An old-style message on the control queue (sent before routing by handler): the
        # pricing worker lacks the handler, hands it back and fails nothing.
        message = next(
            m for m in map(json.loads, client.store.r.hvals(keys.outbox(first.eid)))  # type: ignore[attr-defined]
            if m["k"] == "task"
        )
        build_app(redis_url).send_task(STEP_TASK, args=[message], queue=routing.CONTROL_QUEUE)
        assert _wait_for(lambda: "handing back" in (tmp_path / "a.log").read_text(), 20)
        assert client.describe_execution(first.arn).status == "RUNNING"

        # A shipping worker is back: the waiting Task runs.
        shipping = FleetWorker(redis_url, "tests.fleet_handlers_b", tmp_path / "b2.log").start()
        done = client.wait(first.arn, timeout=30)
        assert done.status == "SUCCEEDED", done
        assert json.loads(done.output or "") == {"quantity": 2, "price": 20, "shipped": True}
        assert _gauge(client, "sfn_tasks_waiting_for_worker", "FleetShipItem") == 0
    finally:
        pricing.stop()
        shipping.stop()
    # Both stopped cleanly: neither is in the live fleet any longer.
    live = {w.pid for w in Fleet(client.store.r).live()}  # type: ignore[attr-defined]
    assert pricing.process is not None and pricing.process.pid not in live


@pytest.mark.redis
@pytest.mark.worker
def test_a_task_no_worker_serves_waits_until_its_timeout(
    worker: Worker, redis_url: str, unique: str
) -> None:
    definition = {
        "StartAt": "Lonely",
        "States": {
            "Lonely": {
                "Type": "Task", "TimeoutSeconds": 5, "End": True,
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:FleetNobodyServes",
            },
        },
    }
    client = _client(redis_url)
    # A worker once served it (a deploy removed it, say): its Tasks wait for one.
    client.store.announce_handlers({"FleetNobodyServes": "sfn"})  # type: ignore[attr-defined]
    client.create_state_machine(f"Lonely{unique}", json.dumps(definition))
    with pytest.warns(NoWorkerWarning, match="no live worker serves handler 'FleetNobodyServes'"):
        execution = client.start_execution(f"Lonely{unique}", {})
    # `wait` says why the execution is not moving (once, after a moment), and the state's
    # TimeoutSeconds ends the wait.
    with pytest.warns(NoWorkerWarning, match="'Lonely' is waiting for a worker"):
        done = client.wait(execution.arn, timeout=30)
    assert done.status == "FAILED"
    assert done.error == "States.Timeout"
    assert not any(
        e["type"] in {"LambdaFunctionStarted", "LambdaFunctionFailed"}
        for e in client.get_history(execution.arn)
    )


@pytest.mark.redis
def test_sfn_start_warns_when_no_worker_is_live(tmp_path: Path, unique: str) -> None:
    server = RedisServer(tmp_path / "redis")  # a Redis no worker of this session announces on
    server.start()
    try:
        env = {"REDIS_URL": server.url}
        definition = tmp_path / "Lonely.asl.json"
        definition.write_text(json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass",
                                                                       "End": True}}}))
        created = sfn("create", str(definition), env=env)
        assert created.exit_code == 0, created.output
        started = sfn("start", "Lonely", env=env)
        assert started.exit_code == 0, started.output
        assert "warning: no live worker consumes the queue 'sfn'" in started.stderr
        Fleet(redis.Redis.from_url(server.url)).announce(
            f"t-{unique}@host", {}, [routing.CONTROL_QUEUE]
        )
        again = sfn("start", "Lonely", env=env)
        assert again.exit_code == 0 and "warning" not in again.stderr
    finally:
        server.stop()


@pytest.mark.redis
@pytest.mark.worker
def test_sfn_run_warns_without_a_worker_and_not_with_the_one_it_starts(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        env = _subprocess_env(REDIS_URL=server.url)
        order = str(ROOT / "workflows/order_processing.asl.json")
        alone = subprocess.run(
            [SFN, "run", order, "--input", '{"orderId": "1"}', "--timeout", "2"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
        )
        assert alone.returncode != 0
        assert "warning: no live worker consumes the queue 'sfn'" in alone.stderr, alone.stderr
        helped = subprocess.run(
            [SFN, "run", order, "--input", '{"orderId": "2"}'],
            cwd=ROOT, env={**env, "SFN_START_WORKER": "1"}, capture_output=True, text=True,
            timeout=120,
        )
        assert helped.returncode == 0, helped.stderr
        assert "worker started" in helped.stderr and "warning" not in helped.stderr
    finally:
        server.stop()


def _gauge(client: Client, family: str, handler: str) -> float:
    registry = build_registry(client.store)
    value = registry.get_sample_value(family, {"handler": handler})
    return 0.0 if value is None else value


@pytest.mark.redis
@pytest.mark.worker
def test_a_handler_no_worker_ever_announced_fails_as_a_missing_function(
    worker: Worker, redis_url: str, unique: str
) -> None:
    definition = {
        "StartAt": "Typo",
        "States": {"Typo": {
            "Type": "Task", "End": True,
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:FleetNeverAnnounced",
        }},
    }
    registry = Registry()
    registry.register("FleetNeverAnnounced", lambda event, context: event)
    client = connect(Settings(redis_url=redis_url), registry=registry)
    client.create_state_machine(f"Typo{unique}", json.dumps(definition))
    with pytest.warns(NoWorkerWarning):
        execution = client.start_execution(f"Typo{unique}", {})
    done = client.wait(execution.arn, timeout=30)
    assert (done.status, done.error) == ("FAILED", "Lambda.ResourceNotFoundException")


def _wait_for(probe: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting")
