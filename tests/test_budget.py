"""The step budget in the pure layers (engine/asl/budget.py, regexes.py, jsonata.py,
intrinsics.py, the interpreter): an expression past the budget fails its state as AWS fails
an expression it cannot evaluate; the clock is an input (fake clocks here, except where a
real regular expression must be stopped by its timeout)."""

from __future__ import annotations

import json
import random
import time
from typing import Any

import pytest

from engine.asl import budget, errors, jsonata, jsonpath, regexes
from engine.asl.budget import BudgetExceeded, StepBudget
from engine.asl.loader import load
from engine.interpreter import advance, new_root_doc
from engine.interpreter.types import Continue, Ctx, ExecutionInfo, RunStarted, Transition

REDOS = "(a|aa)+$"
HOSTILE = "a" * 60 + "!"


class Ticking:
    """A clock that moves `step` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def real_budget(seconds: float) -> StepBudget:
    return StepBudget.starting_now(seconds, time.thread_time)


def evaluate(expr: str, data: Any, within: StepBudget | None) -> Any:
    with budget.applying(within):
        return jsonata.evaluate(
            expr, states={"input": data, "context": {}}, variables={}, rng=random.Random(1),
            field="Output", state_name="P", entered_event_id=2,
        )


# --- the budget itself ----------------------------------------------------------------------


def test_a_budget_expires_on_its_own_clock_and_names_its_setting() -> None:
    clock = Ticking(1.0)
    b = StepBudget.starting_now(3.0, clock)  # deadline 4
    b.check()  # 2
    b.check()  # 3
    with pytest.raises(BudgetExceeded) as raised:
        b.check("a JSONata expression")  # 4
    assert raised.value.error == errors.RUNTIME
    assert raised.value.cause == (
        "The evaluation exceeded the step time budget of 3 seconds (a JSONata expression) and "
        "was stopped (SFN_STEP_BUDGET_SECONDS)."
    )
    renewed = b.renewed()
    assert renewed.seconds == 3.0 and not renewed.expired()


def test_no_budget_is_current_outside_a_step() -> None:
    assert budget.current() is None
    budget.check()  # unbounded: nothing to check
    inner = StepBudget.starting_now(1.0, Ticking(0.0))
    with budget.applying(inner):
        assert budget.current() is inner
    assert budget.current() is None


# --- regular expressions ----------------------------------------------------------------------


def test_a_backtracking_regex_stops_at_the_budget_in_every_jsonata_function() -> None:
    for expr in (
        "$match($states.input.s, /(a|aa)+$/)",
        "$contains($states.input.s, /(a|aa)+$/)",
        "$replace($states.input.s, /(a|aa)+$/, 'x')",
        "$split($states.input.s, /(a|aa)+$/)",
    ):
        with pytest.raises(jsonata.QueryEvaluationFailure) as raised:
            evaluate("{% " + expr + " %}", {"s": HOSTILE}, real_budget(0.2))
        assert raised.value.error == errors.QUERY_EVALUATION_ERROR
        assert raised.value.detail == (
            f"The JSONata expression '{expr}' specified for the field 'Output' threw an error "
            "during evaluation. The evaluation exceeded the step time budget of 0.2 seconds "
            "(a regular expression) and was stopped (SFN_STEP_BUDGET_SECONDS)."
        )


def test_the_issues_pattern_no_longer_backtracks() -> None:
    # (a+)+$ on 40 a's and a '!' ran for ever in `re`; the `regex` package fails it at once.
    with pytest.raises(jsonata.QueryEvaluationFailure) as raised:
        evaluate("{% $match($states.input.s, /(a+)+$/) %}", {"s": "a" * 40 + "!"},
                 real_budget(30.0))
    assert "returned nothing (undefined)" in raised.value.detail


def test_ordinary_regexes_behave_as_before() -> None:
    assert evaluate("{% $match('Ab1b2', /b([0-9])/i) %}", None, real_budget(5)) == [
        {"match": "b1", "index": 1, "groups": ["1"]},
        {"match": "b2", "index": 3, "groups": ["2"]},
    ]
    assert evaluate("{% $replace('a-b-c', /-/, '+') %}", None, real_budget(5)) == "a+b+c"
    assert evaluate("{% $split('a1b22c', /[0-9]+/) %}", None, real_budget(5)) == ["a", "b", "c"]
    assert evaluate("{% $contains('x@y', /@/) %}", None, None) is True


def test_a_jsonpath_filter_regex_is_bounded_too() -> None:
    data = {"items": [{"s": HOSTILE}]}
    with budget.applying(real_budget(0.2)), pytest.raises(BudgetExceeded) as raised:
        jsonpath.get_path("$.items[?(@.s =~ /(a|aa)+$/)]", data)
    assert "(a regular expression)" in raised.value.cause
    assert jsonpath.get_path("$.items[?(@.s =~ /a+!/)].s", data) == [HOSTILE]


def test_without_a_step_a_regex_still_has_a_timeout() -> None:
    pattern = regexes.compile_pattern(REDOS)
    assert regexes.UNBUDGETED_TIMEOUT > 0
    with budget.applying(StepBudget.starting_now(0.1, time.thread_time)):
        with pytest.raises(BudgetExceeded):
            pattern.search(HOSTILE)


# --- JSONata CPU bombs ---------------------------------------------------------------------------


def test_a_jsonata_cpu_bomb_stops_at_the_budget_not_at_the_step_count() -> None:
    # 187 evaluation steps only, far below the step cap; the clock moves 1 s per read.
    bomb = "{% $sum([1..20].($count($sort([1..100])))) %}"
    assert evaluate(bomb, None, None) == 2000
    with pytest.raises(jsonata.QueryEvaluationFailure) as raised:
        evaluate(bomb, None, StepBudget.starting_now(2.5, Ticking(1.0)))
    assert "exceeded the step time budget of 2.5 seconds (a JSONata expression)" in (
        raised.value.detail
    )


def test_the_issues_cpu_bomb_hits_a_real_budget() -> None:
    with pytest.raises(jsonata.QueryEvaluationFailure) as raised:
        evaluate("{% $sum([1..20].($count($sort([1..1000000])))) %}", None, real_budget(0.2))
    assert "step time budget of 0.2 seconds" in raised.value.detail


# --- the interpreter ---------------------------------------------------------------------------


INFO = ExecutionInfo(
    arn="arn:aws:states:us-east-1:1:execution:M:e", name="e",
    state_machine_arn="arn:aws:states:us-east-1:1:stateMachine:M", state_machine_name="M",
    start_time="2025-01-01T00:00:00.000Z", input={},
)


def run(definition: dict[str, Any], data: Any, within: StepBudget | None) -> Transition:
    ctx = Ctx(now=1735689600.0, random=random.Random(1), execution=INFO, next_event_id=2,
              budget=within)
    return advance(load(json.dumps(definition)), new_root_doc(), RunStarted(data), ctx)


def test_a_jsonata_state_past_the_budget_fails_with_query_evaluation_error() -> None:
    definition = {"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "Output": "{% $match($states.input.s, /(a|aa)+$/) %}",
              "End": True}}}
    tr = run(definition, {"s": HOSTILE}, real_budget(0.2))
    assert tr.outcome is not None and tr.outcome.status == "FAILED"
    assert tr.outcome.error == "States.QueryEvaluationError"
    assert tr.outcome.cause is not None
    assert tr.outcome.cause.startswith(
        "An error occurred while executing the state 'P' (entered at the event id #2). "
    )
    assert [e["type"] for e in tr.events][-2:] == ["EvaluationFailed", "ExecutionFailed"]


def test_a_state_past_the_budget_is_still_caught_and_its_catcher_evaluated() -> None:
    # A Parallel whose Arguments spend the budget; its catcher evaluates an expression
    # of its own, under the budget renewed for error handling.
    caught = {"QueryLanguage": "JSONata", "StartAt": "Try", "States": {
        "Try": {"Type": "Parallel", "End": True,
                "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}],
                "Arguments": "{% $match($states.input.s, /(a|aa)+$/) %}",
                "Catch": [{"ErrorEquals": ["States.QueryEvaluationError"], "Next": "Handled",
                           "Output": "{% {'error': $states.errorOutput.Error, "
                                     "'n': $count([1..3])} %}"}]},
        "Handled": {"Type": "Pass", "End": True},
    }}
    tr = run(caught, {"s": HOSTILE}, real_budget(0.2))
    # Caught; the step's budget being spent, the run yields before the next state.
    assert tr.outcome is None and tr.commands == [Continue()]
    assert tr.doc["state"] == "Handled"
    assert tr.doc["input"] == {"error": "States.QueryEvaluationError", "n": 3}


def test_an_intrinsic_past_the_budget_fails_with_states_runtime() -> None:
    definition = {"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Parameters": {"v.$": "States.StringToJson($.s)"},
              "End": True}}}
    # Budget 1 s; the clock moves 1 s per read: spent by the intrinsic's own look.
    tr = run(definition, {"s": "[1]"}, StepBudget.starting_now(1.5, Ticking(1.0)))
    assert tr.outcome is not None and tr.outcome.error == "States.Runtime"
    assert tr.outcome.cause == (
        "An error occurred while executing the state 'P' (entered at the event id #2). "
        "The evaluation exceeded the step time budget of 1.5 seconds (the intrinsic function "
        "States.StringToJson) and was stopped (SFN_STEP_BUDGET_SECONDS)."
    )


def test_a_spent_budget_between_states_yields_instead_of_failing() -> None:
    definition = {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Pass", "Next": "C"},
        "C": {"Type": "Pass", "End": True}}}
    clock = Ticking(0.0)
    spent = StepBudget(seconds=1.0, deadline=0.0, clock=clock)  # spent from the start
    tr = run(definition, {"x": 1}, spent)
    assert tr.outcome is None
    assert tr.commands == [Continue()]
    assert tr.doc["state"] == "B" and tr.doc["phase"] == "ready"  # A ran, then it yielded
    assert run(definition, {"x": 1}, None).outcome is not None  # unbounded: all three


def test_teststate_runs_the_state_under_a_budget() -> None:
    from engine.teststate import test_state as run_test_state

    response = run_test_state(
        {"Type": "Pass", "QueryLanguage": "JSONata", "End": True,
         "Output": "{% $match($states.input.s, /(a|aa)+$/) %}"},
        {"s": HOSTILE}, step_budget_seconds=0.2,
    )
    assert response["status"] == "FAILED"
    assert response["error"] == "States.QueryEvaluationError"
    assert "step time budget of 0.2 seconds" in response["cause"]
