"""`.sync` job integrations against the AWS API emulator (moto server): the job is started
once, then polled on durable `job_poll` timers until it ends; the history is AWS's
(TaskScheduled, TaskStarted, TaskSubmitted, TaskSucceeded); a failed job fails the state
with States.TaskFailed; a registered handler replaces the whole cycle."""

from __future__ import annotations

import json
from typing import Any

from engine.asl.resources import parse_resource
from engine.handlers import Invocation, Registry, TaskContext
from engine.integrations import Integrations, IntegrationSettings, jobs
from engine.runtime.inline import InlineRunner
from tests.integrations.conftest import AwsEmulator

ATHENA = "arn:aws:states:::athena:startQueryExecution.sync"
GLUE = "arn:aws:states:::glue:startJobRun.sync"


def run(resource: str, parameters: dict[str, Any], registry: Registry | None = None,
        ) -> tuple[Any, list[dict[str, Any]], InlineRunner]:
    registry = registry or Registry()
    runner = InlineRunner(registry, integrations=Integrations(
        registry, IntegrationSettings(aws=True, job_poll_seconds=7)))
    runner.create_state_machine("M", {"StartAt": "Job", "States": {"Job": {
        "Type": "Task", "Resource": resource, "Parameters": parameters, "End": True}}})
    record = runner.run("M", input={})
    return record, runner.client.get_history(record.eid), runner


def test_athena_query_sync_polls_until_it_succeeds(aws_env: AwsEmulator) -> None:
    record, history, _ = run(ATHENA, {
        "QueryString": "SELECT 1", "WorkGroup": "primary",
        "ResultConfiguration": {"OutputLocation": "s3://results/"}})
    assert record.status == "SUCCEEDED", record.cause
    out = json.loads(record.output)
    assert out["QueryExecution"]["Status"]["State"] == "SUCCEEDED"
    assert out["QueryExecution"]["Query"] == "SELECT 1"
    types = [e["type"] for e in history]
    assert types == ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted",
                     "TaskSubmitted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]
    submitted = history[4]["taskSubmittedEventDetails"]
    assert (submitted["resourceType"], submitted["resource"]) == (
        "athena", "startQueryExecution.sync")
    assert "QueryExecutionId" in json.loads(submitted["output"])
    # The poll waited on a durable timer of job_poll_seconds (virtual time here).
    assert _seconds(history[5]) - _seconds(history[4]) >= 7


def test_glue_job_run_sync(aws_env: AwsEmulator) -> None:
    glue: Any = aws_env.client("glue")
    glue.create_job(Name="nightly", Role="arn:aws:iam::123456789012:role/glue",
                    Command={"Name": "glueetl", "ScriptLocation": "s3://scripts/job.py"})
    record, history, _ = run(GLUE, {"JobName": "nightly"})
    assert record.status == "SUCCEEDED", record.cause
    out = json.loads(record.output)
    assert out["JobName"] == "nightly" and out["JobRunState"] == "SUCCEEDED"


def test_a_failed_job_fails_the_state_with_its_description(aws_env: AwsEmulator) -> None:
    ref = parse_resource(ATHENA)
    assert ref is not None

    class Caller(NoModel):
        def raw(self, service: str, op: str, params: dict[str, Any], svc: str) -> Any:
            return {"QueryExecution": {"Status": {"State": "FAILED", "StateChangeReason": "x"}}}

    outcome = jobs.run_job(Caller(), ref, {"job": {"QueryExecutionId": "q"}},  # type: ignore[arg-type]
                           _context(), 5.0)
    assert outcome is not None and not outcome.ok
    assert outcome.error == "States.TaskFailed"
    assert json.loads(outcome.cause or "")["QueryExecution"]["Status"]["State"] == "FAILED"


def test_a_running_job_is_polled_again() -> None:
    ref = parse_resource(ATHENA)
    assert ref is not None

    class Caller(NoModel):
        def raw(self, service: str, op: str, params: dict[str, Any], svc: str) -> Any:
            assert (op, params) == ("GetQueryExecution", {"QueryExecutionId": "q"})
            return {"QueryExecution": {"Status": {"State": "RUNNING"}}}

    outcome = jobs.run_job(Caller(), ref, {"job": {"QueryExecutionId": "q"}},  # type: ignore[arg-type]
                           _context(), 5.0)
    assert outcome == Invocation(True, job={"QueryExecutionId": "q"}, poll_seconds=5.0)


def test_the_start_carries_an_idempotency_token_stable_per_attempt() -> None:
    ref = parse_resource(ATHENA)
    assert ref is not None
    tokens: list[str] = []

    class Caller(NoModel):
        def raw(self, service: str, op: str, params: dict[str, Any], svc: str) -> Any:
            tokens.append(params["ClientRequestToken"])
            return {"QueryExecutionId": "q", "ResponseMetadata": {}}

    for _ in range(2):  # a worker killed after the call: the message runs again
        jobs.run_job(Caller(), ref, {"parameters": {"QueryString": "SELECT 1"}},  # type: ignore[arg-type]
                     _context(), 5.0)
    assert tokens[0] == tokens[1] and len(tokens[0]) == 32


def test_a_registered_handler_replaces_the_whole_cycle() -> None:
    registry = Registry()
    registry.register("athena:startQueryExecution",
                      lambda event, ctx: {"QueryExecution": {"Status": {"State": "SUCCEEDED"}}})
    record, history, _ = run(ATHENA, {"QueryString": "SELECT 1"}, registry)
    assert record.status == "SUCCEEDED"
    assert "TaskSubmitted" not in [e["type"] for e in history]


class NoModel:
    """A caller without botocore's models (requests and answers pass as written)."""

    def input_shape(self, service: str, operation: str) -> Any:
        return None

    def output_shape(self, service: str, operation: str) -> Any:
        return None


def _context() -> TaskContext:
    return TaskContext("f", "arn:aws:states:us-east-1:1:execution:M:e", "Job", 0, "arn/r/Job/0")


def _seconds(event: dict[str, Any]) -> float:
    from datetime import datetime

    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()
