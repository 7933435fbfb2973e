"""The `.sync` ("Run a Job") integrations this engine runs: for each, the API call that
starts the job, the one that describes it, its states, what the Task returns, and the call
that stops it (AWS's "IAM policies for ..." pages list these three calls per integration).

Requests reach boto3 with the API's own member names (engine/integrations/api_shapes.py);
`handle` is what is kept in the snapshot between polls; `output` receives the describe
call's response already in Step Functions' form (PascalCase members, epoch-millisecond
timestamps) and the raw one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.integrations import shapes

Params = dict[str, Any]


def _same(params: Params) -> Params:
    return params


def _never(description: Params) -> bool:
    return False


def _first(items: Any) -> Params:
    return dict(items[0]) if isinstance(items, list) and items else {}


def _one(described: Params, member: str) -> Params:
    """The first of a describe call's list `member` (PascalCase as the state gets it, or as
    the API named it when no model was at hand)."""
    found = described.get(member)
    if found is None:
        found = described.get(member[:1].lower() + member[1:])
    return _first(found)


@dataclass(frozen=True)
class JobKind:
    boto3_service: str
    #: The start call (boto3's operation name) and its request from the state's parameters.
    start: str
    handle: Callable[[Params, Params], Params]
    describe: str
    describe_params: Callable[[Params], Params]
    #: The job's state, from the describe call's raw response.
    status: Callable[[Params], str]
    succeeded: frozenset[str]
    failed: frozenset[str]
    #: What the Task returns: (the describe response as Step Functions has it, the raw one).
    output: Callable[[Params, Params], Any]
    request: Callable[[Params], Params] = _same
    #: A job that ended in a "succeeded" state yet failed as AWS counts it (ECS: a
    #: container that exited non-zero).
    ended_badly: Callable[[Params], bool] = _never
    #: A start call answered 200 with failures inside (ECS `failures`): the error it is.
    start_failed: Callable[[Params], str | None] = lambda response: None
    #: The call that stops the job (None: AWS does not stop it, as for EMR clusters).
    stop: str | None = None
    stop_params: Callable[[Params, str], Params] | None = None
    #: The job's states while a stop asked earlier takes effect: a stop call refused then
    #: is no failure (the job is already stopping, as AWS's stop APIs treat a repeat).
    stopping: frozenset[str] = frozenset()
    #: An idempotency token the model does not mark as one (CodeBuild's).
    token: str | None = None
    #: The failure's cause (default: the output, as JSON text).
    cause: Callable[[Params, Params], Any] | None = None
    #: Request-response (no `.sync`) where the action is no API call of its own (EMR's
    #: wrappers): what AWS returns to the state from the start call's response.
    answer: Callable[[Params], Params] | None = None
    #: A deletion's end: the error code with which the describe call says the resource no
    #: longer exists (EKS's `ResourceNotFoundException`); the Task then returns the delete
    #: call's answer, the last description AWS gave of the resource.
    gone: str | None = None
    #: A deletion's re-run (the same state visit and attempt, claimed again after its
    #: worker died) whose delete call meets `gone`: the first run deleted the resource.
    #: What the delete call would have answered, built from the request (in the API's
    #: own member names, as the call answers), since that first answer was lost.
    gone_answer: Callable[[Params], Params] | None = None
    #: A deletion's states while it runs (or once it is done, for a resource that stays
    #: described): a re-run's refused call then means the first one took effect.
    deleting: frozenset[str] = frozenset()


def _ecs_start_failed(response: Params) -> str | None:
    return "AmazonECS.Unknown" if response.get("failures") or not response.get("tasks") else None


def _ecs_ended_badly(raw: Params) -> bool:
    task = _first(raw.get("tasks"))
    codes = [c.get("exitCode") for c in task.get("containers") or [] if "exitCode" in c]
    if any(code not in (0, None) for code in codes):
        return True
    return not codes and task.get("stopCode") in ("TaskFailedToStart", "SpotInterruption",
                                                   "TerminationNotice")


def _emr_add_step(params: Params) -> Params:
    """The optimized `addStep` takes one `Step` for `ClusterId` (AddJobFlowSteps: a list)."""
    out = {k: v for k, v in params.items() if k not in ("ClusterId", "Step")}
    out["JobFlowId"] = params.get("ClusterId")
    out["Steps"] = [params.get("Step")]
    return out


def _emr_terminate(params: Params) -> Params:
    return {"JobFlowIds": [params.get("ClusterId")]}


_BUILD_ENDS = frozenset({"FAILED", "FAULT", "TIMED_OUT", "STOPPED"})

KINDS: dict[tuple[str, str], JobKind] = {
    ("athena", "startQueryExecution"): JobKind(
        "athena", "StartQueryExecution",
        handle=lambda response, params: {"QueryExecutionId": response["QueryExecutionId"]},
        describe="GetQueryExecution",
        describe_params=lambda job: {"QueryExecutionId": job["QueryExecutionId"]},
        status=lambda d: str(d["QueryExecution"]["Status"]["State"]),
        succeeded=frozenset({"SUCCEEDED"}),
        failed=frozenset({"FAILED", "CANCELLED"}),
        output=lambda d, raw: shapes.optimized_response(raw),
        cause=lambda d, raw: shapes.sdk_response(raw),
        stop="StopQueryExecution",
        stop_params=lambda job, reason: {"QueryExecutionId": job["QueryExecutionId"]},
        token="ClientRequestToken",
    ),
    ("glue", "startJobRun"): JobKind(
        "glue", "StartJobRun",
        handle=lambda response, params: {"JobName": params["JobName"],
                                         "RunId": response["JobRunId"]},
        describe="GetJobRun",
        describe_params=lambda job: {"JobName": job["JobName"], "RunId": job["RunId"]},
        status=lambda d: str(d["JobRun"]["JobRunState"]),
        succeeded=frozenset({"SUCCEEDED"}),
        failed=frozenset({"FAILED", "ERROR", "TIMEOUT", "STOPPED"}),
        output=lambda d, raw: shapes.to_json(raw["JobRun"]),
        cause=lambda d, raw: shapes.sdk_response(raw),
        stop="BatchStopJobRun",
        stop_params=lambda job, reason: {"JobName": job["JobName"], "JobRunIds": [job["RunId"]]},
        stopping=frozenset({"STOPPING"}),
    ),
    ("batch", "submitJob"): JobKind(
        "batch", "SubmitJob",
        handle=lambda response, params: {"JobId": response["jobId"]},
        describe="DescribeJobs",
        describe_params=lambda job: {"jobs": [job["JobId"]]},
        status=lambda d: str(_first(d.get("jobs")).get("status", "")),
        succeeded=frozenset({"SUCCEEDED"}),
        failed=frozenset({"FAILED"}),
        output=lambda d, raw: _one(d, "Jobs"),
        stop="TerminateJob",
        stop_params=lambda job, reason: {"jobId": job["JobId"], "reason": reason},
    ),
    ("ecs", "runTask"): JobKind(
        "ecs", "RunTask",
        handle=lambda response, params: {
            "Cluster": _first(response.get("tasks")).get("clusterArn")
            or params.get("cluster", "default"),
            "TaskArn": _first(response.get("tasks")).get("taskArn"),
        },
        describe="DescribeTasks",
        describe_params=lambda job: {"cluster": job["Cluster"], "tasks": [job["TaskArn"]]},
        status=lambda d: str(_first(d.get("tasks")).get("lastStatus", "")),
        succeeded=frozenset({"STOPPED"}),
        failed=frozenset(),
        output=lambda d, raw: _one(d, "Tasks"),
        ended_badly=_ecs_ended_badly,
        start_failed=_ecs_start_failed,
        stop="StopTask",
        stop_params=lambda job, reason: {"cluster": job["Cluster"], "task": job["TaskArn"],
                                         "reason": reason[:255]},
        stopping=frozenset({"DEACTIVATING", "STOPPING", "DEPROVISIONING"}),
    ),
    ("codebuild", "startBuild"): JobKind(
        "codebuild", "StartBuild",
        handle=lambda response, params: {"Id": response["build"]["id"]},
        describe="BatchGetBuilds",
        describe_params=lambda job: {"ids": [job["Id"]]},
        status=lambda d: str(_first(d.get("builds")).get("buildStatus", "")),
        succeeded=frozenset({"SUCCEEDED"}),
        failed=_BUILD_ENDS,
        output=lambda d, raw: {"Build": _one(d, "Builds")},
        stop="StopBuild",
        stop_params=lambda job, reason: {"id": job["Id"]},
        token="idempotencyToken",
    ),
    ("codebuild", "startBuildBatch"): JobKind(
        "codebuild", "StartBuildBatch",
        handle=lambda response, params: {"Id": response["buildBatch"]["id"]},
        describe="BatchGetBuildBatches",
        describe_params=lambda job: {"ids": [job["Id"]]},
        status=lambda d: str(_first(d.get("buildBatches")).get("buildBatchStatus", "")),
        succeeded=frozenset({"SUCCEEDED"}),
        failed=_BUILD_ENDS,
        output=lambda d, raw: {"BuildBatch": _one(d, "BuildBatches")},
        stop="StopBuildBatch",
        stop_params=lambda job, reason: {"id": job["Id"]},
        token="idempotencyToken",
    ),
    ("elasticmapreduce", "createCluster"): JobKind(
        "emr", "RunJobFlow",
        handle=lambda response, params: {"ClusterId": response["JobFlowId"]},
        describe="DescribeCluster",
        describe_params=lambda job: {"ClusterId": job["ClusterId"]},
        status=lambda d: str(d["Cluster"]["Status"]["State"]),
        # Ready for steps: AWS's createCluster.sync ends once the cluster waits or runs.
        succeeded=frozenset({"WAITING", "RUNNING"}),
        failed=frozenset({"TERMINATED", "TERMINATED_WITH_ERRORS"}),
        output=lambda d, raw: d["Cluster"],
        answer=lambda r: {"ClusterArn": r.get("ClusterArn"), "ClusterId": r.get("JobFlowId")},
        # Not stopped: "Step Functions does not terminate an Amazon EMR cluster
        # automatically if execution is stopped" (AWS's EMR integration page).
    ),
    ("elasticmapreduce", "terminateCluster"): JobKind(
        "emr", "TerminateJobFlows",
        request=_emr_terminate,
        handle=lambda response, params: {"ClusterId": params["JobFlowIds"][0]},
        describe="DescribeCluster",
        describe_params=lambda job: {"ClusterId": job["ClusterId"]},
        status=lambda d: str(d["Cluster"]["Status"]["State"]),
        succeeded=frozenset({"TERMINATED", "TERMINATED_WITH_ERRORS"}),
        failed=frozenset(),
        output=lambda d, raw: d["Cluster"],
        answer=lambda r: {},
    ),
    ("elasticmapreduce", "addStep"): JobKind(
        "emr", "AddJobFlowSteps",
        request=_emr_add_step,
        handle=lambda response, params: {"ClusterId": params["JobFlowId"],
                                         "StepId": response["StepIds"][0]},
        describe="DescribeStep",
        describe_params=lambda job: {"ClusterId": job["ClusterId"], "StepId": job["StepId"]},
        status=lambda d: str(d["Step"]["Status"]["State"]),
        succeeded=frozenset({"COMPLETED"}),
        failed=frozenset({"FAILED", "CANCELLED", "INTERRUPTED"}),
        output=lambda d, raw: d["Step"],
        answer=lambda r: {"StepId": (r.get("StepIds") or [None])[0]},
        stop="CancelSteps",
        stop_params=lambda job, reason: {"ClusterId": job["ClusterId"],
                                         "StepIds": [job["StepId"]]},
        stopping=frozenset({"CANCEL_PENDING"}),
    ),
    ("codebuild", "retryBuildBatch"): JobKind(
        "codebuild", "RetryBuildBatch",
        handle=lambda response, params: {"Id": response["buildBatch"]["id"]},
        describe="BatchGetBuildBatches",
        describe_params=lambda job: {"ids": [job["Id"]]},
        status=lambda d: str(_first(d.get("buildBatches")).get("buildBatchStatus", "")),
        succeeded=frozenset({"SUCCEEDED"}),
        failed=_BUILD_ENDS,
        output=lambda d, raw: {"BuildBatch": _one(d, "BuildBatches")},
        stop="StopBuildBatch",
        stop_params=lambda job, reason: {"id": job["Id"]},
        token="idempotencyToken",
    ),
    ("bedrock", "createModelCustomizationJob"): JobKind(
        "bedrock", "CreateModelCustomizationJob",
        # Described by its name, which `jobIdentifier` takes as well as the ARN (the
        # emulator finds it only by name).
        handle=lambda response, params: {"JobArn": response["jobArn"],
                                         "JobName": params["jobName"]},
        describe="GetModelCustomizationJob",
        describe_params=lambda job: {"jobIdentifier": job["JobName"]},
        status=lambda d: str(d.get("status", "")),
        succeeded=frozenset({"Completed"}),
        failed=frozenset({"Failed", "Stopped"}),
        output=lambda d, raw: d,
        stop="StopModelCustomizationJob",
        stop_params=lambda job, reason: {"jobIdentifier": job["JobName"]},
        stopping=frozenset({"Stopping"}),
    ),
    ("mediaconvert", "createJob"): JobKind(
        "mediaconvert", "CreateJob",
        handle=lambda response, params: {"Id": response["Job"]["Id"]},
        describe="GetJob",
        describe_params=lambda job: {"Id": job["Id"]},
        status=lambda d: str(d["Job"]["Status"]),
        succeeded=frozenset({"COMPLETE"}),
        failed=frozenset({"ERROR", "CANCELED"}),
        output=lambda d, raw: d,
        stop="CancelJob",
        stop_params=lambda job, reason: {"Id": job["Id"]},
    ),
    ("emr-serverless", "startJobRun"): JobKind(
        "emr-serverless", "StartJobRun",
        handle=lambda response, params: {"ApplicationId": response["applicationId"],
                                         "JobRunId": response["jobRunId"]},
        describe="GetJobRun",
        describe_params=lambda job: {"applicationId": job["ApplicationId"],
                                     "jobRunId": job["JobRunId"]},
        status=lambda d: str(d["jobRun"]["state"]),
        succeeded=frozenset({"SUCCESS"}),
        failed=frozenset({"FAILED", "CANCELLED"}),
        output=lambda d, raw: d,
        stop="CancelJobRun",
        stop_params=lambda job, reason: {"applicationId": job["ApplicationId"],
                                         "jobRunId": job["JobRunId"]},
        stopping=frozenset({"CANCELLING"}),
    ),
    ("emr-containers", "startJobRun"): JobKind(
        "emr-containers", "StartJobRun",
        handle=lambda response, params: {"VirtualClusterId": response["virtualClusterId"],
                                         "Id": response["id"]},
        describe="DescribeJobRun",
        describe_params=lambda job: {"virtualClusterId": job["VirtualClusterId"],
                                     "id": job["Id"]},
        status=lambda d: str(d["jobRun"]["state"]),
        succeeded=frozenset({"COMPLETED"}),
        failed=frozenset({"FAILED", "CANCELLED"}),
        output=lambda d, raw: d,
        stop="CancelJobRun",
        stop_params=lambda job, reason: {"virtualClusterId": job["VirtualClusterId"],
                                         "id": job["Id"]},
        stopping=frozenset({"CANCEL_PENDING"}),
    ),
    ("databrew", "startJobRun"): JobKind(
        "databrew", "StartJobRun",
        handle=lambda response, params: {"Name": params["Name"], "RunId": response["RunId"]},
        describe="DescribeJobRun",
        describe_params=lambda job: {"Name": job["Name"], "RunId": job["RunId"]},
        status=lambda d: str(d.get("State", "")),
        succeeded=frozenset({"SUCCEEDED"}),
        failed=frozenset({"FAILED", "STOPPED", "TIMEOUT"}),
        output=lambda d, raw: d,
        stop="StopJobRun",
        stop_params=lambda job, reason: {"Name": job["Name"], "RunId": job["RunId"]},
        stopping=frozenset({"STOPPING"}),
    ),
}


def _sagemaker(create: str, noun: str) -> JobKind:
    """SageMaker's jobs: created under the name the state gives (the name is the handle)."""
    name = f"{noun}Name"
    return JobKind(
        "sagemaker", create,
        handle=lambda response, params: {name: params[name]},
        describe=f"Describe{noun}",
        describe_params=lambda job: {name: job[name]},
        status=lambda d: str(d.get(f"{noun}Status", "")),
        succeeded=frozenset({"Completed"}),
        failed=frozenset({"Failed", "Stopped"}),
        output=lambda d, raw: d,
        stop=f"Stop{noun}",
        stop_params=lambda job, reason: {name: job[name]},
        stopping=frozenset({"Stopping"}),
    )


KINDS.update({
    ("sagemaker", "createTrainingJob"): _sagemaker("CreateTrainingJob", "TrainingJob"),
    ("sagemaker", "createProcessingJob"): _sagemaker("CreateProcessingJob", "ProcessingJob"),
    ("sagemaker", "createTransformJob"): _sagemaker("CreateTransformJob", "TransformJob"),
    ("sagemaker", "createHyperParameterTuningJob"): _sagemaker(
        "CreateHyperParameterTuningJob", "HyperParameterTuningJob"),
    ("sagemaker", "createLabelingJob"): _sagemaker("CreateLabelingJob", "LabelingJob"),
})
