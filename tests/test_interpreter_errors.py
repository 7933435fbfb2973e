"""Errors as AWS reports them: causes, catchability, Error Output, retries' events."""

from __future__ import annotations

import json
from typing import Any

from engine.handlers import TaskFailure
from tests.test_interpreter_helpers import lambda_arn, run

PREFIX = "An error occurred while executing the state '{}' (entered at the event id #{}). "


def test_runtime_errors_name_the_state_and_its_entered_event() -> None:
    found = run(
        {
            "StartAt": "First",
            "States": {
                "First": {"Type": "Pass", "Next": "Second"},
                "Second": {"Type": "Pass", "OutputPath": "$.missing", "End": True},
            },
        },
        {"a": 1},
    )
    assert found.status == "FAILED" and found.error == "States.Runtime"
    assert found.cause == PREFIX.format("Second", 4) + (
        "Invalid path '$.missing' : No results for path: $['missing']"
    )


def test_states_runtime_is_never_caught_nor_retried() -> None:
    found = run(
        {
            "StartAt": "Work",
            "States": {
                "Work": {
                    "Type": "Task",
                    "Resource": lambda_arn("echo"),
                    "OutputPath": "$.nope.nope",
                    "Retry": [{"ErrorEquals": ["States.ALL"]}],
                    "Catch": [{"ErrorEquals": ["States.Runtime"], "Next": "Caught"}],
                    "End": True,
                },
                "Caught": {"Type": "Succeed"},
            },
        },
        handlers={"echo": lambda event, ctx: event},
    )
    assert found.status == "FAILED" and found.error == "States.Runtime"
    assert found.types[-2:] == ["LambdaFunctionSucceeded", "ExecutionFailed"]


def test_parameters_path_miss_is_states_runtime_with_aws_wording() -> None:
    found = run(
        {
            "StartAt": "P",
            "States": {"P": {"Type": "Pass", "Parameters": {"v.$": "$.x"}, "End": True}},
        },
        {"y": 0},
    )
    assert found.error == "States.Runtime"
    assert found.cause == PREFIX.format("P", 2) + (
        "The JSONPath '$.x' specified for the field 'v.$' could not be found "
        "in the input '{\"y\":0}'"
    )


def test_task_timeout_error_output_has_an_empty_cause() -> None:
    definition = {
        "StartAt": "Slow",
        "States": {
            "Slow": {
                "Type": "Task",
                "Resource": lambda_arn("slow"),
                "TimeoutSeconds": 5,
                "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Done"}],
                "End": True,
            },
            "Done": {"Type": "Pass", "End": True},
        },
    }
    found = run(definition, handlers={"slow": lambda e, c: e}, simulated_seconds={"slow": 60})
    assert found.status == "SUCCEEDED"
    assert found.output == {"Error": "States.Timeout", "Cause": ""}
    assert "LambdaFunctionTimedOut" in found.types


def test_lambda_invoke_passes_the_payload_and_wraps_the_result() -> None:
    seen: list[Any] = []

    def handler(event: Any, ctx: Any) -> Any:
        seen.append(event)
        return {"ok": True}

    found = run(
        {
            "StartAt": "Invoke",
            "States": {
                "Invoke": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": "fn", "Payload.$": "$.p"},
                    "End": True,
                }
            },
        },
        {"p": "[1, 2]"},
        handlers={"fn": handler},
    )
    assert seen == [[1, 2]]  # a string Payload is the JSON text Lambda receives
    assert found.output["Payload"] == {"ok": True}
    assert found.output["StatusCode"] == 200
    headers = found.output["SdkHttpMetadata"]["HttpHeaders"]
    assert headers["Content-Length"] == str(len(json.dumps({"ok": True})))


def test_lambda_invoke_error_cause_is_compact_json() -> None:
    def fails(event: Any, ctx: Any) -> Any:
        raise TaskFailure("Boom", json.dumps({"errorMessage": "m", "errorType": "Boom"}))

    found = run(
        {
            "StartAt": "Invoke",
            "States": {
                "Invoke": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": "fn"},
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                    "End": True,
                },
                "Caught": {"Type": "Pass", "End": True},
            },
        },
        handlers={"fn": fails},
    )
    assert found.output == {"Error": "Boom", "Cause": '{"errorMessage":"m","errorType":"Boom"}'}


