"""AWS Step Functions Local's mock configuration format (engine/testing/mockconfig.py) and
`sfn test`, on a mock file written to the documented shapes (tests/workflow_testing/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from engine.cli import app, executions, testing  # noqa: F401  (register the commands)
from engine.handlers import Registry
from engine.testing.mockconfig import EXHAUSTED, MockConfig, MockConfigError

HERE = Path(__file__).resolve().parent / "workflow_testing"
DEFINITION = HERE / "greeting.asl.json"
MOCKS = HERE / "MockConfigFile.json"
QUEUE_REPLY = {"MD5OfMessageBody": "5f1c0c7d", "MessageId": "0b6b4a9e-7a0e-4c1e-9d1b-2f7d3c1a8e55"}


def queue_registry() -> Registry:
    registry = Registry()
    registry.register("sqs:sendMessage", lambda event, ctx: {"queued": event["MessageBody"]})
    return registry


def test_every_test_case_of_the_documented_shapes() -> None:
    config = MockConfig.load(MOCKS)
    results = {r.test_case: r for r in config.run_all(
        DEFINITION, registry=queue_registry(), expected={"GreeterDown": "FAILED"})}
    assert list(results) == ["Happy", "ThrottledThenAnswers", "GreeterDown", "RealQueue"]
    assert all(r.passed for r in results.values())

    happy = results["Happy"].execution
    happy.assert_succeeded(QUEUE_REPLY).assert_path(["GreetState", "QueueState"])
    # A mocked lambda:invoke Return is the whole response, used as it is (not wrapped again).
    succeeded = happy.events("TaskSucceeded", state="GreetState")[0]
    assert json.loads(succeeded["taskSucceededEventDetails"]["output"]) == {
        "StatusCode": 200, "Payload": {"StatusCode": 200, "body": "Hi there"}}
    assert happy.state_output("GreetState") == {"greeting": "Hi there"}

    throttled = results["ThrottledThenAnswers"].execution
    assert throttled.task_attempts("GreetState") == 3  # "0-1" threw, "2" returned
    assert [e["taskFailedEventDetails"]["error"]
            for e in throttled.events("TaskFailed")] == ["Lambda.TooManyRequestsException"] * 2
    assert throttled.state_output("GreetState") == {"greeting": "Hi, at last"}

    down = results["GreeterDown"].execution
    down.assert_failed("GreetingFailed").assert_path(["GreetState", "GreetFailed"])
    assert down.task_attempts("GreetState") == 4  # 1 + MaxAttempts 3, all from "0" and "1-3"

    # A state the test case does not mock calls its real handler (AWS's hybrid test case).
    results["RealQueue"].execution.assert_succeeded({"queued": "Hi there"})


def test_a_mock_invoked_more_often_than_it_covers_is_an_error() -> None:
    config = MockConfig.parse({
        "StateMachines": {"greeting": {"TestCases": {"Short": {"GreetState": "Once"}}}},
        "MockedResponses": {"Once": {"0": {"Throw": {"Error": "Lambda.ServiceException",
                                                     "Cause": "down"}}}},
    })
    result = config.run(DEFINITION, "Short", registry=queue_registry())
    assert not result.passed
    assert result.problems == [
        "state 'GreetState' was invoked 2 times, but mocked response 'Once' covers 1"]
    assert result.execution.events("TaskFailed")[1]["taskFailedEventDetails"]["error"] == EXHAUSTED


def test_a_mocked_state_missing_from_the_definition_is_an_error() -> None:
    config = MockConfig.parse({
        "StateMachines": {"greeting": {"TestCases": {"Typo": {
            "GreetState": "Hi", "QueueStat": "Hi"}}}},
        "MockedResponses": {"Hi": {"0": {"Return": {"Payload": {"body": "x"}}}}},
    })
    result = config.run(DEFINITION, "Typo", registry=queue_registry())
    assert result.problems == [
        "test case 'Typo' mocks 'QueueStat', which is not a Task state of the definition"]
    assert not result.passed


@pytest.mark.parametrize(("responses", "message"), [
    ({"R": {"0": {"Return": 1}, "2": {"Return": 2}}},
     "/MockedResponses/R: invocation numbers must be consecutive from 0: expected 1, found 2"),
    ({"R": {"1": {"Return": 1}}},
     "/MockedResponses/R: invocation numbers must be consecutive from 0: expected 0, found 1"),
    ({"R": {"0": {"Return": 1, "Throw": {"Error": "E"}}}},
     "/MockedResponses/R/0: must hold exactly one of \"Return\" and \"Throw\""),
    ({"R": {"first": {"Return": 1}}},
     "/MockedResponses/R/first: the key must be an invocation number"),
    ({"R": {"0-2": {"Return": 1}, "2": {"Return": 1}}},
     "/MockedResponses/R: invocation numbers must be consecutive from 0: expected 3, found 2"),
    ({"R": {"0": {"Throw": {"Cause": "no error"}}}},
     "/MockedResponses/R/0/Throw: must be an object with an \"Error\" string"),
])
def test_malformed_mocked_responses_name_their_location(
    responses: dict[str, Any], message: str
) -> None:
    with pytest.raises(MockConfigError) as caught:
        MockConfig.parse({"StateMachines": {}, "MockedResponses": responses}, source="m.json")
    assert f"m.json: {message}" in str(caught.value)


def test_a_test_case_naming_an_unknown_mocked_response() -> None:
    with pytest.raises(MockConfigError, match=r"/StateMachines/sm/TestCases/T/S: no mocked "
                                              r"response named 'Nope'"):
        MockConfig.parse({"StateMachines": {"sm": {"TestCases": {"T": {"S": "Nope"}}}},
                          "MockedResponses": {}})


# --- sfn test -------------------------------------------------------------------------------

runner = CliRunner()


def sfn_test(*args: str) -> Any:
    return runner.invoke(app, ["test", str(DEFINITION), "--mock-config", str(MOCKS), *args])


def test_sfn_test_prints_a_table_and_fails_on_a_failed_case() -> None:
    result = sfn_test("--expect", "GreeterDown=FAILED")
    # RealQueue needs a handler for its unmocked state; none is registered here: it fails.
    assert result.exit_code == 1
    for case in ("Happy", "ThrottledThenAnswers", "GreeterDown", "RealQueue"):
        assert case in result.stdout
    assert "3 passed, 1 failed" in result.stdout


def test_sfn_test_with_handlers_for_the_unmocked_states_passes(tmp_path: Path) -> None:
    coverage = tmp_path / "coverage.json"
    result = sfn_test("--expect", "GreeterDown=FAILED", "--handlers",
                      "tests.workflow_testing.handlers", "--json", "--coverage",
                      "--coverage-file", str(coverage))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["passed"], report["failed"]) == (4, 0)
    real = next(c for c in report["testCases"] if c["testCase"] == "RealQueue")
    assert real["output"] == {"MessageId": "local-0", "MD5OfMessageBody": "Hi there"}
    written = json.loads(coverage.read_text())["stateMachines"]["greeting"]
    assert written["catchers"] == {"GreetState": [1]}
    assert written["states"] == {"GreetState": 4, "QueueState": 3, "GreetFailed": 1}


def test_sfn_test_one_test_case_and_an_input() -> None:
    result = sfn_test("--test-case", "Happy", "--input", '{"who": "me"}', "--json")
    assert result.exit_code == 0, result.output
    cases = json.loads(result.stdout)["testCases"]
    assert [c["testCase"] for c in cases] == ["Happy"]


def test_sfn_test_reports_a_bad_mock_file_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "MockConfigFile.json"
    bad.write_text(json.dumps({"StateMachines": {"greeting": {"TestCases": {}}},
                               "MockedResponses": {"R": {"1": {"Return": 1}}}}))
    result = runner.invoke(app, ["test", str(DEFINITION), "--mock-config", str(bad)])
    assert result.exit_code == 1
    assert "consecutive from 0" in result.output
