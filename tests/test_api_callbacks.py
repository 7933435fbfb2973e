"""SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat through boto3 (unchanged, against
`sfn serve`'s application) and through the `sfn task` command, on a real redis-server with
a real Celery worker: the human-approval pattern answered from outside."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from typer.testing import CliRunner

from engine.api import server
from engine.cli import app, tasks  # noqa: F401  (registers `sfn task`)
from engine.connect import connect
from engine.settings import Settings
from tests.test_e2e_callbacks import approval, token_of

boto3 = pytest.importorskip("boto3")
from botocore.config import Config  # noqa: E402

pytestmark = [pytest.mark.redis, pytest.mark.worker]
ROLE = "arn:aws:iam::000000000000:role/StepFunctionsRole"


@pytest.fixture(scope="module")
def sfn(worker: Any, redis_server: Any) -> Iterator[Any]:
    client = connect(Settings(redis_url=redis_server.url))
    running = server.start_background(server.build_app(client))
    yield boto3.client(
        "stepfunctions", endpoint_url=running.url, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )
    running.stop()


def wait_done(sfn: Any, arn: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        assert time.monotonic() < deadline, f"{arn} still RUNNING"
        time.sleep(0.1)


def start(sfn: Any, name: str, definition: str, input: str = "{}") -> str:
    arn = sfn.create_state_machine(name=name, definition=definition, roleArn=ROLE)
    return str(sfn.start_execution(stateMachineArn=arn["stateMachineArn"], input=input)
               ["executionArn"])


def test_boto3_answers_a_callback_and_gets_aws_errors_for_bad_answers(
    sfn: Any, redis_client: redis.Redis, unique: str
) -> None:
    x = sfn.exceptions
    arn = start(sfn, f"Cb{unique}", approval(HeartbeatSeconds=60))
    token = token_of(redis_client, arn)
    sfn.send_task_heartbeat(taskToken=token)
    with pytest.raises(x.InvalidOutput):
        sfn.send_task_success(taskToken=token, output="{not json")
    with pytest.raises(x.InvalidToken):
        sfn.send_task_success(taskToken="not a token", output="{}")
    with pytest.raises(x.TaskDoesNotExist):
        sfn.send_task_success(taskToken="AAAA" * 10, output="{}")
    assert sfn.send_task_success(taskToken=token, output='{"approved": true}')[
        "ResponseMetadata"]["HTTPStatusCode"] == 200
    done = wait_done(sfn, arn)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"])["decision"] == {"approved": True}
    for again in (lambda: sfn.send_task_success(taskToken=token, output="{}"),
                  lambda: sfn.send_task_failure(taskToken=token, error="E"),
                  lambda: sfn.send_task_heartbeat(taskToken=token)):
        with pytest.raises(x.TaskTimedOut):
            again()
    events = sfn.get_execution_history(executionArn=arn)["events"]
    assert [e["type"] for e in events].count("TaskSucceeded") == 1


def test_boto3_failure_goes_to_the_catcher(
    sfn: Any, redis_client: redis.Redis, unique: str
) -> None:
    definition = json.loads(approval(
        Catch=[{"ErrorEquals": ["Rejected"], "ResultPath": "$.why", "Next": "No"}]
    ))
    del definition["States"]["Approve"]["End"]
    definition["States"]["Approve"]["Next"] = "No"
    definition["States"]["No"] = {"Type": "Pass", "End": True}
    arn = start(sfn, f"CbFail{unique}", json.dumps(definition))
    sfn.send_task_failure(taskToken=token_of(redis_client, arn), error="Rejected",
                          cause="over budget")
    done = wait_done(sfn, arn)
    assert json.loads(done["output"])["why"] == {"Error": "Rejected", "Cause": "over budget"}
    failed = [e for e in sfn.get_execution_history(executionArn=arn)["events"]
              if e["type"] == "TaskFailed"]
    assert failed[0]["taskFailedEventDetails"]["error"] == "Rejected"


def test_sfn_task_commands_answer_a_human_approval(
    worker: Any, redis_url: str, redis_client: redis.Redis, unique: str
) -> None:
    runner = CliRunner()
    env = {"REDIS_URL": redis_url}
    client = connect(Settings(redis_url=redis_url))
    client.create_state_machine(f"Human{unique}", approval())
    approved = client.start_execution(f"Human{unique}", {}, name="yes")
    token = token_of(redis_client, approved.arn)
    beat = runner.invoke(app, ["task", "heartbeat", token], env=env)
    assert beat.exit_code == 0, beat.stderr
    answered = runner.invoke(
        app, ["task", "success", token, "--output", '{"approved": true}'], env=env
    )
    assert answered.exit_code == 0, answered.stderr
    assert client.wait(approved.arn, timeout=30).status == "SUCCEEDED"
    again = runner.invoke(app, ["task", "success", token, "--output", "{}"], env=env)
    assert again.exit_code == 1 and "TaskTimedOut" in again.stderr

    rejected = client.start_execution(f"Human{unique}", {}, name="no")
    token = token_of(redis_client, rejected.arn)
    bad = runner.invoke(app, ["task", "success", token, "--output", "{oops"], env=env)
    assert bad.exit_code == 1 and "InvalidOutput" in bad.stderr
    failed = runner.invoke(
        app, ["task", "failure", token, "--error", "Rejected", "--cause", "no budget"], env=env
    )
    assert failed.exit_code == 0, failed.stderr
    done = client.wait(rejected.arn, timeout=30)
    assert (done.status, done.error, done.cause) == ("FAILED", "Rejected", "no budget")
