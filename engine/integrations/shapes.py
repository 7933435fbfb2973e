"""How Step Functions maps a state's parameters to an AWS API call and the call's answer
back to the state: pure functions, no boto3.

- Parameters are the API's own PascalCase names (boto3 takes the same), except where an
  optimized integration lets a message be any JSON value (`sns:publish` `Message`,
  `sqs:sendMessage` `MessageBody`, `events:putEvents` `Detail`): AWS sends its JSON text.
- The response: the AWS SDK integrations return the API's response (no metadata); the
  optimized ones add `SdkHttpMetadata` and `SdkResponseMetadata` as the AWS SDK for Java
  1.x serialised them. Timestamps become ISO-8601 text, blobs base64, a streamed body its
  text (S3 `getObject`'s `Body`).
- Errors: `ServiceName.ErrorName`, both PascalCase, the error name always ending in
  `Exception` (`S3.NoSuchKeyException` for S3's `NoSuchKey`; "Learning to use AWS SDK service
  integrations"). The AWS SDK integrations name the service as the AWS SDK for Java 2.x
  does (`DynamoDb`, `AcmPca`: engine/asl/aws_sdk_actions.json); the optimized ones as
  their own documentation does (`DynamoDB.ConditionalCheckFailedException`).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
from typing import Any, Final

#: The optimized integrations' error prefixes and the service names their causes give
#: (AWS SDK for Java 1.x: "(Service: AmazonDynamoDBv2; Status Code: 400; ...)").
OPTIMIZED_ERROR_PREFIX: Final = {
    "athena": ("Athena", "AmazonAthena"),
    "batch": ("Batch", "AWSBatch"),
    "codebuild": ("CodeBuild", "AWSCodeBuild"),
    "dynamodb": ("DynamoDB", "AmazonDynamoDBv2"),
    "ecs": ("ECS", "AmazonECS"),
    "elasticmapreduce": ("EMR", "AmazonElasticMapReduce"),
    "events": ("EventBridge", "AmazonCloudWatchEvents"),
    "glue": ("Glue", "AWSGlue"),
    "lambda": ("Lambda", "AWSLambda"),
    "sagemaker": ("SageMaker", "AmazonSageMaker"),
    "sns": ("SNS", "AmazonSNS"),
    "sqs": ("SQS", "AmazonSQS"),
}

#: boto3's client for an optimized integration's service, where the names differ.
OPTIMIZED_BOTO3_SERVICE: Final = {
    "elasticmapreduce": "emr",
    "bedrock": "bedrock-runtime",
}

#: Optimized integrations that are not one API call of a boto3 client (API Gateway's
#: `invoke` and EKS's `call`/`runJob` sign HTTP requests to the user's own endpoints;
#: `states:startExecution` and `http:invoke` have built-ins of their own).
NOT_A_BOTO3_CALL: Final = frozenset(
    {("apigateway", "invoke"), ("eks", "call"), ("eks", "runJob"), ("states", "startExecution"),
     ("http", "invoke")}
)


def operation_name(action: str) -> str:
    """`listObjectsV2` -> `ListObjectsV2` (the API's operation name)."""
    return action[:1].upper() + action[1:]


def request_parameters(service: str, action: str, parameters: Any) -> dict[str, Any]:
    """The keyword arguments of the boto3 call for an optimized integration."""
    if not isinstance(parameters, dict):
        return {}
    params = dict(parameters)
    key = {("sns", "publish"): "Message", ("sqs", "sendMessage"): "MessageBody"}.get(
        (service, action)
    )
    if key is not None and key in params and not isinstance(params[key], str):
        params[key] = _json_text(params[key])
    if (service, action) == ("events", "putEvents") and isinstance(params.get("Entries"), list):
        params["Entries"] = [
            {**e, "Detail": _json_text(e["Detail"])}
            if isinstance(e, dict) and "Detail" in e and not isinstance(e["Detail"], str)
            else e
            for e in params["Entries"]
        ]
    if (service, action) == ("lambda", "invoke") and "Payload" in params:
        payload = params["Payload"]
        params["Payload"] = payload if isinstance(payload, str) else _json_text(payload)
    if (service, action) == ("bedrock", "invokeModel") and "Body" in params:
        body = params["Body"]
        params["Body"] = body if isinstance(body, str) else _json_text(body)
    return params


def to_json(value: Any) -> Any:
    """A boto3 response (datetimes, bytes, streams) as the JSON AWS hands to the state."""
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(timespec="milliseconds") + "Z"
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    read = getattr(value, "read", None)
    if callable(read):  # a streamed body (S3 getObject's Body): AWS returns its text
        data = read()
        return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    if isinstance(value, decimal.Decimal):  # boto3's resource layer; kept JSON
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def sdk_response(response: dict[str, Any]) -> Any:
    """What an AWS SDK integration returns to the state: the response without metadata."""
    return to_json({k: v for k, v in response.items() if k != "ResponseMetadata"})


def optimized_response(response: dict[str, Any]) -> Any:
    """What an optimized integration returns: the response and the HTTP metadata."""
    meta = response.get("ResponseMetadata") or {}
    headers = {str(k): str(v) for k, v in (meta.get("HTTPHeaders") or {}).items()}
    body = sdk_response(response)
    body["SdkHttpMetadata"] = {
        "AllHttpHeaders": {k: [v] for k, v in headers.items()},
        "HttpHeaders": headers,
        "HttpStatusCode": meta.get("HTTPStatusCode", 200),
    }
    body["SdkResponseMetadata"] = {"RequestId": meta.get("RequestId", "")}
    return body


def error_code(code: str) -> str:
    """A service's error code as Step Functions names it: the last part of a namespaced
    code (`com.amazon.coral.validate#ValidationException`, `AWS.SimpleQueueService.
    NonExistentQueue`), always ending in `Exception`."""
    name = code.rsplit("#", 1)[-1].rsplit(".", 1)[-1] or "Unknown"
    return name if name.endswith("Exception") else name + "Exception"


def sdk_error(prefix: str, code: str, message: str, status: int, request_id: str) -> tuple[
    str, str
]:
    """(Error, Cause) of a failed AWS SDK integration call (Java 2.x wording)."""
    cause = f"{message} (Service: {prefix}, Status Code: {status}, Request ID: {request_id})"
    return f"{prefix}.{error_code(code)}", cause


def optimized_error(
    service: str, code: str, message: str, status: int, request_id: str
) -> tuple[str, str]:
    """(Error, Cause) of a failed optimized integration call (Java 1.x wording)."""
    prefix, sdk_name = OPTIMIZED_ERROR_PREFIX.get(service, (service.capitalize(), service))
    cause = (
        f"{message} (Service: {sdk_name}; Status Code: {status}; Error Code: {code}; "
        f"Request ID: {request_id}; Proxy: null)"
    )
    return f"{prefix}.{error_code(code)}", cause


def _json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
