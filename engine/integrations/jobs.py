"""`.sync` ("Run a Job") for job integrations: start the job, then poll it on durable timers
until it ends, as AWS does; stop it when the Task is abandoned.

The cycle, one Task message per step (no worker waits in between):

1. the start call (engine/integrations/job_kinds.py names it per integration), with an
   idempotency token where the API takes one (`ClientRequestToken`, `ClientToken`,
   `IdempotencyToken`... unless the state gives its own), derived from the execution, the
   run, the state's visit and the attempt: a worker killed between the call and its commit
   starts the same job again, and the service answers with the one it already started;
   the answer is a job handle -> `Invocation(job=...)`, which the interpreter keeps in the
   snapshot (TaskSubmitted) before starting a `job_poll` timer;
2. each poll describes the job: still running -> poll again; succeeded -> the Task's result
   is the final description as AWS hands it over; failed -> `States.TaskFailed` with the
   description as the cause. A deletion (`eks:deleteCluster.sync`...) ends when the
   describe call no longer finds the resource (engine/integrations/resource_jobs.py).

`eks:runJob` and `eks:call` talk to the cluster's Kubernetes API, not to an AWS API that
botocore knows: engine/integrations/eks_kubernetes.py serves them (the same cycle: a Job
created, then read back on the durable timers, deleted when abandoned).

Stopping (`stop_job`): when the execution stops or times out, the Task times out, a
sibling branch fails its Parallel/Map or a job's commit is refused, the engine asks the
service to stop the job (the integration's stop call). The request is recorded in the
execution's outbox by the commit that abandons the job and delivered at least once
(engine/runtime/job_stops.py); the call is idempotent (a job already ended or stopping
counts as stopped).

A user handler registered for the resource replaces the whole cycle (it is called once).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from engine.asl import errors
from engine.asl.resources import ResourceRef, parse_resource
from engine.handlers import Invocation, TaskContext
from engine.integrations import api_shapes, job_kinds, resource_jobs, shapes
from engine.integrations.aws import AwsCaller
from engine.integrations.job_kinds import JobKind

log = logging.getLogger(__name__)

KINDS: dict[tuple[str, str], JobKind] = {**job_kinds.KINDS, **resource_jobs.KINDS}
#: The Kubernetes API integrations (engine/integrations/eks_kubernetes.py).
KUBERNETES = frozenset({("eks", "runJob"), ("eks", "call")})
#: The `.sync` resources `sfn create` accepts (others are refused at creation).
SYNC_JOBS = frozenset(KINDS) | KUBERNETES
JOBS = KINDS


def token_seed(task: dict[str, Any], context: TaskContext) -> str:
    """What the tokens of one start derive from: the attempt's idempotency key and the
    state's visit (a loop enters the same state again with attempt 0)."""
    visit = task.get("visit")
    return context.idempotency_key if visit is None else f"{context.idempotency_key}#{visit}"


def run_job(
    aws: AwsCaller, ref: ResourceRef, task: dict[str, Any], context: TaskContext,
    poll_seconds: float,
) -> Invocation | None:
    kind = KINDS.get((ref.service, ref.action))
    if kind is None:
        return None
    job = task.get("job")
    if job is None:
        return _start(aws, kind, ref, task.get("parameters"), token_seed(task, context),
                      poll_seconds, rerun=bool(task.get("rerun")))
    answer = aws.raw(kind.boto3_service, kind.describe, kind.describe_params(job), ref.service)
    if isinstance(answer, Invocation):
        if _gone(kind, answer):
            return Invocation(True, result=job.get("Answer"), response=True)
        return answer
    status = kind.status(answer)
    if status not in kind.succeeded and status not in kind.failed:
        return Invocation(True, job=job, poll_seconds=poll_seconds)
    described = api_shapes.from_api(aws.output_shape(kind.boto3_service, kind.describe), answer)
    result = kind.output(described, answer)
    if status in kind.succeeded and not kind.ended_badly(answer):
        return Invocation(True, result=result, response=True)
    cause = kind.cause(described, answer) if kind.cause is not None else result
    return Invocation(False, error=errors.TASK_FAILED,
                      cause=json.dumps(cause, separators=(",", ":")))


def _start(
    aws: AwsCaller, kind: JobKind, ref: ResourceRef, parameters: Any, seed: str,
    poll_seconds: float, *, rerun: bool = False,
) -> Invocation:
    raw = dict(parameters) if isinstance(parameters, dict) else {}
    params = api_shapes.to_api(aws.input_shape(kind.boto3_service, kind.start),
                               kind.request(raw))
    tokens = api_shapes.token_members(aws.input_shape(kind.boto3_service, kind.start))
    if kind.token is not None:
        tokens.append(kind.token)
    for name in tokens:
        if not api_shapes.given(params, name):
            params[name] = api_shapes.token_for(seed)
    answer = aws.raw(kind.boto3_service, kind.start, params, ref.service)
    if isinstance(answer, Invocation):
        if not (rerun and kind.gone_answer is not None and _deleted_before(aws, kind, ref,
                                                                           params, answer)):
            return answer
        # A re-run of a deletion whose first call (its worker died before the commit)
        # deleted the resource, or is deleting it: on to the poll, which finds it gone.
        log.info("%s: the resource was deleted by this Task's earlier run", ref.action)
        answer = kind.gone_answer(params)
    failed = kind.start_failed(answer)
    if failed is not None:
        return Invocation(False, error=failed,
                          cause=json.dumps(shapes.sdk_response(answer), separators=(",", ":")))
    # TaskSubmitted shows the start call's response as the optimized integrations do
    # (PascalCase members, with the HTTP metadata).
    submitted = api_shapes.from_api(aws.output_shape(kind.boto3_service, kind.start), answer)
    if isinstance(submitted, dict):
        submitted["ResponseMetadata"] = answer.get("ResponseMetadata")
    else:
        submitted = answer
    job = kind.handle(answer, params)
    if kind.gone is not None:
        # What the Task returns once the resource is gone: the delete call's answer.
        job["Answer"] = {k: v for k, v in submitted.items() if k != "ResponseMetadata"}
    return Invocation(
        True,
        result=shapes.optimized_response(submitted),
        job=job,
        poll_seconds=poll_seconds,
    )


