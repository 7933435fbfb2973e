"""The Map Run actions (engine/runtime/map_run_api.py): DescribeMapRun, ListMapRuns,
UpdateMapRun, and ListExecutions with `mapRunArn` (wrapping the registered action: the
`stateMachineArn` path stays as it is). Imported by `actions.py` so that `dispatch` knows
them."""

from __future__ import annotations

from typing import Any

from engine.api import pagination, shapes
from engine.api.actions import ACTIONS, PAGE_SIZE, PAGE_TOKEN, REQUIRED_ARN, Context, action
from engine.api.protocol import Field
from engine.errors import ResourceNotFound, ValidationException
from engine.runtime import map_run_api
from engine.runtime.map_run_api import MapRunNotFound

MAP_RUN_ARN = Field(required=True, min=1, max=2000)

_list_executions = ACTIONS["ListExecutions"]


def _found(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except MapRunNotFound as exc:
        raise ResourceNotFound(exc.message) from None


@action("DescribeMapRun", mapRunArn=MAP_RUN_ARN)
def describe_map_run(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    return _found(map_run_api.describe, ctx.client, p["mapRunArn"])  # type: ignore[no-any-return]


@action("ListMapRuns", executionArn=REQUIRED_ARN, maxResults=PAGE_SIZE, nextToken=PAGE_TOKEN)
def list_map_runs(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    runs = map_run_api.list_runs(ctx.client, p["executionArn"])
    state = pagination.decode(p.get("nextToken"), "ListMapRuns", x=p["executionArn"])
    start = int(state["i"]) if state else 0
    size = pagination.page_size(p.get("maxResults"))
    out: dict[str, Any] = {"mapRuns": runs[start:start + size]}
    if start + size < len(runs):
        out["nextToken"] = pagination.encode("ListMapRuns", x=p["executionArn"], i=start + size)
    return out


@action(
    "UpdateMapRun",
    mapRunArn=MAP_RUN_ARN,
    maxConcurrency=Field("integer", min=0),
    toleratedFailurePercentage=Field("number"),
    toleratedFailureCount=Field("integer", min=0),
)
def update_map_run(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    percentage = p.get("toleratedFailurePercentage")
    if percentage is not None and not 0 <= percentage <= 100:
        raise ValidationException(
            f"1 validation error detected: Value {percentage} at 'toleratedFailurePercentage' "
            "failed to satisfy constraint: Member must have value less than or equal to 100"
        )
    if all(p.get(k) is None for k in ("maxConcurrency", "toleratedFailurePercentage",
                                      "toleratedFailureCount")):
        raise ValidationException(
            "At least one of the fields maxConcurrency, toleratedFailurePercentage or "
            "toleratedFailureCount must be specified"
        )
    _found(map_run_api.update, ctx.client, p["mapRunArn"],
           max_concurrency=p.get("maxConcurrency"),
           tolerated_count=p.get("toleratedFailureCount"),
           tolerated_percentage=None if percentage is None else float(percentage))
    return {}


@action("ListExecutions", **_list_executions.fields)
def list_executions(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    arn = p.get("mapRunArn")
    if arn is None or p.get("stateMachineArn") is not None:
        return _list_executions.run(ctx, p)
    status = p.get("statusFilter")
    state = pagination.decode(p.get("nextToken"), "ListExecutions", r=arn, f=status)
    start = int(state["i"]) if state else 0
    size = pagination.page_size(p.get("maxResults"))
    records = _found(map_run_api.list_children, ctx.client, arn, status=status,
                     limit=size + 1, offset=start)
    out: dict[str, Any] = {"executions": [shapes.execution_item(r) for r in records[:size]]}
    if len(records) > size:
        out["nextToken"] = pagination.encode("ListExecutions", r=arn, f=status, i=start + size)
    return out
