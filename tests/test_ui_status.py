"""The execution view's state statuses, derived from real histories (the inline runner: the
real driver and interpreter over the in-memory store, no Redis, no browser)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.handlers import Registry, TaskFailure
from engine.runtime.inline import InlineRunner
from engine.ui import status as st

L = "arn:aws:lambda:us-east-1:000000000000:function:"


@pytest.fixture
def runner() -> InlineRunner:
    registry = Registry()
    calls: dict[str, int] = {}

    def ok(event: Any, context: Any) -> Any:
        return {"ok": True, "got": event}

    def boom(event: Any, context: Any) -> Any:
        raise TaskFailure("Boom", "always")

    def flaky(event: Any, context: Any) -> Any:
        calls[context.execution_arn] = calls.get(context.execution_arn, 0) + 1
        if calls[context.execution_arn] <= 2:
            raise TaskFailure("Flaky", f"call {calls[context.execution_arn]}")
        return {"sent": True}

    def fail_on_two(event: Any, context: Any) -> Any:
        if event == 2:
            raise TaskFailure("Two", "no twos")
        return event * 10

    for name, func in (("Ok", ok), ("Boom", boom), ("Flaky", flaky), ("FailOnTwo", fail_on_two)):
        registry.register(name, func)
    return InlineRunner(registry)


def run(
    runner: InlineRunner, definition: dict[str, Any], input: Any = None
) -> tuple[Any, st.ExecutionView]:
    name = f"M{len(runner.client.list_state_machines())}"
    runner.create_state_machine(name, definition)
    record = runner.run(name, input=input if input is not None else {})
    events = runner.client.get_history(record.eid)
    return record, st.derive(definition, events, execution_status=record.status, cause=record.cause)


def statuses(view: st.ExecutionView) -> dict[str, str]:
    return {name: s.status for name, s in view.states.items()}


def task(resource: str, **extra: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": L + resource, **extra}


def test_success_with_a_choice_leaves_the_other_branch_unreached(runner: InlineRunner) -> None:
    definition = {
        "StartAt": "A",
        "States": {
            "A": {**task("Ok"), "Next": "C"},
            "C": {"Type": "Choice", "Choices": [
                {"Variable": "$.ok", "BooleanEquals": True, "Next": "Yes"}], "Default": "No"},
            "Yes": {"Type": "Pass", "Result": {"done": 1}, "End": True},
            "No": {"Type": "Fail", "Error": "No"},
        },
    }
    record, view = run(runner, definition, {"orderId": "1"})
    assert record.status == "SUCCEEDED"
    assert statuses(view) == {"A": "succeeded", "C": "succeeded", "Yes": "succeeded",
                              "No": "not_reached"}
    a = view.states["A"].visits[0]
    assert json.loads(a.input or "") == {"orderId": "1"}
    assert json.loads(a.output or "") == {"ok": True, "got": {"orderId": "1"}}
    assert len(a.attempts) == 1 and a.attempts[0].outcome == "succeeded"
    # Every Task event is attributed to its state (for the event table's Step column).
    history = runner.client.get_history(record.eid)
    lambda_ids = [e["id"] for e in history if e["type"].startswith("LambdaFunction")]
    assert lambda_ids and all(view.event_state[i] == "A" for i in lambda_ids)


def test_failed_after_retries(runner: InlineRunner) -> None:
    definition = {
        "StartAt": "A",
        "States": {
            "A": {**task("Ok"), "Next": "B"},
            "B": {**task("Boom"), "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 1,
                                            "MaxAttempts": 2}], "End": True},
        },
    }
    record, view = run(runner, definition)
    assert record.status == "FAILED"
    assert statuses(view) == {"A": "succeeded", "B": "failed"}
    b = view.states["B"]
    assert b.retries == 2 and len(b.visits[0].attempts) == 3
    assert all(a.outcome == "failed" and a.error == "Boom" for a in b.visits[0].attempts)
    assert b.visits[0].error == "Boom" and b.visits[0].cause == "always"


def test_retried_then_succeeded(runner: InlineRunner) -> None:
    definition = {"StartAt": "S", "States": {"S": {**task("Flaky"), "Retry": [
        {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 3}], "End": True}}}
    record, view = run(runner, definition)
    assert record.status == "SUCCEEDED"
    assert statuses(view) == {"S": "retried"}
    outcomes = [a.outcome for a in view.states["S"].visits[0].attempts]
    assert outcomes == ["failed", "failed", "succeeded"]


def test_caught(runner: InlineRunner) -> None:
    definition = {
        "StartAt": "B",
        "States": {
            "B": {**task("Boom"), "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}],
                  "End": True},
            "H": {"Type": "Pass", "End": True},
        },
    }
    record, view = run(runner, definition)
    assert record.status == "SUCCEEDED"
    assert statuses(view) == {"B": "caught", "H": "succeeded"}


def test_parallel_branch_failure_caught(runner: InlineRunner) -> None:
    definition = {
        "StartAt": "P",
        "States": {
            "P": {"Type": "Parallel", "Branches": [
                {"StartAt": "X", "States": {"X": {**task("Boom"), "End": True}}},
                {"StartAt": "Y", "States": {"Y": {"Type": "Wait", "Seconds": 5, "End": True}}},
            ], "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done"}], "End": True},
            "Done": {"Type": "Succeed"},
        },
    }
    record, view = run(runner, definition)
    assert record.status == "SUCCEEDED"
    assert statuses(view) == {"P": "caught", "X": "failed", "Y": "aborted", "Done": "succeeded"}
    assert view.branches == {"P": {0: "failed", 1: "aborted"}}


def test_parallel_success(runner: InlineRunner) -> None:
    definition = {
        "StartAt": "P",
        "States": {
            "P": {"Type": "Parallel", "Branches": [
                {"StartAt": "X", "States": {"X": {**task("Ok"), "End": True}}},
                {"StartAt": "Y", "States": {"Y": {"Type": "Pass", "Next": "Z"},
                                            "Z": {**task("Ok"), "End": True}}},
            ], "End": True},
        },
    }
    record, view = run(runner, definition, {"n": 1})
    assert record.status == "SUCCEEDED"
    assert statuses(view) == {
        "P": "succeeded", "X": "succeeded", "Y": "succeeded", "Z": "succeeded"}
    assert view.branches == {"P": {0: "succeeded", 1: "succeeded"}}
    z = view.states["Z"].visits[0]
    assert json.loads(z.output or "") == {"ok": True, "got": {"n": 1}}


def test_map_iterations_by_index(runner: InlineRunner) -> None:
    definition = {
        "StartAt": "M",
        "States": {
            "M": {"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {
                "I": {"Type": "Pass", "Next": "T"},
                "T": {**task("FailOnTwo"), "End": True}}},
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "After"}], "End": True},
            "After": {"Type": "Pass", "End": True},
        },
    }
    record, view = run(runner, definition, [1, 2, 3])
    assert record.status == "SUCCEEDED"
    assert statuses(view)["M"] == "caught" and statuses(view)["T"] == "failed"
    assert statuses(view)["I"] == "succeeded" and statuses(view)["After"] == "succeeded"
    (iterations,) = view.maps["M"]
    assert iterations[1].status == "failed"
    assert iterations[1].states == {"I": "succeeded", "T": "failed"}
    assert iterations[0].states.get("I") == "succeeded"
    inputs = {it.index: view_input(view, it) for it in iterations.values()}
    assert inputs[0] == 1 and inputs[1] == 2


def view_input(view: st.ExecutionView, it: st.Iteration) -> Any:
    first = next(v for v in view.states["I"].visits if v.entered_id in it.visits)
    return json.loads(first.input or "null")


def test_map_success(runner: InlineRunner) -> None:
    definition = {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": {
        "StartAt": "T", "States": {"T": {**task("FailOnTwo"), "End": True}}}, "End": True}}}
    record, view = run(runner, definition, [1, 3, 5])
    assert record.status == "SUCCEEDED"
    assert statuses(view) == {"M": "succeeded", "T": "succeeded"}
    (iterations,) = view.maps["M"]
    assert sorted(iterations) == [0, 1, 2]
    assert all(it.status == "succeeded" and it.states == {"T": "succeeded"}
               for it in iterations.values())


def test_runtime_error_names_the_failed_state(runner: InlineRunner) -> None:
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": "$.missing.deeper",
                                                   "End": True}}}
    record, view = run(runner, definition, {"a": 1})
    assert record.status == "FAILED"
    assert statuses(view) == {"P": "failed"}


def test_running_execution_part_way() -> None:
    """A history cut short, as a running execution's is: the open state is running and
    the ones after it are not reached."""
    definition = {"StartAt": "A", "States": {"A": {**task("Ok"), "Next": "B"},
                                             "B": {**task("Ok"), "End": True}}}
    events = [
        {"id": 1, "type": "ExecutionStarted", "executionStartedEventDetails": {"input": "{}"}},
        {"id": 2, "type": "TaskStateEntered",
         "stateEnteredEventDetails": {"name": "A", "input": "{}"}},
        {"id": 3, "type": "LambdaFunctionScheduled",
         "lambdaFunctionScheduledEventDetails": {"resource": L + "Ok", "input": "{}"}},
        {"id": 4, "type": "LambdaFunctionStarted"},
    ]
    view = st.derive(definition, events, execution_status="RUNNING")
    assert statuses(view) == {"A": "running", "B": "not_reached"}
    assert view.states["A"].visits[0].attempts[0].started_id == 4
    # The same history, aborted there.
    view = st.derive(definition, events, execution_status="ABORTED")
    assert statuses(view)["A"] == "aborted"


def test_precedence() -> None:
    assert st.merge(["succeeded", "failed", "running"]) == "running"
    assert st.merge(["succeeded", "retried"]) == "retried"
    assert st.merge(["aborted", "succeeded"]) == "succeeded"
    assert st.merge([]) == "not_reached"


def test_to_dict_is_json(runner: InlineRunner) -> None:
    definition = {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": {
        "StartAt": "T", "States": {"T": {**task("Ok"), "End": True}}}, "End": True}}}
    _, view = run(runner, definition, [1])
    data = json.loads(json.dumps(view.to_dict()))
    assert data["states"]["T"]["status"] == "succeeded"
    assert data["maps"]["M"][0][0]["index"] == 0


def test_a_task_opens_on_its_retried_or_failed_visit_not_its_last(runner: InlineRunner) -> None:
    # A loop: the Task's first visit is retried twice (Flaky fails twice per execution),
    # the next two succeed at once. Its panel opens on the first visit: the one that made
    # the state yellow, and why someone clicks it.
    definition = {
        "StartAt": "Start",
        "States": {
            "Start": {"Type": "Pass", "Result": {"n": 0}, "Next": "Send"},
            "Send": {**task("Flaky"), "ResultPath": None, "Next": "Count",
                     "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1}]},
            "Count": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"},
                      "Next": "Again"},
            "Again": {"Type": "Choice", "Choices": [
                {"Variable": "$.n", "NumericLessThan": 3, "Next": "Send"}], "Default": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }
    record, view = run(runner, definition)
    assert record.status == "SUCCEEDED"
    send = view.states["Send"]
    assert [v.status for v in send.visits] == ["retried", "succeeded", "succeeded"]
    assert send.telling_visit == 0
    assert view.to_dict()["states"]["Send"]["openVisit"] == 0
    # Without anything telling, the last visit; never visited, none.
    assert view.states["Count"].telling_visit == 2
    assert view.states["Done"].telling_visit == 0
    assert st.telling_index([]) is None
    assert st.telling_index(["succeeded", "caught", "retried", "caught", "succeeded"]) == 3
    assert st.telling_index(["failed", "running"]) == 1


def test_events_of_map_iterations_carry_the_iteration_index(runner: InlineRunner) -> None:
    definition = {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": {
        "StartAt": "I", "States": {"I": {"Type": "Pass", "Next": "T"},
                                   "T": {**task("Ok"), "End": True}}}, "End": True}}}
    record, view = run(runner, definition, ["a", "b", "c"])
    events = runner.client.get_history(record.eid)
    by_id = {e["id"]: e for e in events}
    for event_id, index in view.event_iteration.items():
        event = by_id[event_id]
        if event["type"].startswith("MapIteration"):
            assert event["mapIterationStartedEventDetails" if event["type"].endswith("Started")
                         else "mapIterationSucceededEventDetails"]["index"] == index
    # Every event of the inner states and of the iterations has its index ...
    inner = [e for e in events if view.event_state.get(e["id"]) in ("I", "T")
             or e["type"].startswith("MapIteration")]
    assert inner and all(e["id"] in view.event_iteration for e in inner)
    # ... each iteration's Task input is its own item, and the Map's own events have none.
    for e in events:
        if e["type"] == "LambdaFunctionScheduled":
            item = json.loads(e["lambdaFunctionScheduledEventDetails"]["input"])
            assert item == ["a", "b", "c"][view.event_iteration[e["id"]]]
    assert all(e["id"] not in view.event_iteration
               for e in events if e["type"] in ("MapStateEntered", "MapStateExited"))
    assert set(view.event_iteration.values()) == {0, 1, 2}
    assert view.to_dict()["eventIteration"]