def test_a_retried_map_emits_no_map_state_failed_until_it_gives_up() -> None:
    found = run(
        {
            "StartAt": "M",
            "States": {
                "M": {
                    "Type": "Map",
                    "ItemProcessor": {
                        "StartAt": "F",
                        "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "C"}},
                    },
                    "Retry": [{"ErrorEquals": ["E"], "MaxAttempts": 1, "IntervalSeconds": 1}],
                    "End": True,
                }
            },
        },
        [1],
    )
    assert found.error == "E" and found.cause == "C"
    assert found.types == [
        "ExecutionStarted",
        "MapStateEntered",
        "MapStateStarted",
        "MapIterationStarted",
        "FailStateEntered",
        "MapIterationFailed",
        "MapStateStarted",
        "MapIterationStarted",
        "FailStateEntered",
        "MapIterationFailed",
        "MapStateFailed",
        "ExecutionFailed",
    ]


def test_a_caught_parallel_failure_emits_failed_then_exited() -> None:
    found = run(
        {
            "StartAt": "P",
            "States": {
                "P": {
                    "Type": "Parallel",
                    "Branches": [{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "X"}}}],
                    "Catch": [{"ErrorEquals": ["X"], "Next": "Done", "ResultPath": "$.err"}],
                    "End": True,
                },
                "Done": {"Type": "Pass", "End": True},
            },
        },
        {"in": 1},
    )
    assert found.output == {"in": 1, "err": {"Error": "X"}}
    assert found.types[-5:] == [
        "ParallelStateFailed",
        "ParallelStateExited",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]


def test_an_oversized_task_result_is_a_catchable_data_limit_error() -> None:
    found = run(
        {
            "StartAt": "Big",
            "States": {
                "Big": {
                    "Type": "Task",
                    "Resource": lambda_arn("big"),
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done"}],
                    "End": True,
                },
                "Done": {"Type": "Pass", "End": True},
            },
        },
        handlers={"big": lambda e, c: "a" * 300_000},
    )
    assert found.status == "SUCCEEDED"
    assert found.output["Error"] == "States.DataLimitExceeded"


def _failing_twice(seen: list[Any]) -> Any:
    def handler(event: Any, ctx: Any) -> Any:
        seen.append(event)
        if len(seen) < 3:
            raise TaskFailure("Flaky", "not yet")
        return event

    return handler


RETRY_TWICE = [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2}]


def test_a_retry_evaluates_the_parameters_again_with_the_new_retry_count() -> None:
    # Recorded on AWS (lambda:invoke with Payload.$ "$$" under Retry): each TaskScheduled
    # shows the attempt's own State.RetryCount, 0, 1, 2, ...
    seen: list[Any] = []
    found = run(
        {
            "StartAt": "T",
            "States": {
                "T": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {
                        "FunctionName": "flaky",
                        "Payload": {"n.$": "$$.State.RetryCount"},
                    },
                    "Retry": RETRY_TWICE,
                    "OutputPath": "$.Payload",
                    "End": True,
                }
            },
        },
        {},
        handlers={"flaky": _failing_twice(seen)},
    )
    assert found.status == "SUCCEEDED" and found.output == {"n": 2}
    assert seen == [{"n": 0}, {"n": 1}, {"n": 2}]
    scheduled = [
        json.loads(e["taskScheduledEventDetails"]["parameters"])["Payload"]
        for e in found.events
        if e["type"] == "TaskScheduled"
    ]
    assert scheduled == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert found.types.count("TaskStateEntered") == 1


