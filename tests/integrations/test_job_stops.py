"""A `.sync` job the engine no longer waits for is stopped (ECS's StopTask on the AWS API
emulator, moto server over HTTP): the execution stopped, the Task's TimeoutSeconds, a
sibling branch failing its Parallel, and a job started while its execution was stopped."""

from __future__ import annotations

import heapq
import json
from typing import Any

from engine.handlers import Invocation, Registry, TaskContext
from engine.integrations import Integrations, IntegrationSettings
from engine.runtime.inline import InlineRunner
from tests.integrations.conftest import AwsEmulator

ECS = "arn:aws:states:::ecs:runTask.sync"
ECS_TASK = {"Cluster": "jobs", "TaskDefinition": "work", "LaunchType": "FARGATE"}


def runner(aws: bool = True) -> InlineRunner:
    registry = Registry()
    return InlineRunner(registry, integrations=Integrations(
        registry, IntegrationSettings(aws=aws, job_poll_seconds=7)))


def ecs_cluster(aws: AwsEmulator) -> Any:
    ecs: Any = aws.client("ecs")
    ecs.create_cluster(clusterName="jobs")
    ecs.register_task_definition(family="work", containerDefinitions=[
        {"name": "main", "image": "busybox", "memory": 128, "essential": True}])
    return ecs


def job_task(**extra: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": ECS, "Parameters": ECS_TASK, **extra}


def flush(inline: InlineRunner) -> list[str]:
    """Deliver what is still queued once the execution has ended (the stop requests)."""
    done = []
    while inline.queue.heap:
        due, _, message = heapq.heappop(inline.queue.heap)
        inline.now = max(inline.now, due)
        done.append(inline.driver.handle(message))
    return done


def pump_until_submitted(inline: InlineRunner, eid: str) -> None:
    for _ in range(50):
        if any(e["type"] == "TaskSubmitted" for e in inline.client.get_history(eid)):
            return
        due, _, message = heapq.heappop(inline.queue.heap)
        inline.now = max(inline.now, due)
        inline.driver.handle(message)
    raise AssertionError("the job was never submitted")


def stopped_reason(ecs: Any) -> str:
    [arn] = ecs.list_tasks(cluster="jobs")["taskArns"]
    return str(ecs.describe_tasks(cluster="jobs", tasks=[arn])["tasks"][0].get("stoppedReason"))


def test_stopping_the_execution_stops_its_job(aws_env: AwsEmulator) -> None:
    ecs = ecs_cluster(aws_env)
    inline = runner()
    inline.create_state_machine("M", {"StartAt": "Job", "States": {"Job": job_task(End=True)}})
    record = inline.client.start_execution("M", {}, name="e1")
    pump_until_submitted(inline, record.eid)
    inline.client.stop_execution(record.eid)
    assert "job stop: stopped" in flush(inline)
    reason = stopped_reason(ecs)
    assert "was aborted" in reason and record.arn in reason


def test_the_task_timeout_stops_its_job(aws_env: AwsEmulator) -> None:
    ecs = ecs_cluster(aws_env)
    inline = runner()
    inline.create_state_machine("M", {"StartAt": "Job", "States": {
        "Job": job_task(TimeoutSeconds=10, Next="Done",
                        Catch=[{"ErrorEquals": ["States.Timeout"], "Next": "Done"}]),
        "Done": {"Type": "Succeed"}}})
    record = inline.run("M", input={})
    assert record.status == "SUCCEEDED"
    events = [e["type"] for e in inline.client.get_history(record.eid)]
    assert "TaskTimedOut" in events
    flush(inline)
    assert "timed out" in stopped_reason(ecs)


def test_a_failing_parallel_branch_stops_the_job_of_its_sibling(aws_env: AwsEmulator) -> None:
    ecs = ecs_cluster(aws_env)
    inline = runner()
    inline.create_state_machine("M", {"StartAt": "Fan", "States": {"Fan": {
        "Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "Job", "States": {"Job": job_task(End=True)}},
            {"StartAt": "Pause", "States": {
                "Pause": {"Type": "Wait", "Seconds": 3, "Next": "Boom"},
                "Boom": {"Type": "Fail", "Error": "Boom"}}},
        ]}}})
    record = inline.run("M", input={})
    assert (record.status, record.error) == ("FAILED", "Boom")
    flush(inline)
    assert "was aborted" in stopped_reason(ecs)


def test_a_job_started_while_the_execution_was_stopped_is_stopped(aws_env: AwsEmulator) -> None:
    ecs = ecs_cluster(aws_env)
    inline = runner()
    real = inline.driver.integrations.call

    def call_then_stop(task: dict[str, Any], context: TaskContext) -> Invocation | None:
        outcome = real(task, context)
        # StopExecution lands between the start call and its commit.
        inline.client.stop_execution(context.execution_arn)
        return outcome

    inline.driver.integrations.call = call_then_stop  # type: ignore[method-assign]
    inline.create_state_machine("M", {"StartAt": "Job", "States": {"Job": job_task(End=True)}})
    record = inline.run("M", input={})
    assert record.status == "ABORTED"
    assert "job stop: stopped" in flush(inline)
    assert "was aborted" in stopped_reason(ecs)


def test_with_aws_calls_off_the_stop_says_so() -> None:
    outcome = runner(aws=False).driver.integrations.stop_job(ECS, {"Cluster": "c",
                                                                   "TaskArn": "t"}, "why")
    assert not outcome.settled and "built-in AWS calls are off" in outcome.text


def test_a_job_that_ended_on_its_own_is_not_stopped(aws_env: AwsEmulator) -> None:
    ecs = ecs_cluster(aws_env)
    inline = runner()
    inline.create_state_machine("M", {"StartAt": "Job", "States": {"Job": job_task(End=True)}})
    record = inline.run("M", input={})
    assert record.status == "SUCCEEDED"
    assert not any(done.startswith("job stop") for done in flush(inline))
    assert json.loads(record.output)["LastStatus"] == "STOPPED"
    assert "Step Functions" not in stopped_reason(ecs)
