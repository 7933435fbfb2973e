"""One function per Step Functions action, mapping the AWS request shape onto
`engine.client.Client` and the result back onto the AWS response shape.

Each action registers itself in `ACTIONS` with the members it reads (botocore's service
model: names, required, bounds); `dispatch` checks them, runs the action and turns engine
exceptions into AWS errors by their `.code`.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from engine import arns, machine_config
from engine.api import arn_scope, pagination, shapes
from engine.api.protocol import ApiError, Field, Request, check
from engine.client import Client
from engine.errors import (
    EngineError,
    InvalidArn,
    ResourceNotFound,
    StateMachineDoesNotExist,
    StateMachineTypeNotSupported,
    ValidationException,
)
from engine.store.base import TERMINAL

log = logging.getLogger("engine.api")


@dataclass
class Context:
    """What every action may use: the engine client and the server's knobs."""

    client: Client
    #: How long StartSyncExecution waits (AWS's Express executions last at most 5 min).
    sync_timeout: float = 300.0
    #: How often a waiting StartSyncExecution looks at the execution.
    sync_poll: float = 0.05
    #: TestState may answer `revealSecrets: true` (AWS: the states:RevealSecrets permission).
    reveal_secrets: bool = False
    #: How long GetActivityTask waits for a task (AWS: 60 s).
    activity_poll_seconds: float = 60.0


