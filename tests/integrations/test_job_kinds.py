"""`.sync` jobs of Batch, ECS, CodeBuild and EMR against the AWS API emulator (moto server,
a separate process reached over HTTP), and what moto cannot run (a container exiting
non-zero, an ECS start answered with failures) against a caller that answers as AWS does.

What moto does: Batch without Docker (`/moto-api/config`) ends a job at once, SUCCEEDED, or
FAILED in a server started with MOTO_SIMPLE_BATCH_FAIL_AFTER=0; an ECS task moves one status
per DescribeTasks until STOPPED (exit code 0); a CodeBuild build succeeds at its first
BatchGetBuilds; an EMR cluster is WAITING at once. Its EMR steps never end and it does not
implement CancelSteps, so `addStep.sync` is covered only up to its start and its polls."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from engine.asl.resources import parse_resource
from engine.handlers import Registry, TaskContext
from engine.integrations import Integrations, IntegrationSettings, jobs
from engine.runtime.inline import InlineRunner
from tests.integrations.conftest import AwsEmulator, emulator

BATCH = "arn:aws:states:::batch:submitJob.sync"
ECS = "arn:aws:states:::ecs:runTask.sync"
CODEBUILD = "arn:aws:states:::codebuild:startBuild.sync"
EMR_CLUSTER = "arn:aws:states:::elasticmapreduce:createCluster.sync"
EMR_STEP = "arn:aws:states:::elasticmapreduce:addStep.sync"


def runner() -> InlineRunner:
    registry = Registry()
    return InlineRunner(registry, integrations=Integrations(
        registry, IntegrationSettings(aws=True, job_poll_seconds=7)))


def run(resource: str, parameters: dict[str, Any], **state: Any,
        ) -> tuple[Any, list[dict[str, Any]], InlineRunner]:
    inline = runner()
    inline.create_state_machine("M", {"StartAt": "Job", "States": {"Job": {
        "Type": "Task", "Resource": resource, "Parameters": parameters, "End": True,
        **state}}})
    record = inline.run("M", input={})
    return record, inline.client.get_history(record.eid), inline


def sent(inline: InlineRunner, service: str, operation: str) -> list[dict[str, Any]]:
    """The requests boto3 sends for `operation` (botocore's own event hook)."""
    seen: list[dict[str, Any]] = []
    client = inline.driver.integrations.aws.client(service)
    client.meta.events.register(f"provide-client-params.{service}.{operation}",
                                lambda params, **_: seen.append(dict(params)))
    return seen


def batch_queue(aws: AwsEmulator) -> tuple[str, str]:
    aws.configure({"batch": {"use_docker": False}})
    iam: Any = aws.client("iam")
    batch: Any = aws.client("batch")
    role = iam.create_role(RoleName="batch", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    env = batch.create_compute_environment(
        computeEnvironmentName="cenv", type="UNMANAGED", state="ENABLED", serviceRole=role
    )["computeEnvironmentArn"]
    queue = batch.create_job_queue(
        jobQueueName="queue", state="ENABLED", priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env}])["jobQueueArn"]
    definition = batch.register_job_definition(
        jobDefinitionName="nightly", type="container",
        containerProperties={"image": "busybox", "vcpus": 1, "memory": 128},
    )["jobDefinitionArn"]
    return queue, definition


def test_batch_submit_job_sync_returns_the_job_description(aws_env: AwsEmulator) -> None:
    queue, definition = batch_queue(aws_env)
    record, history, _ = run(BATCH, {"JobName": "nightly", "JobQueue": queue,
                                     "JobDefinition": definition})
    assert record.status == "SUCCEEDED", record.cause
    out = json.loads(record.output)
    # The job's description as AWS hands it over: PascalCase, epoch-millisecond times.
    assert (out["JobName"], out["Status"], out["JobQueue"]) == ("nightly", "SUCCEEDED", queue)
    assert isinstance(out["CreatedAt"], int) and "JobId" in out
    submitted = next(e for e in history if e["type"] == "TaskSubmitted")
    assert "JobId" in json.loads(submitted["taskSubmittedEventDetails"]["output"])


@pytest.fixture(scope="module")
def failing_batch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsEmulator]:
    """A second emulator whose Batch jobs fail (moto's MOTO_SIMPLE_BATCH_FAIL_AFTER)."""
    yield from emulator(tmp_path_factory, {"MOTO_SIMPLE_BATCH_FAIL_AFTER": "0"})


