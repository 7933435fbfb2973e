"""TestState over HTTP: boto3, unchanged, against `sfn serve`'s application (a real
redis-server behind it; TestState itself runs in the server process, as on AWS nothing is
started). Inspection levels, mocks, nested state names, revealSecrets, every error; and the
recorded AWS corpus answered the same over HTTP as in process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from engine.api import server
from engine.conformance.cases import corpus_file, load_cases
from engine.conformance.compare import compare_teststate
from engine.conformance.runner import AnyFunction, run_teststate
from engine.connect import connect
from engine.settings import Settings
from tests.api_stack import sfn_client

boto3 = pytest.importorskip("boto3")

pytestmark = [pytest.mark.redis]



_client = sfn_client


@pytest.fixture(scope="module")
def servers(redis_server: Any) -> Iterator[tuple[str, str]]:
    """Two servers on one Redis: the default one, and one that allows revealSecrets. The
    corpus's account and stand-in functions, so answers compare with the recorded ones."""
    settings = Settings(redis_url=redis_server.url, account="111111111111")
    client = connect(settings, registry=AnyFunction())
    plain = server.start_background(server.build_app(client, ui=False))
    revealing = server.start_background(server.build_app(client, ui=False, reveal_secrets=True))
    yield plain.url, revealing.url
    plain.stop()
    revealing.stop()


@pytest.fixture(scope="module")
def sfn(servers: tuple[str, str]) -> Any:
    return _client(servers[0])


@pytest.fixture(scope="module")
def raw(servers: tuple[str, str]) -> Any:
    return _client(servers[0], parameter_validation=False)


def code(excinfo: pytest.ExceptionInfo[Any]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


PASS = {"Type": "Pass", "InputPath": "$.order", "Parameters": {"id.$": "$.id"},
        "ResultPath": "$.copied", "Next": "Done"}
TASK = {
    "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
    "Parameters": {"FunctionName": "f", "Payload.$": "$"},
    "ResultSelector": {"body.$": "$.Payload"}, "ResultPath": "$.result", "End": True,
    "Retry": [{"ErrorEquals": ["Busy"], "MaxAttempts": 2, "IntervalSeconds": 3}],
    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handle"}],
}


def test_inspection_levels(sfn: Any) -> None:
    request = {"definition": json.dumps(PASS), "input": json.dumps({"order": {"id": 7}})}
    info = sfn.test_state(**request)
    assert info["status"] == "SUCCEEDED" and info["nextState"] == "Done"
    # ResultPath places the result into the state's raw input, not InputPath's selection.
    assert json.loads(info["output"]) == {"order": {"id": 7}, "copied": {"id": 7}}
    assert "inspectionData" not in info
    for level in ("DEBUG", "TRACE"):
        found = sfn.test_state(**request, inspectionLevel=level)["inspectionData"]
        assert {k: json.loads(v) for k, v in found.items()} == {
            "input": {"order": {"id": 7}},
            "afterInputPath": {"id": 7},
            "afterParameters": {"id": 7},
            "afterResultSelector": {"id": 7},
            "afterResultPath": {"order": {"id": 7}, "copied": {"id": 7}},
        }


def test_task_with_a_mock_result_error_retry_and_catch(sfn: Any) -> None:
    definition = json.dumps(TASK)
    ok = sfn.test_state(definition=definition, input='{"a": 1}', inspectionLevel="DEBUG",
                        mock={"result": '{"Payload": {"b": 2}}'})
    assert ok["status"] == "SUCCEEDED"
    assert json.loads(ok["output"]) == {"a": 1, "result": {"body": {"b": 2}}}
    assert json.loads(ok["inspectionData"]["result"]) == {"Payload": {"b": 2}}
    assert json.loads(ok["inspectionData"]["afterParameters"]) == {
        "FunctionName": "f", "Payload": {"a": 1}}

    retried = sfn.test_state(definition=definition, inspectionLevel="DEBUG",
                             mock={"errorOutput": {"error": "Busy", "cause": "later"}})
    assert (retried["status"], retried["error"], retried["cause"]) == ("RETRIABLE", "Busy", "later")
    assert retried["inspectionData"]["errorDetails"] == {
        "retryIndex": 0, "retryBackoffIntervalSeconds": 3}

    caught = sfn.test_state(definition=definition, inspectionLevel="DEBUG",
                            mock={"errorOutput": {"error": "Broken", "cause": "no"}})
    assert (caught["status"], caught["error"], caught["nextState"]) == (
        "CAUGHT_ERROR", "Broken", "Handle")
    assert caught["inspectionData"]["errorDetails"] == {"catchIndex": 0}


def test_fail_state_debug_reports_after_input_path(sfn: Any) -> None:
    fail = {"Type": "Fail", "ErrorPath": "$.e", "Cause": "because"}
    found = sfn.test_state(definition=json.dumps(fail), input='{"e": "Bad"}',
                           inspectionLevel="DEBUG")
    assert (found["status"], found["error"], found["cause"]) == ("FAILED", "Bad", "because")
    assert json.loads(found["inspectionData"]["input"]) == {"e": "Bad"}
    assert json.loads(found["inspectionData"]["afterInputPath"]) == {"e": "Bad"}


NESTED = {
    "StartAt": "Fan",
    "States": {
        "Fan": {
            "Type": "Parallel", "End": True,
            "Branches": [
                {"StartAt": "Left", "States": {"Left": {"Type": "Pass", "End": True}}},
                {"StartAt": "Each", "States": {"Each": {
                    "Type": "Map", "End": True,
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "INLINE"},
                        "StartAt": "Inner",
                        "States": {
                            "Inner": {"Type": "Pass", "Parameters": {"n.$": "$.n"},
                                      "Next": "Last"},
                            "Last": {"Type": "Succeed"},
                        },
                    },
                }}},
            ],
        },
    },
}