def test_a_retry_evaluates_jsonata_arguments_again() -> None:
    seen: list[Any] = []
    found = run(
        {
            "QueryLanguage": "JSONata",
            "StartAt": "T",
            "States": {
                "T": {
                    "Type": "Task",
                    "Resource": lambda_arn("flaky"),
                    "Arguments": {"n": "{% $states.context.State.RetryCount %}"},
                    "Retry": RETRY_TWICE,
                    "End": True,
                }
            },
        },
        {},
        handlers={"flaky": _failing_twice(seen)},
    )
    assert found.status == "SUCCEEDED"
    assert seen == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_an_error_building_a_retried_tasks_input_is_retried_then_caught_or_failed() -> None:
    # The Task is never scheduled: its Parameters fail on every attempt. The error still
    # goes through Retry (MaxAttempts 1) and then Catch, or fails the execution; it used to
    # stop the engine when the retry looked for the task it had never built.
    def machine(catch: bool) -> dict[str, Any]:
        task: dict[str, Any] = {
            "Type": "Task",
            "Resource": lambda_arn("echo"),
            "Parameters": {"v.$": "States.ArrayGetItem($.arr, 9)"},
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 1}],
            "End": True,
        }
        if not catch:
            return {"StartAt": "T", "States": {"T": task}}
        task["Catch"] = [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]
        return {"StartAt": "T", "States": {"T": task, "Caught": {"Type": "Pass", "End": True}}}

    calls: list[Any] = []
    handlers = {"echo": lambda event, ctx: calls.append(event) or event}
    failed = run(machine(catch=False), {"arr": [1]}, handlers=handlers)
    assert failed.status == "FAILED" and failed.error == "States.IntrinsicFailure"
    assert "index 9 is out of bounds" in (failed.cause or "")
    caught = run(machine(catch=True), {"arr": [1]}, handlers=handlers)
    assert caught.status == "SUCCEEDED"
    assert caught.output["Error"] == "States.IntrinsicFailure"
    assert calls == []
    for found in (failed, caught):
        assert "LambdaFunctionScheduled" not in found.types
        assert found.types.count("TaskStateEntered") == 1


def test_a_branch_fail_without_error_fails_the_execution_without_error() -> None:
    # Recorded on AWS (a Map whose iteration is a bare Fail): ExecutionFailed has empty
    # details, as for a top-level Fail; not an empty error name.
    iteration = {"StartAt": "F", "States": {"F": {"Type": "Fail"}}}
    for state in (
        {"Type": "Map", "ItemProcessor": iteration, "End": True},
        {"Type": "Parallel", "Branches": [iteration], "End": True},
    ):
        found = run({"StartAt": "S", "States": {"S": state}}, [1])
        assert found.status == "FAILED" and found.error is None and found.cause is None
        assert found.events[-1]["executionFailedEventDetails"] == {}


def test_error_and_cause_paths_to_non_strings_give_json_text() -> None:
    found = run(
        {
            "StartAt": "F",
            "States": {"F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$.c"}},
        },
        {"e": [1, "a"], "c": {"x": True}},
    )
    assert (found.error, found.cause) == ('[1,"a"]', '{"x":true}')


def test_a_states_prefixed_custom_error_is_raised_caught_and_retried_by_name() -> None:
    # AWS accepts any name in ErrorEquals: a Fail state's own `States.` error is caught by
    # its name, and an HTTP-Task-style `States.Http.StatusCode.503` is retried by its name.
    branch = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "States.MyError"}}}
    calls: list[int] = []

    def flaky(event: Any, ctx: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise TaskFailure("States.Http.StatusCode.503", "busy")
        return event

    found = run(
        {
            "StartAt": "Call",
            "States": {
                "Call": {
                    "Type": "Task",
                    "Resource": lambda_arn("flaky"),
                    "Retry": [{"ErrorEquals": ["States.Http.StatusCode.503"],
                               "IntervalSeconds": 1}],
                    "Next": "P",
                },
                "P": {
                    "Type": "Parallel",
                    "Branches": [branch],
                    "Catch": [{"ErrorEquals": ["States.MyError"], "ResultPath": "$.error",
                               "Next": "Caught"}],
                    "End": True,
                },
                "Caught": {"Type": "Succeed"},
            },
        },
        {"a": 1},
        handlers={"flaky": flaky},
    )
    assert found.status == "SUCCEEDED", found.cause
    assert len(calls) == 2
    assert found.output["error"]["Error"] == "States.MyError"
