"""A `.sync` job the engine no longer waits for is stopped (ECS's StopTask on the AWS API
emulator, moto server over HTTP): the execution stopped, the Task's TimeoutSeconds, a
sibling branch failing its Parallel, and a job started while its execution was stopped.
The stop request is in the outbox of the commit that abandons the job: a lost message is
sent again by the recovery sweep; a failed stop call is tried again, a bounded number of
times; a job that ended or is stopping already counts as stopped."""

from __future__ import annotations

import heapq
import json
from typing import Any

from engine.handlers import Invocation, Registry, TaskContext
from engine.integrations import Integrations, IntegrationSettings, jobs
from engine.runtime import job_stops, messages
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


# --- durable stop requests (engine/runtime/job_stops.py) -----------------------------------


def pending_stops(inline: InlineRunner, eid: str) -> list[str]:
    return [i for i in inline.store._executions[eid].outbox if i.startswith("job_stop")]


def drop_sent_stops(inline: InlineRunner) -> int:
    """Lose the stop messages sent so far (the broker lost them, or their sender died)."""
    kept = [item for item in inline.queue.heap if item[2].get("k") != "job_stop"]
    dropped = len(inline.queue.heap) - len(kept)
    inline.queue.heap[:] = kept
    heapq.heapify(inline.queue.heap)
    return dropped


def sweep_after(inline: InlineRunner, seconds: float) -> list[str]:
    """Let the recovery sweep send what is due `seconds` from now, and deliver it."""
    inline.now += seconds
    inline.sweeper.sweep_once()
    return flush(inline)


def test_a_task_timeout_commits_the_stop_request_and_the_sweep_sends_it_again(
    aws_env: AwsEmulator,
) -> None:
    ecs = ecs_cluster(aws_env)
    inline = runner()
    inline.create_state_machine("M", {"StartAt": "Job", "States": {
        "Job": job_task(TimeoutSeconds=10, End=True)}})
    record = inline.run("M", input={})
    assert (record.status, record.error) == ("FAILED", "States.Timeout")
    # Committed with the execution's end (which cleared the rest of its outbox) ...
    assert len(pending_stops(inline, record.eid)) == 1
    assert drop_sent_stops(inline) == 1
    assert "STOPPED" != ecs.describe_tasks(cluster="jobs", tasks=ecs.list_tasks(
        cluster="jobs")["taskArns"])["tasks"][0].get("desiredStatus")
    # ... so a lost message is sent again, and the stop settles it.
    assert "job stop: stopped" in sweep_after(inline, 3600)
    assert "timed out" in stopped_reason(ecs)
    assert pending_stops(inline, record.eid) == []


def test_a_failing_branch_commits_its_siblings_stop_requests(aws_env: AwsEmulator) -> None:
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
    assert record.status == "FAILED"
    assert drop_sent_stops(inline) == 1 and len(pending_stops(inline, record.eid)) == 1
    assert "job stop: stopped" in sweep_after(inline, 3600)
    assert "was aborted" in stopped_reason(ecs)


def test_a_stop_execution_whose_message_is_lost_still_stops_the_job(
    aws_env: AwsEmulator,
) -> None:
    ecs = ecs_cluster(aws_env)
    inline = runner()
    inline.create_state_machine("M", {"StartAt": "Job", "States": {"Job": job_task(End=True)}})
    record = inline.client.start_execution("M", {}, name="e1")
    pump_until_submitted(inline, record.eid)
    inline.client.stop_execution(record.eid)
    assert drop_sent_stops(inline) == 1
    assert not any(done.startswith("job stop") for done in flush(inline))
    assert "job stop: stopped" in sweep_after(inline, 3600)
    assert "was aborted" in stopped_reason(ecs)
    # Delivered twice (a duplicate, a redelivery): the second stop is as good as the first.
    again = job_stops.stop_message(record.eid, "0", ECS, {
        "Cluster": "jobs", "TaskArn": ecs.list_tasks(cluster="jobs", desiredStatus="STOPPED")[
            "taskArns"][0]}, "aborted")
    assert inline.driver.handle(again).startswith("job stop: ")
    assert pending_stops(inline, record.eid) == []


