"""TestState (engine/teststate.py): one state evaluated alone, as AWS's API answers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine import teststate
from engine.errors import ValidationException
from engine.handlers import Registry

TASK = {
    "Type": "Task",
    "Resource": "arn:aws:states:::lambda:invoke",
    "Parameters": {"FunctionName": "fn", "Payload.$": "$"},
    "ResultSelector": {"p.$": "$.Payload"},
    "End": True,
}


def _call(definition: Any, data: Any, **kwargs: Any) -> dict[str, Any]:
    return teststate.test_state(definition, json.dumps(data), **kwargs)


def test_pass_with_next_state_and_inspection() -> None:
    found = _call(
        {"Type": "Pass", "InputPath": "$.a", "ResultPath": "$.r", "Next": "Later"},
        {"a": {"x": 1}},
        inspection_level="DEBUG",
    )
    assert found["status"] == "SUCCEEDED" and found["nextState"] == "Later"
    assert json.loads(found["output"]) == {"a": {"x": 1}, "r": {"x": 1}}
    data = found["inspectionData"]
    assert json.loads(data["afterInputPath"]) == {"x": 1}
    assert json.loads(data["afterResultPath"]) == {"a": {"x": 1}, "r": {"x": 1}}


def test_mocked_task_result_is_the_integration_response() -> None:
    found = _call(TASK, {"k": 1}, mock={"result": json.dumps({"Payload": {"v": 2}})})
    assert json.loads(found["output"]) == {"p": {"v": 2}}


def test_unmocked_task_runs_the_registered_handler() -> None:
    registry = Registry()
    registry.register("fn", lambda event, ctx: {"echo": event})
    found = _call(TASK, {"k": 1}, registry=registry)
    assert json.loads(found["output"]) == {"p": {"echo": {"k": 1}}}


def test_retriable_and_caught_errors() -> None:
    definition = {
        **TASK,
        "Retry": [{"ErrorEquals": ["Oops"], "MaxAttempts": 2}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handler"}],
    }
    mock = {"errorOutput": {"error": "Oops", "cause": "why"}}
    first = _call(definition, {}, mock=mock, inspection_level="TRACE")
    assert (first["status"], first["error"], first["cause"]) == ("RETRIABLE", "Oops", "why")
    assert first["inspectionData"]["errorDetails"] == {
        "retryBackoffIntervalSeconds": 1,
        "retryIndex": 0,
    }
    exhausted = _call(definition, {}, mock=mock, state_configuration={"retrierRetryCount": 2})
    assert exhausted["status"] == "CAUGHT_ERROR" and exhausted["nextState"] == "Handler"
    assert json.loads(exhausted["output"]) == {"Error": "Oops", "Cause": "why"}


def test_a_retriable_error_in_the_tasks_own_fields_reports_its_error_and_cause() -> None:
    # No handler runs: the Parameters fail. RETRIABLE still names the error, as for a mock.
    definition = {
        **TASK,
        "Parameters": {"FunctionName": "fn", "Payload.$": "States.ArrayGetItem($.a, 5)"},
        "Retry": [{"ErrorEquals": ["States.ALL"]}],
    }
    found = _call(definition, {"a": [1]}, mock={"result": "{}"})
    assert found["status"] == "RETRIABLE"
    assert found["error"] == "States.IntrinsicFailure"
    assert "index 5 is out of bounds" in found["cause"]


def test_uncaught_failure_and_choice() -> None:
    failed = _call({"Type": "Fail", "Error": "E", "Cause": "C"}, {})
    assert failed == {"status": "FAILED", "error": "E", "cause": "C"}
    chosen = _call(
        {
            "Type": "Choice",
            "Choices": [{"Variable": "$.v", "NumericEquals": 1, "Next": "One"}],
            "Default": "Other",
        },
        {"v": 1},
    )
    assert chosen["nextState"] == "One"


def test_map_with_mocked_result_and_context() -> None:
    definition = {
        "Type": "Map",
        "ItemsPath": "$$.Execution.Input.values",
        "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
        "End": True,
    }
    context = json.dumps({"Execution": {"Input": {"values": [1, 2]}}})
    found = _call(
        definition, {}, context=context, mock={"result": "[10, 20]"}, inspection_level="DEBUG"
    )
    assert json.loads(found["output"]) == [10, 20]
    assert json.loads(found["inspectionData"]["afterItemsPath"]) == [1, 2]


def test_parallel_runs_its_branches_without_a_mock() -> None:
    definition = {
        "Type": "Parallel",
        "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "a", "End": True}}},
            {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": "b", "End": True}}},
        ],
        "End": True,
    }
    assert json.loads(_call(definition, {})["output"]) == ["a", "b"]


def test_a_state_of_a_whole_definition() -> None:
    machine = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Pass", "Result": 1, "End": True},
        },
    }
    found = _call(machine, {}, state_name="B")
    assert json.loads(found["output"]) == 1 and "nextState" not in found


def test_a_state_nested_in_a_map_or_parallel_is_tested_among_its_branch() -> None:
    inner = {"Type": "Pass", "Parameters": {"k.$": "$.k"}, "Next": "After"}
    definition = {
        "StartAt": "P",
        "QueryLanguage": "JSONPath",
        "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "M", "States": {"M": {"Type": "Map", "End": True, "ItemProcessor": {
                "StartAt": "Inner", "States": {"Inner": inner, "After": {"Type": "Succeed"}}}}}},
        ]}},
    }
    found = _call(definition, {"k": 1, "z": 2}, state_name="Inner", inspection_level="DEBUG")
    assert (found["status"], found["nextState"], json.loads(found["output"])) == (
        "SUCCEEDED", "After", {"k": 1})
    assert _call(definition, [1], state_name="M", mock={"result": "[5]"})["output"] == "[5]"
    with pytest.raises(ValidationException):
        _call(definition, {}, state_name="Elsewhere")


def test_a_jsonpath_fail_state_reports_its_input_as_after_input_path() -> None:
    found = _call({"Type": "Fail", "Error": "E"}, {"a": 1}, inspection_level="DEBUG")
    assert found["inspectionData"] == {"input": '{"a":1}', "afterInputPath": '{"a":1}'}
    jsonata = _call({"Type": "Fail", "QueryLanguage": "JSONata", "Error": "E"}, {"a": 1},
                    inspection_level="DEBUG")
    assert "afterInputPath" not in jsonata["inspectionData"]
