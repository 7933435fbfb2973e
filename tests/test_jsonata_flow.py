"""The JSONata data flow of each state type (engine.interpreter.jsonata_flow), pure.

Unit tests per state type, then the corpus: every recorded execution made only of Pass,
Choice, Succeed, Fail, Wait and inline Map (of such states) is replayed by a tiny driver over
these functions -- no interpreter -- and compared with AWS's recorded output or cause."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from engine.asl import errors
from engine.asl.failure import StatesFailure
from engine.asl.jsonata import QueryEvaluationFailure
from engine.asl.model import (
    JSONATA,
    ChoiceState,
    FailState,
    MapState,
    ParallelState,
    PassState,
    StateMachine,
    SucceedState,
    TaskState,
    WaitState,
    is_set,
)
from engine.conformance.cases import Case, corpus_file
from engine.conformance.compare import compare_execution
from engine.interpreter import dataflow as df
from engine.interpreter import jsonata_flow as jf

NOW = 1735732800.0  # 2025-01-01T12:00:00Z
CONTEXT: dict[str, Any] = {"Execution": {"Id": "arn:exec"}, "State": {"Name": "S"}}


def env(variables: dict[str, Any] | None = None, *, now: float = NOW) -> jf.JsonataEnv:
    return jf.JsonataEnv(CONTEXT, variables or {}, random.Random(1), now, "S", 2)


def state(model: type[Any], **fields: Any) -> Any:
    return model.model_validate(fields)


def failure_of(call: Any) -> QueryEvaluationFailure:
    with pytest.raises(QueryEvaluationFailure) as info:
        call()
    assert info.value.error == errors.QUERY_EVALUATION_ERROR
    return info.value


# --- Arguments and Task fields ------------------------------------------------------------


def test_arguments_default_to_the_input() -> None:
    task = state(TaskState, Type="Task", Resource="arn:aws:states:::lambda:invoke", End=True)
    assert jf.arguments(task, {"a": 1}, env()) == {"a": 1}


def test_arguments_are_evaluated() -> None:
    task = state(
        TaskState, Type="Task", Resource="arn:aws:states:::lambda:invoke", End=True,
        Arguments={"FunctionName": "{% $states.input.fn %}", "Payload": {"v": "{% $v %}"}},
    )  # fmt: skip
    assert jf.arguments(task, {"fn": "f"}, env({"v": 2})) == {
        "FunctionName": "f",
        "Payload": {"v": 2},
    }


def test_arguments_undefined_cause_recorded_by_aws() -> None:
    task = state(
        TaskState, Type="Task", Resource="arn:aws:states:::lambda:invoke", End=True,
        Arguments={"FunctionName": "{% $doesNotExist %}"},
    )  # fmt: skip
    failure = failure_of(lambda: jf.arguments(task, {}, env()))
    assert failure.location == "Arguments/FunctionName"
    assert failure.cause == (
        "An error occurred while executing the state 'S' (entered at the event id #2). The "
        "JSONata expression '$doesNotExist' specified for the field 'Arguments/FunctionName' "
        "returned nothing (undefined)."
    )


def test_parallel_arguments() -> None:
    parallel = ParallelState.model_validate(
        {"Type": "Parallel", "End": True, "Arguments": "{% $states.input.x %}",
         "Branches": [{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}]}
    )  # fmt: skip
    assert jf.arguments(parallel, {"x": [1]}, env()) == [1]


def test_task_timeouts() -> None:
    task = state(
        TaskState, Type="Task", Resource="arn:aws:states:::lambda:invoke", End=True,
        TimeoutSeconds="{% $variable := 1 %}", HeartbeatSeconds=1,
    )  # fmt: skip
    assert jf.task_timeouts(task, {}, env()) == (1, 1)
    plain = state(TaskState, Type="Task", Resource="arn:aws:states:::lambda:invoke", End=True)
    assert jf.task_timeouts(plain, {}, env()) == (None, None)


@pytest.mark.parametrize(
    "expression, fragment",
    [
        ("{% 'x' %}", "Expected 'number', but was 'string' for value: \"x\""),
        ("{% 1.5 %}", "cannot be parsed as an integer: 1.5"),
        ("{% 0 %}", "must not be less than 1: 0"),
        ("{% 100000000 %}", "must be at most 99999999"),
    ],
)
def test_task_timeout_checks(expression: str, fragment: str) -> None:
    task = state(
        TaskState, Type="Task", Resource="arn:aws:states:::lambda:invoke", End=True,
        TimeoutSeconds=expression,
    )  # fmt: skip
    failure = failure_of(lambda: jf.task_timeouts(task, {}, env()))
    assert fragment in failure.detail
    assert failure.location == "TimeoutSeconds"


def test_task_timeout_integral_float_counts() -> None:
    task = state(
        TaskState, Type="Task", Resource="arn:aws:states:::lambda:invoke", End=True,
        TimeoutSeconds="{% $states.input.t %}",
    )  # fmt: skip
    assert jf.task_timeouts(task, {"t": 5.0}, env()) == (5, None)


def test_credentials() -> None:
    task = state(
        TaskState, Type="Task", Resource="arn:aws:states:::lambda:invoke", End=True,
        Credentials={"RoleArn": "{% $states.input.role %}"},
    )  # fmt: skip
    assert jf.credentials(task, {"role": "arn:role"}, env()) == {"RoleArn": "arn:role"}


# --- Output and Assign --------------------------------------------------------------------


def test_output_defaults() -> None:
    pass_state = state(PassState, Type="Pass", End=True)
    assert jf.finish(pass_state, {"a": 1}, env()) == ({"a": 1}, {})
    task = state(TaskState, Type="Task", Resource="arn:aws:states:::lambda:invoke", End=True)
    assert jf.finish(task, {"a": 1}, env(), result={"r": 2}) == ({"r": 2}, {})
    assert jf.finish(task, {"a": 1}, env(), result=None) == (None, {})
    succeed = state(SucceedState, Type="Succeed", Output="{% $states.input.a %}")
    assert jf.finish(succeed, {"a": 1}, env()) == (1, {})


@pytest.mark.parametrize("literal", [0, 0.1, True, "string literal", [], {}, None])
def test_output_literal_of_any_type_recorded_by_aws(literal: Any) -> None:
    pass_state = state(PassState, Type="Pass", End=True, Output=literal)
    assert jf.finish(pass_state, {"input_value": "x"}, env()) == (literal, {})


def test_output_sees_result_and_input() -> None:
    task = state(
        TaskState, Type="Task", Resource="arn:aws:states:::lambda:invoke", End=True,
        Output={"stateInput": "{% $states.input %}", "stateResult": "{% $states.result %}"},
    )  # fmt: skip
    output, _ = jf.finish(task, {"i": 1}, env(), result={"r": 2})
    assert output == {"stateInput": {"i": 1}, "stateResult": {"r": 2}}


def test_result_is_not_available_outside_task_map_parallel() -> None:
    pass_state = state(PassState, Type="Pass", End=True, Output="{% $states.result %}")
    failure = failure_of(lambda: jf.finish(pass_state, {}, env()))
    assert failure.location == "Output"


def test_assign_and_output_read_the_same_values() -> None:
    # The spec's example: x was 5 on entry; Assign x := 42, newOrOld := $x (5).
    pass_state = state(
        PassState, Type="Pass", End=True,
        Assign={"x": 42, "newOrOld": "{% $x %}"}, Output={"seen": "{% $x %}"},
    )  # fmt: skip
    output, assigned = jf.finish(pass_state, {}, env({"x": 5}))
    assert assigned == {"x": 42, "newOrOld": 5}
    assert output == {"seen": 5}


def test_assign_result_from_task() -> None:
    task = state(
        TaskState, Type="Task", Resource="arn:aws:states:::lambda:invoke", End=True,
        Assign={"resultsVar": "{% $states.result %}"}, Output={"results": "{% $states.result %}"},
    )  # fmt: skip
    result = {"Payload": {"foo": "foo-1"}}
    assert jf.finish(task, {}, env(), result=result) == (
        {"results": result},
        {"resultsVar": result},
    )


def test_assign_undefined_cause_recorded_by_aws() -> None:
    pass_state = state(PassState, Type="Pass", End=True, Assign={"result": "{% $doesNotExist %}"})
    failure = failure_of(lambda: jf.finish(pass_state, {}, env()))
    assert failure.location == "Assign/result"
    assert failure.detail == (
        "The JSONata expression '$doesNotExist' specified for the field 'Assign/result' "
        "returned nothing (undefined)."
    )


def test_assign_fails_before_output() -> None:
    pass_state = state(
        PassState, Type="Pass", End=True, Assign={"a": "{% $nope1 %}"}, Output="{% $nope2 %}"
    )
    assert failure_of(lambda: jf.finish(pass_state, {}, env())).location == "Assign/a"


def test_assign_constant_literals_are_kept_verbatim() -> None:
    constants: dict[str, Any] = {
        "constant_lst": [None, 0, 0.1, True, "$.no.such.path", "$varname", "$$",
                         "States.Format('{}', $varname)", [], {"constant": 0}],
        "constant_str_path": "$.no.such.path",
    }  # fmt: skip
    pass_state = state(PassState, Type="Pass", End=True, Assign=constants)
    assert jf.finish(pass_state, {}, env())[1] == constants


def test_assign_expression_must_give_an_object() -> None:
    scope = env().scope({})
    assert jf.assign("{% {'a': 1} %}", scope) == {"a": 1}
    assert "Expected 'object'" in failure_of(lambda: jf.assign("{% [1] %}", scope)).detail


# --- Catch --------------------------------------------------------------------------------


def catcher_of(**fields: Any) -> Any:
    task = TaskState.model_validate(
        {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
         "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F", **fields}]}
    )  # fmt: skip
    assert task.catch is not None
    return task.catch[0]


def test_catch_defaults_to_the_error_output() -> None:
    error_output = {"Error": "E", "Cause": "c"}
    assert jf.catch(catcher_of(), {"i": 1}, error_output, env()) == (error_output, {})


def test_catch_output_and_assign_recorded_shape() -> None:
    catcher = catcher_of(
        Output={"stateError": "{% $states.errorOutput %}", "stateInput": "{% $states.input %}"},
        Assign={"errorVar": "{% $states.errorOutput %}"},
    )
    error_output = {"Error": "Exception", "Cause": "boom"}
    output, assigned = jf.catch(catcher, {"inputData": "dummy"}, error_output, env())
    assert output == {"stateError": error_output, "stateInput": {"inputData": "dummy"}}
    assert assigned == {"errorVar": error_output}


# --- Choice -------------------------------------------------------------------------------


def choice_state(**fields: Any) -> ChoiceState:
    return ChoiceState.model_validate({"Type": "Choice", **fields})


def test_choose_first_true_rule_and_stop() -> None:
    choice = choice_state(
        Choices=[
            {"Condition": "{% $not($states.input.type = 'Private') %}", "Next": "Public"},
            {"Condition": "{% $states.input.value = 0 %}", "Next": "ValueIsZero"},
            {"Condition": "{% $states.input.value >= 20 and $states.input.value < 30 %}",
             "Next": "ValueInTwenties"},
            {"Condition": "{% $nope %}", "Next": "Never"},
        ],
        Default="DefaultState",
    )  # fmt: skip
    rule = jf.choose(choice, {"type": "Private", "value": 22}, env())
    assert rule is not None and rule.next == "ValueInTwenties"


def test_choose_constant_condition_and_no_match() -> None:
    choice = choice_state(Choices=[{"Condition": True, "Next": "T"}])
    rule = jf.choose(choice, {}, env())
    assert rule is not None and rule.next == "T"
    choice = choice_state(Choices=[{"Condition": False, "Next": "T"}], Default="D")
    assert jf.choose(choice, {}, env()) is None


def test_condition_must_be_boolean() -> None:
    choice = choice_state(Choices=[{"Condition": "{% $states.input.v %}", "Next": "T"}])
    failure = failure_of(lambda: jf.choose(choice, {"v": "yes"}, env()))
    assert failure.location == "Condition"
    assert failure.detail.endswith("Expected 'boolean', but was 'string' for value: \"yes\"")
    assert "returned nothing" in failure_of(lambda: jf.choose(choice, {}, env())).detail


def test_choice_output_and_assign_come_from_the_chosen_rule() -> None:
    choice = choice_state(
        Choices=[{"Condition": "{% $states.input.condition %}", "Next": "T",
                  "Output": "Condition Output block", "Assign": {"Assignment": "Condition"}}],
        Default="D", Output="Default Output block", Assign={"Assignment": "Default"},
    )  # fmt: skip
    rule = jf.choose(choice, {"condition": True}, env())
    assert jf.choice_output(choice, rule, {"condition": True}, env()) == (
        "Condition Output block",
        {"Assignment": "Condition"},
    )
    assert jf.choose(choice, {"condition": False}, env()) is None
    assert jf.choice_output(choice, None, {"condition": False}, env()) == (
        "Default Output block",
        {"Assignment": "Default"},
    )


def test_chosen_rule_without_output_passes_the_input_through() -> None:
    choice = choice_state(
        Choices=[{"Condition": True, "Next": "T"}], Output="ignored", Assign={"a": 1}
    )
    rule = jf.choose(choice, {"x": 1}, env())
    assert jf.choice_output(choice, rule, {"x": 1}, env()) == ({"x": 1}, {})


# --- Wait ---------------------------------------------------------------------------------


def wait_state(**fields: Any) -> WaitState:
    return WaitState.model_validate({"Type": "Wait", "End": True, **fields})


def test_wait_seconds() -> None:
    assert jf.wait_delay(wait_state(Seconds=3), {}, env()) == 3.0
    assert jf.wait_delay(wait_state(Seconds="{% $states.input.s %}"), {"s": 0}, env()) == 0.0
    negative = failure_of(lambda: jf.wait_delay(wait_state(Seconds="{% -1 %}"), {}, env()))
    assert negative.location == "Seconds" and "negative" in negative.detail


def test_wait_timestamp() -> None:
    wait = wait_state(Timestamp="{% $states.input.TimestampValue %}")
    assert jf.wait_delay(wait, {"TimestampValue": "2025-01-01T12:00:10Z"}, env()) == 10.0
    # Past, with nanoseconds: AWS waits not at all [obs].
    assert jf.wait_delay(wait, {"TimestampValue": "2016-03-05T21:29:29.243167252Z"}, env()) < 0
    assert jf.wait_delay(wait_state(Timestamp="2025-01-01T12:01:00Z"), {}, env()) == 60.0


@pytest.mark.parametrize(
    "stamp",
    ["2016-12-05 21:29:29Z", "2016-12-05T21:29:29", "2016-13-05T21:29:29Z",
     "2016-12-05T25:29:29Z", "05-12-2016T21:29:29Z"],
)  # fmt: skip
def test_wait_bad_timestamp_cause_recorded_by_aws(stamp: str) -> None:
    wait = wait_state(Timestamp="{% $states.input.TimestampValue %}")
    failure = failure_of(lambda: jf.wait_delay(wait, {"TimestampValue": stamp}, env()))
    assert failure.location == "Timestamp"
    assert failure.detail == (
        "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time "
        f"format string: {stamp}"
    )


def test_wait_timestamp_must_be_a_string() -> None:
    wait = wait_state(Timestamp="{% 42 %}")
    assert "Expected 'string'" in failure_of(lambda: jf.wait_delay(wait, {}, env())).detail


def test_wait_too_long_is_a_runtime_error() -> None:
    wait = wait_state(Timestamp="{% '9999-01-01T00:00:00Z' %}")
    with pytest.raises(StatesFailure) as info:
        jf.wait_delay(wait, {}, env())
    assert info.value.error == errors.RUNTIME


# --- Fail ---------------------------------------------------------------------------------


def test_fail_error_and_cause() -> None:
    fail = state(FailState, Type="Fail", Error="{% $states.input.error %}", Cause="literal")
    assert jf.fail_error_cause(fail, {"error": "Exception"}, env()) == ("Exception", "literal")
    assert jf.fail_error_cause(state(FailState, Type="Fail"), {}, env()) == (None, None)
    bad = state(FailState, Type="Fail", Error="{% 1 %}")
    failure = failure_of(lambda: jf.fail_error_cause(bad, {}, env()))
    assert failure.location == "Error" and "Expected 'string'" in failure.detail


# --- Map ----------------------------------------------------------------------------------


def map_state(**fields: Any) -> MapState:
    return MapState.model_validate(
        {"Type": "Map", "End": True,
         "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
         **fields}
    )  # fmt: skip


def test_map_items_literal_with_expressions_recorded_by_aws() -> None:
    plan = jf.map_plan(map_state(Items=[1, "{% $number('2') %}", 3]), {}, env())
    assert plan.inputs == [1, 2, 3]
    assert plan.max_concurrency == 0


def test_map_items_default_to_the_input() -> None:
    assert jf.map_plan(map_state(), [1, "two", True], env()).inputs == [1, "two", True]


@pytest.mark.parametrize("value", [1, "string", True, {"foo": "bar"}, None])
def test_map_input_must_be_an_array_cause_recorded_by_aws(value: Any) -> None:
    failure = failure_of(lambda: jf.map_plan(map_state(), value, env()))
    assert failure.location is None
    assert failure.detail == (
        f"Map state input must be an array but was: {json.dumps(value, separators=(',', ':'))}"
    )


@pytest.mark.parametrize(
    "value, shown",
    [(True, "'boolean' for value: true"), ({"foo": "bar"}, "'object' for value: {\"foo\":\"bar\"}"),
     (None, "'null' for value: null")],
)  # fmt: skip
def test_map_items_must_be_an_array_cause_recorded_by_aws(value: Any, shown: str) -> None:
    failure = failure_of(
        lambda: jf.map_plan(map_state(Items="{% $ItemsVar %}"), {}, env({"ItemsVar": value}))
    )
    assert failure.location == "Items"
    assert failure.detail == (
        "The JSONata expression '$ItemsVar' specified for the field 'Items' returned an "
        f"unexpected result type. Expected 'array', but was {shown}"
    )


def test_map_item_selector_recorded_by_aws() -> None:
    plan = jf.map_plan(
        map_state(
            Items="{% $ItemsVar %}",
            ItemSelector={"map_item_value": "{% $states.context.Map.Item.Value %}",
                          "string_literal": "string literal", "var_sample": "{% $ItemsVar %}",
                          "index": "{% $states.context.Map.Item.Index %}",
                          "input": "{% $states.input %}"},
        ),
        {"in": 1},
        env({"ItemsVar": ["Item1", "Item2"]}),
    )  # fmt: skip
    assert plan.inputs == [
        {"map_item_value": "Item1", "string_literal": "string literal",
         "var_sample": ["Item1", "Item2"], "index": 0, "input": {"in": 1}},
        {"map_item_value": "Item2", "string_literal": "string literal",
         "var_sample": ["Item1", "Item2"], "index": 1, "input": {"in": 1}},
    ]  # fmt: skip


def test_map_numbers() -> None:
    plan = jf.map_plan(
        map_state(
            Items=[1], MaxConcurrency="{% $variable := 1 %}",
            ToleratedFailurePercentage="{% $states.input.p %}",
            ToleratedFailureCount="{% $states.input.c %}",
        ),
        {"p": 100, "c": 1},
        env(),
    )  # fmt: skip
    assert (plan.max_concurrency, plan.tolerated_failure_count) == (1, 1)
    assert plan.tolerated_failure_percentage == 100.0


@pytest.mark.parametrize(
    "fields, fragment",
    [
        ({"MaxConcurrency": "{% -1 %}"}, "MaxConcurrency cannot be negative."),
        ({"ToleratedFailureCount": "{% -1 %}"}, "ToleratedFailureCount cannot be negative."),
        ({"ToleratedFailurePercentage": "{% 100.1 %}"}, "must be between 0 and 100."),
        ({"ToleratedFailurePercentage": "{% 'x' %}"}, "Expected 'number'"),
    ],
)
def test_map_number_checks(fields: dict[str, Any], fragment: str) -> None:
    failure = failure_of(lambda: jf.map_plan(map_state(Items=[1], **fields), {}, env()))
    assert fragment in failure.detail


def test_map_batches() -> None:
    plan = jf.map_plan(
        map_state(
            Items=[1, 2, 3],
            ItemBatcher={
                "MaxItemsPerBatch": "{% 2 %}",
                "BatchInput": {"b": "{% $states.input.b %}"},
            },
        ),
        {"b": 9},
        env(),
    )  # fmt: skip
    assert plan.inputs == [
        {"BatchInput": {"b": 9}, "Items": [1, 2]},
        {"BatchInput": {"b": 9}, "Items": [3]},
    ]


# --- the corpus, replayed without the interpreter -----------------------------------------

CORPUS = corpus_file("executions.jsonl")
SIMPLE = (PassState, ChoiceState, SucceedState, FailState, WaitState, MapState)


class _Failed(Exception):
    def __init__(self, error: str | None, cause: str | None) -> None:
        self.error, self.cause = error, cause


class MiniDriver:
    """Runs a machine of Pass/Choice/Succeed/Fail/Wait/inline-Map states in order, counting
    event ids as AWS does for such machines, with a Context Object shaped like AWS's."""

    def __init__(self, machine: StateMachine, execution_input: Any) -> None:
        self.machine = machine
        self.input = execution_input
        self.next_id = 2  # 1 is ExecutionStarted
        self.rng = random.Random(0)

    def context(self, name: str, *, retry_count: bool) -> dict[str, Any]:
        state_ctx: dict[str, Any] = {"EnteredTime": "2025-01-01T12:00:00.000Z", "Name": name}
        if retry_count:
            state_ctx["RetryCount"] = 0
        return {
            "Execution": {
                "Id": "arn:aws:states:us-east-1:111111111111:execution:sm:exec",
                "Input": self.input,
                "Name": "exec",
                "RedriveCount": 0,
                "RoleArn": "snf_role_arn",
                "StartTime": "2025-01-01T12:00:00.000Z",
            },
            "State": state_ctx,
            "StateMachine": {"Id": "arn:aws:states:us-east-1:111111111111:stateMachine:sm",
                             "Name": "sm"},
        }  # fmt: skip

    def run(self) -> dict[str, Any]:
        try:
            output = self.walk(self.machine.states, self.machine.start_at, self.input, {}, {})
        except _Failed as failed:
            return {"status": "FAILED", "error": failed.error, "cause": failed.cause}
        return {"status": "SUCCEEDED", "output": output}

    def walk(
        self, states: dict[str, Any], name: str | None, value: Any,
        variables: dict[str, Any], outer: dict[str, Any],
    ) -> Any:  # fmt: skip
        while name is not None:
            st = states[name]
            entered = self.next_id
            self.next_id += 1
            readable = {**outer, **variables}
            try:
                name, value, assigned = self.step(st, name, value, readable, entered)
            except StatesFailure as failure:
                raise _Failed(failure.error, failure.cause) from None
            variables.update(assigned)
            self.next_id += 1  # *StateExited
        return value

    def step(
        self, st: Any, name: str, raw: Any, variables: dict[str, Any], entered: int
    ) -> tuple[str | None, Any, dict[str, Any]]:
        context = self.context(name, retry_count=not isinstance(st, PassState))
        if self.machine.state_language(st) != JSONATA:
            assert isinstance(st, PassState), "only JSONPath Pass states are replayed"
            penv = df.Env(context=context, variables=variables, rng=self.rng)
            value = df.input_path(st, raw, penv)
            if is_set(st, "Parameters"):
                value = df.render(st.parameters, value, penv, "Parameters")
            result = st.result if is_set(st, "Result") else value
            assigned = df.assign(st.assign, result, penv)
            output = df.output_path(st, df.result_path(st.result_path, raw, result), penv)
            return (None if st.end else st.next), output, assigned
        jenv = jf.JsonataEnv(context, variables, self.rng, NOW, name, entered)
        if isinstance(st, FailState):
            error, cause = jf.fail_error_cause(st, raw, jenv)
            raise _Failed(error, cause)
        if isinstance(st, ChoiceState):
            rule = jf.choose(st, raw, jenv)
            target = rule.next if rule is not None else st.default
            if target is None:
                raise _Failed(errors.NO_CHOICE_MATCHED, None)
            output, assigned = jf.choice_output(st, rule, raw, jenv)
            return target, output, assigned
        if isinstance(st, WaitState):
            jf.wait_delay(st, raw, jenv)  # the delay itself is the shell's business
        if isinstance(st, MapState):
            plan = jf.map_plan(st, raw, jenv)
            self.next_id += 1  # MapStateStarted
            results = []
            for item in plan.inputs:
                self.next_id += 1  # MapIterationStarted
                branch = st.processor
                results.append(self.walk(branch.states, branch.start_at, item, {}, variables))
                self.next_id += 1  # MapIterationSucceeded
            self.next_id += 1  # MapStateSucceeded
            output, assigned = jf.finish(st, raw, jenv, result=results)
            return (None if st.end else st.next), output, assigned
        output, assigned = jf.finish(st, raw, jenv)
        if isinstance(st, SucceedState):
            return None, output, assigned
        return (None if st.end else st.next), output, assigned