def test_a_failed_stop_call_is_tried_again_then_given_up(aws_env: AwsEmulator) -> None:
    """StopTask on a cluster the emulator does not know fails, and so does the describe
    call: the request is recorded again as its next attempt, later, up to MAX_ATTEMPTS."""
    inline = runner()
    inline.create_state_machine("M", {"StartAt": "Done", "States": {"Done": {"Type": "Pass",
                                                                             "End": True}}})
    record = inline.run("M", input={})
    job = {"Cluster": "nowhere", "TaskArn": "arn:aws:ecs:us-east-1:123456789012:task/x/y"}
    message = job_stops.stop_message(record.eid, "0", ECS, job, "aborted")
    inline.store.settle_outbox(record.eid, add=job_stops.stop_entries(
        record.eid, [("0", ECS, job)], "aborted", inline.now, 30), remove=[])
    outcomes = []
    for attempt in range(job_stops.MAX_ATTEMPTS):
        [pending] = pending_stops(inline, record.eid)
        assert pending == messages.entry_id({**message, "a": attempt})
        outcomes.append(inline.driver.handle({**message, "a": attempt}))
    assert all("ClusterNotFoundException" in o for o in outcomes)
    assert "attempt 2 in 15 s" in outcomes[0] and "attempt 3 in 30 s" in outcomes[1]
    assert pending_stops(inline, record.eid) == []  # given up


def test_a_stop_refused_for_a_job_that_ended_or_is_stopping_is_settled() -> None:
    """AWS refuses to stop a SageMaker job that has completed (ValidationException): the
    describe call then says it ended, which is what the stop wanted."""
    from tests.integrations.test_job_kinds import Answers

    resource = "arn:aws:states:::sagemaker:createTrainingJob.sync"
    refused = Invocation(False, error="SageMaker.ValidationException", cause="Completed")
    ended = jobs.stop_job(Answers(refused, {"TrainingJobStatus": "Completed"}),  # type: ignore[arg-type]
                          resource, {"TrainingJobName": "t"}, "why")
    assert (ended.settled, ended.text) == (True, "already ended (Completed)")
    stopping = jobs.stop_job(Answers(refused, {"TrainingJobStatus": "Stopping"}),  # type: ignore[arg-type]
                             resource, {"TrainingJobName": "t"}, "why")
    assert (stopping.settled, stopping.text) == (True, "already stopping (Stopping)")
    running = jobs.stop_job(Answers(refused, {"TrainingJobStatus": "InProgress"}),  # type: ignore[arg-type]
                            resource, {"TrainingJobName": "t"}, "why")
    assert not running.settled and "ValidationException" in running.text


def test_a_resource_a_handler_serves_has_no_stop() -> None:
    registry = Registry()
    registry.register("ecs:runTask", lambda event, ctx: {})
    integrations = Integrations(registry, IntegrationSettings(aws=True))
    outcome = integrations.stop_job(ECS, {"Cluster": "c", "TaskArn": "t"}, "why")
    assert outcome.settled and "handler" in outcome.text


def test_deleting_the_state_machine_stops_the_job_of_its_execution(aws_env: AwsEmulator) -> None:
    """DeleteStateMachine aborts the running executions at their next step; the abort
    carries the stop requests of their jobs."""
    ecs = ecs_cluster(aws_env)
    inline = runner()
    machine = inline.create_state_machine("M", {"StartAt": "Job", "States": {
        "Job": job_task(End=True)}})
    record = inline.client.start_execution("M", {}, name="e1")
    pump_until_submitted(inline, record.eid)
    inline.client.delete_state_machine(machine.arn)
    done = flush(inline)
    assert "stopped: state machine deleted" in done and "job stop: stopped" in done
    assert inline.client.describe_execution(record.eid).status == "ABORTED"
    assert "was aborted" in stopped_reason(ecs)


def test_an_execution_failed_by_a_poison_message_stops_its_job(aws_env: AwsEmulator) -> None:
    """The poison guard (engine/runtime/poison.py) fails an execution whose step keeps
    failing the engine: that commit carries its jobs' stop requests, which the sweep sends."""
    from engine.runtime.poison import PoisonGuard

    ecs = ecs_cluster(aws_env)
    inline = runner()
    inline.create_state_machine("M", {"StartAt": "Job", "States": {"Job": job_task(End=True)}})
    record = inline.client.start_execution("M", {}, name="e1")
    pump_until_submitted(inline, record.eid)
    guard = PoisonGuard(inline.store, object(), clock=inline.clock)  # type: ignore[arg-type]
    poll = {"k": "timer", "x": record.eid, "r": "0", "v": 4, "t": "poll", "a": 0}
    assert guard.fail_execution(poll, 5, "RecursionError: boom")
    assert inline.client.describe_execution(record.eid).status == "FAILED"
    assert len(pending_stops(inline, record.eid)) == 1
    inline.sweeper.sweep_once()
    assert "job stop: stopped" in flush(inline)
    assert "was aborted" in stopped_reason(ecs)