Action = Callable[[Context, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Registered:
    fields: dict[str, Field]
    run: Action


ACTIONS: dict[str, Registered] = {}


def action(action_name: str, /, **fields: Field) -> Callable[[Action], Action]:
    """Register `fn` as the action `action_name`, reading the request members `fields`."""

    def register(fn: Action) -> Action:
        ACTIONS[action_name] = Registered(fields, fn)
        return fn

    return register


def dispatch(ctx: Context, request: Request) -> dict[str, Any]:
    """Run one request; every failure comes out as an `ApiError`."""
    registered = ACTIONS.get(request.action)
    if registered is None:
        raise ApiError(
            "UnknownOperationException", f"Unknown or unsupported action: {request.action}"
        )
    params = check(request.params, registered.fields)
    try:
        # An ARN of another region, account or partition names nothing at this endpoint.
        answer = arn_scope.check(ctx.client, request.action, params)
        return answer if answer is not None else registered.run(ctx, params)
    except EngineError as exc:
        raise ApiError.from_engine(exc) from exc


# --- members shared by many actions (botocore's shapes) -----------------------------------

ARN: Final = Field(min=1, max=256)
REQUIRED_ARN: Final = Field(required=True, min=1, max=256)
NAME: Final = Field(min=1, max=80)
PAGE_SIZE: Final = Field("integer", min=0, max=1000)
PAGE_TOKEN: Final = Field(min=1, max=1024)
INCLUDED_DATA: Final = Field(enum=("ALL_DATA", "METADATA_ONLY"))
TYPE: Final = Field(enum=("STANDARD", "EXPRESS"))
STATUSES: Final = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")
ERROR: Final = Field(min=0, max=256)
CAUSE: Final = Field(min=0, max=32768)
TOKEN: Final = Field(required=True, min=1, max=2048)
# The execution input's limit is in bytes and answered with InvalidExecutionInput by the
# client, so no length bound here.
INPUT: Final = Field()
DEFINITION: Final = Field(required=True, min=1, max=1_048_576)


def _state_machine(arn: str) -> str:
    """The name in a state machine ARN. AWS wants ARNs here, never bare names."""
    if not arn.startswith("arn:"):
        raise InvalidArn(f"Invalid Arn: '{arn}'")
    return arns.state_machine_name(arn)


def _execution(arn: str) -> str:
    """An execution ARN, checked (the client takes ARNs; its errors then quote them)."""
    if not arn.startswith("arn:"):
        raise InvalidArn(f"Invalid Arn: '{arn}'")
    arns.execution_id(arn)
    return arn


_ROLE_ARN: Final = re.compile(r"^arn:aws[\w-]*:iam::[^:]*:role/\S+$")


def _role(arn: str | None) -> str | None:
    """A role ARN, checked for its shape (InvalidArn, as AWS answers a malformed one); the
    engine assumes no role, so nothing more is asked of it."""
    if arn is not None and not _ROLE_ARN.match(arn):
        raise InvalidArn(f"Invalid Arn: '{arn}'")
    return arn


def _tag_dict(tags: list[Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for tag in tags:
        if not isinstance(tag, dict) or not isinstance(tag.get("key"), str):
            raise ValidationException("Each tag must be an object with a string 'key'")
        value = tag.get("value", "")
        if not isinstance(value, str):
            raise ValidationException(f"The value of tag '{tag['key']}' must be a string")
        out[tag["key"]] = value
    return out


# --- state machines ------------------------------------------------------------------------


@action(
    "CreateStateMachine",
    name=Field(required=True, min=1, max=80),
    definition=DEFINITION,
    roleArn=REQUIRED_ARN,
    type=TYPE,
    tags=Field("list"),
    loggingConfiguration=Field("object"),
    tracingConfiguration=Field("object"),
    publish=Field("boolean"),
    versionDescription=Field(max=256),
    encryptionConfiguration=Field("object"),
)
def create_state_machine(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    record = ctx.client.create_state_machine(
        p["name"],
        p["definition"],
        role_arn=_role(p["roleArn"]),
        type=p.get("type", "STANDARD"),
        update=False,
        tags=_tag_dict(p.get("tags", [])),
        configuration=machine_config.from_request(p),
    )
    return {"stateMachineArn": record.arn, "creationDate": record.created}


@action(
    "UpdateStateMachine",
    stateMachineArn=REQUIRED_ARN,
    definition=Field(min=1, max=1_048_576),
    roleArn=ARN,
    loggingConfiguration=Field("object"),
    tracingConfiguration=Field("object"),
    publish=Field("boolean"),
    versionDescription=Field(max=256),
    encryptionConfiguration=Field("object"),
)
def update_state_machine(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    record = ctx.client.update_state_machine(
        _state_machine(p["stateMachineArn"]),
        definition=p.get("definition"),
        role_arn=_role(p.get("roleArn")),
        configuration=machine_config.from_request(p),
    )
    return {"updateDate": record.updated, "revisionId": str(record.revision)}


@action("DescribeStateMachine", stateMachineArn=REQUIRED_ARN, includedData=INCLUDED_DATA)
def describe_state_machine(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    record = ctx.client.describe_state_machine(_state_machine(p["stateMachineArn"]))
    return shapes.state_machine(record)


@action("DescribeStateMachineForExecution", executionArn=REQUIRED_ARN, includedData=INCLUDED_DATA)
def describe_state_machine_for_execution(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    record = ctx.client.describe_state_machine_for_execution(_execution(p["executionArn"]))
    return shapes.state_machine_for_execution(record)


@action("DeleteStateMachine", stateMachineArn=REQUIRED_ARN)
def delete_state_machine(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    ctx.client.delete_state_machine(_state_machine(p["stateMachineArn"]))
    return {}


@action("ListStateMachines", maxResults=PAGE_SIZE, nextToken=PAGE_TOKEN)
def list_state_machines(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    # Offsets are stable here: machines are listed oldest first and new ones go last.
    state = pagination.decode(p.get("nextToken"), "ListStateMachines")
    start = int(state["o"]) if state else 0
    size = pagination.page_size(p.get("maxResults"))
    records = ctx.client.list_state_machines()
    out: dict[str, Any] = {
        "stateMachines": [shapes.state_machine_item(r) for r in records[start : start + size]]
    }
    if start + size < len(records):
        out["nextToken"] = pagination.encode("ListStateMachines", o=start + size)
    return out


@action(
    "ValidateStateMachineDefinition",
    definition=DEFINITION,
    type=TYPE,
    severity=Field(enum=("ERROR", "WARNING")),
    maxResults=Field("integer", min=0, max=100),
)
def validate_state_machine_definition(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    from engine.asl.validation import validate
    from engine.feature_support import unsupported_warnings

    found = validate(p["definition"], state_machine_type=p.get("type", "STANDARD"))
    if not any(d.severity == "ERROR" for d in found):
        # What CreateStateMachine would refuse here (engine/feature_support.py).
        found = [*found, *unsupported_warnings(p["definition"], p.get("type", "STANDARD"))]
    # severity ERROR (the default) returns errors only; WARNING returns both.
    wanted = ("ERROR",) if p.get("severity", "ERROR") == "ERROR" else ("ERROR", "WARNING")
    shown = [d for d in found if d.severity in wanted]
    limit = p.get("maxResults") or 100
    diagnostics = []
    for d in shown[:limit]:
        item = {"severity": d.severity, "code": d.code, "message": d.message}
        if d.location:
            item["location"] = d.location
        diagnostics.append(item)
    return {
        "result": "FAIL" if any(d.severity == "ERROR" for d in found) else "OK",
        "diagnostics": diagnostics,
        "truncated": len(shown) > limit,
    }


# --- executions ----------------------------------------------------------------------------


@action(
    "StartExecution",
    stateMachineArn=REQUIRED_ARN,
    name=NAME,
    input=INPUT,
    traceHeader=Field(max=256),
)
def start_execution(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    record = ctx.client.start_execution(
        _state_machine(p["stateMachineArn"]), input_text=p.get("input", "{}"), name=p.get("name")
    )
    return {"executionArn": record.arn, "startDate": record.start}


@action(
    "StartSyncExecution",
    stateMachineArn=REQUIRED_ARN,
    name=NAME,
    input=INPUT,
    traceHeader=Field(max=256),
    includedData=INCLUDED_DATA,
)
def start_sync_execution(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    """Start and wait for the end (HTTP 200 even when the execution fails, as on AWS)."""
    machine = ctx.client.describe_state_machine(_state_machine(p["stateMachineArn"]))
    if machine.type != "EXPRESS":
        # AWS offers synchronous executions for Express state machines only.
        raise StateMachineTypeNotSupported(
            "This operation is not supported by this type of state machine"
        )
    # Express execution names are reusable at once on AWS: default to a fresh one.
    record = ctx.client.start_execution(
        machine.name, input_text=p.get("input", "{}"), name=p.get("name") or str(uuid.uuid4())
    )
    try:
        done = ctx.client.wait(record.arn, timeout=ctx.sync_timeout, poll=ctx.sync_poll)
    except TimeoutError:
        # Out of time, like an Express execution past its limit: stop it, report TIMED_OUT.
        try:
            ctx.client.stop_execution(
                record.arn, error="States.Timeout", cause="StartSyncExecution timed out"
            )
        except EngineError:
            pass  # it ended meanwhile
        done = ctx.client.describe_execution(record.arn)
        if done.status not in TERMINAL or done.status == "ABORTED":
            done.status, done.error = "TIMED_OUT", "States.Timeout"
            done.cause = f"The execution did not end within {ctx.sync_timeout:g} seconds"
    include = p.get("includedData", "ALL_DATA") == "ALL_DATA"
    return shapes.sync_execution(done, include_data=include)


@action("DescribeExecution", executionArn=REQUIRED_ARN, includedData=INCLUDED_DATA)
def describe_execution(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    record = ctx.client.describe_execution(_execution(p["executionArn"]))
    include = p.get("includedData", "ALL_DATA") == "ALL_DATA"
    return shapes.execution(record, include_data=include)


@action(
    "ListExecutions",
    stateMachineArn=ARN,
    statusFilter=Field(enum=STATUSES),
    maxResults=PAGE_SIZE,
    nextToken=Field(min=1, max=3096),
    mapRunArn=Field(min=1, max=2000),
    redriveFilter=Field(enum=("REDRIVEN", "NOT_REDRIVEN")),
)
def list_executions(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    sm, map_run = p.get("stateMachineArn"), p.get("mapRunArn")
    if (sm is None) == (map_run is None):
        raise ValidationException("Must provide a StateMachine ARN or a MapRun ARN, not both")
    if map_run is not None:
        raise ResourceNotFound(f"Resource not found: '{map_run}'")  # no Map Runs here
    assert sm is not None
    name = _state_machine(sm)
    status = p.get("statusFilter")
    redrive = p.get("redriveFilter")
    state = pagination.decode(p.get("nextToken"), "ListExecutions", m=name, f=status, rf=redrive)
    after = (float(state["s"]), str(state["e"])) if state else None
    records, cursor = ctx.client.list_executions_page(
        name, status=status, limit=pagination.page_size(p.get("maxResults")), after=after,
        redriven=None if redrive is None else redrive == "REDRIVEN",
    )
    out: dict[str, Any] = {"executions": [shapes.execution_item(r) for r in records]}
    if cursor is not None:
        out["nextToken"] = pagination.encode(
            "ListExecutions", m=name, f=status, rf=redrive, s=cursor[0], e=cursor[1]
        )
    return out


@action(
    "GetExecutionHistory",
    executionArn=REQUIRED_ARN,
    maxResults=PAGE_SIZE,
    reverseOrder=Field("boolean"),
    nextToken=PAGE_TOKEN,
    includeExecutionData=Field("boolean"),
)
def get_execution_history(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    # Events are append-only and numbered, so a page cursor is simply the next index.
    record = ctx.client.describe_execution(_execution(p["executionArn"]))
    reverse = bool(p.get("reverseOrder", False))
    state = pagination.decode(p.get("nextToken"), "GetExecutionHistory", x=record.eid, r=reverse)
    size = pagination.page_size(p.get("maxResults"))
    include = p.get("includeExecutionData", True)
    nxt: int | None
    if not reverse:
        start = int(state["i"]) if state else 0
        events = ctx.client.get_history(record.eid, start, start + size)  # one extra: more?
        nxt = start + size if len(events) > size else None
        events = events[:size]
    else:
        top = int(state["i"]) if state else ctx.client.store.history_length(record.eid) - 1
        low = max(0, top - size + 1)
        events = list(reversed(ctx.client.get_history(record.eid, low, top))) if top >= 0 else []
        nxt = low - 1 if low > 0 else None
    out: dict[str, Any] = {
        "events": [shapes.history_event(e, include_data=include) for e in events]
    }
    if nxt is not None:
        out["nextToken"] = pagination.encode("GetExecutionHistory", x=record.eid, r=reverse, i=nxt)
    return out


@action("StopExecution", executionArn=REQUIRED_ARN, error=ERROR, cause=CAUSE)
def stop_execution(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    record = ctx.client.stop_execution(
        _execution(p["executionArn"]), error=p.get("error"), cause=p.get("cause")
    )
    return {"stopDate": record.stop if record.stop is not None else ctx.client.clock()}


# --- task tokens (callbacks) ---------------------------------------------------------------

@action("SendTaskSuccess", taskToken=TOKEN, output=Field(required=True, max=262_144))
def send_task_success(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    ctx.client.send_task_success(p["taskToken"], output_text=p["output"])
    return {}


@action("SendTaskFailure", taskToken=TOKEN, error=ERROR, cause=CAUSE)
def send_task_failure(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    ctx.client.send_task_failure(p["taskToken"], error=p.get("error"), cause=p.get("cause"))
    return {}


@action("SendTaskHeartbeat", taskToken=TOKEN)
def send_task_heartbeat(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    ctx.client.send_task_heartbeat(p["taskToken"])
    return {}


# --- tags ----------------------------------------------------------------------------------


def _taggable(arn: str) -> str:
    """The state machine a resource ARN names (only state machines carry tags here; AWS
    also tags activities, which this engine does not have)."""
    if re.match(r"^arn:aws[\w-]*:states:[^:]*:[^:]*:activity:[^:]+$", arn):
        raise ResourceNotFound(f"Resource not found: '{arn}'")
    return _state_machine(arn)


def _tagging(fn: Callable[[str], dict[str, Any]], arn: str) -> dict[str, Any]:
    try:
        return fn(_taggable(arn))
    except StateMachineDoesNotExist:
        raise ApiError(
            "ResourceNotFound", f"Resource not found: '{arn}'", resourceName=arn
        ) from None


@action("TagResource", resourceArn=REQUIRED_ARN, tags=Field("list", required=True))
def tag_resource(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    tags = _tag_dict(p["tags"])

    def tag(name: str) -> dict[str, Any]:
        ctx.client.tag_state_machine(name, tags)
        return {}

    return _tagging(tag, p["resourceArn"])


@action("UntagResource", resourceArn=REQUIRED_ARN, tagKeys=Field("list", required=True))
def untag_resource(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    keys = [str(k) for k in p["tagKeys"]]

    def untag(name: str) -> dict[str, Any]:
        ctx.client.untag_state_machine(name, keys)
        return {}

    return _tagging(untag, p["resourceArn"])


@action("ListTagsForResource", resourceArn=REQUIRED_ARN)
def list_tags_for_resource(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    def list_tags(name: str) -> dict[str, Any]:
        return {"tags": shapes.tags(ctx.client.describe_state_machine(name).tags)}

    return _tagging(list_tags, p["resourceArn"])


# Versions and aliases: their actions, and the ones above that a version or alias enters.
# The actions of other modules register themselves on import: TestState, versions and
# aliases, activities; actions_faithful last, since it wraps the others.
from engine.api import (  # noqa: E402, F401, I001 - registers
    actions_map_runs,
    actions_teststate,
    actions_versions,
    activity_actions,
)
from engine.api import actions_faithful  # noqa: E402, F401, I001 - wraps the others
from engine.api import actions_redrive  # noqa: E402, F401, I001 - RedriveExecution; wraps
