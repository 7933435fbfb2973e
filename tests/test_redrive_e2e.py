"""RedriveExecution end to end: boto3 against the API server, real Celery workers on a real
Redis, and the worker SIGKILLed inside the redriven branch's Task. Only the failed branch
of the Parallel runs again; the kill loses nothing and repeats no transition."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest
import redis
from typer.testing import CliRunner

from engine.cli import app, executions  # noqa: F401  (registers `sfn redrive`)
from engine.embedded import RedisServer
from tests.api_stack import api_server, sfn_client
from tests.conftest import Worker

pytestmark = [pytest.mark.redis, pytest.mark.worker]

ROLE = "arn:aws:iam::000000000000:role/StatesExecutionRole"
STEP = "arn:aws:lambda:us-east-1:000000000000:function:RedriveStepLambda"


def step(branch: Any, **extra: Any) -> dict[str, Any]:
    return {
        "Type": "Task", "Resource": STEP,
        "Parameters": {"branch": branch, "redrives.$": "$$.Execution.RedriveCount"},
        **extra,
    }


DEFINITION = json.dumps({
    "StartAt": "Fan",
    "States": {
        "Fan": {
            "Type": "Parallel", "Next": "Final",
            "Branches": [
                {"StartAt": "B0", "States": {"B0": step(0, End=True)}},
                # Branch 1 waits first, so that its siblings have finished when it fails
                # (a sibling still running is aborted, and redriven too).
                {"StartAt": "Hold", "States": {
                    "Hold": {"Type": "Wait", "Seconds": 1, "Next": "B1"},
                    "B1": step(1, End=True),
                }},
                {"StartAt": "B2", "States": {"B2": step(2, End=True)}},
            ],
        },
        "Final": step("final", End=True),
    },
})


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Any, redis.Redis, Worker, str]]:
    path = tmp_path_factory.mktemp("redrive")
    server = RedisServer(path / "redis")
    server.start()
    worker = Worker(
        server.url, concurrency=1, log_path=path / "worker.log",
        env={"SFN_LEASE_SECONDS": "2", "SFN_REDELIVER_SECONDS": "2",
             "SFN_HANDLER_MODULES": "workflows.order_processing,tests.redrive_handlers"},
    )
    try:
        worker.start()
        with api_server(server.url) as running:
            yield sfn_client(running.url), redis.Redis.from_url(
                server.url, decode_responses=True
            ), worker, server.url
    finally:
        worker.stop()
        server.stop()


def wait_for(sfn: Any, arn: str, status: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if described["status"] == status:
            return described
        assert described["status"] == "RUNNING", described
        assert time.monotonic() < deadline, described
        time.sleep(0.1)


def code(excinfo: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def test_a_redriven_parallel_reruns_its_failed_branch_through_a_worker_kill(
    stack: tuple[Any, redis.Redis, Worker, str],
) -> None:
    sfn, r, _, _ = stack
    machine = sfn.create_state_machine(
        name="Fan", definition=DEFINITION, roleArn=ROLE
    )["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, name="order-1")["executionArn"]
    r.set(f"test:redrive:mode:{arn}:1", "fail")  # before the Wait in front of B1 ends
    failed = wait_for(sfn, arn, "FAILED")
    assert failed["error"] == "PartnerApiDown"
    assert (failed["redriveCount"], failed["redriveStatus"]) == (0, "REDRIVABLE")
    assert "redriveStatusReason" not in failed and "redriveDate" not in failed
    listed = sfn.list_executions(stateMachineArn=machine, redriveFilter="NOT_REDRIVEN")
    assert [e["executionArn"] for e in listed["executions"]] == [arn]
    assert sfn.list_executions(stateMachineArn=machine, redriveFilter="REDRIVEN")[
        "executions"] == []
    before = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]

    # Redrive; the worker process dies inside B1's Task the first time it runs again.
    r.set(f"test:redrive:mode:{arn}:1", "kill-once")
    answer = sfn.redrive_execution(executionArn=arn, clientToken="redrive-order-1")
    # The same token answers the same redrive (AWS: for 15 minutes), and redrives nothing.
    again = sfn.redrive_execution(executionArn=arn, clientToken="redrive-order-1")
    assert again["redriveDate"] == answer["redriveDate"]
    done = wait_for(sfn, arn, "SUCCEEDED", timeout=90)
    assert r.get(f"test:redrive:killed:{arn}") == "1"  # the kill did happen

    assert done["redriveCount"] == 1 and done["redriveDate"] == answer["redriveDate"]
    assert done["redriveStatus"] == "NOT_REDRIVABLE"
    assert done["redriveStatusReason"] == "Execution is SUCCEEDED and cannot be redriven"
    assert json.loads(done["output"]) == {"branch": "final", "redrives": 1}
    calls = [c.rsplit("|", 1)[0] for c in r.lrange(f"test:redrive:calls:{arn}", 0, -1)]
    # B0 and B2 ran once, before the redrive; B1 failed, then was killed and ran again.
    assert Counter(calls) == Counter(
        ["0|0", "2|0", "1|0", "1|1", "1|1", "final|1"]
    ), calls
    history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    assert history[: len(before)] == before
    assert [e["id"] for e in history] == list(range(1, len(history) + 1))
    redriven = history[len(before)]
    assert redriven["type"] == "ExecutionRedriven"
    assert redriven["executionRedrivenEventDetails"] == {"redriveCount": 1}
    counts = Counter(e["type"] for e in history[len(before) + 1:])
    # After the redrive: B1 entered once, started once (the killed attempt's claim logged
    # it; the re-sent message is the same attempt), succeeded once; then Final.
    assert counts["TaskStateEntered"] == 2, counts
    assert counts["LambdaFunctionStarted"] == 2, counts
    assert counts["LambdaFunctionSucceeded"] == 2, counts
    assert counts["ParallelStateEntered"] == 0 and counts["WaitStateEntered"] == 0
    assert counts["ParallelStateSucceeded"] == 1 and counts["ExecutionSucceeded"] == 1
    assert "LambdaFunctionFailed" not in counts

    listed = sfn.list_executions(stateMachineArn=machine, redriveFilter="REDRIVEN")
    assert [(e["executionArn"], e["redriveCount"]) for e in listed["executions"]] == [(arn, 1)]
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        sfn.redrive_execution(executionArn=arn)
    assert code(refused) == "ExecutionNotRedrivable"
    assert "Execution is SUCCEEDED and cannot be redriven" in str(refused.value)


def test_redrive_errors_and_an_aborted_execution(
    stack: tuple[Any, redis.Redis, Worker, str],
) -> None:
    sfn, _, _, _ = stack
    machine = sfn.create_state_machine(name="Slow", roleArn=ROLE, definition=json.dumps({
        "StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": 30, "Next": "S"},
            "S": step("slow", End=True),
        },
    }))["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, name="slow-1")["executionArn"]
    with pytest.raises(botocore.exceptions.ClientError) as running:
        sfn.redrive_execution(executionArn=arn)
    assert code(running) == "ExecutionNotRedrivable"
    assert "Execution is RUNNING and cannot be redriven" in str(running.value)
    with pytest.raises(botocore.exceptions.ClientError) as missing:
        sfn.redrive_execution(executionArn=arn.replace("slow-1", "nope"))
    assert code(missing) == "ExecutionDoesNotExist"
    sfn.stop_execution(executionArn=arn, error="Operator", cause="stopped by hand")
    aborted = sfn.describe_execution(executionArn=arn)
    assert (aborted["status"], aborted["redriveStatus"]) == ("ABORTED", "REDRIVABLE")
    sfn.redrive_execution(executionArn=arn)
    running_again = sfn.describe_execution(executionArn=arn)
    assert running_again["status"] == "RUNNING" and running_again["redriveCount"] == 1
    assert "stopDate" not in running_again and "error" not in running_again
    # The Wait it was in when stopped is entered again (from the redrive on), once the
    # worker has taken the message.
    deadline = time.monotonic() + 30
    while True:
        last = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=2)
        types = [e["type"] for e in last["events"]]
        if types[0] != "ExecutionRedriven":
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert types == ["WaitStateEntered", "ExecutionRedriven"]


def test_sfn_redrive(stack: tuple[Any, redis.Redis, Worker, str]) -> None:
    sfn, _, _, url = stack
    machine = sfn.create_state_machine(name="Held", roleArn=ROLE, definition=json.dumps({
        "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}},
    }))["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, name="held-1")["executionArn"]
    cli, env = CliRunner(), {"REDIS_URL": url}
    assert cli.invoke(app, ["stop", arn], env=env).exit_code == 0
    redriven = cli.invoke(app, ["redrive", arn, "--client-token", "cli-1"], env=env)
    assert redriven.exit_code == 0, redriven.output
    assert redriven.output.strip() == f"RUNNING {arn} (redrive 1)"
    repeated = cli.invoke(app, ["redrive", arn, "--client-token", "cli-1"], env=env)
    assert repeated.output.strip() == f"RUNNING {arn} (redrive 1)"  # the same redrive
    refused = cli.invoke(app, ["redrive", arn], env=env)
    assert refused.exit_code != 0
    assert "Execution is RUNNING and cannot be redriven" in refused.output
    described = cli.invoke(app, ["describe", arn, "--json"], env=env)
    assert json.loads(described.output)["redriveCount"] == 1
    sfn.stop_execution(executionArn=arn)