def _deleted_before(aws: AwsCaller, kind: JobKind, ref: ResourceRef, params: dict[str, Any],
                    refused: Invocation) -> bool:
    """A deletion's re-run was refused: whether the earlier run's call took effect, as the
    answer says (not found) or a describe call does (gone, or being deleted: a second
    delete of a resource still DELETING may be answered ResourceInUseException)."""
    if _gone(kind, refused):
        return True
    try:
        job = kind.handle({}, params)
        described = aws.raw(kind.boto3_service, kind.describe, kind.describe_params(job),
                            ref.service)
    except KeyError:
        return False
    if isinstance(described, Invocation):
        return _gone(kind, described)
    return kind.status(described) in kind.deleting


def _gone(kind: JobKind, answer: Invocation) -> bool:
    """Whether a deletion's call failed because the resource no longer exists."""
    return kind.gone is not None and (answer.error or "").endswith("." + kind.gone)


def call_once(aws: AwsCaller, ref: ResourceRef, parameters: Any) -> Invocation | None:
    """Request-response on an integration whose action wraps another API call (EMR's
    `createCluster`, `addStep`, `terminateCluster`): that call, and AWS's answer from it;
    None for any other resource."""
    kind = KINDS.get((ref.service, ref.action))
    if kind is None or kind.answer is None:
        return None
    raw = dict(parameters) if isinstance(parameters, dict) else {}
    params = api_shapes.to_api(aws.input_shape(kind.boto3_service, kind.start),
                               kind.request(raw))
    answer = aws.raw(kind.boto3_service, kind.start, params, ref.service)
    if isinstance(answer, Invocation):
        return answer
    body = kind.answer(answer)
    body["ResponseMetadata"] = answer.get("ResponseMetadata")
    return Invocation(True, result=shapes.optimized_response(body), response=True)


def stoppable(resource: str) -> bool:
    """Whether a running job of this resource has a stop call."""
    ref = parse_resource(resource)
    if ref is not None and (ref.service, ref.action) == ("eks", "runJob"):
        return ref.pattern == "sync"  # the Job is deleted (eks_kubernetes.py)
    kind = None if ref is None else KINDS.get((ref.service, ref.action))
    return kind is not None and ref is not None and ref.pattern == "sync" and kind.stop is not None


@dataclass(frozen=True)
class StopOutcome:
    """What came of a stop call: `settled` when nothing is left to do (the job was stopped,
    had ended or was stopping already, is unknown to the service, or has no stop call);
    otherwise the stop request stays recorded and is tried again."""

    settled: bool
    text: str


def stop_job(aws: AwsCaller, resource: str, job: Any, reason: str) -> StopOutcome:
    """Ask the service to stop a job the engine no longer waits for. Idempotent as AWS's
    stop APIs are: a job that already ended, or is stopping already, counts as stopped (a
    stop call the service refuses is followed by a describe call that says which)."""
    ref = parse_resource(resource)
    kind = None if ref is None else KINDS.get((ref.service, ref.action))
    if ref is None or kind is None or kind.stop is None or kind.stop_params is None:
        return StopOutcome(True, "not stoppable")
    if not isinstance(job, dict):
        return StopOutcome(True, "no job handle")
    try:
        params = kind.stop_params(job, reason)
    except KeyError as exc:
        return StopOutcome(True, f"incomplete job handle ({exc})")
    answer = aws.raw(kind.boto3_service, kind.stop, params, ref.service)
    if not isinstance(answer, Invocation):
        return StopOutcome(True, "stopped")
    found = _ended_or_stopping(aws, kind, ref, job)
    if found is not None:
        return StopOutcome(True, found)
    return StopOutcome(False, f"failed: {answer.error}: {answer.cause}")


def _ended_or_stopping(aws: AwsCaller, kind: JobKind, ref: ResourceRef, job: Any) -> str | None:
    """After a refused stop call: "already ended (STATUS)", "already stopping (STATUS)",
    "unknown to the service", or None (still running, or the service did not answer)."""
    try:
        params = kind.describe_params(job)
    except KeyError:
        return None
    answer = aws.raw(kind.boto3_service, kind.describe, params, ref.service)
    if isinstance(answer, Invocation):
        return "unknown to the service" if _not_found(answer.error) else None
    try:
        status = kind.status(answer)
    except (KeyError, TypeError):
        return None
    if status in kind.succeeded or status in kind.failed:
        return f"already ended ({status})"
    if status in kind.stopping:
        return f"already stopping ({status})"
    if status == "":  # a describe call that lists jobs found none (Batch, CodeBuild, ECS)
        return "unknown to the service"
    return None


def _not_found(error: str | None) -> bool:
    code = (error or "").rsplit(".", 1)[-1]
    return code in ("ResourceNotFoundException", "EntityNotFoundException",
                    "ResourceNotFound", "NotFoundException")
