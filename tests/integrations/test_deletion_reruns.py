"""A deletion `.sync` (`eks:deleteCluster.sync`...) whose worker died between the delete
call and its commit: the re-run of the same state visit and attempt meets
ResourceNotFoundException (the first call deleted the resource; these APIs take no client
token) and goes on to the poll, which ends as AWS's `.sync` ends for a deleted resource. A
first call that meets it fails as AWS does. Against the AWS API emulator (moto server, over
HTTP), where an EKS cluster or node group is ACTIVE at once and deleted at once."""

from __future__ import annotations

import heapq
import json
from typing import Any

from engine.runtime.commits import started_event
from engine.runtime.inline import InlineRunner
from engine.runtime.messages import Message, entry_id
from tests.integrations.conftest import AwsEmulator
from tests.integrations.test_job_kinds import runner

ROLE = "arn:aws:iam::123456789012:role/r"
VPC = {"subnetIds": ["subnet-1"]}


def machine(inline: InlineRunner, resource: str, parameters: dict[str, Any]) -> None:
    inline.create_state_machine("M", {"StartAt": "Drop", "States": {"Drop": {
        "Type": "Task", "Resource": f"arn:aws:states:::eks:{resource}.sync",
        "Parameters": parameters, "End": True}}})


def die_after_the_call(inline: InlineRunner, eid: str) -> Message:
    """Deliver messages until the deletion's Task, then run it as a worker that is killed
    after its call and before its commit (claimed, called, never completed)."""
    for _ in range(50):
        due, _, message = heapq.heappop(inline.queue.heap)
        inline.now = max(inline.now, due)
        if message.get("k") != "task":
            inline.driver.handle(message)
            continue
        claim = inline.store.claim_task(
            eid, message["r"], message["v"], message["a"], now=inline.now,
            lease_until=inline.now + 20, owner="killed", entry_id=entry_id(message),
            started_event=started_event(message, inline.now))
        assert claim.ok and claim.loaded is not None and not claim.loaded.reclaimed
        outcome = inline.driver.invoke(eid, claim.loaded, message)
        assert outcome.ok, outcome  # the resource is deleted; nothing is committed
        return message
    raise AssertionError("the deletion's Task was never scheduled")


def test_a_rerun_deletion_that_meets_not_found_ends_as_deleted(aws_env: AwsEmulator) -> None:
    eks: Any = aws_env.client("eks")
    eks.create_cluster(name="c", roleArn=ROLE, resourcesVpcConfig=VPC)
    inline = runner()
    machine(inline, "deleteCluster", {"Name": "c"})
    record = inline.client.start_execution("M", {})
    message = die_after_the_call(inline, record.eid)
    assert eks.list_clusters()["clusters"] == []
    # The lease runs out; the message comes again (the sweep, or the broker's redelivery).
    inline.now += 60
    inline.driver.handle(message)
    inline.drain(record.eid)
    done = inline.client.describe_execution(record.eid)
    assert done.status == "SUCCEEDED", done.cause
    assert json.loads(done.output or "") == {"Cluster": {"Name": "c"}}
    types = [e["type"] for e in inline.client.get_history(record.eid)]
    assert types.count("TaskStarted") == 1 and types.count("TaskSubmitted") == 1


def test_a_rerun_node_group_deletion_ends_as_deleted(aws_env: AwsEmulator) -> None:
    eks: Any = aws_env.client("eks")
    eks.create_cluster(name="c", roleArn=ROLE, resourcesVpcConfig=VPC)
    eks.create_nodegroup(clusterName="c", nodegroupName="n", nodeRole=ROLE,
                         subnets=["subnet-1"])
    inline = runner()
    machine(inline, "deleteNodegroup", {"ClusterName": "c", "NodegroupName": "n"})
    record = inline.client.start_execution("M", {})
    message = die_after_the_call(inline, record.eid)
    inline.now += 60
    inline.driver.handle(message)
    inline.drain(record.eid)
    done = inline.client.describe_execution(record.eid)
    assert done.status == "SUCCEEDED", done.cause
    assert json.loads(done.output or "") == {
        "Nodegroup": {"ClusterName": "c", "NodegroupName": "n"}}


def test_a_first_deletion_that_meets_not_found_fails_as_aws_does(aws_env: AwsEmulator) -> None:
    inline = runner()
    machine(inline, "deleteCluster", {"Name": "never-made"})
    done = inline.run("M", input={})
    # The service's error name (engine/integrations/shapes.py names the service's prefix).
    assert done.status == "FAILED" and (done.error or "").endswith(".ResourceNotFoundException")
    assert "never-made" in (done.cause or "")


def test_a_rerun_refused_as_in_use_while_the_resource_is_deleting_goes_on_to_the_poll() -> None:
    """A second DeleteNodegroup while the first one still runs may be answered
    ResourceInUseException: the describe call (DELETING) says the first one took effect.
    Against a caller answering as AWS does (moto deletes at once)."""
    from engine.asl.resources import parse_resource
    from engine.handlers import Invocation
    from engine.integrations import jobs
    from tests.integrations.test_job_kinds import _context
    from tests.integrations.test_resource_jobs import ModelledAnswers as Answers

    ref = parse_resource("arn:aws:states:::eks:deleteNodegroup.sync")
    assert ref is not None
    in_use = Invocation(False, error="Eks.ResourceInUseException", cause="in use")
    task = {"parameters": {"ClusterName": "c", "NodegroupName": "n"}, "rerun": True}
    deleting = {"nodegroup": {"nodegroupName": "n", "status": "DELETING"}}
    went_on = jobs.run_job(Answers(in_use, deleting), ref, task,  # type: ignore[arg-type]
                           _context(), 5.0)
    assert went_on is not None and went_on.ok
    assert went_on.job == {"clusterName": "c", "nodegroupName": "n", "Answer": {
        "Nodegroup": {"ClusterName": "c", "NodegroupName": "n"}}}
    # Still ACTIVE: the refusal stands; and a first call is never second-guessed.
    active = {"nodegroup": {"nodegroupName": "n", "status": "ACTIVE"}}
    refused = jobs.run_job(Answers(in_use, active), ref, task,  # type: ignore[arg-type]
                           _context(), 5.0)
    assert refused is not None and refused.error == "Eks.ResourceInUseException"
    caller = Answers(in_use)
    first = jobs.run_job(caller, ref, {**task, "rerun": False},  # type: ignore[arg-type]
                         _context(), 5.0)
    assert first is not None and first.error == "Eks.ResourceInUseException"
    assert [op for op, _ in caller.calls] == ["DeleteNodegroup"]
