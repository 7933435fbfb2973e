"""Versions and aliases through boto3, unchanged, against `sfn serve`'s application on a
real redis-server with a real Celery worker: publishing, describing, listing and deleting
versions; aliases routing one or two versions by weight; executions started through a
version or an alias, which record both; every error as boto3's modeled exception."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from engine.api import server
from engine.client import Client
from engine.connect import connect
from engine.settings import Settings
from tests.api_stack import sfn_client

boto3 = pytest.importorskip("boto3")
from botocore.config import Config  # noqa: E402

pytestmark = [pytest.mark.redis, pytest.mark.worker]

ROLE = "arn:aws:iam::000000000000:role/StepFunctionsRole"
PREFIX = "arn:aws:states:us-east-1:000000000000"


def says(word: str) -> str:
    """A definition whose executions succeed with {"v": word}."""
    return json.dumps({"StartAt": "P", "States": {"P": {
        "Type": "Pass", "Result": {"v": word}, "End": True}}})


@pytest.fixture(scope="module")
def engine_client(worker: Any, redis_server: Any) -> Client:
    return connect(Settings(redis_url=redis_server.url))


@pytest.fixture(scope="module")
def api(engine_client: Client) -> Iterator[server.Running]:
    running = server.start_background(server.build_app(engine_client, sync_timeout=60))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def sfn(api: server.Running) -> Any:
    return sfn_client(api.url)


@pytest.fixture(scope="module")
def raw(api: server.Running) -> Any:
    """boto3 without its own parameter checks: what the server answers to what botocore
    would refuse before sending (other SDKs check less)."""
    return boto3.client(
        "stepfunctions", endpoint_url=api.url, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, parameter_validation=False),
    )


@pytest.fixture
def draws(engine_client: Client) -> Iterator[list[float]]:
    """Make the alias's weighted choice deterministic: each start takes the next draw."""
    queue: list[float] = []
    original = engine_client.versions.choose
    engine_client.versions.choose = lambda: queue.pop(0)
    yield queue
    engine_client.versions.choose = original


