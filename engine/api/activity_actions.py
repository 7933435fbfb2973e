"""The activity actions: CreateActivity, DescribeActivity, ListActivities, DeleteActivity,
GetActivityTask (a long poll of up to 60 s: the server answers each connection on its
own thread, so a waiting poller holds only its own)."""

from __future__ import annotations

from typing import Any

from engine.api import pagination
from engine.api.actions import NAME, PAGE_SIZE, PAGE_TOKEN, REQUIRED_ARN, Context, action
from engine.api.protocol import Field
from engine.store.activities import ActivityRecord


def _item(record: ActivityRecord) -> dict[str, Any]:
    return {"activityArn": record.arn, "name": record.name, "creationDate": record.created}


@action(
    "CreateActivity",
    name=Field(required=True, min=1, max=80),
    tags=Field("list"),
    encryptionConfiguration=Field("object"),
)
def create_activity(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    record = ctx.client.activities.create(p["name"])
    return {"activityArn": record.arn, "creationDate": record.created}


@action("DescribeActivity", activityArn=REQUIRED_ARN)
def describe_activity(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    return _item(ctx.client.activities.describe(p["activityArn"]))


@action("DeleteActivity", activityArn=REQUIRED_ARN)
def delete_activity(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    ctx.client.activities.delete(p["activityArn"])
    return {}


@action("ListActivities", maxResults=PAGE_SIZE, nextToken=PAGE_TOKEN)
def list_activities(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    # Offsets are stable: activities are listed oldest first and new ones go last.
    state = pagination.decode(p.get("nextToken"), "ListActivities")
    start = int(state["o"]) if state else 0
    size = pagination.page_size(p.get("maxResults"))
    page, more = ctx.client.activities.list(start, size)
    out: dict[str, Any] = {"activities": [_item(r) for r in page]}
    if more:
        out["nextToken"] = pagination.encode("ListActivities", o=start + size)
    return out


@action("GetActivityTask", activityArn=REQUIRED_ARN, workerName=NAME)
def get_activity_task(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    found = ctx.client.activities.get_task(
        p["activityArn"], p.get("workerName"), wait=ctx.activity_poll_seconds
    )
    if found is None:
        return {}  # the poll ended with no task: SDKs see no taskToken
    token, input_text = found
    return {"taskToken": token, "input": input_text}
