"""The `.sync` integrations added so that nothing AWS accepts is refused at creation: EKS
clusters, node groups and Fargate profiles, EMR Serverless applications and job-run
cancellation, EMR on EKS virtual-cluster deletion, SageMaker tuning jobs, Bedrock model
customization (start, polls, stop) against the AWS API emulator (moto server, over HTTP);
what moto does not run (MediaConvert, a labelling job, CodeBuild's retryBuildBatch, a
failed EKS deletion) against a caller that answers as AWS does.

What moto does: an EKS cluster, node group or Fargate profile is ACTIVE at once and a
delete removes it at once (the next describe: ResourceNotFoundException); an EMR
Serverless application is STARTED at creation and moves at once on start/stop/delete; a
SageMaker tuning job is Completed at once; a Bedrock customization job stays InProgress."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.asl.resources import OPTIMIZED, SYNC, parse_resource
from engine.feature_support import find_unsupported, unsupported_warnings
from engine.handlers import Registry
from engine.integrations import builtin_warning, jobs
from engine.runtime import nested
from tests.integrations.conftest import AwsEmulator
from tests.integrations.test_job_kinds import Answers, _context, run, runner, sent
from tests.integrations.test_job_stops import flush

ROLE = "arn:aws:iam::123456789012:role/r"


def sync(service: str, action: str) -> str:
    return f"arn:aws:states:::{service}:{action}.sync"


def test_every_sync_aws_accepts_is_served_and_none_is_refused_at_creation() -> None:
    accepted = [(service, action) for service, actions in OPTIMIZED.items()
                for action, patterns in actions.items() if SYNC in patterns]
    assert ("eks", "runJob") in accepted and ("mediaconvert", "createJob") in accepted
    for service, action in accepted:
        resource = sync(service, action)
        served = (service, action) in jobs.KINDS or (service, action) in jobs.KUBERNETES
        assert served or nested.is_nested(resource), resource
        state = {"Type": "Task", "Resource": resource, "End": True}
        assert find_unsupported({"Job": state}, "/States") == [], resource
        text = json.dumps({"StartAt": "Job", "States": {"Job": state}})
        assert unsupported_warnings(text) == [], resource


def test_eks_cluster_nodegroup_and_profile_life_cycle(aws_env: AwsEmulator) -> None:
    inline = runner()
    tokens = sent(inline, "eks", "CreateCluster")
    vpc = {"SubnetIds": ["subnet-1"]}
    inline.create_state_machine("M", {"StartAt": "Cluster", "States": {
        "Cluster": {"Type": "Task", "Resource": sync("eks", "createCluster"),
                    "Parameters": {"Name": "c", "RoleArn": ROLE, "ResourcesVpcConfig": vpc},
                    "ResultPath": "$.cluster", "Next": "Nodes"},
        "Nodes": {"Type": "Task", "Resource": sync("eks", "createNodegroup"),
                  "Parameters": {"ClusterName": "c", "NodegroupName": "n", "NodeRole": ROLE,
                                 "Subnets": ["subnet-1"]},
                  "ResultPath": "$.nodes", "Next": "Profile"},
        "Profile": {"Type": "Task", "Resource": sync("eks", "createFargateProfile"),
                    "Parameters": {"ClusterName": "c", "FargateProfileName": "p",
                                   "PodExecutionRoleArn": ROLE,
                                   "Selectors": [{"Namespace": "default"}]},
                    "ResultPath": "$.profile", "Next": "DropProfile"},
        "DropProfile": {"Type": "Task", "Resource": sync("eks", "deleteFargateProfile"),
                        "Parameters": {"ClusterName": "c", "FargateProfileName": "p"},
                        "ResultPath": "$.dropped", "Next": "DropNodes"},
        "DropNodes": {"Type": "Task", "Resource": sync("eks", "deleteNodegroup"),
                      "Parameters": {"ClusterName": "c", "NodegroupName": "n"},
                      "ResultPath": None, "Next": "Drop"},
        "Drop": {"Type": "Task", "Resource": sync("eks", "deleteCluster"),
                 "Parameters": {"Name": "c"}, "ResultPath": "$.deleted", "End": True}}})
    record = inline.run("M", input={})
    assert record.status == "SUCCEEDED", record.cause
    out = json.loads(record.output)
    # The descriptions as AWS hands them over: PascalCase, the state reached.
    assert (out["cluster"]["Cluster"]["Name"], out["cluster"]["Cluster"]["Status"]) == (
        "c", "ACTIVE")
    assert out["nodes"]["Nodegroup"]["Status"] == "ACTIVE"
    assert out["profile"]["FargateProfile"]["FargateProfileName"] == "p"
    # A deletion ends when the resource is gone, with the delete call's answer.
    assert out["deleted"]["Cluster"]["Name"] == "c"
    assert out["dropped"]["FargateProfile"]["FargateProfileName"] == "p"
    assert "SdkHttpMetadata" not in out["deleted"]
    eks: Any = aws_env.client("eks")
    assert eks.list_clusters()["clusters"] == []
    assert len(tokens[0]["clientRequestToken"]) == 32


def test_a_failed_eks_deletion_fails_the_state_and_any_other_error_is_passed_on() -> None:
    ref = parse_resource(sync("eks", "deleteNodegroup"))
    assert ref is not None
    job = {"clusterName": "c", "nodegroupName": "n", "Answer": {"Nodegroup": {}}}
    described = {"nodegroup": {"nodegroupName": "n", "status": "DELETE_FAILED"}}
    outcome = jobs.run_job(Answers(described), ref,  # type: ignore[arg-type]
                           {"job": job}, _context(), 5.0)
    assert outcome is not None and (outcome.ok, outcome.error) == (False, "States.TaskFailed")
    assert json.loads(outcome.cause or "")["nodegroup"]["status"] == "DELETE_FAILED"
    # Still deleting: polled again, with the same handle.
    deleting = jobs.run_job(Answers({"nodegroup": {"status": "DELETING"}}), ref,  # type: ignore[arg-type]
                            {"job": job}, _context(), 5.0)
    assert deleting is not None and deleting.ok and deleting.job == job


def test_eks_run_job_is_served_by_a_registered_handler_when_there_is_one(
    aws_env: AwsEmulator,
) -> None:
    """The built-in (tests/integrations/test_eks_kubernetes.py) checks its parameters."""
    record, _, _ = run("arn:aws:states:::eks:runJob.sync", {"ClusterName": "c"})
    assert (record.status, record.error) == ("FAILED", "States.Runtime")
    assert "'CertificateAuthority' is required" in record.cause
    registry = Registry()
    registry.register("eks:runJob", lambda event, ctx: {"status": {"succeeded": 1}})
    from engine.integrations import Integrations, IntegrationSettings
    from engine.runtime.inline import InlineRunner

    inline = InlineRunner(registry, integrations=Integrations(
        registry, IntegrationSettings(aws=True)))
    inline.create_state_machine("M", {"StartAt": "Job", "States": {"Job": {
        "Type": "Task", "Resource": "arn:aws:states:::eks:runJob.sync",
        "Parameters": {"ClusterName": "c"}, "End": True}}})
    served = inline.run("M", input={})
    assert served.status == "SUCCEEDED", served.cause
    assert json.loads(served.output) == {"status": {"succeeded": 1}}
    # `sfn validate` says what serving it takes.
    warning = builtin_warning("arn:aws:states:::eks:runJob.sync")
    assert warning is not None and "SFN_AWS_INTEGRATIONS=1" in warning


def test_emr_serverless_application_life_cycle(aws_env: AwsEmulator) -> None:
    inline = runner()
    inline.create_state_machine("M", {"StartAt": "Create", "States": {
        "Create": {"Type": "Task", "Resource": sync("emr-serverless", "createApplication"),
                   "Parameters": {"Name": "spark", "ReleaseLabel": "emr-6.6.0",
                                  "Type": "SPARK"},
                   "ResultSelector": {"Id.$": "$.Application.ApplicationId",
                                      "State.$": "$.Application.State"},
                   "ResultPath": "$.app", "Next": "Stop"},
        "Stop": {"Type": "Task", "Resource": sync("emr-serverless", "stopApplication"),
                 "Parameters": {"ApplicationId.$": "$.app.Id"},
                 "ResultSelector": {"State.$": "$.Application.State"},
                 "ResultPath": "$.stopped", "Next": "Start"},
        "Start": {"Type": "Task", "Resource": sync("emr-serverless", "startApplication"),
                  "Parameters": {"ApplicationId.$": "$.app.Id"},
                  "ResultSelector": {"State.$": "$.Application.State"},
                  "ResultPath": "$.started", "Next": "StopAgain"},
        "StopAgain": {"Type": "Task", "Resource": sync("emr-serverless", "stopApplication"),
                      "Parameters": {"ApplicationId.$": "$.app.Id"}, "ResultPath": None,
                      "Next": "Delete"},
        "Delete": {"Type": "Task", "Resource": sync("emr-serverless", "deleteApplication"),
                   "Parameters": {"ApplicationId.$": "$.app.Id"},
                   "ResultSelector": {"State.$": "$.Application.State"},
                   "ResultPath": "$.deleted", "End": True}}})
    record = inline.run("M", input={})
    assert record.status == "SUCCEEDED", record.cause
    out = json.loads(record.output)
    assert (out["stopped"], out["started"], out["deleted"]) == (
        {"State": "STOPPED"}, {"State": "STARTED"}, {"State": "TERMINATED"})


def test_emr_serverless_cancel_job_run_sync(aws_env: AwsEmulator) -> None:
    serverless: Any = aws_env.client("emr-serverless")
    app = serverless.create_application(name="a", releaseLabel="emr-6.6.0",
                                        type="SPARK")["applicationId"]
    run_id = serverless.start_job_run(applicationId=app, executionRoleArn=ROLE,
                                      jobDriver={"sparkSubmit": {"entryPoint": "x"}})["jobRunId"]
    record, _, _ = run(sync("emr-serverless", "cancelJobRun"),
                       {"ApplicationId": app, "JobRunId": run_id})
    # moto's runs end SUCCESS at once and its cancel then marks them CANCELLED.
    assert record.status == "SUCCEEDED", record.cause
    assert json.loads(record.output)["JobRun"]["State"] == "CANCELLED"
    ref = parse_resource(sync("emr-serverless", "cancelJobRun"))
    assert ref is not None
    ended = jobs.run_job(Answers({"jobRun": {"state": "SUCCESS"}}), ref,  # type: ignore[arg-type]
                         {"job": {"applicationId": "a", "jobRunId": "j"}}, _context(), 5.0)
    assert ended is not None and ended.error == "States.TaskFailed"


def test_emr_containers_delete_virtual_cluster_sync(aws_env: AwsEmulator) -> None:
    containers: Any = aws_env.client("emr-containers")
    cluster = containers.create_virtual_cluster(name="v", containerProvider={
        "type": "EKS", "id": "c", "info": {"eksInfo": {"namespace": "default"}}})["id"]
    record, _, _ = run(sync("emr-containers", "deleteVirtualCluster"), {"Id": cluster})
    assert record.status == "SUCCEEDED", record.cause
    out = json.loads(record.output)
    assert (out["VirtualCluster"]["Id"], out["VirtualCluster"]["State"]) == (
        cluster, "TERMINATED")


def test_sagemaker_hyper_parameter_tuning_job_sync(aws_env: AwsEmulator) -> None:
    record, _, _ = run(sync("sagemaker", "createHyperParameterTuningJob"), {
        "HyperParameterTuningJobName": "tune",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1}},
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
            "RoleArn": ROLE, "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                               "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 60}}})
    assert record.status == "SUCCEEDED", record.cause
    out = json.loads(record.output)
    assert (out["HyperParameterTuningJobName"], out["HyperParameterTuningJobStatus"]) == (
        "tune", "Completed")


def test_bedrock_model_customization_job_starts_polls_and_is_stopped(
    aws_env: AwsEmulator,
) -> None:
    inline = runner()
    requests = sent(inline, "bedrock", "CreateModelCustomizationJob")
    inline.create_state_machine("M", {"StartAt": "Job", "States": {"Job": {
        "Type": "Task", "Resource": sync("bedrock", "createModelCustomizationJob"),
        "TimeoutSeconds": 30, "End": True,
        "Parameters": {"JobName": "tune", "CustomModelName": "mine", "RoleArn": ROLE,
                       "BaseModelIdentifier": "amazon.titan-text-express-v1",
                       "TrainingDataConfig": {"S3Uri": "s3://b/train.jsonl"},
                       "OutputDataConfig": {"S3Uri": "s3://b/out/"},
                       "HyperParameters": {"epochCount": "1"}}}}})
    record = inline.run("M", input={})
    # moto's jobs never end: the Task's timeout ends the wait, and the job is stopped.
    assert record.error == "States.Timeout"
    assert len(requests[0]["clientRequestToken"]) == 32
    flush(inline)  # the stop request, queued once the Task timed out
    bedrock: Any = aws_env.client("bedrock")
    [job] = bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"]
    assert job["status"] == "Stopped"
    ref = parse_resource(sync("bedrock", "createModelCustomizationJob"))
    assert ref is not None
    done = jobs.run_job(Answers({"jobArn": "a", "status": "Completed"}), ref,  # type: ignore[arg-type]
                        {"job": {"JobArn": "a", "JobName": "n"}}, _context(), 5.0)
    assert done is not None and done.ok and done.result == {"jobArn": "a", "status": "Completed"}


@pytest.mark.parametrize(("resource", "answers", "calls", "result"), [
    (sync("mediaconvert", "createJob"),
     [{"Job": {"Id": "j1", "Status": "SUBMITTED"}, "ResponseMetadata": {}},
      {"Job": {"Id": "j1", "Status": "PROGRESSING"}},
      {"Job": {"Id": "j1", "Status": "COMPLETE"}}],
     ["CreateJob", "GetJob", "GetJob"],
     {"Job": {"Id": "j1", "Status": "COMPLETE"}}),
    (sync("sagemaker", "createLabelingJob"),
     [{"LabelingJobArn": "arn", "ResponseMetadata": {}},
      {"LabelingJobName": "label", "LabelingJobStatus": "Completed"}],
     ["CreateLabelingJob", "DescribeLabelingJob"],
     {"LabelingJobName": "label", "LabelingJobStatus": "Completed"}),
    (sync("codebuild", "retryBuildBatch"),
     [{"buildBatch": {"id": "b1"}, "ResponseMetadata": {}},
      {"buildBatches": [{"id": "b1", "buildBatchStatus": "SUCCEEDED"}]}],
     ["RetryBuildBatch", "BatchGetBuildBatches"],
     {"BuildBatch": {"id": "b1", "buildBatchStatus": "SUCCEEDED"}}),
])
def test_jobs_moto_does_not_run_against_answers_as_aws_gives_them(
    resource: str, answers: list[dict[str, Any]], calls: list[str],
    result: dict[str, Any],
) -> None:
    ref = parse_resource(resource)
    assert ref is not None
    caller = Answers(*answers)
    task: dict[str, Any] = {"parameters": {"LabelingJobName": "label", "Id": "b0"}}
    outcome = None
    for _ in answers:
        outcome = jobs.run_job(caller, ref, task, _context(), 5.0)  # type: ignore[arg-type]
        assert outcome is not None and outcome.ok, outcome
        task = {**task, "job": outcome.job} if outcome.job is not None else task
    assert [op for op, _ in caller.calls] == calls
    assert outcome is not None and outcome.result == result


def test_a_mediaconvert_job_in_error_fails_the_state_and_is_cancelled_on_stop() -> None:
    ref = parse_resource(sync("mediaconvert", "createJob"))
    assert ref is not None
    failed = jobs.run_job(Answers({"Job": {"Id": "j", "Status": "ERROR", "ErrorCode": 1010}}),
                          ref, {"job": {"Id": "j"}}, _context(), 5.0)  # type: ignore[arg-type]
    assert failed is not None and failed.error == "States.TaskFailed"
    assert json.loads(failed.cause or "")["Job"]["ErrorCode"] == 1010
    caller = Answers({})
    outcome = jobs.stop_job(caller, sync("mediaconvert", "createJob"),  # type: ignore[arg-type]
                            {"Id": "j"}, "stopped")
    assert outcome.settled and outcome.text == "stopped"
    assert caller.calls == [("CancelJob", {"Id": "j"})]


class ModelledAnswers(Answers):
    """Answers as AWS gives them, with botocore's models of the calls (the member names and
    the idempotency tokens as a real client would send them)."""

    def __init__(self, *answers: dict[str, Any]) -> None:
        super().__init__(*answers)
        from engine.integrations.aws import AwsCaller

        self.models = AwsCaller("us-east-1")

    def input_shape(self, service: str, operation: str) -> Any:
        return self.models.input_shape(service, operation)

    def output_shape(self, service: str, operation: str) -> Any:
        return self.models.output_shape(service, operation)


def test_a_mediaconvert_job_is_created_with_its_client_token_and_described_as_aws_does() -> None:
    ref = parse_resource(sync("mediaconvert", "createJob"))
    assert ref is not None
    caller = ModelledAnswers(
        {"Job": {"Id": "j1", "Status": "SUBMITTED", "Role": ROLE}, "ResponseMetadata": {}},
        {"Job": {"Id": "j1", "Status": "COMPLETE", "Role": ROLE,
                 "Timing": {"FinishTime": 1700000000}}})
    task: dict[str, Any] = {"parameters": {"Role": ROLE, "Settings": {}}}
    started = jobs.run_job(caller, ref, task, _context(), 5.0)  # type: ignore[arg-type]
    assert started is not None and started.job == {"Id": "j1"}
    done = jobs.run_job(caller, ref, {**task, "job": started.job},  # type: ignore[arg-type]
                        _context(), 5.0)
    assert done is not None and done.ok
    assert done.result["Job"]["Status"] == "COMPLETE"
    [(_, create), (_, get)] = caller.calls
    assert len(create["ClientRequestToken"]) == 32 and get == {"Id": "j1"}