def wait_done(sfn: Any, arn: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        assert time.monotonic() < deadline, f"{arn} still RUNNING"
        time.sleep(0.05)


def machine(sfn: Any, name: str, word: str = "one", **kwargs: Any) -> dict[str, Any]:
    out: dict[str, Any] = sfn.create_state_machine(
        name=name, definition=says(word), roleArn=ROLE, **kwargs)
    return out


def paged(operation: Any, member: str, arn: str) -> list[str]:
    """Every ARN of a listing, one per page (botocore has no paginator for these)."""
    found: list[str] = []
    extra: dict[str, str] = {}
    while True:
        page = operation(stateMachineArn=arn, maxResults=1, **extra)
        assert len(page[member]) <= 1
        found.extend(next(v for k, v in item.items() if k.endswith("Arn")) for item in page[member])
        if "nextToken" not in page:
            return found
        extra = {"nextToken": page["nextToken"]}


def code(excinfo: pytest.ExceptionInfo[Any]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def status(excinfo: pytest.ExceptionInfo[Any]) -> int:
    return int(excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"])


# --- versions -----------------------------------------------------------------------------


def test_publish_describe_list_and_run_versions(sfn: Any, unique: str) -> None:
    name = f"Ver{unique}"
    arn = machine(sfn, name, "one")["stateMachineArn"]
    v1 = sfn.publish_state_machine_version(stateMachineArn=arn, description="first")
    assert v1["stateMachineVersionArn"] == f"{arn}:1"
    # The same revision again is the same version (AWS: idempotent).
    again = sfn.publish_state_machine_version(stateMachineArn=arn)
    assert again["stateMachineVersionArn"] == f"{arn}:1"
    assert again["creationDate"] == v1["creationDate"]

    updated = sfn.update_state_machine(stateMachineArn=arn, definition=says("two"))
    assert "stateMachineVersionArn" not in updated
    v2 = sfn.publish_state_machine_version(
        stateMachineArn=arn, revisionId=updated["revisionId"], description="second")
    assert v2["stateMachineVersionArn"] == f"{arn}:2"

    described = sfn.describe_state_machine(stateMachineArn=f"{arn}:1")
    assert described["stateMachineArn"] == f"{arn}:1"
    assert described["name"] == name and described["status"] == "ACTIVE"
    assert json.loads(described["definition"])["States"]["P"]["Result"] == {"v": "one"}
    assert described["description"] == "first"
    assert described["roleArn"] == ROLE and described["type"] == "STANDARD"
    assert "description" not in sfn.describe_state_machine(stateMachineArn=arn)

    listed = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in listed] == [f"{arn}:2", f"{arn}:1"]
    assert paged(sfn.list_state_machine_versions, "stateMachineVersions", arn) == [
        f"{arn}:2", f"{arn}:1"]

    # The machine moves on; version 1 still runs its own definition, and the execution
    # records the version it was started through.
    sfn.update_state_machine(stateMachineArn=arn, definition=says("three"))
    started = sfn.start_execution(stateMachineArn=f"{arn}:1", name="on-v1")
    assert started["executionArn"] == f"{PREFIX}:execution:{name}:on-v1"
    done = wait_done(sfn, started["executionArn"])
    assert json.loads(done["output"]) == {"v": "one"}
    assert done["stateMachineArn"] == arn
    assert done["stateMachineVersionArn"] == f"{arn}:1"
    assert "stateMachineAliasArn" not in done
    history = sfn.get_execution_history(executionArn=started["executionArn"])["events"]
    assert history[0]["executionStartedEventDetails"]["stateMachineVersionArn"] == f"{arn}:1"
    for_execution = sfn.describe_state_machine_for_execution(
        executionArn=started["executionArn"])
    assert json.loads(for_execution["definition"])["States"]["P"]["Result"] == {"v": "one"}
    assert for_execution["revisionId"] == described["revisionId"]
    item = sfn.list_executions(stateMachineArn=arn)["executions"][0]
    assert item["stateMachineVersionArn"] == f"{arn}:1"
    plain = wait_done(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"])
    assert json.loads(plain["output"]) == {"v": "three"}
    assert "stateMachineVersionArn" not in plain


def test_publish_refuses_a_stale_revision_and_checks_its_arn(sfn: Any, unique: str) -> None:
    arn = machine(sfn, f"Stale{unique}")["stateMachineArn"]
    first = sfn.describe_state_machine(stateMachineArn=arn)["revisionId"]
    sfn.update_state_machine(stateMachineArn=arn, definition=says("newer"))
    with pytest.raises(sfn.exceptions.ConflictException) as e:
        sfn.publish_state_machine_version(stateMachineArn=arn, revisionId=first)
    assert status(e) == 409
    assert sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"] == []
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.publish_state_machine_version(stateMachineArn=f"{PREFIX}:stateMachine:No{unique}")
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.publish_state_machine_version(stateMachineArn=f"{arn}:1")
    with pytest.raises(sfn.exceptions.ValidationException):
        sfn.publish_state_machine_version(stateMachineArn=arn, description="x" * 257)


def test_create_and_update_with_publish(sfn: Any, unique: str) -> None:
    created = machine(sfn, f"Pub{unique}", publish=True, versionDescription="initial")
    arn = created["stateMachineArn"]
    assert created["stateMachineVersionArn"] == f"{arn}:1"
    assert sfn.describe_state_machine(stateMachineArn=f"{arn}:1")["description"] == "initial"
    updated = sfn.update_state_machine(
        stateMachineArn=arn, definition=says("two"), publish=True, versionDescription="v2")
    assert updated["stateMachineVersionArn"] == f"{arn}:2"
    assert sfn.describe_state_machine(stateMachineArn=f"{arn}:2")["revisionId"] == (
        updated["revisionId"])
    # versionDescription only goes with publish, as on AWS.
    with pytest.raises(sfn.exceptions.ValidationException):
        sfn.update_state_machine(stateMachineArn=arn, definition=says("x"),
                                 versionDescription="no publish")
    with pytest.raises(sfn.exceptions.ValidationException):
        machine(sfn, f"Pub2{unique}", versionDescription="no publish")
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])[
        "States"]["P"]["Result"] == {"v": "two"}


def test_version_errors(sfn: Any, unique: str) -> None:
    arn = machine(sfn, f"VErr{unique}")["stateMachineArn"]
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.describe_state_machine(stateMachineArn=f"{arn}:7")
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.start_execution(stateMachineArn=f"{arn}:7")
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.start_execution(stateMachineArn=f"{arn}:NoSuchAlias")
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.delete_state_machine_version(stateMachineVersionArn=arn)
    # Deleting a version that is not there is fine (AWS models no error for it).
    sfn.delete_state_machine_version(stateMachineVersionArn=f"{arn}:7")


def test_delete_version_refused_while_an_alias_routes_to_it(sfn: Any, unique: str) -> None:
    arn = machine(sfn, f"Del{unique}", publish=True)["stateMachineArn"]
    alias = sfn.create_state_machine_alias(
        name="live", routingConfiguration=[{"stateMachineVersionArn": f"{arn}:1", "weight": 100}])
    with pytest.raises(sfn.exceptions.ConflictException) as e:
        sfn.delete_state_machine_version(stateMachineVersionArn=f"{arn}:1")
    assert status(e) == 409 and "live" in e.value.response["Error"]["Message"]
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias["stateMachineAliasArn"])
    sfn.delete_state_machine_version(stateMachineVersionArn=f"{arn}:1")
    assert sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"] == []
    # Numbers are never reused: the next version of a new revision is 2.
    sfn.update_state_machine(stateMachineArn=arn, definition=says("two"))
    assert sfn.publish_state_machine_version(stateMachineArn=arn)[
        "stateMachineVersionArn"] == f"{arn}:2"


