"""The hot path's shortcuts keep their promises: one lease-renewing thread per process keeps
a long handler's lease alive (and stops renewing when it returns); the handler gets its own
copy of its input (the claimed snapshot is committed again); a Task scheduled by an engine
step runs inline only when asked, and exactly once."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from engine.client import Client
from engine.handlers import Registry, TaskContext
from engine.runtime.driver import Driver, DriverSettings
from engine.settings import Settings
from engine.store.memory import MemoryStore

TASK = "arn:aws:lambda:us-east-1:1:function:{}"


class Queue:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any], *, countdown: float = 0.0) -> None:
        self.sent.append(message)


def world(registry: Registry, **settings: Any) -> tuple[MemoryStore, Queue, Driver, Client]:
    store, queue = MemoryStore(), Queue()
    driver = Driver(store, queue, registry, settings=DriverSettings(**settings))
    return store, queue, driver, Client(store, queue)


def pump(driver: Driver, queue: Queue, **kwargs: Any) -> list[str]:
    outcomes = []
    while queue.sent:
        outcomes.append(driver.handle(queue.sent.pop(0), **kwargs))
    return outcomes


def one_task(name: str, **extra: Any) -> dict[str, Any]:
    return {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": TASK.format(name), "End": True, **extra}}}


def test_a_long_handler_keeps_its_lease_and_renewals_stop_when_it_returns() -> None:
    registry = Registry()
    seen: dict[str, Any] = {}
    store, queue, driver, client = world(registry, lease_seconds=0.6)

    def slow(event: Any, context: TaskContext) -> Any:
        time.sleep(0.9)  # longer than the lease: only renewals keep it
        task = seen["task"]
        seen["other"] = store.claim_task(
            task["x"], task["r"], task["v"], task["a"], now=time.time(),
            lease_until=time.time() + 1, owner="another-worker", entry_id="x",
            started_event={"timestamp": "t", "type": "LambdaFunctionStarted"},
        )
        return event

    registry.register("Slow", slow)
    renewals: list[float] = []
    extend = store.extend_lease

    def counting(*args: Any, **kwargs: Any) -> bool:
        renewals.append(time.monotonic())
        return extend(*args, **kwargs)

    store.extend_lease = counting  # type: ignore[method-assign]
    client.create_state_machine("M", one_task("Slow"))
    record = client.start_execution("M", {"n": 1})
    driver.handle(queue.sent.pop(0))  # the start
    seen["task"] = queue.sent[0]
    pump(driver, queue)
    assert store.get_execution(record.eid).status == "SUCCEEDED"  # type: ignore[union-attr]
    assert seen["other"].reason == "leased"
    assert len(renewals) >= 3
    done = len(renewals)
    time.sleep(0.5)  # over a third of the lease with no handler running
    assert len(renewals) == done
    assert driver._leases is not None and driver._leases.thread is None  # it ended


def test_the_handler_gets_its_own_copy_of_the_input() -> None:
    registry = Registry()
    calls: list[Any] = []

    def mutating(event: Any, context: TaskContext) -> Any:
        calls.append(dict(event))
        event["mutated"] = True  # user code may do anything with its event
        if context.attempt == 0:
            raise RuntimeError("try again")
        return event

    registry.register("Mutating", mutating)
    store, queue, driver, client = world(registry)
    retry = {"Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1}]}
    client.create_state_machine("M", one_task("Mutating", **retry))
    record = client.start_execution("M", {"n": 1})
    pump(driver, queue)
    assert calls == [{"n": 1}, {"n": 1}]
    done = store.get_execution(record.eid)
    assert done is not None and done.status == "SUCCEEDED"


def _three_tasks(registry: Registry, calls: list[str]) -> dict[str, Any]:
    def echo(event: Any, context: TaskContext) -> Any:
        calls.append(context.state_name)
        return event

    registry.register("Echo", echo)
    registry.register("Elsewhere", lambda event, context: event, queue="emails")
    return {"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": TASK.format("Echo"), "Next": "B"},
        "B": {"Type": "Task", "Resource": TASK.format("Echo"), "Next": "C"},
        "C": {"Type": "Task", "Resource": TASK.format("Elsewhere"), "End": True}}}


def test_a_task_scheduled_by_a_step_runs_inline_once_when_asked() -> None:
    registry = Registry()
    calls: list[str] = []
    definition = _three_tasks(registry, calls)
    # A budget of one Task per delivery: only the start's Task runs inline.
    store, queue, driver, client = world(registry, chain_max_tasks=1)
    client.create_state_machine("M", definition)
    record = client.start_execution("M", {})
    start = queue.sent.pop(0)
    assert driver.handle(start, run_task_inline=True) == "applied"
    assert calls == ["A"]  # A ran inside the start's handling ...
    assert [m["k"] for m in queue.sent] == ["task"]  # ... and B's message went out
    assert driver.handle(start, run_task_inline=True) == "stale"  # a duplicate start
    assert calls == ["A"]
    b = queue.sent.pop(0)
    assert driver.handle(b, run_task_inline=True) == "applied"
    assert calls == ["A", "B"]  # the budget is spent: B's completion sends C's message
    assert queue.sent[0]["h"] == "Elsewhere"  # and a Task routed to another queue is sent
    pump(driver, queue)
    types = [e["type"] for e in store.history(record.eid)]
    assert types.count("LambdaFunctionStarted") == 3
    assert store.get_execution(record.eid).status == "SUCCEEDED"  # type: ignore[union-attr]


def test_consecutive_tasks_this_worker_serves_run_in_one_delivery() -> None:
    registry = Registry()
    calls: list[str] = []
    definition = _three_tasks(registry, calls)
    store, queue, driver, client = world(registry)
    client.create_state_machine("M", definition)
    record = client.start_execution("M", {})
    start = queue.sent.pop(0)
    assert driver.handle(start, run_task_inline=True) == "applied"
    assert calls == ["A", "B"]  # A, then B from A's commit, in the start's delivery ...
    assert [m["h"] for m in queue.sent] == ["Elsewhere"]  # ... C is not served here
    history = store.history(record.eid)
    started = [e for e in history if e["type"] == "LambdaFunctionStarted"]
    assert len(started) == 2  # each chained Task claimed and visible as before
    assert driver.handle(start, run_task_inline=True) == "stale"
    pump(driver, queue)
    assert calls == ["A", "B"]
    assert store.get_execution(record.eid).status == "SUCCEEDED"  # type: ignore[union-attr]
    assert [e["type"] for e in store.history(record.eid)].count("LambdaFunctionStarted") == 3


def _chain(n: int) -> dict[str, Any]:
    states = {
        f"S{i}": {"Type": "Task", "Resource": TASK.format("Echo"),
                  **({"Next": f"S{i + 1}"} if i < n - 1 else {"End": True})}
        for i in range(n)
    }
    return {"StartAt": "S0", "States": states}


def test_the_chain_stops_at_its_count_budget_and_goes_back_through_the_broker() -> None:
    registry = Registry()
    calls: list[str] = []
    registry.register("Echo", lambda event, context: calls.append(context.state_name) or event)
    store, queue, driver, client = world(registry, chain_max_tasks=3)
    client.create_state_machine("M", _chain(7))
    record = client.start_execution("M", {})
    assert driver.handle(queue.sent.pop(0), run_task_inline=True) == "applied"
    assert calls == ["S0", "S1", "S2"]
    assert [(m["k"], m["s"]) for m in queue.sent] == [("task", "S3")]
    assert driver.handle(queue.sent.pop(0), run_task_inline=True) == "applied"
    # The delivered Task S3 itself counts: then two chained from its commit and S4's.
    assert calls[3:] == ["S3", "S4", "S5"]
    pump(driver, queue, run_task_inline=True)
    assert len(calls) == 7
    assert store.get_execution(record.eid).status == "SUCCEEDED"  # type: ignore[union-attr]


def test_the_chain_stops_at_its_time_budget() -> None:
    registry = Registry()
    calls: list[str] = []

    def slow(event: Any, context: TaskContext) -> Any:
        calls.append(context.state_name)
        time.sleep(0.05)
        return event

    registry.register("Echo", slow)
    store, queue, driver, client = world(registry, chain_max_seconds=0.12)
    client.create_state_machine("M", _chain(10))
    client.start_execution("M", {})
    driver.handle(queue.sent.pop(0), run_task_inline=True)
    # 0.05 s each: no Task starts once 0.12 s have passed (3 ran; a slow machine: fewer).
    assert 1 <= len(calls) <= 3
    assert [m["k"] for m in queue.sent] == ["task"]


def test_no_chaining_without_run_task_inline_or_with_a_budget_of_zero() -> None:
    registry = Registry()
    calls: list[str] = []
    registry.register("Echo", lambda event, context: calls.append(context.state_name) or event)
    store, queue, driver, client = world(registry, chain_max_tasks=0)
    client.create_state_machine("M", _chain(2))
    client.start_execution("M", {})
    driver.handle(queue.sent.pop(0), run_task_inline=True)
    assert calls == [] and [m["k"] for m in queue.sent] == ["task"]
    driver.handle(queue.sent.pop(0))
    assert calls == ["S0"] and [m["k"] for m in queue.sent] == ["task"]


def test_a_budget_of_one_runs_a_delivered_task_alone() -> None:
    registry = Registry()
    calls: list[str] = []
    registry.register("Echo", lambda event, context: calls.append(context.state_name) or event)
    store, queue, driver, client = world(registry, chain_max_tasks=1)
    client.create_state_machine("M", _chain(3))
    client.start_execution("M", {})
    driver.handle(queue.sent.pop(0), run_task_inline=True)  # the start runs S0 inline
    assert calls == ["S0"] and [m["s"] for m in queue.sent] == ["S1"]
    driver.handle(queue.sent.pop(0), run_task_inline=True)
    assert calls == ["S0", "S1"] and [m["s"] for m in queue.sent] == ["S2"]


def test_map_iterations_run_one_after_another_in_one_delivery() -> None:
    registry = Registry()
    calls: list[int] = []
    registry.register("Item", lambda event, context: calls.append(event) or event * 2)
    store, queue, driver, client = world(registry, chain_max_tasks=12)
    client.create_state_machine("M", {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "MaxConcurrency": 1, "End": True,
        "ItemProcessor": {"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": TASK.format("Item"), "End": True}}}}}})
    record = client.start_execution("M", [1, 2, 3, 4, 5, 6, 7, 8])
    driver.handle(queue.sent.pop(0), run_task_inline=True)
    # Each iteration: its start and its Task, two of the budget's twelve.
    assert calls == [1, 2, 3, 4, 5, 6]
    assert [(m["k"], m.get("i")) for m in queue.sent] == [("start", 6)]
    pump(driver, queue, run_task_inline=True)
    assert calls == [1, 2, 3, 4, 5, 6, 7, 8]
    done = store.get_execution(record.eid)
    assert done is not None and done.status == "SUCCEEDED"
    assert json.loads(done.output or "") == [2, 4, 6, 8, 10, 12, 14, 16]
    types = [e["type"] for e in store.history(record.eid)]
    assert types.count("MapIterationStarted") == 8 and types.count("MapIterationSucceeded") == 8


def test_the_chain_budget_comes_from_the_environment() -> None:
    default = Settings.from_env({}).driver_settings()
    assert (default.chain_max_tasks, default.chain_max_seconds) == (32, 0.5)
    tuned = Settings.from_env({"SFN_CHAIN_MAX_TASKS": "1", "SFN_CHAIN_MAX_SECONDS": "0.1"})
    assert (tuned.driver_settings().chain_max_tasks, tuned.chain_max_seconds) == (1, 0.1)
    assert Settings.from_env({"SFN_CHAIN_MAX_TASKS": "0"}).chain_max_tasks == 0
    with pytest.raises(ValueError, match="SFN_CHAIN_MAX_TASKS must be 0 or more"):
        Settings.from_env({"SFN_CHAIN_MAX_TASKS": "-1"})
    with pytest.raises(ValueError, match="SFN_CHAIN_MAX_SECONDS must be a number"):
        Settings.from_env({"SFN_CHAIN_MAX_SECONDS": "soon"})
