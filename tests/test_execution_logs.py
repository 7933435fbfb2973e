"""Execution log records (engine/execution_logs.py): their shape and levels, pure; then a
real redis-server and a real Celery worker writing them to the file SFN_EXECUTION_LOG
names, checked against GetExecutionHistory through boto3 and `sfn serve`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine import execution_logs
from engine.api import server
from engine.connect import connect
from engine.embedded import RedisServer
from engine.settings import Settings
from tests.conftest import Worker

boto3 = pytest.importorskip("boto3")
from botocore.config import Config  # noqa: E402

ARN = "arn:aws:states:us-east-1:000000000000:execution:M:e"
ROLE = "arn:aws:iam::000000000000:role/StepFunctionsRole"
GROUP = "arn:aws:logs:us-east-1:000000000000:log-group:orders:*"
LAMBDA = "arn:aws:lambda:us-east-1:000000000000:function:EchoLambda"
FAILING = json.dumps({"StartAt": "Echo", "States": {
    "Echo": {"Type": "Task", "Resource": LAMBDA, "Next": "No"},
    "No": {"Type": "Fail", "Error": "Nope", "Cause": "said no"},
}})
STARTED = {"type": "ExecutionStarted", "timestamp": "2024-06-01T12:00:00.123Z",
           "executionStartedEventDetails": {"input": '{"a":1}', "inputDetails": {
               "truncated": False}, "roleArn": ROLE}}


def test_a_record_has_aws_shape() -> None:
    record = execution_logs.log_record(ARN, STARTED, 1, include_data=True)
    assert record == {
        "id": "1", "type": "ExecutionStarted",
        "details": {"input": '{"a":1}', "inputDetails": {"truncated": False}, "roleArn": ROLE},
        "previous_event_id": "0", "event_timestamp": "1717243200123", "execution_arn": ARN,
    }
    bare = execution_logs.log_record(ARN, STARTED, 1, include_data=False)
    assert bare["details"] == {"roleArn": ROLE}
    big = dict(STARTED, executionStartedEventDetails={"input": json.dumps("x" * 300_000)})
    cut = execution_logs.log_record(ARN, big, 1, include_data=True)["details"]
    assert cut["inputDetails"] == {"truncated": True}
    assert len(cut["input"]) == execution_logs.MAX_PAYLOAD


def test_levels() -> None:
    kinds = ["ExecutionStarted", "TaskStateEntered", "TaskFailed", "FailStateEntered",
             "ParallelStateAborted", "TaskTimedOut", "ExecutionFailed", "ExecutionAborted"]
    assert [k for k in kinds if execution_logs.wanted("ALL", k)] == kinds
    assert [k for k in kinds if execution_logs.wanted("ERROR", k)] == kinds[2:]
    assert [k for k in kinds if execution_logs.wanted("FATAL", k)] == kinds[-2:]
    assert not any(execution_logs.wanted("OFF", k) for k in kinds)
    assert execution_logs.config_text({"level": "OFF"}) is None
    assert execution_logs.config_text(None) is None


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    root = tmp_path_factory.mktemp("execution-logs")
    log = root / "executions.jsonl"
    redis_server = RedisServer(root / "redis").start()
    worker = Worker(redis_server.url, env={execution_logs.ENV: str(log)}, concurrency=2,
                    log_path=root / "worker.log").start()
    # The API process writes the records of what it commits (ExecutionStarted, a stop).
    patch = pytest.MonkeyPatch()
    patch.setenv(execution_logs.ENV, str(log))
    running = server.start_background(server.build_app(connect(Settings(
        redis_url=redis_server.url))))
    sfn = boto3.client(
        "stepfunctions", endpoint_url=running.url, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, inject_host_prefix=False),
    )
    try:
        yield sfn, log
    finally:
        running.stop()
        patch.undo()
        worker.stop()
        redis_server.stop()


def run(sfn: Any, name: str, level: str, include: bool) -> tuple[str, list[dict[str, Any]]]:
    logging: dict[str, Any] = {"level": level, "includeExecutionData": include}
    if level != "OFF":
        logging["destinations"] = [{"cloudWatchLogsLogGroup": {"logGroupArn": GROUP}}]
    machine = sfn.create_state_machine(name=name, definition=FAILING, roleArn=ROLE,
                                       loggingConfiguration=logging)["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, input='{"order": 7}')["executionArn"]
    deadline = time.monotonic() + 60
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return arn, sfn.get_execution_history(executionArn=arn)["events"]


def records(log: Path, arn: str, expected: int) -> list[dict[str, Any]]:
    """The records of one execution, once `expected` of them are there (written after
    each commit: the last may follow the execution's end by a moment)."""
    deadline = time.monotonic() + 10
    while True:
        found = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        mine = [r for r in found if r["execution_arn"] == arn]
        if len(mine) >= expected or time.monotonic() > deadline:
            return sorted(mine, key=lambda r: int(r["id"]))


@pytest.mark.redis
@pytest.mark.worker
def test_all_logs_every_event_as_the_history_numbers_it(world: tuple[Any, Path]) -> None:
    sfn, log = world
    arn, history = run(sfn, "LogAll", "ALL", True)
    logged = records(log, arn, len(history))
    assert [(int(r["id"]), r["type"]) for r in logged] == [(e["id"], e["type"]) for e in history]
    assert all(int(r["previous_event_id"]) == int(r["id"]) - 1 for r in logged)
    for r, e in zip(logged, history, strict=True):
        assert int(r["event_timestamp"]) == round(e["timestamp"].timestamp() * 1000)
    started = logged[0]["details"]
    assert json.loads(started["input"]) == {"order": 7} and started["roleArn"] == ROLE
    assert logged[-1]["details"] == {"error": "Nope", "cause": "said no"}
    types = [r["type"] for r in logged]
    assert "TaskStarted" in types or "LambdaFunctionStarted" in types  # the claim's event


@pytest.mark.redis
@pytest.mark.worker
def test_levels_and_execution_data_on_real_workers(world: tuple[Any, Path]) -> None:
    sfn, log = world
    arn, history = run(sfn, "LogError", "ERROR", False)
    assert [r["type"] for r in records(log, arn, 2)] == ["FailStateEntered", "ExecutionFailed"]
    assert all("input" not in r["details"] for r in records(log, arn, 2))
    arn, _ = run(sfn, "LogFatal", "FATAL", True)
    assert [r["type"] for r in records(log, arn, 1)] == ["ExecutionFailed"]
    arn, _ = run(sfn, "LogOff", "OFF", True)
    time.sleep(0.5)
    assert records(log, arn, 0) == []
    arn, history = run(sfn, "LogAllBare", "ALL", False)
    logged = records(log, arn, len(history))
    assert len(logged) == len(history)
    assert all("input" not in r["details"] and "output" not in r["details"] for r in logged)