def _all_states(states: dict[str, Any]) -> list[Any]:
    found = []
    for st in states.values():
        found.append(st)
        if isinstance(st, MapState):
            found.extend(_all_states(st.processor.states))
        if isinstance(st, ParallelState):
            for branch in st.branches:
                found.extend(_all_states(branch.states))
    return found


def _replayable(raw: dict[str, Any]) -> bool:
    text = json.dumps(raw["definition"])
    if "{%" not in text and "JSONata" not in text:
        return False
    try:
        machine = StateMachine.model_validate(raw["definition"])
    except Exception:  # noqa: BLE001 - not a shape this driver replays
        return False
    for st in _all_states(machine.states):
        if not isinstance(st, SIMPLE):
            return False
        if machine.state_language(st) != JSONATA and not isinstance(st, PassState):
            return False
        if isinstance(st, MapState):
            config = st.processor.processor_config
            if config is not None and config.mode != "INLINE":
                return False
    return True


def _corpus() -> list[dict[str, Any]]:
    with CORPUS.open(encoding="utf-8") as lines:
        cases = [json.loads(line) for line in lines if line.strip()]
    return [case for case in cases if _replayable(case)]


CASES = _corpus()


@pytest.mark.parametrize("raw", CASES, ids=[c["id"].split("::")[-1] for c in CASES])
def test_recorded_execution(raw: dict[str, Any]) -> None:
    machine = StateMachine.model_validate(raw["definition"])
    execution_input = json.loads(raw["input"]) if raw.get("input") else {}
    result = MiniDriver(machine, execution_input).run()
    verdict = compare_execution(Case(raw), result)
    assert verdict.ok, verdict.reason


def test_the_corpus_replay_covers_enough_cases() -> None:
    assert len(CASES) >= 40
