"""boto3, unchanged, against `sfn serve`'s application on a real redis-server with a real
Celery worker: the whole Step Functions surface the engine offers, and every error an SDK
user can meet, as boto3's own modeled exceptions."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from engine.api import server
from tests.api_stack import api_server, sfn_client

boto3 = pytest.importorskip("boto3")

pytestmark = [pytest.mark.redis, pytest.mark.worker]

ORDER = Path("workflows/order_processing.asl.json").read_text()
ROLE = "arn:aws:iam::000000000000:role/StepFunctionsRole"
PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
WAIT = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}})
FAIL = json.dumps(
    {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Nope", "Cause": "said no"}}}
)


@pytest.fixture(scope="module")
def api(worker: Any, redis_server: Any) -> Iterator[server.Running]:
    with api_server(redis_server.url, sync_timeout=60) as running:
        yield running


@pytest.fixture(scope="module")
def sfn(api: server.Running) -> Any:
    return sfn_client(api.url)


def sm_arn(name: str) -> str:
    return f"arn:aws:states:us-east-1:000000000000:stateMachine:{name}"


def exec_arn(machine: str, name: str) -> str:
    return f"arn:aws:states:us-east-1:000000000000:execution:{machine}:{name}"


def create(sfn: Any, name: str, definition: str, **kwargs: Any) -> str:
    """Create a state machine; its ARN."""
    created = sfn.create_state_machine(name=name, definition=definition, roleArn=ROLE, **kwargs)
    return str(created["stateMachineArn"])


def wait_done(sfn: Any, arn: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        assert time.monotonic() < deadline, f"{arn} still RUNNING"
        time.sleep(0.1)


def test_order_workflow_create_start_wait_history(sfn: Any, unique: str) -> None:
    created = sfn.create_state_machine(name=f"Order{unique}", definition=ORDER, roleArn=ROLE)
    assert created["stateMachineArn"] == sm_arn(f"Order{unique}")
    assert isinstance(created["creationDate"], datetime)
    described = sfn.describe_state_machine(stateMachineArn=created["stateMachineArn"])
    assert (described["name"], described["status"], described["type"]) == (
        f"Order{unique}", "ACTIVE", "STANDARD")
    assert described["definition"] == ORDER and described["roleArn"] == ROLE

    started = sfn.start_execution(stateMachineArn=created["stateMachineArn"], name="order-12345",
                                  input=json.dumps({"orderId": "12345"}))
    assert started["executionArn"] == exec_arn(f"Order{unique}", "order-12345")
    done = wait_done(sfn, started["executionArn"])
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {"status": "Email Sent", "orderId": "12345"}
    assert json.loads(done["input"]) == {"orderId": "12345"}
    assert done["stopDate"] >= done["startDate"]

    events = sfn.get_execution_history(executionArn=started["executionArn"])["events"]
    assert [e["type"] for e in events] == [
        "ExecutionStarted",
        "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted",
        "LambdaFunctionSucceeded", "TaskStateExited",
        "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted",
        "LambdaFunctionSucceeded", "TaskStateExited",
        "ExecutionSucceeded",
    ]
    assert [e["id"] for e in events] == list(range(1, 13))
    assert all(isinstance(e["timestamp"], datetime) for e in events)
    assert events[0]["executionStartedEventDetails"]["input"] == '{"orderId": "12345"}'
    assert json.loads(events[-1]["executionSucceededEventDetails"]["output"])["orderId"] == "12345"

    # Pages of 5 through boto3's own paginator give the same events; reverse order too.
    pages = sfn.get_paginator("get_execution_history").paginate(
        executionArn=started["executionArn"], PaginationConfig={"PageSize": 5})
    paged = [e for page in pages for e in page["events"]]
    assert [e["id"] for e in paged] == list(range(1, 13))
    first = sfn.get_execution_history(executionArn=started["executionArn"], maxResults=5,
                                      reverseOrder=True)
    assert [e["id"] for e in first["events"]] == [12, 11, 10, 9, 8]
    rest = sfn.get_execution_history(executionArn=started["executionArn"], maxResults=100,
                                     reverseOrder=True, nextToken=first["nextToken"])
    assert [e["id"] for e in rest["events"]] == list(range(7, 0, -1)) and "nextToken" not in rest

    bare = sfn.get_execution_history(executionArn=started["executionArn"],
                                     includeExecutionData=False)
    assert "input" not in bare["events"][0]["executionStartedEventDetails"]
    assert "output" not in bare["events"][-1]["executionSucceededEventDetails"]

    for_execution = sfn.describe_state_machine_for_execution(executionArn=started["executionArn"])
    assert for_execution["definition"] == ORDER
    assert for_execution["stateMachineArn"] == created["stateMachineArn"]


def test_list_executions_pages_by_recency_and_filters_by_status(sfn: Any, unique: str) -> None:
    arn = create(sfn, f"List{unique}", PASS)
    names = [f"e{i}" for i in range(7)]
    for name in names:
        sfn.start_execution(stateMachineArn=arn, name=name)
    stopped = {}
    for name in names:
        done = wait_done(sfn, exec_arn(f"List{unique}", name))
        assert done["status"] == "SUCCEEDED"
        stopped[name] = done["stopDate"]
    # As AWS lists them: finished executions by stopDate, most recent first (the workers
    # may finish them in another order than they started; equal times by name, descending).
    expected = sorted(names, key=lambda n: (stopped[n], n), reverse=True)

    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        kwargs = {"nextToken": token} if token else {}
        page = sfn.list_executions(stateMachineArn=arn, maxResults=3, **kwargs)
        assert len(page["executions"]) <= 3
        seen += [e["name"] for e in page["executions"]]
        pages += 1
        token = page.get("nextToken")
        if token is None:
            break
    assert pages == 3 and seen == expected

    # A new execution starting between pages neither shifts nor repeats the next page.
    first = sfn.list_executions(stateMachineArn=arn, maxResults=4)
    sfn.update_state_machine(stateMachineArn=arn, definition=WAIT)
    sfn.start_execution(stateMachineArn=arn, name="late")
    second = sfn.list_executions(stateMachineArn=arn, maxResults=4, nextToken=first["nextToken"])
    assert [e["name"] for e in first["executions"] + second["executions"]] == expected

    running = sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]
    assert [e["name"] for e in running] == ["late"]
    assert running[0]["status"] == "RUNNING" and "stopDate" not in running[0]
    succeeded = sfn.get_paginator("list_executions").paginate(
        stateMachineArn=arn, statusFilter="SUCCEEDED", PaginationConfig={"PageSize": 2})
    assert [e["name"] for p in succeeded for e in p["executions"]] == expected
    sfn.stop_execution(executionArn=exec_arn(f"List{unique}", "late"))


def test_stop_a_running_execution(sfn: Any, unique: str) -> None:
    arn = create(sfn, f"Stop{unique}", WAIT)
    execution = sfn.start_execution(stateMachineArn=arn, input='{"a": 1}')["executionArn"]
    time.sleep(0.5)
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    stopped = sfn.stop_execution(executionArn=execution, error="Cancelled", cause="customer asked")
    assert isinstance(stopped["stopDate"], datetime)
    described = sfn.describe_execution(executionArn=execution)
    assert (described["status"], described["error"], described["cause"]) == (
        "ABORTED", "Cancelled", "customer asked")
    assert "output" not in described
    newest = sfn.get_execution_history(executionArn=execution, reverseOrder=True, maxResults=1)
    last = newest["events"][0]
    assert last["type"] == "ExecutionAborted"
    assert last["executionAbortedEventDetails"] == {"error": "Cancelled", "cause": "customer asked"}
    with pytest.raises(sfn.exceptions.ValidationException):
        sfn.stop_execution(executionArn=execution)  # no longer running


def test_start_sync_execution_of_an_express_machine(sfn: Any, unique: str) -> None:
    ok = create(sfn, f"Sync{unique}", PASS, type="EXPRESS")
    result = sfn.start_sync_execution(stateMachineArn=ok, input='{"x": 1}')
    assert result["status"] == "SUCCEEDED" and json.loads(result["output"]) == {"x": 1}
    assert result["billingDetails"]["billedMemoryUsedInMB"] == 0
    failing = create(sfn, f"SyncF{unique}", FAIL, type="EXPRESS")
    result = sfn.start_sync_execution(stateMachineArn=failing)
    assert (result["status"], result["error"], result["cause"]) == ("FAILED", "Nope", "said no")
    assert "output" not in result
    assert sfn.describe_state_machine(stateMachineArn=ok)["type"] == "EXPRESS"
    # An EXPRESS name may be used again at once: each start is an execution of its own,
    # with AWS's express ARN (`...:express:<machine>:<name>:<id>`).
    again = [sfn.start_sync_execution(stateMachineArn=ok, name="same") for _ in range(2)]
    assert [r["status"] for r in again] == ["SUCCEEDED", "SUCCEEDED"]
    arns_ = [r["executionArn"] for r in again]
    assert arns_[0] != arns_[1]
    prefix = f"arn:aws:states:us-east-1:000000000000:express:Sync{unique}:same:"
    assert all(a.startswith(prefix) for a in arns_)
    started = [sfn.start_execution(stateMachineArn=ok, name="twice") for _ in range(2)]
    assert started[0]["executionArn"] != started[1]["executionArn"]


def test_validate_state_machine_definition(sfn: Any) -> None:
    ok = sfn.validate_state_machine_definition(definition=ORDER)
    assert (ok["result"], ok["diagnostics"], ok["truncated"]) == ("OK", [], False)
    bad = json.dumps({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "Nowhere"},
        "B": {"Type": "Bogus", "End": True},
    }})
    result = sfn.validate_state_machine_definition(definition=bad)
    assert result["result"] == "FAIL" and result["truncated"] is False
    locations = {d["location"] for d in result["diagnostics"]}
    assert {"/States/A/Next", "/States/B/Type"} <= locations
    assert all(d["severity"] == "ERROR" and d["code"] for d in result["diagnostics"])
    one = sfn.validate_state_machine_definition(definition=bad, maxResults=1)
    assert len(one["diagnostics"]) == 1 and one["truncated"] is True
    syntax = sfn.validate_state_machine_definition(definition="{nope")
    assert syntax["result"] == "FAIL"
    assert syntax["diagnostics"][0]["code"] == "INVALID_JSON_DESCRIPTION"


def test_state_machines_update_list_tag_delete(sfn: Any, unique: str) -> None:
    arns_ = [sfn.create_state_machine(name=f"M{unique}{i}", definition=PASS, roleArn=ROLE,
                                      tags=[{"key": "team", "value": "orders"}])["stateMachineArn"]
             for i in range(3)]
    # Creating the same thing again is idempotent; another definition under the name is not.
    again = sfn.create_state_machine(name=f"M{unique}0", definition=PASS, roleArn=ROLE)
    assert again["stateMachineArn"] == arns_[0]
    with pytest.raises(sfn.exceptions.StateMachineAlreadyExists):
        sfn.create_state_machine(name=f"M{unique}0", definition=WAIT, roleArn=ROLE)

    listed = [m["stateMachineArn"] for page in sfn.get_paginator("list_state_machines").paginate(
        PaginationConfig={"PageSize": 2}) for m in page["stateMachines"]]
    assert set(arns_) <= set(listed) and len(listed) == len(set(listed))

    updated = sfn.update_state_machine(stateMachineArn=arns_[0], definition=WAIT,
                                       roleArn="arn:aws:iam::000000000000:role/Other")
    assert isinstance(updated["updateDate"], datetime)
    described = sfn.describe_state_machine(stateMachineArn=arns_[0])
    assert described["definition"] == WAIT and described["roleArn"].endswith("role/Other")

    tags = sfn.list_tags_for_resource(resourceArn=arns_[1])["tags"]
    assert tags == [{"key": "team", "value": "orders"}]
    sfn.tag_resource(resourceArn=arns_[1], tags=[{"key": "env", "value": "dev"}])
    sfn.untag_resource(resourceArn=arns_[1], tagKeys=["team"])
    tags = sfn.list_tags_for_resource(resourceArn=arns_[1])["tags"]
    assert tags == [{"key": "env", "value": "dev"}]

    sfn.delete_state_machine(stateMachineArn=arns_[2])
    sfn.delete_state_machine(stateMachineArn=arns_[2])  # idempotent
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.describe_state_machine(stateMachineArn=arns_[2])


def test_every_error_is_an_sdk_exception(sfn: Any, unique: str) -> None:
    x = sfn.exceptions
    arn = create(sfn, f"Err{unique}", WAIT)
    no_sm, no_x = sm_arn(f"Nope{unique}"), exec_arn(f"Err{unique}", "nope")
    dangling = '{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Z"}}}'
    cases: list[tuple[Any, Any]] = [
        (x.StateMachineDoesNotExist, lambda: sfn.start_execution(stateMachineArn=no_sm)),
        (x.StateMachineDoesNotExist, lambda: sfn.list_executions(stateMachineArn=no_sm)),
        (x.ExecutionDoesNotExist, lambda: sfn.describe_execution(executionArn=no_x)),
        (x.ExecutionDoesNotExist, lambda: sfn.get_execution_history(executionArn=no_x)),
        (x.ExecutionDoesNotExist, lambda: sfn.stop_execution(executionArn=no_x)),
        (x.InvalidDefinition, lambda: create(sfn, f"Bad{unique}", dangling)),
        (x.InvalidDefinition, lambda: create(sfn, f"Bad{unique}", "{nope")),
        (x.InvalidDefinition, lambda: sfn.update_state_machine(stateMachineArn=arn,
                                                               definition="[]")),
        (x.InvalidExecutionInput, lambda: sfn.start_execution(stateMachineArn=arn, input="{bad")),
        (x.InvalidExecutionInput, lambda: sfn.start_execution(
            stateMachineArn=arn, input=json.dumps({"big": "x" * 262_144}))),
        (x.InvalidName, lambda: sfn.start_execution(stateMachineArn=arn, name="has space")),
        (x.InvalidName, lambda: create(sfn, "a/b", PASS)),
        (x.InvalidArn, lambda: sfn.describe_execution(executionArn="not-an-arn")),
        (x.InvalidArn, lambda: sfn.describe_state_machine(stateMachineArn=no_x)),
        (x.InvalidArn, lambda: sfn.start_execution(stateMachineArn=f"Err{unique}")),
        (x.ValidationException, lambda: sfn.list_executions()),
        (x.ValidationException, lambda: sfn.list_executions(stateMachineArn=arn, statusFilter="X")),
        (x.ValidationException, lambda: sfn.stop_execution(executionArn=no_x, error="e" * 257)),
        (x.InvalidToken, lambda: sfn.list_executions(stateMachineArn=arn, nextToken="garbage")),
        (x.MissingRequiredParameter, lambda: sfn.update_state_machine(stateMachineArn=arn)),
        (x.StateMachineTypeNotSupported, lambda: sfn.start_sync_execution(stateMachineArn=arn)),
        (x.ResourceNotFound, lambda: sfn.list_tags_for_resource(resourceArn=no_sm)),
        (x.TooManyTags, lambda: sfn.tag_resource(
            resourceArn=arn, tags=[{"key": f"k{i}", "value": "v"} for i in range(51)])),
        (x.InvalidToken, lambda: sfn.send_task_success(taskToken="not a token", output="{}")),
        (x.TaskDoesNotExist, lambda: sfn.send_task_success(taskToken="AAAA" * 10, output="{}")),
        (x.TaskDoesNotExist, lambda: sfn.send_task_failure(taskToken="AAAA" * 10, error="E")),
        (x.TaskDoesNotExist, lambda: sfn.send_task_heartbeat(taskToken="AAAA" * 10)),
    ]
    for exception, request in cases:
        with pytest.raises(exception) as raised:
            request()
        error = raised.value.response["Error"]
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert error["Message"], error

    # Same name, other input: ExecutionAlreadyExists (same input while running: the same one).
    first = sfn.start_execution(stateMachineArn=arn, name="dup", input='{"n": 1}')
    again = sfn.start_execution(stateMachineArn=arn, name="dup", input='{"n": 1}')
    assert again["executionArn"] == first["executionArn"]
    assert again["startDate"] == first["startDate"]
    with pytest.raises(x.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=arn, name="dup", input='{"n": 2}')
    sfn.stop_execution(executionArn=first["executionArn"])
