"""The actions of state machine versions and aliases, onto `engine.versions.Versions`.

Besides its own nine actions this module extends four of `actions.py` where a version or
an alias enters them, by wrapping the registered action (the plain path stays as it is):

    CreateStateMachine, UpdateStateMachine   `publish` / `versionDescription` publish a
                                             version and answer its `stateMachineVersionArn`
    DescribeStateMachine                     a version ARN describes that version
    StartExecution                           a version or alias ARN starts on it
    ListExecutions                           a version or alias ARN lists the executions
                                             started through it
    DescribeStateMachineForExecution         an execution started through a version shows
                                             that version's revision and role

Imported by `actions.py` (its last line), so that `dispatch` knows every action.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from engine import arns
from engine.api import pagination, shapes
from engine.api.actions import (
    ACTIONS,
    PAGE_SIZE,
    PAGE_TOKEN,
    REQUIRED_ARN,
    Context,
    _state_machine,
    action,
)
from engine.api.protocol import ApiError, Field
from engine.api.shapes import LOGGING_OFF, TRACING_OFF
from engine.errors import (
    ConflictException,
    InvalidArn,
    StateMachineDoesNotExist,
    ValidationException,
)
from engine.versions import StateMachineAlias, StateMachineVersion

DESCRIPTION: Final = Field(max=256)
ROUTING: Final = Field("list", required=True, min=1, max=2)
LONG_ARN: Final = Field(required=True, min=1, max=2000)


@contextmanager
def _conflicts() -> Iterator[None]:
    """AWS answers ConflictException with HTTP 409, not 400."""
    try:
        yield
    except ConflictException as exc:
        raise ApiError(exc.code, exc.message, 409) from exc


def _qualifier(arn: str) -> str | None:
    """The version number or alias name an ARN carries (None: the machine itself)."""
    if not arn.startswith("arn:"):
        raise InvalidArn(f"Invalid Arn: '{arn}'")
    return arns.qualified_state_machine(arn)[1]


def version_shape(v: StateMachineVersion) -> dict[str, Any]:
    """DescribeStateMachine of a version ARN."""
    out: dict[str, Any] = {
        "stateMachineArn": v.arn,
        "name": v.machine,
        "status": "ACTIVE",
        "definition": v.definition,
        "roleArn": v.role_arn,
        "type": v.type,
        "creationDate": v.created,
        "loggingConfiguration": LOGGING_OFF,
        "tracingConfiguration": TRACING_OFF,
        "revisionId": str(v.revision),
    }
    if v.description is not None:
        out["description"] = v.description
    return out


def alias_shape(a: StateMachineAlias) -> dict[str, Any]:
    """DescribeStateMachineAlias."""
    out: dict[str, Any] = {
        "stateMachineAliasArn": a.arn,
        "name": a.name,
        "routingConfiguration": [
            {"stateMachineVersionArn": r.version_arn, "weight": r.weight} for r in a.routing
        ],
        "creationDate": a.created,
        "updateDate": a.updated,
    }
    if a.description is not None:
        out["description"] = a.description
    return out


# --- versions -----------------------------------------------------------------------------


@action(
    "PublishStateMachineVersion",
    stateMachineArn=REQUIRED_ARN,
    revisionId=Field(),
    description=DESCRIPTION,
)
def publish_state_machine_version(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    with _conflicts():
        version = ctx.client.versions.publish(
            _state_machine(p["stateMachineArn"]),
            revision_id=p.get("revisionId"),
            description=p.get("description"),
        )
    return {"stateMachineVersionArn": version.arn, "creationDate": version.created}


@action(
    "ListStateMachineVersions",
    stateMachineArn=REQUIRED_ARN,
    maxResults=PAGE_SIZE,
    nextToken=PAGE_TOKEN,
)
def list_state_machine_versions(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    # Newest first; the cursor is the last version number shown, so deleting versions
    # between pages skips none.
    name = _state_machine(p["stateMachineArn"])
    state = pagination.decode(p.get("nextToken"), "ListStateMachineVersions", m=name)
    found = ctx.client.versions.list_versions(name)
    if state:
        found = [(arn, date) for arn, date in found if int(arn.rsplit(":", 1)[1]) < state["n"]]
    size = pagination.page_size(p.get("maxResults"))
    out: dict[str, Any] = {
        "stateMachineVersions": [
            {"stateMachineVersionArn": arn, "creationDate": date} for arn, date in found[:size]
        ]
    }
    if len(found) > size:
        last = int(found[size - 1][0].rsplit(":", 1)[1])
        out["nextToken"] = pagination.encode("ListStateMachineVersions", m=name, n=last)
    return out


@action("DeleteStateMachineVersion", stateMachineVersionArn=LONG_ARN)
def delete_state_machine_version(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    with _conflicts():
        ctx.client.versions.delete_version(p["stateMachineVersionArn"])
    return {}


# --- aliases ------------------------------------------------------------------------------


@action(
    "CreateStateMachineAlias",
    name=Field(required=True, min=1, max=80),
    description=DESCRIPTION,
    routingConfiguration=ROUTING,
)
def create_state_machine_alias(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    with _conflicts():
        alias = ctx.client.versions.create_alias(
            p["name"], p["routingConfiguration"], p.get("description")
        )
    return {"stateMachineAliasArn": alias.arn, "creationDate": alias.created}


@action("DescribeStateMachineAlias", stateMachineAliasArn=REQUIRED_ARN)
def describe_state_machine_alias(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    return alias_shape(ctx.client.versions.describe_alias(p["stateMachineAliasArn"]))


@action(
    "UpdateStateMachineAlias",
    stateMachineAliasArn=REQUIRED_ARN,
    description=DESCRIPTION,
    routingConfiguration=Field("list", min=1, max=2),
)
def update_state_machine_alias(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    with _conflicts():
        alias = ctx.client.versions.update_alias(
            p["stateMachineAliasArn"],
            routing=p.get("routingConfiguration"),
            description=p.get("description"),
        )
    return {"updateDate": alias.updated}


@action("DeleteStateMachineAlias", stateMachineAliasArn=REQUIRED_ARN)
def delete_state_machine_alias(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    ctx.client.versions.delete_alias(p["stateMachineAliasArn"])
    return {}


@action(
    "ListStateMachineAliases",
    stateMachineArn=REQUIRED_ARN,
    maxResults=PAGE_SIZE,
    nextToken=PAGE_TOKEN,
)
def list_state_machine_aliases(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    arn = p["stateMachineArn"]
    _qualifier(arn)
    state = pagination.decode(p.get("nextToken"), "ListStateMachineAliases", m=arn)
    found = ctx.client.versions.list_aliases(arn)
    if state:  # after (creation date, ARN) of the last one shown: most recent first
        after = (-float(state["d"]), str(state["x"]))
        found = [(a, d) for a, d in found if (-d, a) > after]
    size = pagination.page_size(p.get("maxResults"))
    out: dict[str, Any] = {
        "stateMachineAliases": [
            {"stateMachineAliasArn": a, "creationDate": d} for a, d in found[:size]
        ]
    }
    if len(found) > size:
        a, d = found[size - 1]
        out["nextToken"] = pagination.encode("ListStateMachineAliases", m=arn, d=d, x=a)
    return out


# --- the actions of actions.py that a version or an alias enters --------------------------


def _publish_on_success(ctx: Context, p: dict[str, Any], out: dict[str, Any]) -> dict[str, Any]:
    """After a Create/UpdateStateMachine with `publish`: publish the revision it made (a
    concurrent update in between is a ConflictException, as on AWS)."""
    if not p.get("publish"):
        return out
    arn = str(out.get("stateMachineArn") or p["stateMachineArn"])
    machine = ctx.client.describe_state_machine(_state_machine(arn))
    revision = out.get("revisionId", str(machine.revision))
    with _conflicts():
        version = ctx.client.versions.publish(
            machine.name, revision_id=revision, description=p.get("versionDescription")
        )
    return {**out, "stateMachineVersionArn": version.arn}


def _check_publish(p: dict[str, Any]) -> None:
    if p.get("versionDescription") is not None and not p.get("publish"):
        raise ValidationException(
            "Version description can only be set when publish is true"
        )


_create = ACTIONS["CreateStateMachine"]
_update = ACTIONS["UpdateStateMachine"]
_describe = ACTIONS["DescribeStateMachine"]
_start = ACTIONS["StartExecution"]
_list_executions = ACTIONS["ListExecutions"]
_for_execution = ACTIONS["DescribeStateMachineForExecution"]


@action("CreateStateMachine", **_create.fields)
def create_state_machine(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    _check_publish(p)
    return _publish_on_success(ctx, p, _create.run(ctx, p))


@action("UpdateStateMachine", **_update.fields)
def update_state_machine(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    _check_publish(p)
    return _publish_on_success(ctx, p, _update.run(ctx, p))


@action("DescribeStateMachine", **_describe.fields)
def describe_state_machine(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    qualifier = _qualifier(p["stateMachineArn"])
    if qualifier is None:
        return _describe.run(ctx, p)
    if not qualifier.isdigit():  # AWS describes versions here; aliases have their action
        raise InvalidArn(
            f"Invalid Arn: '{p['stateMachineArn']}' (use DescribeStateMachineAlias for an alias)"
        )
    return version_shape(ctx.client.versions.describe_version(p["stateMachineArn"]))


@action("StartExecution", **_start.fields)
def start_execution(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    if _qualifier(p["stateMachineArn"]) is None:
        return _start.run(ctx, p)
    record = ctx.client.start_execution(
        p["stateMachineArn"], input_text=p.get("input", "{}"), name=p.get("name")
    )
    return {"executionArn": record.arn, "startDate": record.start}


@action("ListExecutions", **_list_executions.fields)
def list_executions(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    arn = p.get("stateMachineArn")
    if arn is None or p.get("mapRunArn") is not None or _qualifier(arn) is None:
        return _list_executions.run(ctx, p)
    name = arns.qualified_state_machine(arn)[0]
    status = p.get("statusFilter")
    redrive = p.get("redriveFilter")
    state = pagination.decode(p.get("nextToken"), "ListExecutions", m=arn, f=status, rf=redrive)
    after = (float(state["s"]), str(state["e"])) if state else None
    records, cursor = ctx.client.list_executions_page(
        name, status=status, limit=pagination.page_size(p.get("maxResults")), after=after,
        redriven=None if redrive is None else redrive == "REDRIVEN",
        started_through=arn,
    )
    out: dict[str, Any] = {"executions": [shapes.execution_item(r) for r in records]}
    if cursor is not None:
        out["nextToken"] = pagination.encode(
            "ListExecutions", m=arn, f=status, rf=redrive, s=cursor[0], e=cursor[1]
        )
    return out


@action("DescribeStateMachineForExecution", **_for_execution.fields)
def describe_state_machine_for_execution(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    out = _for_execution.run(ctx, p)
    record = ctx.client.describe_execution(p["executionArn"])
    if record.version_arn is None:
        return out
    out["roleArn"] = record.role_arn
    try:
        out["revisionId"] = str(ctx.client.versions.describe_version(record.version_arn).revision)
    except StateMachineDoesNotExist:
        out.pop("revisionId", None)  # the version is deleted: its revision is not known
    return out
