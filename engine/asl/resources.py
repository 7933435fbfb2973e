"""Task `Resource` strings: what they name and how AWS reports them.

Resources name registered handlers, never import paths. A Lambda function ARN
(`arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`) and the optimised integration
`arn:aws:states:::lambda:invoke` with `FunctionName` both resolve to the handler `NAME`.
Any other `arn:aws:states:::SERVICE:API[.sync|.waitForTaskToken]` resolves to a handler
registered under `SERVICE:API`, and an activity ARN to the activity's name.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any, Final, Literal

LAMBDA_INVOKE: Final = "arn:aws:states:::lambda:invoke"
_LAMBDA_ARN = re.compile(r"^arn:aws[\w-]*:lambda:([^:]*):([^:]*):function:([^:]+)(?::[^:]+)?$")
_SERVICE_ARN = re.compile(r"^arn:aws[\w-]*:states:[^:]*:[^:]*:([\w-]+):(\w+)(\.[\w:]+)?$")
_ACTIVITY_ARN = re.compile(r"^arn:aws[\w-]*:states:[^:]*:[^:]*:activity:(.+)$")


@dataclass(frozen=True)
class ResourceRef:
    """A parsed Task resource.

    `family` selects the history events: "lambda" for a Lambda function ARN
    (LambdaFunctionScheduled, ...), "task" for service integrations (TaskScheduled, ...),
    "activity" for activities. `resource_type`/`resource` are what Task* events report
    (e.g. "lambda"/"invoke"). `pattern` is the integration pattern.
    """

    family: Literal["lambda", "task", "activity"]
    resource_type: str
    resource: str
    pattern: Literal["request-response", "sync", "callback"]
    handler: str | None  # None when it comes from the parameters (lambda:invoke)


def parse_resource(resource: str) -> ResourceRef | None:
    m = _LAMBDA_ARN.match(resource)
    if m:
        return ResourceRef("lambda", "lambda", resource, "request-response", m.group(3))
    m = _ACTIVITY_ARN.match(resource)
    if m:
        return ResourceRef("activity", "activity", resource, "callback", m.group(1))
    m = _SERVICE_ARN.match(resource)
    if m:
        service, api, suffix = m.group(1), m.group(2), m.group(3) or ""
        pattern: Literal["request-response", "sync", "callback"] = "request-response"
        if suffix.startswith(".sync"):
            pattern = "sync"
        elif suffix == ".waitForTaskToken":
            pattern = "callback"
        handler = None if (service, api) == ("lambda", "invoke") else f"{service}:{api}"
        return ResourceRef("task", service, api + suffix, pattern, handler)
    return None


def starts_execution(ref: ResourceRef) -> bool:
    """`arn:aws:states:::states:startExecution[.sync|.sync:2|.waitForTaskToken]`: a Task
    that starts a child execution (served by the engine itself)."""
    return ref.family == "task" and (ref.resource_type, ref.resource.split(".")[0]) == (
        "states", "startExecution"
    )


def function_name(value: Any) -> str | None:
    """The handler a `lambda:invoke` FunctionName names: a name, a partial or full ARN,
    with or without a version or alias qualifier."""
    if not isinstance(value, str) or not value:
        return None
    m = _LAMBDA_ARN.match(value)
    if m:
        return m.group(3)
    parts = value.split(":")
    # "NAME", "NAME:ALIAS", "ACCOUNT:function:NAME[:ALIAS]"
    if "function" in parts:
        return parts[parts.index("function") + 1]
    return parts[0]


def handler_name(ref: ResourceRef, parameters: Any) -> str | None:
    if ref.handler is not None:
        return ref.handler
    if isinstance(parameters, dict):
        return function_name(parameters.get("FunctionName"))
    return None


def http_date(epoch_seconds: float) -> str:
    """An HTTP `Date` header (RFC 7231), as Lambda's response carries it."""
    return formatdate(epoch_seconds, usegmt=True)


def lambda_invoke_response(
    payload: Any, request_id: str, date: str, *, log_result: str | None = None
) -> Any:
    """What the optimised `lambda:invoke` integration returns around the function's result.
    Content-Length is that of the payload as the Lambda Python runtime writes it
    (`json.dumps` with its default separators); `log_result` when `LogType` is `Tail`."""
    length = str(len(json.dumps(payload).encode()))
    headers = {
        "Connection": "keep-alive",
        "Content-Length": length,
        "Content-Type": "application/json",
        "Date": date,
        "X-Amz-Executed-Version": "$LATEST",
        "X-Amzn-Trace-Id": f"Root={request_id}",
        "x-amzn-Remapped-Content-Length": "0",
        "x-amzn-RequestId": request_id,
    }
    if log_result is not None:
        headers["X-Amz-Log-Result"] = log_result
    response: dict[str, Any] = {"ExecutedVersion": "$LATEST"}
    if log_result is not None:
        response["LogResult"] = log_result
    return {
        **response,
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {k: [v] for k, v in headers.items()},
            "HttpHeaders": headers,
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    }
