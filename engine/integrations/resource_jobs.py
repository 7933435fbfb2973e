"""`.sync` on integrations whose "job" is a resource's life cycle rather than a run: EKS
clusters, node groups and Fargate profiles, EMR Serverless applications, EMR on EKS
virtual clusters. The Task waits until the resource reaches the state the action asks for
(created, started, stopped) or, for a deletion, until the describe call no longer finds
it (`JobKind.gone`).

These delete calls take no client token: a worker killed between the call and its commit
re-runs it, and the re-run meets ResourceNotFoundException, the first call having deleted
the resource. When the claim says the delivery re-runs the same state visit and attempt
(`LoadedRun.reclaimed`), that answer (or any refusal after which the describe call finds
the resource gone or still being deleted, `JobKind.deleting`: a second delete may be
answered ResourceInUseException) means the deletion happened: the Task goes on to its
poll, which ends as AWS's `.sync` ends for a deleted resource (`JobKind.gone_answer`). A
first call that meets it fails as AWS does (the service's ResourceNotFoundException).

None is stopped when the execution stops: AWS's EKS page says Step Functions "does not
terminate an Amazon EKS cluster automatically if execution is stopped", and undoing a
creation or a deletion half-way is nothing these APIs offer.
"""

from __future__ import annotations

from engine.integrations.job_kinds import JobKind, Params

_NOT_FOUND = "ResourceNotFoundException"


def _eks(create: str, member: str, names: dict[str, str], *, deleting: bool) -> JobKind:
    """An EKS resource (`member`: cluster, nodegroup, fargateProfile) named by the state's
    parameters `names` (the API's request member -> the describe call's member)."""
    describe = "Describe" + member[:1].upper() + member[1:]
    keys = tuple(names.items())

    def handle(response: Params, params: Params) -> Params:
        return {describe_key: params[key] for key, describe_key in keys}

    return JobKind(
        "eks", create,
        handle=handle,
        describe=describe,
        describe_params=lambda job: {key: job[key] for _, key in keys},
        status=lambda d: str((d.get(member) or {}).get("status", "")),
        # A deletion ends when the describe call no longer finds the resource.
        succeeded=frozenset() if deleting else frozenset({"ACTIVE"}),
        failed=frozenset({"FAILED", "DELETE_FAILED"} if deleting
                         else {"FAILED", "CREATE_FAILED"}),
        output=lambda d, raw: d,
        gone=_NOT_FOUND if deleting else None,
        # The delete calls answer the resource's description: its names at least.
        gone_answer=lambda params: {member: {key: params[key] for key, _ in keys}},
        deleting=frozenset({"DELETING"}) if deleting else frozenset(),
    )


_CLUSTER = {"name": "name"}
_NODEGROUP = {"clusterName": "clusterName", "nodegroupName": "nodegroupName"}
_PROFILE = {"clusterName": "clusterName", "fargateProfileName": "fargateProfileName"}


def _application(start: str, succeeded: set[str], failed: set[str], *,
                 deleting: bool = False) -> JobKind:
    """An EMR Serverless application: the start call names it (`applicationId`) or
    creates it (its answer names it)."""
    return JobKind(
        "emr-serverless", start,
        handle=lambda response, params: {
            "applicationId": response.get("applicationId") or params["applicationId"]},
        describe="GetApplication",
        describe_params=lambda job: {"applicationId": job["applicationId"]},
        status=lambda d: str((d.get("application") or {}).get("state", "")),
        succeeded=frozenset(succeeded),
        failed=frozenset(failed),
        output=lambda d, raw: d,
        gone=_NOT_FOUND if deleting else None,
        gone_answer=lambda params: {},  # DeleteApplication answers nothing
        deleting=frozenset({"TERMINATED"}) if deleting else frozenset(),
    )


KINDS: dict[tuple[str, str], JobKind] = {
    ("eks", "createCluster"): _eks("CreateCluster", "cluster", _CLUSTER, deleting=False),
    ("eks", "deleteCluster"): _eks("DeleteCluster", "cluster", _CLUSTER, deleting=True),
    ("eks", "createNodegroup"): _eks("CreateNodegroup", "nodegroup", _NODEGROUP,
                                     deleting=False),
    ("eks", "deleteNodegroup"): _eks("DeleteNodegroup", "nodegroup", _NODEGROUP,
                                     deleting=True),
    ("eks", "createFargateProfile"): _eks("CreateFargateProfile", "fargateProfile", _PROFILE,
                                          deleting=False),
    ("eks", "deleteFargateProfile"): _eks("DeleteFargateProfile", "fargateProfile", _PROFILE,
                                          deleting=True),
    # Created: any state past CREATING (an application may start itself at once).
    ("emr-serverless", "createApplication"): _application(
        "CreateApplication", {"CREATED", "STARTING", "STARTED", "STOPPING", "STOPPED"},
        {"TERMINATED"}),
    ("emr-serverless", "startApplication"): _application(
        "StartApplication", {"STARTED"}, {"STOPPED", "TERMINATED"}),
    ("emr-serverless", "stopApplication"): _application(
        "StopApplication", {"STOPPED"}, {"TERMINATED"}),
    ("emr-serverless", "deleteApplication"): _application(
        "DeleteApplication", {"TERMINATED"}, set(), deleting=True),
    # Cancelled as asked; a run that ended otherwise first was not cancelled.
    ("emr-serverless", "cancelJobRun"): JobKind(
        "emr-serverless", "CancelJobRun",
        handle=lambda response, params: {"applicationId": response["applicationId"],
                                         "jobRunId": response["jobRunId"]},
        describe="GetJobRun",
        describe_params=lambda job: {"applicationId": job["applicationId"],
                                     "jobRunId": job["jobRunId"]},
        status=lambda d: str(d["jobRun"]["state"]),
        succeeded=frozenset({"CANCELLED"}),
        failed=frozenset({"SUCCESS", "FAILED"}),
        output=lambda d, raw: d,
    ),
    ("emr-containers", "deleteVirtualCluster"): JobKind(
        "emr-containers", "DeleteVirtualCluster",
        handle=lambda response, params: {"id": response.get("id") or params["id"]},
        describe="DescribeVirtualCluster",
        describe_params=lambda job: {"id": job["id"]},
        status=lambda d: str((d.get("virtualCluster") or {}).get("state", "")),
        succeeded=frozenset({"TERMINATED"}),
        failed=frozenset(),
        output=lambda d, raw: d,
        gone=_NOT_FOUND,
        gone_answer=lambda params: {"id": params["id"]},
        deleting=frozenset({"TERMINATING", "TERMINATED"}),
    ),
}
