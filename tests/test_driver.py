"""The driver over the in-memory store: duplicates are dropped, joins complete once, a lost
message is re-sent by the sweep, a stopped execution runs nothing more. Pure Python: the
same driver code the workers run, with a queue instead of Celery."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.client import Client
from engine.handlers import Registry, TaskContext
from engine.runtime.driver import Driver, DriverSettings
from engine.runtime.recovery import Sweeper
from engine.store.memory import MemoryStore


class Queue:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any], *, countdown: float = 0.0) -> None:
        self.sent.append(message)


class World:
    def __init__(self) -> None:
        self.now = 1000.0
        self.calls: list[str] = []
        self.registry = Registry()
        self.registry.register("Echo", self.echo)
        self.store = MemoryStore()
        self.queue = Queue()
        self.driver = Driver(
            self.store, self.queue, self.registry, settings=DriverSettings(), clock=lambda: self.now
        )
        self.client = Client(self.store, self.queue, clock=lambda: self.now)

    def echo(self, event: Any, context: TaskContext) -> Any:
        self.calls.append(context.idempotency_key)
        return event

    def pump(self, limit: int = 1000) -> list[str]:
        outcomes = []
        while self.queue.sent and limit:
            outcomes.append(self.driver.handle(self.queue.sent.pop(0)))
            limit -= 1
        return outcomes


TASK = "arn:aws:lambda:us-east-1:1:function:Echo"


def two_tasks() -> dict[str, Any]:
    return {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Task", "Resource": TASK, "Next": "B"},
            "B": {"Type": "Task", "Resource": TASK, "End": True},
        },
    }


def test_a_duplicated_message_is_dropped_and_the_handler_not_rerun() -> None:
    w = World()
    w.client.create_state_machine("M", two_tasks())
    rec = w.client.start_execution("M", {"x": 1}, name="e")
    start = w.queue.sent[0]
    w.driver.handle(w.queue.sent.pop(0))
    task_a = w.queue.sent[0]
    w.pump()
    assert w.store.get_execution(rec.eid).status == "SUCCEEDED"  # type: ignore[union-attr]
    assert w.driver.handle(start) == "stale"
    assert w.driver.handle(task_a).startswith("dropped")
    assert len(w.calls) == 2
    types = [e["type"] for e in w.store.history(rec.eid)]
    assert types.count("TaskStateEntered") == 2


def test_a_lost_message_is_resent_by_the_sweep_after_the_redelivery_interval() -> None:
    w = World()
    w.client.create_state_machine("M", two_tasks())
    rec = w.client.start_execution("M", {}, name="e")
    w.queue.sent.clear()  # the broker lost the first message
    sweeper = Sweeper(w.store, w.queue, redeliver_seconds=30.0, clock=lambda: w.now)
    assert sweeper.sweep_once() == 0
    w.now += 31
    assert sweeper.sweep_once() == 1
    w.pump()
    assert w.store.get_execution(rec.eid).status == "SUCCEEDED"  # type: ignore[union-attr]


def test_a_task_whose_worker_died_runs_again_when_its_lease_expires() -> None:
    w = World()
    w.client.create_state_machine("M", two_tasks())
    rec = w.client.start_execution("M", {}, name="e")
    w.driver.handle(w.queue.sent.pop(0))
    task = w.queue.sent.pop(0)
    started = {"timestamp": "t", "type": "LambdaFunctionStarted"}
    claim = w.store.claim_task(
        rec.eid,
        "0",
        task["v"],
        0,
        now=w.now,
        lease_until=w.now + 20,
        owner="dead-worker",
        entry_id="|".join(str(task.get(k, "")) for k in ("k", "r", "v", "a", "t", "i")),
        started_event=started,
    )
    assert claim.ok  # ... and then that worker was SIGKILLed
    assert w.driver.handle(dict(task)) == "dropped (leased)"
    sweeper = Sweeper(w.store, w.queue, redeliver_seconds=30.0, clock=lambda: w.now)
    w.now += 21
    assert sweeper.sweep_once() == 1
    w.pump()
    assert w.store.get_execution(rec.eid).status == "SUCCEEDED"  # type: ignore[union-attr]


def test_parallel_join_completes_exactly_once_with_results_in_branch_order() -> None:
    w = World()
    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "End": True,
                "Branches": [
                    {
                        "StartAt": f"T{i}",
                        "States": {
                            f"T{i}": {
                                "Type": "Task",
                                "Resource": TASK,
                                "ResultSelector": {"b": i},
                                "End": True,
                            }
                        },
                    }
                    for i in range(3)
                ],
            }
        },
    }
    w.client.create_state_machine("M", definition)
    rec = w.client.start_execution("M", {}, name="e")
    # deliver everything twice, in reverse order within each round
    for _ in range(20):
        if not w.queue.sent:
            break
        batch = list(reversed(w.queue.sent))
        w.queue.sent.clear()
        for m in batch + batch:
            w.driver.handle(m)
    done = w.store.get_execution(rec.eid)
    assert done is not None and done.status == "SUCCEEDED"
    assert json.loads(done.output or "") == [{"b": 0}, {"b": 1}, {"b": 2}]
    types = [e["type"] for e in w.store.history(rec.eid)]
    assert types.count("ParallelStateSucceeded") == 1 and types.count("ParallelStateExited") == 1


def test_map_honours_max_concurrency() -> None:
    w = World()
    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "MaxConcurrency": 2,
                "End": True,
                "ItemProcessor": {
                    "StartAt": "T",
                    "States": {"T": {"Type": "Task", "Resource": TASK, "End": True}},
                },
            }
        },
    }
    w.client.create_state_machine("Mp", definition)
    rec = w.client.start_execution("Mp", list(range(7)), name="e")
    w.driver.handle(w.queue.sent.pop(0))
    peak = 0
    while w.queue.sent:
        running = sum(1 for m in w.queue.sent if m["k"] in ("start", "task"))
        peak = max(peak, running)
        w.driver.handle(w.queue.sent.pop(0))
    done = w.store.get_execution(rec.eid)
    assert done is not None and json.loads(done.output or "") == list(range(7))
    assert peak <= 2


def test_a_stopped_execution_runs_nothing_more() -> None:
    w = World()
    w.client.create_state_machine("M", two_tasks())
    rec = w.client.start_execution("M", {}, name="e")
    w.driver.handle(w.queue.sent.pop(0))
    w.client.stop_execution(rec.arn, error="Cancelled", cause="by the operator")
    outcomes = w.pump()
    assert all(o != "applied" for o in outcomes)
    assert w.calls == []
    done = w.store.get_execution(rec.eid)
    assert done is not None and done.status == "ABORTED" and done.error == "Cancelled"
    assert [e["type"] for e in w.store.history(rec.eid)][-1] == "ExecutionAborted"


def test_a_failed_parallel_aborts_its_running_branches() -> None:
    w = World()
    w.registry.register("Boom", _boom)
    # The failure is caught, so the execution goes on: only the join stops the sibling.
    definition = {
        "StartAt": "P",
        "States": {
            "Recovered": {"Type": "Task", "Resource": TASK, "End": True},
            "P": {
                "Type": "Parallel",
                "Next": "Recovered",
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Recovered"}],
                "Branches": [
                    {
                        "StartAt": "Fail",
                        "States": {
                            "Fail": {
                                "Type": "Task",
                                "End": True,
                                "Resource": "arn:aws:lambda:us-east-1:1:function:Boom",
                            }
                        },
                    },
                    {
                        "StartAt": "A",
                        "States": {
                            "A": {"Type": "Task", "Resource": TASK, "Next": "B"},
                            "B": {"Type": "Task", "Resource": TASK, "End": True},
                        },
                    },
                ],
            },
        },
    }
    w.client.create_state_machine("M", definition)
    rec = w.client.start_execution("M", {}, name="e")
    w.pump()
    done = w.store.get_execution(rec.eid)
    assert done is not None and done.status == "SUCCEEDED"
    # Branch 1's first Task may have run; its second never does: the join had failed.
    assert not [key for key in w.calls if "/B/" in key], w.calls
    assert any("/Recovered/" in key for key in w.calls)


def _boom(event: Any, context: TaskContext) -> Any:
    raise _Kaput("no")


class _Kaput(Exception):
    pass


_Kaput.__name__ = "Kaput"


def test_valid_asl_the_engine_cannot_run_yet_is_refused_at_creation_with_its_location(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from engine import feature_support
    from engine.errors import UnsupportedFeature

    # Every `.sync` AWS accepts is polled now (tests/integrations/test_resource_jobs.py):
    # an engine that could not poll `eks:runJob.sync`, to check the refusal.
    monkeypatch.setattr(feature_support, "SYNC_JOBS",
                        feature_support.SYNC_JOBS - {("eks", "runJob")})

    w = World()
    definition = {
        "StartAt": "Wait",
        "States": {
            "Wait": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": "q", "MessageBody": {"Token.$": "$$.Task.Token"}},
                "Next": "Job",
            },
            "Job": {
                "Type": "Task",
                "Resource": "arn:aws:states:::eks:runJob.sync",
                "Parameters": {"JobName": "j", "JobQueue": "q", "JobDefinition": "d"},
                "Next": "Read",
            },
            "Read": {
                "Type": "Map",
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:getObject",
                    "Parameters": {"Bucket": "b", "Key": "k"},
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "T",
                    "States": {"T": {"Type": "Task", "Resource": TASK, "End": True}},
                },
                "End": True,
            },
        },
    }
    with pytest.raises(UnsupportedFeature) as refused:
        w.client.create_state_machine("M", definition)
    message = str(refused.value)
    assert "/States/Job/Resource: the .sync integration pattern" in message  # not polled
    assert "/States/Wait" not in message  # callbacks run (tests/test_callbacks.py)
    assert "/States/Read/ItemReader" not in message  # read by engine/integrations/readers.py
    assert w.store.get_state_machine("M") is None
