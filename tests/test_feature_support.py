"""`sfn validate` and ValidateStateMachineDefinition warn, with its location, about every
feature `sfn create` refuses (UnsupportedFeature): the two never disagree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from engine import feature_support
from engine.api import actions, protocol
from engine.cli import app, executions  # noqa: F401  (registers the commands)
from engine.errors import UnsupportedFeature
from engine.feature_support import unsupported_warnings
from engine.handlers import Registry
from engine.runtime.inline import InlineRunner

LAMBDA = "arn:aws:lambda:us-east-1:000000000000:function:F"
ACTIVITY = "arn:aws:states:us-east-1:000000000000:activity:a"
# What `sfn create` refuses: `.sync` on an AWS job the engine cannot poll. The engine now
# polls every `.sync` AWS accepts (tests/integrations/test_resource_jobs.py), so the tests
# below take two of them out of its table (`unpolled`) to check the refusal's contract,
# here inside a Parallel branch and a Distributed Map. Beside them, what it accepts: a
# callback, an ItemReader, an activity.
DEFINITION = json.dumps({"StartAt": "Fan", "States": {
    "Fan": {"Type": "Parallel", "Next": "Each", "Branches": [
        {"StartAt": "a: b", "States": {"a: b": {
            "Type": "Task", "Resource": "arn:aws:states:::eks:runJob.sync",
            "Parameters": {"JobName": "j", "JobQueue": "q", "JobDefinition": "d"},
            "Next": "Ask"},
            "Ask": {
                "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": "q", "MessageBody": {"t.$": "$$.Task.Token"}},
                "End": True}}},
    ]},
    "Each": {"Type": "Map", "End": True,
             "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                            "ReaderConfig": {"InputType": "JSON"},
                            "Parameters": {"Bucket": "b", "Key": "k"}},
             "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED",
                                                   "ExecutionType": "STANDARD"},
                               "StartAt": "Act", "States": {
                                   "Act": {"Type": "Task", "Resource": ACTIVITY,
                                           "Next": "Run"},
                                   "Run": {"Type": "Task", "End": True,
                                           "Resource": "arn:aws:states:::eks:createCluster.sync",
                                           "Parameters": {"TaskDefinition": "t"}}}}},
}})
EXPECTED = {
    "/States/Fan/Branches/0/States/a: b/Resource",
    "/States/Each/ItemProcessor/States/Run/Resource",
}


@pytest.fixture(autouse=True)
def unpolled(monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine that could not poll `eks:runJob.sync` and `eks:createCluster.sync`."""
    monkeypatch.setattr(feature_support, "SYNC_JOBS", feature_support.SYNC_JOBS - {
        ("eks", "runJob"), ("eks", "createCluster")})


def test_nothing_is_refused_with_the_engine_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()
    assert unsupported_warnings(DEFINITION) == []
    InlineRunner(Registry()).create_state_machine("M", DEFINITION)


def refused_locations() -> set[str]:
    """Where CreateStateMachine's UnsupportedFeature says the problems are."""
    runner = InlineRunner(Registry())
    with pytest.raises(UnsupportedFeature) as excinfo:
        runner.create_state_machine("M", DEFINITION)
    parts = excinfo.value.message.removeprefix("Not supported by this engine yet: ").split("; ")
    found = {location for location in EXPECTED for part in parts
             if part.startswith(location + ": ")}
    assert len(parts) == len(found)  # each refusal at one of the expected locations
    return found


def test_every_refused_feature_is_a_warning_with_its_location() -> None:
    warnings = unsupported_warnings(DEFINITION)
    assert {w.location for w in warnings} == EXPECTED == refused_locations()
    assert all(w.severity == "WARNING" and w.code == "UNSUPPORTED_FEATURE" for w in warnings)
    assert all(".sync" in w.message for w in warnings)
    # Nothing refused, nothing warned.
    plain = json.dumps({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA,
                                                          "End": True}}})
    assert unsupported_warnings(plain) == []
    assert unsupported_warnings("{not json") == []


def test_the_api_reports_them_as_warnings() -> None:
    ctx = actions.Context(client=InlineRunner(Registry()).client)
    request = protocol.Request("ValidateStateMachineDefinition",
                               {"definition": DEFINITION, "severity": "WARNING"})
    answer = actions.dispatch(ctx, request)
    assert answer["result"] == "OK"
    found = {d["location"] for d in answer["diagnostics"] if d["code"] == "UNSUPPORTED_FEATURE"}
    assert found == EXPECTED
    errors_only = actions.dispatch(ctx, protocol.Request(
        "ValidateStateMachineDefinition", {"definition": DEFINITION}))
    assert errors_only["diagnostics"] == [] and errors_only["result"] == "OK"


def test_sfn_validate_prints_them(tmp_path: Path) -> None:
    path = tmp_path / "m.asl.json"
    path.write_text(DEFINITION)
    result: Any = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    for location in EXPECTED:
        assert f"{path}:{location}: WARNING UNSUPPORTED_FEATURE" in result.stderr
    as_json = json.loads(CliRunner().invoke(app, ["validate", str(path), "--json"]).stdout)
    assert {d["location"] for d in as_json["diagnostics"]} == EXPECTED
