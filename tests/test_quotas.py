"""AWS's quotas on one execution, without Redis: JSON only (no NaN, Infinity or lone
surrogates, bounded nesting), name rules, the history cap, the Map limits."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from typing import Any

import pytest

from engine.asl import errors
from engine.asl.failure import StatesFailure
from engine.asl.intrinsics import evaluate
from engine.asl.jsonvalues import (
    MAX_JSON_DEPTH,
    NotJson,
    check_json_value,
    loads_strict,
    storable,
)
from engine.errors import InvalidArn, InvalidDefinition, InvalidExecutionInput, InvalidName
from engine.handlers import Registry, TaskContext, invoke
from engine.interpreter import maps
from engine.interpreter.join import open_join
from engine.interpreter.types import StartChildren
from engine.runtime.inline import InlineRunner
from engine.runtime.quotas import history_cause

DEEP = "[" * 50_000 + "]" * 50_000

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}

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


# --- strict JSON -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["NaN", "[Infinity]", '{"a": -Infinity}', "1e999", '{"a": [-1e999]}', '{"a": "\\ud800"}',
     '{"\\udc00": 1}', "x\ud800", DEEP, "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)],
)
def test_the_strict_loader_refuses_what_is_not_json(text: str) -> None:
    with pytest.raises(NotJson):
        loads_strict(text)


def test_the_strict_loader_takes_json_up_to_the_depth_and_joined_surrogate_pairs() -> None:
    deep = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert loads_strict(deep) is not None
    assert loads_strict('"\\ud83d\\ude00"') == "\U0001f600"
    assert loads_strict('{"a": 1.5e308}') == {"a": 1.5e308}


@pytest.mark.parametrize(
    "value", [float("nan"), [float("inf")], {"a": "\udfff"}, {"\ud800": 1}, {1: 2}, {"a": {1}}],
)
def test_values_that_json_cannot_carry_are_named(value: Any) -> None:
    with pytest.raises(NotJson):
        check_json_value(value)


def test_storable_text_escapes_a_lone_surrogate_and_reads_back_the_same() -> None:
    text = json.dumps({"a": "x\ud800y é"}, ensure_ascii=False)
    safe = storable(text)
    safe.encode()  # UTF-8 can carry it now
    assert json.loads(safe) == {"a": "x\ud800y é"}
    assert storable('{"a":"é"}') == '{"a":"é"}'


# --- the client: input and names -----------------------------------------------------------


@pytest.fixture
def runner() -> InlineRunner:
    r = InlineRunner(Registry())
    r.create_state_machine("Plain", json.dumps(PASS))
    return r


@pytest.mark.parametrize(
    "text", ['{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}', '{"a": 1e999}',
             '{"a": "\\ud800"}', DEEP],
)
def test_execution_input_that_is_not_json_is_refused_at_start(
    runner: InlineRunner, text: str
) -> None:
    with pytest.raises(InvalidExecutionInput, match="Invalid State Machine Execution Input"):
        runner.client.start_execution("Plain", input_text=text)
    assert runner.client.list_executions("Plain") == []  # nothing was created


@pytest.mark.parametrize(
    "value", [{"a": float("nan")}, {"a": float("inf")}, {"a": "\ud800"}, None],
)
def test_execution_input_values_that_are_not_json_are_refused(
    runner: InlineRunner, value: Any
) -> None:
    if value is None:  # a value nested past the depth limit
        value = []
        for _ in range(MAX_JSON_DEPTH + 5):
            value = [value]
    with pytest.raises(InvalidExecutionInput):
        runner.client.start_execution("Plain", value)


def test_a_name_with_a_lone_surrogate_is_refused_at_creation(runner: InlineRunner) -> None:
    with pytest.raises(InvalidName, match="lone surrogate"):
        runner.create_state_machine("Bad\ud800", json.dumps(PASS))
    with pytest.raises(InvalidName, match="lone surrogate"):
        runner.client.start_execution("Plain", {}, name="run\udc00")
    with pytest.raises(InvalidArn):
        runner.client.describe_state_machine("Bad\ud800")
    with pytest.raises(InvalidDefinition, match="lone surrogate"):
        runner.create_state_machine("Other", json.dumps(PASS)[:-1] + ', "Comment": "\ud800"}')


# --- states that parse JSON --------------------------------------------------------------


def test_string_to_json_of_deep_or_non_json_text_is_an_intrinsic_failure() -> None:
    for text in (DEEP, "NaN", '"\\ud800"', "1e999"):
        with pytest.raises(StatesFailure) as caught:
            evaluate("States.StringToJson($.s)", {"s": text}, context={}, variables={},
                     rng=random.Random(1))
        assert caught.value.error == errors.INTRINSIC_FAILURE


def test_jsonata_parse_of_deep_text_fails_the_state_cleanly() -> None:
    registry = Registry()
    r = InlineRunner(registry)
    r.create_state_machine("Parse", json.dumps({
        "QueryLanguage": "JSONata", "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Output": "{% $parse($states.input.s) %}", "End": True}},
    }))
    done = r.run("Parse", input={"s": "[" * 300 + "]" * 300})
    assert done.status == "FAILED"
    assert done.error == "States.QueryEvaluationError"


@pytest.mark.parametrize(
    "result", [{"a": float("nan")}, {"a": float("inf")}, {"a": "\ud800"}, None],
)
def test_a_handler_result_that_is_not_json_is_a_marshal_error(result: Any) -> None:
    if result is None:
        result = []
        for _ in range(MAX_JSON_DEPTH + 5):
            result = [result]
    registry = Registry()
    registry.register("Odd", lambda event, context: result)
    found = registry.get("Odd")
    assert found is not None
    context = TaskContext("Odd", "arn:x", "S", 0, "key")
    outcome = invoke(found, {}, context)
    assert not outcome.ok
    assert outcome.error == "Runtime.MarshalError"


# --- the history cap ---------------------------------------------------------------------


def test_a_loop_fails_at_the_history_cap_as_aws_fails_it() -> None:
    r = InlineRunner(Registry())
    r.driver.settings = replace(r.driver.settings, max_history_events=101)
    r.create_state_machine("Loop", json.dumps(LOOP))
    done = r.run("Loop", input={})
    assert (done.status, done.error, done.cause) == (
        "FAILED", "States.Runtime", history_cause(101)
    )
    history = r.client.get_history(done.eid)
    assert len(history) == 101
    assert [e["id"] for e in history] == list(range(1, 102))
    last = history[-1]
    assert last["type"] == "ExecutionFailed"
    assert last["executionFailedEventDetails"] == {
        "error": "States.Runtime",
        "cause": "The execution reached the maximum number of history events (101).",
    }
    assert history[-2]["type"] in ("PassStateEntered", "PassStateExited", "ChoiceStateEntered",
                                   "ChoiceStateExited")
    assert history_cause(25_000) == (
        "The execution reached the maximum number of history events (25000)."
    )


def test_an_execution_under_the_cap_is_untouched() -> None:
    r = InlineRunner(Registry())
    r.driver.settings = replace(r.driver.settings, max_history_events=5)
    r.create_state_machine("Plain", json.dumps(PASS))
    done = r.run("Plain", input={})
    assert done.status == "SUCCEEDED"
    assert len(r.client.get_history(done.eid)) == 4


# --- Map limits ------------------------------------------------------------------------


def _start(count: int, concurrency: int, *, isolated: bool = False) -> StartChildren:
    return StartChildren(join="0/M#2.0", kind="map", state="M", inputs=[0] * count,
                         max_concurrency=concurrency, isolated=isolated)


def test_an_inline_map_runs_at_most_40_iterations_at_once() -> None:
    template = {"parent_run": "0"}
    assert open_join(_start(1000, 0), template)[1] == list(range(40))
    assert open_join(_start(1000, 100), template)[1] == list(range(40))
    assert open_join(_start(1000, 5), template)[1] == list(range(5))
    assert len(open_join(_start(20_000, 0, isolated=True), template)[1]) == 10_000


def test_a_map_over_items_beyond_256_kib_fails_with_data_limit_exceeded() -> None:
    r = InlineRunner(Registry())
    r.create_state_machine("Big", json.dumps({
        "QueryLanguage": "JSONata", "StartAt": "M",
        "States": {"M": {"Type": "Map", "Items": "{% [1..1000000] %}", "MaxConcurrency": 0,
                         "ItemProcessor": {"StartAt": "P", "States": {
                             "P": {"Type": "Pass", "End": True}}},
                         "End": True}},
    }))
    done = r.run("Big", input={})
    assert (done.status, done.error) == ("FAILED", "States.DataLimitExceeded")
    assert "'M'" in (done.cause or "")
    assert maps.exceeds(list(range(10)), 20) and not maps.exceeds(list(range(10)), 21)


def test_a_jsonpath_map_whose_inputs_grow_past_the_bound_fails() -> None:
    r = InlineRunner(Registry())
    r.create_state_machine("Wide", json.dumps({
        "StartAt": "M",
        "States": {"M": {"Type": "Map", "ItemsPath": "$.items",
                         "ItemSelector": {"all.$": "$.pad"},
                         "ItemProcessor": {"StartAt": "P", "States": {
                             "P": {"Type": "Pass", "Result": 1, "End": True}}},
                         "End": True}},
    }))
    done = r.run("Wide", input={"items": list(range(100)), "pad": "x" * 200_000})
    assert (done.status, done.error) == ("FAILED", "States.DataLimitExceeded")
    assert "iteration inputs" in (done.cause or "")
    small = r.run("Wide", input={"items": list(range(20)), "pad": "x" * 1000})
    assert (small.status, json.loads(small.output or "")) == ("SUCCEEDED", [1] * 20)
