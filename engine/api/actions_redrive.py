"""RedriveExecution over HTTP, and DescribeExecution's redrive fields as the client judges
them (engine/runtime/redrive.py). Imported after actions_faithful, whose DescribeExecution
it wraps (an EXPRESS execution's ARN stays InvalidArn there, as AWS answers)."""

from __future__ import annotations

from typing import Any

from engine.api.actions import ACTIONS, REQUIRED_ARN, Context, _execution, action
from engine.api.actions_faithful import _not_express
from engine.api.protocol import Field
from engine.errors import ValidationException

_describe_execution = ACTIONS["DescribeExecution"]


@action(
    "RedriveExecution",
    executionArn=REQUIRED_ARN,
    # AWS: 1 to 64 characters of [\x21-\x7E] (botocore's ClientToken shape).
    clientToken=Field(min=1, max=64),
)
def redrive_execution(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    token = p.get("clientToken")
    if token is not None and not all("!" <= c <= "~" for c in token):
        raise ValidationException(
            f"1 validation error detected: Value '{token}' at 'clientToken' failed to "
            "satisfy constraint: Member must satisfy regular expression pattern: [!-~]+"
        )
    _not_express(p["executionArn"])
    record = ctx.client.redrive_execution(
        _execution(p["executionArn"]), client_token=p.get("clientToken")
    )
    assert record.redrive_date is not None
    return {"redriveDate": record.redrive_date}


@action("DescribeExecution", **_describe_execution.fields)
def describe_execution(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    out = _describe_execution.run(ctx, p)
    record = ctx.client.describe_execution(_execution(p["executionArn"]))
    status, reason = ctx.client.redrive_status(record)
    out["redriveStatus"] = status
    out.pop("redriveStatusReason", None)
    if reason is not None:  # AWS: a reason only when NOT_REDRIVABLE
        out["redriveStatusReason"] = reason
    return out