# --- aliases ------------------------------------------------------------------------------


def two_versions(sfn: Any, name: str) -> str:
    arn = str(machine(sfn, name, "blue", publish=True)["stateMachineArn"])
    sfn.update_state_machine(stateMachineArn=arn, definition=says("green"), publish=True)
    return arn


def test_alias_crud_and_listing(sfn: Any, unique: str) -> None:
    arn = two_versions(sfn, f"Ali{unique}")
    routing = [{"stateMachineVersionArn": f"{arn}:1", "weight": 90},
               {"stateMachineVersionArn": f"{arn}:2", "weight": 10}]
    created = sfn.create_state_machine_alias(
        name="PROD", description="production", routingConfiguration=routing)
    assert created["stateMachineAliasArn"] == f"{arn}:PROD"
    # The same request again is idempotent; another configuration under the name conflicts.
    again = sfn.create_state_machine_alias(
        name="PROD", description="production", routingConfiguration=routing)
    assert again["creationDate"] == created["creationDate"]
    with pytest.raises(sfn.exceptions.ConflictException):
        sfn.create_state_machine_alias(name="PROD", routingConfiguration=[
            {"stateMachineVersionArn": f"{arn}:1", "weight": 100}])

    described = sfn.describe_state_machine_alias(stateMachineAliasArn=f"{arn}:PROD")
    assert described["name"] == "PROD" and described["description"] == "production"
    assert described["routingConfiguration"] == routing
    assert described["creationDate"] == created["creationDate"]

    sfn.create_state_machine_alias(
        name="beta", routingConfiguration=[{"stateMachineVersionArn": f"{arn}:2", "weight": 100}])
    listed = sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"]
    assert [a["stateMachineAliasArn"] for a in listed] == [f"{arn}:beta", f"{arn}:PROD"]
    only_v1 = sfn.list_state_machine_aliases(stateMachineArn=f"{arn}:1")["stateMachineAliases"]
    assert [a["stateMachineAliasArn"] for a in only_v1] == [f"{arn}:PROD"]
    assert paged(sfn.list_state_machine_aliases, "stateMachineAliases", arn) == [
        f"{arn}:beta", f"{arn}:PROD"]

    updated = sfn.update_state_machine_alias(
        stateMachineAliasArn=f"{arn}:PROD",
        routingConfiguration=[{"stateMachineVersionArn": f"{arn}:2", "weight": 100}])
    after = sfn.describe_state_machine_alias(stateMachineAliasArn=f"{arn}:PROD")
    assert after["routingConfiguration"] == [
        {"stateMachineVersionArn": f"{arn}:2", "weight": 100}]
    assert after["description"] == "production" and after["updateDate"] == updated["updateDate"]
    sfn.update_state_machine_alias(stateMachineAliasArn=f"{arn}:PROD", description="moved")
    assert sfn.describe_state_machine_alias(
        stateMachineAliasArn=f"{arn}:PROD")["description"] == "moved"

    sfn.delete_state_machine_alias(stateMachineAliasArn=f"{arn}:PROD")
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.describe_state_machine_alias(stateMachineAliasArn=f"{arn}:PROD")
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.delete_state_machine_alias(stateMachineAliasArn=f"{arn}:PROD")

    # Deleting the machine takes its versions and aliases with it.
    sfn.delete_state_machine(stateMachineArn=arn)
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.describe_state_machine_alias(stateMachineAliasArn=f"{arn}:beta")
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.describe_state_machine(stateMachineArn=f"{arn}:1")