@pytest.mark.parametrize(
    ("state", "expected", "next_state"),
    [("Inner", {"n": 3}, "Last"), ("Last", {"n": 3, "m": 1}, None),
     ("Left", {"n": 3, "m": 1}, None)],
)
def test_state_names_nested_in_map_and_parallel(
    sfn: Any, state: str, expected: Any, next_state: str | None
) -> None:
    found = sfn.test_state(definition=json.dumps(NESTED), stateName=state,
                           input='{"n": 3, "m": 1}')
    assert found["status"] == "SUCCEEDED"
    assert json.loads(found["output"]) == expected
    assert found.get("nextState") == next_state


def test_reveal_secrets_is_refused_unless_the_server_allows_it(
    sfn: Any, servers: tuple[str, str]
) -> None:
    request = {"definition": json.dumps({"Type": "Pass", "End": True}), "revealSecrets": True}
    with pytest.raises(sfn.exceptions.ClientError) as e:
        sfn.test_state(**request)
    assert code(e) == "AccessDeniedException"
    assert _client(servers[1]).test_state(**request)["status"] == "SUCCEEDED"
    assert sfn.test_state(**{**request, "revealSecrets": False})["status"] == "SUCCEEDED"


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        ({"definition": "{not json"}, "InvalidDefinition"),
        ({"definition": '{"Type": "Teleport"}'}, "InvalidDefinition"),
        ({"definition": "[1]"}, "InvalidDefinition"),
        ({"definition": '{"Type": "Pass", "End": true}', "input": "{oops"},
         "InvalidExecutionInput"),
        ({"definition": '{"Type": "Pass", "End": true}', "variables": "[1"},
         "ValidationException"),
        ({"definition": json.dumps(NESTED), "stateName": "Nowhere"}, "ValidationException"),
        ({"definition": json.dumps(TASK), "mock": {"result": "{}", "errorOutput": {}}},
         "ValidationException"),
        ({"definition": json.dumps(TASK), "mock": {"result": "{bad"}}, "ValidationException"),
        ({"definition": '{"Type": "Pass", "End": true}', "inspectionLevel": "ALL"},
         "ValidationException"),
        ({"definition": '{"Type": "Pass", "End": true}', "roleArn": "not-a-role"}, "InvalidArn"),
        ({}, "ValidationException"),
    ],
)
def test_errors(raw: Any, request_: dict[str, Any], error: str) -> None:
    with pytest.raises(raw.exceptions.ClientError) as e:
        raw.test_state(**request_)
    assert code(e) == error


def test_the_recorded_corpus_is_answered_over_http_as_in_process(raw: Any) -> None:
    """Every recorded TestState case: the HTTP answer passes the comparison with AWS's
    recorded response exactly when the in-process answer does (HTTP loses nothing), and
    every answer is one botocore parses into its output shape."""
    cases = load_cases(corpus_file("teststate.jsonl"))
    assert cases
    differ = []
    passed = 0
    for case in cases:
        request = dict(case.raw["request"])
        if not isinstance(request["definition"], str):
            request["definition"] = json.dumps(request["definition"])
        try:
            answer = raw.test_state(**request)
            answer.pop("ResponseMetadata")
        except raw.exceptions.ClientError as exc:
            answer = {"status": "ERROR", "error": exc.response["Error"]["Code"]}
        over_http = compare_teststate(case, {"id": case.id, **answer}).ok
        in_process = compare_teststate(case, run_teststate(case)).ok
        passed += over_http
        if over_http != in_process:
            differ.append(f"{case.id}: http {over_http}, in process {in_process}: {answer}")
    assert not differ, "\n".join(differ[:10])
    assert passed / len(cases) >= 0.9
