"""boto3 against `sfn serve` (real redis-server, real Celery worker): the answers issue 16
asks to be AWS's — configurations stored and returned, METADATA_ONLY, variableReferences,
ARNs of another region/account/partition, a stable ListStateMachines cursor, EXPRESS
executions where AWS does not serve them, ListExecutions' message."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from engine.api import server
from tests.api_stack import api_server, sfn_client

boto3 = pytest.importorskip("boto3")

pytestmark = [pytest.mark.redis, pytest.mark.worker]

ROLE = "arn:aws:iam::000000000000:role/StepFunctionsRole"
PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
GROUP = "arn:aws:logs:us-east-1:000000000000:log-group:/aws/vendedlogs/states/orders:*"
ASSIGN = json.dumps({
    "QueryLanguage": "JSONata",
    "StartAt": "Init",
    "States": {
        "Init": {"Type": "Pass", "Assign": {"total": 0, "limit": "{% $states.input.limit %}"},
                 "Next": "Add"},
        "Add": {"Type": "Pass", "Assign": {"total": "{% $total + $sum($states.input.xs) %}"},
                "Output": "{% {'t': $total, 'l': $limit} %}", "End": True},
    },
})


@pytest.fixture(scope="module")
def api(worker: Any, redis_server: Any) -> Iterator[server.Running]:
    with api_server(redis_server.url, sync_timeout=60) as running:
        yield running


@pytest.fixture(scope="module")
def sfn(api: server.Running) -> Any:
    return sfn_client(api.url)


def code(excinfo: pytest.ExceptionInfo[Any]) -> str:
    return str(excinfo.value.response["Error"]["Code"])  # type: ignore[attr-defined]


def message(excinfo: pytest.ExceptionInfo[Any]) -> str:
    return str(excinfo.value.response["Error"]["Message"])  # type: ignore[attr-defined]


def create(sfn: Any, name: str, definition: str = PASS, **kwargs: Any) -> str:
    return str(sfn.create_state_machine(
        name=name, definition=definition, roleArn=ROLE, **kwargs
    )["stateMachineArn"])


def test_configurations_are_stored_and_returned(sfn: Any, unique: str) -> None:
    logging = {"level": "ERROR", "includeExecutionData": True,
               "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": GROUP}}]}
    arn = create(
        sfn, f"Conf{unique}", loggingConfiguration=logging,
        tracingConfiguration={"enabled": True},
        encryptionConfiguration={"type": "CUSTOMER_MANAGED_KMS_KEY", "kmsKeyId": "alias/orders",
                                 "kmsDataKeyReusePeriodSeconds": 120},
    )
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert described["loggingConfiguration"] == logging
    assert described["tracingConfiguration"] == {"enabled": True}
    assert described["encryptionConfiguration"] == {
        "type": "CUSTOMER_MANAGED_KMS_KEY", "kmsKeyId": "alias/orders",
        "kmsDataKeyReusePeriodSeconds": 120,
    }
    # Creating the same machine again is idempotent only with the same configuration.
    assert create(sfn, f"Conf{unique}", loggingConfiguration=logging,
                  tracingConfiguration={"enabled": True},
                  encryptionConfiguration={"type": "CUSTOMER_MANAGED_KMS_KEY",
                                           "kmsKeyId": "alias/orders",
                                           "kmsDataKeyReusePeriodSeconds": 120}) == arn
    with pytest.raises(sfn.exceptions.StateMachineAlreadyExists):
        create(sfn, f"Conf{unique}", tracingConfiguration={"enabled": False})
    # An update may change the configuration alone.
    sfn.update_state_machine(stateMachineArn=arn, loggingConfiguration={"level": "OFF"},
                             tracingConfiguration={"enabled": False})
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert described["loggingConfiguration"] == {"level": "OFF", "includeExecutionData": False}
    assert described["tracingConfiguration"] == {"enabled": False}
    assert described["encryptionConfiguration"]["kmsKeyId"] == "alias/orders"
    executions = sfn.describe_state_machine_for_execution  # the same members there
    run = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    assert executions(executionArn=run)["tracingConfiguration"] == {"enabled": False}
    # A machine that never set them answers AWS's defaults.
    plain = sfn.describe_state_machine(stateMachineArn=create(sfn, f"Plain{unique}"))
    assert plain["loggingConfiguration"] == {"level": "OFF", "includeExecutionData": False}
    assert plain["tracingConfiguration"] == {"enabled": False}
    assert "encryptionConfiguration" not in plain


@pytest.mark.parametrize(
    ("member", "value", "error"),
    [
        ("loggingConfiguration", {"level": "ALL"}, "InvalidLoggingConfiguration"),
        ("loggingConfiguration", {"level": "ALL", "destinations": [
            {"cloudWatchLogsLogGroup": {"logGroupArn": "arn:aws:logs:us-east-1:000000000000:"
                                                        "log-group:nostar"}}]},
         "InvalidLoggingConfiguration"),
        ("loggingConfiguration", {"level": "ALL", "destinations": [
            {"cloudWatchLogsLogGroup": {"logGroupArn": GROUP}}] * 2},
         "InvalidLoggingConfiguration"),
        ("loggingConfiguration", {"level": "LOUD"}, "ValidationException"),
        ("encryptionConfiguration", {"type": "CUSTOMER_MANAGED_KMS_KEY"},
         "InvalidEncryptionConfiguration"),
        ("encryptionConfiguration", {"type": "AWS_OWNED_KEY", "kmsKeyId": "k"},
         "InvalidEncryptionConfiguration"),
        ("encryptionConfiguration", {"type": "CUSTOMER_MANAGED_KMS_KEY", "kmsKeyId": "k",
                                     "kmsDataKeyReusePeriodSeconds": 1000},
         "ValidationException"),
    ],
)
def test_bad_configurations_are_refused(
    sfn: Any, unique: str, member: str, value: Any, error: str
) -> None:
    with pytest.raises(sfn.exceptions.ClientError) as excinfo:
        create(sfn, f"Bad{unique}", **{member: value})
    assert code(excinfo) == error
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.describe_state_machine(
            stateMachineArn=f"arn:aws:states:us-east-1:000000000000:stateMachine:Bad{unique}"
        )


def test_metadata_only_and_variable_references(sfn: Any, unique: str) -> None:
    arn = create(sfn, f"Vars{unique}", ASSIGN)
    full = sfn.describe_state_machine(stateMachineArn=arn)
    assert json.loads(full["definition"]) == json.loads(ASSIGN)
    assert full["variableReferences"] == {"Add": ["total", "limit"]}
    meta = sfn.describe_state_machine(stateMachineArn=arn, includedData="METADATA_ONLY")
    assert "definition" not in meta
    assert meta["name"] == f"Vars{unique}" and meta["variableReferences"] == {
        "Add": ["total", "limit"]
    }
    run = sfn.start_execution(stateMachineArn=arn, input='{"limit": 9, "xs": [1, 2]}')
    for_run = sfn.describe_state_machine_for_execution(
        executionArn=run["executionArn"], includedData="METADATA_ONLY"
    )
    assert "definition" not in for_run and for_run["variableReferences"]
    plain = sfn.describe_state_machine(stateMachineArn=create(sfn, f"NoVars{unique}"))
    assert "variableReferences" not in plain


def test_arns_of_another_region_account_or_partition_are_not_found(
    sfn: Any, unique: str
) -> None:
    arn = create(sfn, f"Scope{unique}")
    run = sfn.start_execution(stateMachineArn=arn, name="one")["executionArn"]
    for other in ("us-west-2", "us-east-1:111111111111", "aws-cn"):
        if other == "aws-cn":
            machine, execution = (a.replace("arn:aws:", "arn:aws-cn:") for a in (arn, run))
        elif ":" in other:
            machine, execution = (a.replace("000000000000", "111111111111") for a in (arn, run))
        else:
            machine, execution = (a.replace("us-east-1", other) for a in (arn, run))
        with pytest.raises(sfn.exceptions.StateMachineDoesNotExist) as excinfo:
            sfn.describe_state_machine(stateMachineArn=machine)
        assert message(excinfo) == f"State Machine Does Not Exist: '{machine}'"
        with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
            sfn.start_execution(stateMachineArn=machine)
        with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
            sfn.describe_execution(executionArn=execution)
        with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
            sfn.get_execution_history(executionArn=execution)
        with pytest.raises(sfn.exceptions.ResourceNotFound):
            sfn.list_tags_for_resource(resourceArn=machine)
        # Deleting what does not exist succeeds, and deletes nothing here.
        sfn.delete_state_machine(stateMachineArn=machine)
        assert sfn.describe_state_machine(stateMachineArn=arn)["status"] == "ACTIVE"


def test_list_state_machines_cursor_skips_nothing_when_one_is_deleted(
    sfn: Any, unique: str
) -> None:
    mine = [create(sfn, f"Page{unique}{i}") for i in range(5)]
    seen: list[str] = []
    token: str | None = None
    deleted = False
    while True:
        page = sfn.list_state_machines(maxResults=2, **({"nextToken": token} if token else {}))
        seen.extend(m["stateMachineArn"] for m in page["stateMachines"])
        if not deleted and mine[0] in seen:
            sfn.delete_state_machine(stateMachineArn=mine[0])  # one already listed
            deleted = True
        token = page.get("nextToken")
        if token is None:
            break
    assert deleted
    assert [a for a in seen if a in mine] == mine
    assert len(seen) == len(set(seen))


def test_express_executions_where_aws_does_not_serve_them(sfn: Any, unique: str) -> None:
    arn = create(sfn, f"Express{unique}", type="EXPRESS")
    run = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    assert ":express:" in run
    for call in (sfn.describe_execution, sfn.get_execution_history, sfn.stop_execution):
        with pytest.raises(sfn.exceptions.InvalidArn) as excinfo:
            call(executionArn=run)
        assert message(excinfo) == "Invalid Arn: 'Resource type not valid in this context: express'"
    with pytest.raises(sfn.exceptions.StateMachineTypeNotSupported):
        sfn.list_executions(stateMachineArn=arn)


def test_list_executions_needs_a_state_machine_or_a_map_run(sfn: Any) -> None:
    with pytest.raises(sfn.exceptions.ClientError) as excinfo:
        sfn.list_executions()
    assert code(excinfo) == "ValidationException"
    assert message(excinfo) == (
        "1 validation error detected: Must provide a StateMachine ARN or MapRun ARN"
    )


WAIT_THEN_PASS = json.dumps({"StartAt": "W", "States": {
    "W": {"Type": "Wait", "Seconds": 2, "Next": "P"}, "P": {"Type": "Pass", "End": True}}})


def test_delete_state_machine_stops_executions_at_their_next_transition(
    sfn: Any, unique: str
) -> None:
    arn = create(sfn, f"Del{unique}", WAIT_THEN_PASS)
    runs = [sfn.start_execution(stateMachineArn=arn, name=f"r{i}")["executionArn"]
            for i in range(2)]
    deadline = time.monotonic() + 10
    while any(e["type"] != "WaitStateEntered" for e in [
        sfn.get_execution_history(executionArn=r, reverseOrder=True)["events"][0] for r in runs
    ]):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    sfn.delete_state_machine(stateMachineArn=arn)
    # DELETING while its executions wait: described so, no new execution, no update.
    assert sfn.describe_state_machine(stateMachineArn=arn)["status"] == "DELETING"
    assert arn in [m["stateMachineArn"] for m in list_all(sfn)]
    with pytest.raises(sfn.exceptions.StateMachineDeleting):
        sfn.start_execution(stateMachineArn=arn)
    with pytest.raises(sfn.exceptions.StateMachineDeleting):
        sfn.update_state_machine(stateMachineArn=arn, definition=PASS)
    with pytest.raises(sfn.exceptions.StateMachineDeleting):
        create(sfn, f"Del{unique}", WAIT_THEN_PASS)
    assert all(sfn.describe_execution(executionArn=r)["status"] == "RUNNING" for r in runs)
    # The Wait ends: that next transition aborts them, and the machine goes.
    for r in runs:
        done = wait_done(sfn, r)
        assert done["status"] == "ABORTED"
        assert done["cause"] == f"The state machine '{arn}' was deleted"
        events = sfn.get_execution_history(executionArn=r)["events"]
        assert [e["type"] for e in events][-2:] == ["WaitStateEntered", "ExecutionAborted"]
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.describe_state_machine(stateMachineArn=arn)
    assert arn not in [m["stateMachineArn"] for m in list_all(sfn)]
    # The name is free again; the old executions stay readable.
    assert create(sfn, f"Del{unique}", PASS) == arn
    assert sfn.describe_execution(executionArn=runs[0])["status"] == "ABORTED"


def list_all(sfn: Any) -> list[dict[str, Any]]:
    return [m for page in sfn.get_paginator("list_state_machines").paginate()
            for m in page["stateMachines"]]


def wait_done(sfn: Any, arn: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        assert time.monotonic() < deadline, f"{arn} still RUNNING"
        time.sleep(0.1)