def test_a_failed_batch_job_fails_the_state_with_its_description(
    failing_batch: AwsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in failing_batch.env.items():
        monkeypatch.setenv(key, value)
    failing_batch.reset()
    queue, definition = batch_queue(failing_batch)
    record, _, _ = run(BATCH, {"JobName": "doomed", "JobQueue": queue,
                               "JobDefinition": definition})
    assert (record.status, record.error) == ("FAILED", "States.TaskFailed")
    cause = json.loads(record.cause)
    assert (cause["JobName"], cause["Status"]) == ("doomed", "FAILED")


def ecs_cluster(aws: AwsEmulator) -> None:
    ecs: Any = aws.client("ecs")
    ecs.create_cluster(clusterName="jobs")
    ecs.register_task_definition(family="work", containerDefinitions=[
        {"name": "main", "image": "busybox", "memory": 128, "essential": True}])


ECS_TASK = {"Cluster": "jobs", "TaskDefinition": "work", "LaunchType": "FARGATE"}


def test_ecs_run_task_sync_waits_until_the_task_stopped(aws_env: AwsEmulator) -> None:
    ecs_cluster(aws_env)
    inline = runner()
    requests = sent(inline, "ecs", "RunTask")
    inline.create_state_machine("M", {"StartAt": "Job", "States": {"Job": {
        "Type": "Task", "Resource": ECS, "Parameters": ECS_TASK, "End": True}}})
    record = inline.run("M", input={})
    assert record.status == "SUCCEEDED", record.cause
    out = json.loads(record.output)
    assert out["LastStatus"] == "STOPPED" and out["Containers"][0]["ExitCode"] == 0
    assert out["TaskArn"].startswith("arn:aws:ecs:")
    # PascalCase parameters reached the API as its own names, with a client token.
    [request] = requests
    assert (request["cluster"], request["taskDefinition"]) == ("jobs", "work")
    assert len(request["clientToken"]) == 32
    # moto moves the task one status per DescribeTasks: it was polled several times,
    # each on a durable timer, and the history has one TaskSubmitted.
    history = inline.client.get_history(record.eid)
    assert [e["type"] for e in history].count("TaskSubmitted") == 1


class Answers:
    """A caller that answers as AWS does where moto cannot (no botocore model: requests
    and answers pass as written)."""

    def __init__(self, *answers: dict[str, Any]) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def raw(self, service: str, op: str, params: dict[str, Any], svc: str) -> Any:
        self.calls.append((op, params))
        return self.answers.pop(0)

    def input_shape(self, service: str, operation: str) -> Any:
        return None

    def output_shape(self, service: str, operation: str) -> Any:
        return None


def _context(attempt: int = 0) -> TaskContext:
    return TaskContext("f", "arn:aws:states:us-east-1:1:execution:M:e", "Job", attempt,
                       f"arn/r/Job/{attempt}")


def test_an_ecs_container_exiting_non_zero_fails_the_state() -> None:
    ref = parse_resource(ECS)
    assert ref is not None
    task = {"lastStatus": "STOPPED", "stopCode": "EssentialContainerExited",
            "containers": [{"name": "main", "exitCode": 2}]}
    outcome = jobs.run_job(Answers({"tasks": [task]}), ref,  # type: ignore[arg-type]
                           {"job": {"Cluster": "c", "TaskArn": "t"}}, _context(), 5.0)
    assert outcome is not None and not outcome.ok
    assert outcome.error == "States.TaskFailed"
    assert json.loads(outcome.cause or "")["containers"][0]["exitCode"] == 2


def test_an_ecs_start_answered_with_failures_is_amazon_ecs_unknown() -> None:
    ref = parse_resource(ECS)
    assert ref is not None
    answer = {"tasks": [], "failures": [{"reason": "RESOURCE:MEMORY"}], "ResponseMetadata": {}}
    outcome = jobs.run_job(Answers(answer), ref,  # type: ignore[arg-type]
                           {"parameters": ECS_TASK}, _context(), 5.0)
    assert outcome is not None and (outcome.ok, outcome.error) == (False, "AmazonECS.Unknown")


def test_codebuild_start_build_sync(aws_env: AwsEmulator) -> None:
    codebuild: Any = aws_env.client("codebuild")
    codebuild.create_project(
        name="site", source={"type": "S3", "location": "bucket/key"},
        artifacts={"type": "NO_ARTIFACTS"}, serviceRole="arn:aws:iam::123456789012:role/cb",
        environment={"type": "LINUX_CONTAINER", "image": "img",
                     "computeType": "BUILD_GENERAL1_SMALL"})
    inline = runner()
    requests = sent(inline, "codebuild", "StartBuild")
    inline.create_state_machine("M", {"StartAt": "Job", "States": {"Job": {
        "Type": "Task", "Resource": CODEBUILD, "Parameters": {"ProjectName": "site"},
        "End": True}}})
    record = inline.run("M", input={})
    assert record.status == "SUCCEEDED", record.cause
    build = json.loads(record.output)["Build"]
    assert (build["BuildStatus"], build["ProjectName"]) == ("SUCCEEDED", "site")
    assert len(requests[0]["idempotencyToken"]) == 32


def test_emr_create_cluster_sync_ends_once_the_cluster_waits(aws_env: AwsEmulator) -> None:
    record, _, _ = run(EMR_CLUSTER, {
        "Name": "etl", "ReleaseLabel": "emr-6.0.0", "JobFlowRole": "EMR_EC2_DefaultRole",
        "ServiceRole": "EMR_DefaultRole", "Instances": {
            "KeepJobFlowAliveWhenNoSteps": True, "InstanceCount": 1,
            "MasterInstanceType": "m5.xlarge"}})
    assert record.status == "SUCCEEDED", record.cause
    out = json.loads(record.output)
    assert out["Status"]["State"] == "WAITING" and out["Name"] == "etl"


def test_emr_add_step_sync_maps_the_step_and_polls_it(aws_env: AwsEmulator) -> None:
    emr: Any = aws_env.client("emr")
    cluster = emr.run_job_flow(
        Name="etl", ReleaseLabel="emr-6.0.0", JobFlowRole="r", ServiceRole="s",
        Instances={"KeepJobFlowAliveWhenNoSteps": True, "InstanceCount": 1,
                   "MasterInstanceType": "m5.xlarge"})["JobFlowId"]
    # moto's steps never end: the Task's timeout ends the wait (caught).
    record, history, _ = run(EMR_STEP, {"ClusterId": cluster, "Step": {
        "Name": "count", "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["true"]}}},
        TimeoutSeconds=30)
    assert record.error == "States.Timeout"
    [step] = emr.list_steps(ClusterId=cluster)["Steps"]
    assert step["Name"] == "count" and step["Status"]["State"] == "RUNNING"
    submitted = next(e for e in history if e["type"] == "TaskSubmitted")
    assert json.loads(submitted["taskSubmittedEventDetails"]["output"])["StepIds"] == [step["Id"]]


def test_aws_sdk_parameters_reach_a_camel_case_api(aws_env: AwsEmulator) -> None:
    ecs_cluster(aws_env)
    record, _, _ = run("arn:aws:states:::aws-sdk:ecs:describeClusters", {"Clusters": ["jobs"]})
    assert record.status == "SUCCEEDED", record.cause
    assert json.loads(record.output)["clusters"][0]["clusterName"] == "jobs"


def test_start_tokens_are_stable_per_attempt_and_visit_and_a_given_one_is_kept() -> None:
    ref = parse_resource(ECS)
    assert ref is not None

    # The seed: the attempt's idempotency key and the state's visit (a loop's second pass).
    first = {"parameters": ECS_TASK, "visit": 3}
    again = jobs.token_seed(first, _context())
    assert again == jobs.token_seed(dict(first), _context())
    assert again != jobs.token_seed({**first, "visit": 5}, _context())
    assert again != jobs.token_seed(first, _context(1))
    build = parse_resource(CODEBUILD)
    assert build is not None

    def build_token(task: dict[str, Any]) -> str:
        caller = Answers({"build": {"id": "b"}, "ResponseMetadata": {}})
        jobs.run_job(caller, build, task, _context(), 5.0)  # type: ignore[arg-type]
        params = caller.calls[0][1]
        return str(params.get("idempotencyToken") or params["IdempotencyToken"])

    base = {"parameters": {"ProjectName": "p"}, "visit": 3}
    assert build_token(base) == build_token(dict(base))
    assert build_token(base) != build_token({**base, "visit": 9})
    given = {"parameters": {"ProjectName": "p", "IdempotencyToken": "mine"}, "visit": 3}
    assert build_token(given) == "mine"


def test_emr_request_response_wrappers_call_the_api_they_wrap(aws_env: AwsEmulator) -> None:
    """`elasticmapreduce:createCluster` / `addStep` without `.sync`: RunJobFlow and
    AddJobFlowSteps, answered as AWS's EMR integration answers (ClusterId, StepId)."""
    inline = runner()
    inline.create_state_machine("M", {"StartAt": "Create", "States": {
        "Create": {"Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:createCluster",
                   "Parameters": {"Name": "etl", "ReleaseLabel": "emr-6.0.0",
                                  "JobFlowRole": "r", "ServiceRole": "s", "Instances": {
                                      "KeepJobFlowAliveWhenNoSteps": True, "InstanceCount": 1,
                                      "MasterInstanceType": "m5.xlarge"}},
                   "ResultSelector": {"ClusterId.$": "$.ClusterId"}, "ResultPath": "$.cluster",
                   "Next": "Step"},
        "Step": {"Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:addStep",
                 "Parameters": {"ClusterId.$": "$.cluster.ClusterId", "Step": {
                     "Name": "count", "HadoopJarStep": {"Jar": "command-runner.jar"}}},
                 "End": True}}})
    record = inline.run("M", input={})
    assert record.status == "SUCCEEDED", record.cause
    out = json.loads(record.output)
    emr: Any = aws_env.client("emr")
    [cluster] = emr.list_clusters()["Clusters"]
    [step] = emr.list_steps(ClusterId=cluster["Id"])["Steps"]
    assert out["StepId"] == step["Id"] and "SdkHttpMetadata" in out
