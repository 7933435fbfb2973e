"""`.sync` ("Run a Job") for job integrations: start the job, then poll it on durable timers
until it ends, as AWS does.

The cycle, one Task message per step (no worker waits in between):

1. the start call (`athena:startQueryExecution`, `glue:startJobRun`), with an idempotency
   token where the API takes one (Athena's `ClientRequestToken`, derived from the attempt:
   a worker killed between the call and its commit starts the same query again, and Athena
   answers with the same one); the answer is a job handle -> `Invocation(job=...)`, which
   the interpreter keeps in the snapshot (TaskSubmitted) before starting a `job_poll` timer;
2. each poll describes the job: still running -> poll again; succeeded -> the Task's result
   is the final description; failed -> `States.TaskFailed` with the description as cause.

A user handler registered for the resource replaces the whole cycle (it is called once).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.asl.resources import ResourceRef
from engine.handlers import Invocation, TaskContext
from engine.integrations import shapes
from engine.integrations.aws import AwsCaller


@dataclass(frozen=True)
class JobKind:
    boto3_service: str
    #: The handle kept between polls, from the start call's response and parameters.
    handle: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]
    describe: str
    #: The describe call's parameters, from the handle.
    describe_params: Callable[[dict[str, Any]], dict[str, Any]]
    #: The job's state, from the description.
    status: Callable[[dict[str, Any]], str]
    succeeded: frozenset[str]
    failed: frozenset[str]
    #: What the Task returns when the job succeeded.
    output: Callable[[dict[str, Any]], Any]
    token: str | None = None


JOBS: dict[tuple[str, str], JobKind] = {
    ("athena", "startQueryExecution"): JobKind(
        "athena",
        handle=lambda response, params: {"QueryExecutionId": response["QueryExecutionId"]},
        describe="GetQueryExecution",
        describe_params=lambda job: {"QueryExecutionId": job["QueryExecutionId"]},
        status=lambda d: str(d["QueryExecution"]["Status"]["State"]),
        succeeded=frozenset({"SUCCEEDED"}),
        failed=frozenset({"FAILED", "CANCELLED"}),
        output=shapes.optimized_response,
        token="ClientRequestToken",
    ),
    ("glue", "startJobRun"): JobKind(
        "glue",
        handle=lambda response, params: {
            "JobName": params["JobName"], "RunId": response["JobRunId"]
        },
        describe="GetJobRun",
        describe_params=lambda job: {"JobName": job["JobName"], "RunId": job["RunId"]},
        status=lambda d: str(d["JobRun"]["JobRunState"]),
        succeeded=frozenset({"SUCCEEDED"}),
        failed=frozenset({"FAILED", "ERROR", "TIMEOUT", "STOPPED"}),
        output=lambda d: shapes.to_json(d["JobRun"]),
    ),
}

#: The `.sync` resources this engine runs (others are refused at creation).
SYNC_JOBS = frozenset(JOBS)


def run_job(
    aws: AwsCaller, ref: ResourceRef, task: dict[str, Any], context: TaskContext,
    poll_seconds: float,
) -> Invocation | None:
    kind = JOBS.get((ref.service, ref.action))
    if kind is None:
        return None
    job = task.get("job")
    if job is None:
        return _start(aws, kind, ref, task.get("parameters"), context, poll_seconds)
    answer = aws.raw(kind.boto3_service, kind.describe, kind.describe_params(job), ref.service)
    if isinstance(answer, Invocation):
        return answer
    status = kind.status(answer)
    if status in kind.succeeded:
        return Invocation(True, result=kind.output(answer), response=True)
    if status in kind.failed:
        text = json.dumps(shapes.sdk_response(answer), separators=(",", ":"))
        return Invocation(False, error="States.TaskFailed", cause=text)
    return Invocation(True, job=job, poll_seconds=poll_seconds)


def _start(
    aws: AwsCaller, kind: JobKind, ref: ResourceRef, parameters: Any, context: TaskContext,
    poll_seconds: float,
) -> Invocation:
    params = dict(parameters) if isinstance(parameters, dict) else {}
    if kind.token is not None and kind.token not in params:
        params[kind.token] = uuid.uuid5(uuid.NAMESPACE_URL, context.idempotency_key).hex
    answer = aws.raw(kind.boto3_service, shapes.operation_name(ref.action), params, ref.service)
    if isinstance(answer, Invocation):
        return answer
    return Invocation(
        True,
        result=shapes.optimized_response(answer),
        job=kind.handle(answer, params),
        poll_seconds=poll_seconds,
    )
