"""The outcome of a Task whose resource no handler of this worker serves."""

from __future__ import annotations

import uuid

from engine.handlers import Invocation


def unknown_resource(resource: str, name: str | None, region: str, account: str) -> Invocation:
    detail = f"no handler is registered under '{name}'" if name else "it names no handler"
    if ":lambda:" in resource or resource.endswith("lambda:invoke"):
        # Worded as AWS's Lambda service reports a missing function.
        arn = f"arn:aws:lambda:{region}:{account}:function:{name or resource}:$LATEST"
        # A request id derived from the ARN: the same message always gets the same cause.
        request_id = uuid.uuid5(uuid.NAMESPACE_URL, arn)
        return Invocation(
            False,
            error="Lambda.ResourceNotFoundException",
            cause=(
                f"Function not found: {arn} (Service: AWSLambda; Status Code: 404; Error Code: "
                f"ResourceNotFoundException; Request ID: {request_id}; Proxy: null)"
            ),
        )
    return Invocation(
        False, error="States.TaskFailed", cause=f"Unknown resource '{resource}': {detail}"
    )