@pytest.mark.parametrize(
    ("routing", "error"),
    [
        ([{"v": 1, "weight": 60}, {"v": 2, "weight": 30}], "ValidationException"),  # sum 90
        ([{"v": 1, "weight": 50}, {"v": 1, "weight": 50}], "ValidationException"),  # twice
        ([{"v": 1, "weight": 101}], "ValidationException"),
        ([{"v": 1, "weight": -1}], "ValidationException"),
        ([{"v": 9, "weight": 100}], "ResourceNotFound"),
        ([{"arn": "other", "weight": 100}], "ValidationException"),  # not a version ARN
        ([{"arn": "foreign", "weight": 50}, {"v": 1, "weight": 50}], "ValidationException"),
        ([], "ValidationException"),
        ([{"v": 1, "weight": 50}, {"v": 2, "weight": 25}, {"v": 2, "weight": 25}],
         "ValidationException"),
    ],
)
def test_alias_routing_is_checked_as_aws_does(
    sfn: Any, raw: Any, unique: str, routing: list[dict[str, Any]], error: str
) -> None:
    arn = two_versions(sfn, f"Route{unique}")
    other = machine(sfn, f"Other{unique}", publish=True)["stateMachineArn"]
    targets = {"other": arn, "foreign": f"{other}:1"}
    config = [
        {"stateMachineVersionArn": f"{arn}:{r['v']}" if "v" in r else targets[r["arn"]],
         "weight": r["weight"]}
        for r in routing
    ]
    with pytest.raises(raw.exceptions.ClientError) as e:
        raw.create_state_machine_alias(name="a", routingConfiguration=config)
    assert code(e) == error
    assert sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"] == []


def test_alias_name_and_update_errors(sfn: Any, unique: str) -> None:
    arn = two_versions(sfn, f"AErr{unique}")
    one = [{"stateMachineVersionArn": f"{arn}:1", "weight": 100}]
    for bad in ("123", "has space", "a:b"):
        with pytest.raises(sfn.exceptions.ClientError) as e:
            sfn.create_state_machine_alias(name=bad, routingConfiguration=one)
        assert code(e) == "InvalidName", bad
    sfn.create_state_machine_alias(name="live", routingConfiguration=one)
    with pytest.raises(sfn.exceptions.ValidationException):  # nothing to update
        sfn.update_state_machine_alias(stateMachineAliasArn=f"{arn}:live")
    other = machine(sfn, f"AOther{unique}", publish=True)["stateMachineArn"]
    with pytest.raises(sfn.exceptions.ValidationException):  # another machine's version
        sfn.update_state_machine_alias(
            stateMachineAliasArn=f"{arn}:live",
            routingConfiguration=[{"stateMachineVersionArn": f"{other}:1", "weight": 100}])
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.update_state_machine_alias(stateMachineAliasArn=f"{arn}:nope", description="d")
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.describe_state_machine_alias(stateMachineAliasArn=f"{arn}:1")
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.describe_state_machine_alias(stateMachineAliasArn=f"{arn}:no way")
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.describe_state_machine_alias(stateMachineAliasArn=arn)
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.describe_state_machine(stateMachineArn=f"{arn}:live")
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.list_state_machine_aliases(stateMachineArn=f"{PREFIX}:stateMachine:No{unique}")


