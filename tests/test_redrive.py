"""RedriveExecution on the in-process runner (the same driver and interpreter, MemoryStore):
where a redriven execution starts again, what it keeps, what refuses a redrive.

The same on real Redis and Celery workers, with a worker killed mid-redrive:
tests/test_redrive_e2e.py."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.errors import ExecutionNotRedrivable
from engine.handlers import Registry
from engine.runtime import redrive
from engine.runtime.inline import InlineRunner

TASK = "arn:aws:states:::lambda:invoke"


class Flaky(Exception):
    """What the flaky handlers raise while they are told to fail."""


class World:
    def __init__(self) -> None:
        self.failing: set[str] = set()
        self.fail_once: set[str] = set()
        self.calls: list[tuple[str, Any]] = []
        self.registry = Registry()
        self.registry.register("Work", self.work)
        self.runner = InlineRunner(self.registry)
        self.client = self.runner.client

    def work(self, event: Any, context: Any) -> Any:
        key = json.dumps(event.get("key"))
        self.calls.append((key, event))
        if key in self.failing or key in self.fail_once:
            self.fail_once.discard(key)
            raise Flaky(f"{key} is failing")
        return {"done": event.get("key"), "redrives": event.get("redrives")}

    def redrive(self, arn: str, **kwargs: Any) -> Any:
        record = self.client.redrive_execution(arn, **kwargs)
        self.runner.drain(record.eid)
        return self.client.describe_execution(record.eid)

    def types(self, eid: str) -> list[str]:
        return [e["type"] for e in self.runner.store.history(eid)]


def task(key: Any, nxt: str | None = None, **extra: Any) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Task", "Resource": TASK,
        "Parameters": {
            "FunctionName": "Work", "Payload": {
                "key": key, "redrives.$": "$$.Execution.RedriveCount",
            },
        },
        "ResultSelector": {"out.$": "$.Payload"},
        **extra,
    }
    if nxt is None:
        state["End"] = True
    else:
        state["Next"] = nxt
    return state


def test_a_failed_task_runs_again_with_its_retries_reset_and_the_states_before_it_kept() -> None:
    w = World()
    w.failing.add('"b"')
    retry = [{"ErrorEquals": ["Flaky"], "MaxAttempts": 2, "IntervalSeconds": 1}]
    w.client.create_state_machine("M", {
        "StartAt": "P",
        "States": {
            "P": {"Type": "Pass", "Result": {"x": 1}, "Next": "A"},
            "A": task("a", "B"),
            "B": task("b", Retry=retry),
        },
    })
    failed = w.runner.run("M", "{}")
    assert failed.status == "FAILED" and failed.error == "Flaky"
    assert [k for k, _ in w.calls] == ['"a"', '"b"', '"b"', '"b"']  # 1 + 2 retries
    assert w.client.redrive_status(failed) == ("REDRIVABLE", None)
    before = w.runner.store.history(failed.eid)

    w.failing.clear()
    w.calls.clear()
    done = w.redrive(failed.arn)

    assert done.status == "SUCCEEDED" and done.redrive_count == 1
    assert done.redrive_date is not None and done.stop is not None
    # Only B ran again, once, and saw $$.Execution.RedriveCount 1.
    assert w.calls == [('"b"', {"key": "b", "redrives": 1})]
    assert json.loads(done.output or "") == {"out": {"done": "b", "redrives": 1}}
    history = w.runner.store.history(failed.eid)
    assert history[: len(before)] == before  # the history before the redrive is kept
    redriven = history[len(before)]
    assert redriven["type"] == "ExecutionRedriven"
    assert redriven["executionRedrivenEventDetails"] == {"redriveCount": 1}
    assert redriven["id"] == len(before) + 1 and redriven["previousEventId"] == len(before)
    after = [e["type"] for e in history[len(before) + 1:]]
    assert after[0] == "TaskStateEntered" and after[-1] == "ExecutionSucceeded"
    assert "PassStateEntered" not in after


def test_what_refuses_a_redrive() -> None:
    w = World()
    w.client.create_state_machine("Ok", {"StartAt": "A", "States": {"A": task("a")}})
    ok = w.runner.run("Ok", "{}")
    with pytest.raises(ExecutionNotRedrivable, match="Execution is SUCCEEDED and cannot be"):
        w.client.redrive_execution(ok.arn)
    assert w.client.redrive_status(ok) == (
        "NOT_REDRIVABLE", "Execution is SUCCEEDED and cannot be redriven"
    )
    w.failing.add('"a"')
    bad = w.runner.run("Ok", "{}", name="bad")
    assert bad.status == "FAILED"
    w.runner.now += redrive.REDRIVE_SECONDS + 1  # AWS: 14 days after it ended
    assert w.client.redrive_status(bad) == ("NOT_REDRIVABLE", redrive.PERIOD)
    with pytest.raises(ExecutionNotRedrivable, match="redrivable period exceeded"):
        w.client.redrive_execution(bad.arn)
    assert w.client.describe_execution(bad.arn).redrive_count == 0


def test_a_client_token_answers_the_same_redrive_for_fifteen_minutes() -> None:
    w = World()
    w.failing.add('"a"')
    w.client.create_state_machine("M", {"StartAt": "A", "States": {"A": task("a")}})
    failed = w.runner.run("M", "{}")
    first = w.client.redrive_execution(failed.arn, client_token="t-1")
    assert first.status == "RUNNING" and first.redrive_count == 1
    assert first.stop is None and first.error is None
    again = w.client.redrive_execution(failed.arn, client_token="t-1")
    assert (again.redrive_count, again.redrive_date) == (1, first.redrive_date)
    with pytest.raises(ExecutionNotRedrivable, match="Execution is RUNNING"):
        w.client.redrive_execution(failed.arn, client_token="t-2")
    w.runner.drain(failed.eid)  # fails again
    assert w.client.describe_execution(failed.arn).status == "FAILED"
    # Still within 15 minutes: the token answers its redrive, and redrives nothing.
    same = w.client.redrive_execution(failed.arn, client_token="t-1")
    assert (same.status, same.redrive_count) == ("FAILED", 1)
    w.runner.now += redrive.TOKEN_SECONDS + 1
    later = w.client.redrive_execution(failed.arn, client_token="t-1")
    assert (later.status, later.redrive_count) == ("RUNNING", 2)


def test_only_the_failed_branches_of_a_parallel_run_again() -> None:
    w = World()
    w.failing.update({'"b2"'})
    w.client.create_state_machine("P", {
        "StartAt": "Par",
        "States": {
            "Par": {
                "Type": "Parallel", "End": True,
                "Branches": [
                    {"StartAt": "A", "States": {"A": task("a")}},
                    {"StartAt": "B1", "States": {"B1": task("b1", "B2"), "B2": task("b2")}},
                    {"StartAt": "C", "States": {"C": task("c")}},
                ],
            },
        },
    })
    failed = w.runner.run("P", "{}")
    assert failed.status == "FAILED"
    w.failing.clear()
    w.calls.clear()
    done = w.redrive(failed.arn)
    assert done.status == "SUCCEEDED"
    # Branch 1 starts again at B2 (B1 had succeeded); A and C keep their results, unless
    # they were aborted when B2 failed (then they run again too).
    rerun = [k for k, _ in w.calls]
    assert '"b1"' not in rerun and rerun.count('"b2"') == 1
    output = json.loads(done.output or "")
    assert [o["out"]["done"] for o in output] == ["a", "b2", "c"]
    assert output[1]["out"]["redrives"] == 1


def test_only_the_failed_iterations_of_a_map_run_again_within_its_max_concurrency() -> None:
    w = World()
    w.failing.update({"1", "3", "4"})
    w.client.create_state_machine("Mp", {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map", "End": True, "MaxConcurrency": 2, "ToleratedFailureCount": 5,
                "ItemsPath": "$.items",
                "ItemSelector": {"key.$": "$$.Map.Item.Value"},
                "ItemProcessor": {"StartAt": "T", "States": {"T": {
                    "Type": "Task", "Resource": TASK, "End": True,
                    "Parameters": {"FunctionName": "Work", "Payload": {
                        "key.$": "$.key", "redrives.$": "$$.Execution.RedriveCount"}},
                    "OutputPath": "$.Payload",
                }}},
            },
            },
    })
    failed = w.runner.run("Mp", json.dumps({"items": [0, 1, 2, 3, 4, 5]}))
    assert failed.status == "SUCCEEDED"  # within the tolerance: nothing to redrive
    w.failing = {"1", "3", "4", "5"}
    w.client.create_state_machine("Strict", {
        "StartAt": "Each",
        "States": {"Each": {**json.loads(w.client.describe_state_machine("Mp").definition)
                            ["States"]["Each"], "ToleratedFailureCount": 3}},
    })
    w.calls.clear()
    failed = w.runner.run("Strict", json.dumps({"items": [0, 1, 2, 3, 4, 5]}))
    assert failed.status == "FAILED" and failed.error == "States.ExceedToleratedFailureThreshold"
    first = [k for k, _ in w.calls]
    w.failing.clear()
    w.calls.clear()
    done = w.redrive(failed.arn)
    assert done.status == "SUCCEEDED"
    again = [k for k, _ in w.calls]
    # The iterations that had succeeded do not run again; every other one runs once.
    succeeded_first = {k for k in first if k not in {"1", "3", "4", "5"}}
    assert not succeeded_first & set(again)
    assert sorted(again) == sorted(set(again))
    assert [o["done"] for o in json.loads(done.output or "")] == [0, 1, 2, 3, 4, 5]
    assert {o["redrives"] for o in json.loads(done.output or "")} <= {0, 1}


def test_the_execution_timeout_counts_again_from_the_redrive() -> None:
    w = World()
    w.client.create_state_machine("T", {
        "TimeoutSeconds": 5,
        "StartAt": "P", "States": {
            "P": {"Type": "Pass", "Next": "W"},
            "W": {"Type": "Wait", "Seconds": 100, "End": True},
        },
    })
    first = w.runner.run("T", "{}")
    assert first.status == "TIMED_OUT" and first.stop == pytest.approx(first.start + 5, abs=0.01)
    redriven = w.client.redrive_execution(first.arn)
    assert redriven.redrive_date is not None
    w.runner.drain(first.eid)
    second = w.client.describe_execution(first.arn)
    # The Wait it was in is entered again, and the 5 s count from the redrive.
    assert second.status == "TIMED_OUT" and second.redrive_count == 1
    assert second.stop == pytest.approx(redriven.redrive_date + 5, abs=0.01)
    types = w.types(first.eid)
    assert types.count("ExecutionTimedOut") == 2 and types.count("PassStateEntered") == 1
    assert types[types.index("ExecutionRedriven") + 1] == "WaitStateEntered"


def test_an_earlier_attempts_execution_timeout_is_dropped() -> None:
    w = World()
    w.client.create_state_machine("T2", {
        "TimeoutSeconds": 5, "StartAt": "W",
        "States": {"W": {"Type": "Wait", "Seconds": 100, "End": True}},
    })
    first = w.runner.run("T2", "{}")
    w.client.redrive_execution(first.arn)
    # The first attempt's timeout message, delivered late (a broker copy): nothing happens.
    stale = {"k": "exec_timeout", "x": first.eid, "r": "0", "v": 0, "m": "T2"}
    assert w.runner.driver.handle(stale) == "stale"
    assert w.client.describe_execution(first.arn).status == "RUNNING"


def test_redrive_count_in_the_context_object_of_a_map_started_after_the_redrive() -> None:
    w = World()
    w.failing.add('"a"')
    w.client.create_state_machine("CM", {
        "StartAt": "A", "States": {
            "A": task("a", "Each", ResultPath="$.a"),
            "Each": {
                "Type": "Map", "End": True, "ItemsPath": "$.xs",
                "ItemProcessor": {"StartAt": "X", "States": {"X": {
                    "Type": "Pass", "End": True,
                    "Parameters": {"n.$": "$$.Execution.RedriveCount"},
                }}},
            },
        },
    })
    failed = w.runner.run("CM", json.dumps({"xs": [1, 2]}))
    w.failing.clear()
    done = w.redrive(failed.arn)
    assert done.status == "SUCCEEDED"
    # The iterations started after the redrive see its count too.
    assert json.loads(done.output or "") == [{"n": 1}, {"n": 1}]


def test_a_parallel_that_failed_after_its_branches_gets_their_results_again() -> None:
    w = World()
    w.client.create_state_machine("After", {
        "StartAt": "Par", "States": {"Par": {
            "Type": "Parallel", "End": True,
            "Branches": [{"StartAt": "A", "States": {"A": task("a")}}],
            # Fails after the branches: States.Runtime (no such path), every time.
            "ResultSelector": {"x.$": "$[0].nothing.here"},
        }},
    })
    failed = w.runner.run("After", "{}")
    assert failed.status == "FAILED" and failed.error == "States.Runtime"
    w.calls.clear()
    again = w.redrive(failed.arn)
    assert again.status == "FAILED" and again.error == "States.Runtime"
    assert w.calls == []  # the branch kept its result
    assert w.types(failed.eid).count("ExecutionFailed") == 2


def test_the_retriers_start_afresh_after_a_redrive() -> None:
    w = World()
    w.failing.add('"b"')
    retry = [{"ErrorEquals": ["Flaky"], "MaxAttempts": 1, "IntervalSeconds": 1}]
    w.client.create_state_machine("R", {"StartAt": "B", "States": {"B": task("b", Retry=retry)}})
    failed = w.runner.run("R", "{}")
    assert failed.status == "FAILED" and len(w.calls) == 2  # the retrier is spent
    w.calls.clear()
    w.failing.clear()
    w.fail_once.add('"b"')  # the first call after the redrive fails, then it works
    done = w.redrive(failed.arn)
    # Had the retrier's count been kept, the first failure would have failed it again.
    assert done.status == "SUCCEEDED" and len(w.calls) == 2


def test_the_other_reasons_a_redrive_is_refused() -> None:
    w = World()
    w.failing.add('"a"')
    w.client.create_state_machine("Q", {"StartAt": "A", "States": {"A": task("a")}})
    failed = w.runner.run("Q", "{}")
    store = w.runner.store
    x = store._executions[failed.eid]
    rules = w.client.redrive_rules

    def reason() -> str | None:
        return redrive.not_redrivable(store, store.get_execution(failed.eid), w.runner.now, rules)

    assert reason() is None
    x.record.redrive_count = redrive.MAX_REDRIVES
    assert reason() == redrive.TOO_MANY
    x.record.redrive_count = 0
    small = redrive.RedriveRules(max_history_events=len(store.history(failed.eid)) + 1)
    assert redrive.not_redrivable(store, x.record, w.runner.now, small) == redrive.HISTORY_LIMIT
    root = x.docs[("run", "0")]
    doc = json.loads(root["d"])
    root["d"] = json.dumps({k: v for k, v in doc.items() if k != "failed"})
    assert reason() == redrive.BEFORE_LAUNCH  # a run that ended before `failed` was kept
    root["d"] = json.dumps(doc)
    x.record.type = "EXPRESS"
    assert reason() == redrive.EXPRESS
    x.record.type = "STANDARD"
    w.client.delete_state_machine("Q")
    assert reason() == redrive.DELETING
    with pytest.raises(ExecutionNotRedrivable, match="State machine is in DELETING status"):
        w.client.redrive_execution(failed.arn)
