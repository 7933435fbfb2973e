"""Replay (engine/testing/replay.py, `sfn export` / `sfn replay`) of executions recorded on
real Celery workers over a real redis-server, against their own definition and a changed one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import redis
from typer.testing import CliRunner

from engine import arns
from engine.cli import app, executions, testing  # noqa: F401  (register the commands)
from engine.client import Client
from engine.connect import connect
from engine.settings import Settings
from engine.testing.replay import NO_RECORDED_RESULT, export_execution, replay

pytestmark = [pytest.mark.redis, pytest.mark.worker]

ORDER = json.loads(Path("workflows/order_processing.asl.json").read_text())


def recorded_definition() -> dict[str, Any]:
    """The order workflow with a flaky e-mail step (retried), and a Pass state that draws a
    States.UUID (a random value the replay must reproduce)."""
    definition = json.loads(json.dumps(ORDER))
    send = definition["States"]["SendEmail"]
    send["Resource"] = send["Resource"].replace("SendEmailLambda", "FlakySendEmailLambda")
    send["Retry"][0].update(IntervalSeconds=1, MaxAttempts=3, BackoffRate=1.0)
    send.pop("End")
    send["Next"] = "Stamp"
    definition["States"]["Stamp"] = {
        "Type": "Pass", "Parameters": {"email.$": "$", "receipt.$": "States.UUID()"},
        "End": True}
    return definition


@pytest.fixture
def client(worker: Any, redis_url: str) -> Client:
    return connect(Settings(redis_url=redis_url))


@pytest.fixture
def recording(client: Client, redis_url: str, unique: str) -> dict[str, Any]:
    machine = f"Replayed{unique}"
    client.create_state_machine(machine, recorded_definition())
    arn = arns.execution_arn(client.region, client.account, machine, "order-1")
    redis.Redis.from_url(redis_url).set(f"test:failures:{arn}", 2)
    client.start_execution(machine, {"orderId": "1"}, name="order-1")
    done = client.wait(arn, timeout=60)
    assert done.status == "SUCCEEDED"
    return export_execution(client, arn)


def test_replay_of_a_worker_recording_is_the_same(recording: dict[str, Any]) -> None:
    types = [e["type"] for e in recording["history"]]
    assert types.count("LambdaFunctionFailed") == 2  # recorded: two failures, then success
    report = replay(recording).assert_same()
    assert report.same_outcome
    output = report.execution.output
    assert output == json.loads(recording["output"])  # the same States.UUID included
    assert report.execution.history[-1]["type"] == "ExecutionSucceeded"


def test_replay_detects_an_incompatible_definition_change(recording: dict[str, Any]) -> None:
    changed = recorded_definition()
    changed["States"]["SendEmail"]["Retry"][0]["MaxAttempts"] = 1  # one retry, not three
    report = replay(recording, definition=changed)
    assert not report.same and not report.same_outcome
    assert report.execution.status == "FAILED" and report.execution.error == "EmailServiceDown"
    d = report.divergence
    assert d is not None and d.state == "SendEmail"
    assert d.expected is not None and d.actual is not None
    assert (d.expected["type"], d.actual["type"]) == ("LambdaFunctionScheduled",
                                                      "ExecutionFailed")
    text = report.describe()
    assert "DIVERGED" in text and f"first diverging event: event {d.index + 1} " \
        "(in state SendEmail)" in text


def test_replay_a_renamed_state_has_no_recorded_result(recording: dict[str, Any]) -> None:
    changed = recorded_definition()
    changed["States"]["ProcessOrder"]["Next"] = "Validate"
    changed["States"]["Validate"] = {"Type": "Task", "Resource": changed["States"][
        "ProcessOrder"]["Resource"], "Next": "SendEmail"}
    report = replay(recording, definition=changed)
    assert report.execution.error == NO_RECORDED_RESULT
    assert report.divergence is not None and report.divergence.actual is not None
    assert report.divergence.actual["stateEnteredEventDetails"]["name"] == "Validate"


def test_sfn_export_and_sfn_replay(client: Client, recording: dict[str, Any], redis_url: str,
                                   tmp_path: Path) -> None:
    runner = CliRunner()
    exported = runner.invoke(app, ["export", recording["executionArn"]],
                             env={"REDIS_URL": redis_url})
    assert exported.exit_code == 0, exported.output
    saved = tmp_path / "execution.json"
    saved.write_text(exported.stdout)
    assert json.loads(exported.stdout)["history"] == recording["history"]

    same = runner.invoke(app, ["replay", str(saved)])
    assert same.exit_code == 0, same.output
    assert "SAME history and outcome" in same.stdout

    changed = recorded_definition()
    changed["States"]["SendEmail"]["Retry"][0]["MaxAttempts"] = 1
    new = tmp_path / "new.asl.json"
    new.write_text(json.dumps(changed))
    diverged = runner.invoke(app, ["replay", str(saved), "--definition", str(new), "--json"])
    assert diverged.exit_code == 1
    report = json.loads(diverged.stdout)
    assert report["same"] is False and report["divergence"]["state"] == "SendEmail"
    assert report["divergence"]["actual"]["type"] == "ExecutionFailed"