def test_alias_routes_by_weight_and_new_weights_apply_to_new_executions(
    sfn: Any, unique: str, draws: list[float]
) -> None:
    name = f"Canary{unique}"
    arn = two_versions(sfn, name)
    alias = sfn.create_state_machine_alias(
        name="live", routingConfiguration=[
            {"stateMachineVersionArn": f"{arn}:1", "weight": 80},
            {"stateMachineVersionArn": f"{arn}:2", "weight": 20}])["stateMachineAliasArn"]
    # Draws below 0.80 take version 1, the rest version 2.
    draws.extend([0.10, 0.85, 0.79, 0.80])
    outputs = []
    for i in range(4):
        started = sfn.start_execution(stateMachineArn=alias, name=f"e{i}")
        done = wait_done(sfn, started["executionArn"])
        assert done["stateMachineAliasArn"] == alias
        assert done["stateMachineArn"] == arn
        outputs.append((json.loads(done["output"])["v"], done["stateMachineVersionArn"]))
    assert outputs == [("blue", f"{arn}:1"), ("green", f"{arn}:2"),
                       ("blue", f"{arn}:1"), ("green", f"{arn}:2")]

    # Promote: all traffic to version 2. New executions take it, whatever the draw.
    sfn.update_state_machine_alias(stateMachineAliasArn=alias, routingConfiguration=[
        {"stateMachineVersionArn": f"{arn}:2", "weight": 100}])
    draws.append(0.0)
    done = wait_done(sfn, sfn.start_execution(stateMachineArn=alias, name="after")["executionArn"])
    assert done["stateMachineVersionArn"] == f"{arn}:2"
    assert json.loads(done["output"]) == {"v": "green"}
    # Executions started before the update keep the version they were started on.
    before = sfn.describe_execution(executionArn=f"{PREFIX}:execution:{name}:e0")
    assert before["stateMachineVersionArn"] == f"{arn}:1"

    # ListExecutions on a version or alias ARN: the executions started through it, newest
    # first, paged; the machine's own ARN lists them all.
    def names(through: str, **kwargs: Any) -> list[str]:
        listed = sfn.list_executions(stateMachineArn=through, **kwargs)["executions"]
        return [e["name"] for e in listed]

    assert names(alias) == ["after", "e3", "e2", "e1", "e0"]
    assert names(f"{arn}:1") == ["e2", "e0"]
    assert names(f"{arn}:2") == ["after", "e3", "e1"]
    assert names(f"{arn}:2", statusFilter="FAILED") == []
    pages = sfn.get_paginator("list_executions").paginate(
        stateMachineArn=f"{arn}:2", PaginationConfig={"PageSize": 1})
    assert [e["name"] for page in pages for e in page["executions"]] == ["after", "e3", "e1"]
    assert len(names(arn)) == 5
    sfn.create_state_machine_alias(name="idle", routingConfiguration=[
        {"stateMachineVersionArn": f"{arn}:1", "weight": 100}])
    assert names(f"{arn}:idle") == []


def test_update_of_weights_does_not_touch_a_running_execution(
    sfn: Any, unique: str, draws: list[float]
) -> None:
    wait = json.dumps({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 1, "Next": "P"},
        "P": {"Type": "Pass", "Result": {"v": "slow-blue"}, "End": True}}})
    arn = sfn.create_state_machine(
        name=f"Slow{unique}", definition=wait, roleArn=ROLE, publish=True)["stateMachineArn"]
    sfn.update_state_machine(stateMachineArn=arn, definition=says("green"), publish=True)
    alias = sfn.create_state_machine_alias(name="live", routingConfiguration=[
        {"stateMachineVersionArn": f"{arn}:1", "weight": 100}])["stateMachineAliasArn"]
    draws.append(0.5)
    running = sfn.start_execution(stateMachineArn=alias, name="slow")["executionArn"]
    sfn.update_state_machine_alias(stateMachineAliasArn=alias, routingConfiguration=[
        {"stateMachineVersionArn": f"{arn}:2", "weight": 100}])
    done = wait_done(sfn, running)
    assert json.loads(done["output"]) == {"v": "slow-blue"}
    assert done["stateMachineVersionArn"] == f"{arn}:1"


def test_the_aws_cli_publishes_and_routes(api: server.Running, tmp_path: Any, unique: str) -> None:
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    cli = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")
    if cli is None:
        pytest.skip("the AWS CLI is not installed (pip install awscli)")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(tmp_path / "none"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_MAX_ATTEMPTS": "1"}

    def aws(*args: str) -> dict[str, Any]:
        done = subprocess.run([cli, "stepfunctions", *args, "--endpoint-url", api.url,
                               "--output", "json"], env=env, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else {}

    arn = aws("create-state-machine", "--name", f"Cli{unique}", "--definition", says("cli"),
              "--role-arn", ROLE)["stateMachineArn"]
    version = aws("publish-state-machine-version", "--state-machine-arn", arn,
                  "--description", "from the CLI")["stateMachineVersionArn"]
    assert version == f"{arn}:1"
    alias = aws("create-state-machine-alias", "--name", "live", "--routing-configuration",
                json.dumps([{"stateMachineVersionArn": version, "weight": 100}]))
    described = aws("describe-state-machine-alias", "--state-machine-alias-arn",
                    alias["stateMachineAliasArn"])
    assert described["routingConfiguration"] == [{"stateMachineVersionArn": version,
                                                   "weight": 100}]
    listed = aws("list-state-machine-versions", "--state-machine-arn", arn)
    assert [v["stateMachineVersionArn"] for v in listed["stateMachineVersions"]] == [version]
