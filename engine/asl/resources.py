"""Task `Resource` strings: what they name, whether AWS accepts them, and how AWS reports
them. The one place both validation and the interpreter ask.

Families, as AWS accepts them:

- a Lambda function ARN `arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`
  (region and a 12-digit account required; QUALIFIER a version or an alias);
- an activity ARN `arn:PARTITION:states:REGION:ACCOUNT:activity:NAME`;
- an optimized integration `arn:PARTITION:states:::SERVICE:ACTION[.sync|.sync:2|
  .waitForTaskToken]`, from the fixed list below with the patterns AWS allows for each;
- an AWS SDK integration `arn:PARTITION:states:::aws-sdk:SERVICE:ACTION[.waitForTaskToken]`
  for any service and action the AWS SDK knows (the list shipped in
  `aws_sdk_actions.json`, generated from botocore by scripts/gen_aws_sdk_actions.py);
- `arn:PARTITION:states:::http:invoke` (HTTP Task).

Resources name registered handlers, never import paths: a Lambda function by its NAME,
anything else by `SERVICE:ACTION` or the whole resource (see `handler_names`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from email.utils import formatdate
from functools import lru_cache
from importlib import resources as importlib_resources
from typing import Any, Final, Literal

LAMBDA_INVOKE: Final = "arn:aws:states:::lambda:invoke"
#: Every partition and region shape botocore's partitions.json knows (aws-iso-e, aws-iso-f
#: and the European Sovereign Cloud `aws-eusc` / `eusc-de-east-1` included).
_PARTITION: Final = r"arn:aws(?:-cn|-us-gov|-iso|-iso-b|-iso-e|-iso-f|-eusc)?"
_REGION: Final = r"(?:[a-z]{2}(?:-gov|-iso|-isob|-isoe|-isof)?|eusc-[a-z]{2})-[a-z]+-\d{1,2}"
_ACCOUNT: Final = r"\d{12}"
#: Loose shapes: what *looks like* each family (so a wrong region is reported, not a
#: missing family); `_STRICT_*` are what AWS accepts.
_LAMBDA_ARN = re.compile(r"^arn:aws[\w-]*:lambda:([^:]*):([^:]*):function:([^:]+)(?::([^:]+))?$")
# A region and a numeric account are required; the account's length is not checked (AWS
# account ids have 12 digits, but refusing shorter ones would gain nothing here).
_STRICT_LAMBDA = re.compile(
    rf"^{_PARTITION}:lambda:[a-z0-9-]+:\d+:function:[A-Za-z0-9_-]{{1,64}}"
    r"(?::(?:\$LATEST|\d+|[A-Za-z0-9_-]{1,128}))?$"
)
_SERVICE_ARN = re.compile(
    r"^arn:aws[\w-]*:states:([^:]*):([^:]*):([\w-]+):([A-Za-z0-9]+)"
    r"(\.sync(?::2)?|\.waitForTaskToken|\.[^:]*(?::.*)?)?$"
)
_AWS_SDK_ARN = re.compile(
    r"^arn:aws[\w-]*:states:([^:]*):([^:]*):aws-sdk:([\w-]+):([A-Za-z0-9]+)"
    r"(\.[^:]*(?::.*)?)?$"
)
_ACTIVITY_ARN = re.compile(r"^arn:aws[\w-]*:states:[^:]*:[^:]*:activity:(.+)$")
#: An activity name as CreateActivity takes it: 1..80 characters, none of whitespace,
#: brackets, wildcards, `"#%\\^|~`$&,;:/` or control characters.
_ACTIVITY_NAME: Final = r"""[^\s<>{}\[\]?*"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}"""
_STRICT_ACTIVITY = re.compile(
    rf"^{_PARTITION}:states:{_REGION}:{_ACCOUNT}:activity:{_ACTIVITY_NAME}$"
)

RR: Final = "request-response"
SYNC: Final = ".sync"
SYNC2: Final = ".sync:2"
CALLBACK: Final = ".waitForTaskToken"
_R: Final = frozenset({RR})
_RS: Final = frozenset({RR, SYNC})
_RC: Final = frozenset({RR, CALLBACK})
_RSC: Final = frozenset({RR, SYNC, CALLBACK})

#: The optimized integrations and the patterns AWS allows for each action ("Integrating
#: optimized services with Step Functions": Standard workflows; EXPRESS ones allow only
#: request-response, checked in validation). `.sync:2` exists for nested executions only.
OPTIMIZED: Final[dict[str, dict[str, frozenset[str]]]] = {
    "lambda": {"invoke": _RC},
    "states": {"startExecution": frozenset({RR, SYNC, SYNC2, CALLBACK})},
    "http": {"invoke": _R},
    "apigateway": {"invoke": _RC},
    "athena": {
        "startQueryExecution": _RS,
        "stopQueryExecution": _R,
        "getQueryExecution": _R,
        "getQueryResults": _R,
    },
    "batch": {"submitJob": _RS},
    "bedrock": {"invokeModel": _R, "createModelCustomizationJob": _RSC},
    # "Invoke Amazon Bedrock AgentCore harness with Step Functions": request-response only.
    "bedrockagentcore": {"invokeHarness": _R},
    "codebuild": {
        "startBuild": _RS,
        "stopBuild": _R,
        "batchDeleteBuilds": _R,
        "batchGetReports": _R,
        "startBuildBatch": _RS,
        "stopBuildBatch": _R,
        "retryBuildBatch": _RS,
        "deleteBuildBatch": _R,
    },
    "databrew": {"startJobRun": _RS},
    "dynamodb": {"getItem": _R, "putItem": _R, "updateItem": _R, "deleteItem": _R},
    "ecs": {"runTask": _RSC},
    "eks": {
        "createCluster": _RS,
        "deleteCluster": _RS,
        "createFargateProfile": _RS,
        "deleteFargateProfile": _RS,
        "createNodegroup": _RS,
        "deleteNodegroup": _RS,
        "runJob": _RSC,
        "call": _R,
    },
    "elasticmapreduce": {
        "createCluster": _RS,
        "terminateCluster": _RS,
        "addStep": _RS,
        "cancelStep": _R,
        "setClusterTerminationProtection": _R,
        "modifyInstanceFleetByName": _R,
        "modifyInstanceGroupByName": _R,
    },
    "emr-containers": {
        "createVirtualCluster": _R,
        "deleteVirtualCluster": _RS,
        "startJobRun": _RS,
    },
    "emr-serverless": {
        "createApplication": _RS,
        "startApplication": _RS,
        "stopApplication": _RS,
        "deleteApplication": _RS,
        "startJobRun": _RS,
        "cancelJobRun": _RS,
    },
    "events": {"putEvents": _RC},
    "glue": {"startJobRun": _RS},
    "mediaconvert": {"createJob": _RS},
    "sagemaker": {
        "createEndpoint": _R,
        "createEndpointConfig": _R,
        "createHyperParameterTuningJob": _RS,
        "createLabelingJob": _RS,
        "createModel": _R,
        "createProcessingJob": _RS,
        "createTrainingJob": _RS,
        "createTransformJob": _RS,
        "updateEndpoint": _R,
    },
    "sns": {"publish": _RC},
    "sqs": {"sendMessage": _RC},
}

Kind = Literal["lambda-function", "activity", "optimized", "aws-sdk", "http"]


@dataclass(frozen=True)
class ResourceRef:
    """A parsed Task resource.

    `family` selects the history events: "lambda" for a Lambda function ARN
    (LambdaFunctionScheduled, ...), "task" for service integrations (TaskScheduled, ...),
    "activity" for activities. `resource_type`/`resource` are what Task* events report
    (e.g. "lambda"/"invoke", "aws-sdk:s3"/"getObject"). `pattern` is the integration
    pattern; `kind`, `service` and `action` say who can serve it (engine/integrations).
    """

    family: Literal["lambda", "task", "activity"]
    resource_type: str
    resource: str
    pattern: Literal["request-response", "sync", "callback"]
    handler: str | None  # None when it comes from the parameters (lambda:invoke)
    kind: Kind = "optimized"
    service: str = ""
    action: str = ""
    #: "", ".sync", ".sync:2" or ".waitForTaskToken", as written.
    suffix: str = ""


def _pattern(suffix: str) -> Literal["request-response", "sync", "callback"]:
    if suffix.startswith(SYNC):
        return "sync"
    return "callback" if suffix == CALLBACK else "request-response"


def parse_resource(resource: str) -> ResourceRef | None:
    """What a resource names, or None when it is none of the families above (a resource
    `check_resource` accepts always parses; one that parses may still be refused)."""
    m = _LAMBDA_ARN.match(resource)
    if m:
        name = m.group(3)
        return ResourceRef(
            "lambda", "lambda", resource, "request-response", name,
            kind="lambda-function", service="lambda", action=name,
        )
    m = _ACTIVITY_ARN.match(resource)
    if m:
        return ResourceRef(
            "activity", "activity", resource, "callback", m.group(1),
            kind="activity", service="states", action=m.group(1),
        )
    m = _AWS_SDK_ARN.match(resource)
    if m:
        service, action, suffix = m.group(3), m.group(4), m.group(5) or ""
        return ResourceRef(
            "task", f"aws-sdk:{service}", action + suffix, _pattern(suffix),
            f"aws-sdk:{service}:{action}", kind="aws-sdk", service=service, action=action,
            suffix=suffix,
        )
    m = _SERVICE_ARN.match(resource)
    if m:
        service, action, suffix = m.group(3), m.group(4), m.group(5) or ""
        handler = None if (service, action) == ("lambda", "invoke") else f"{service}:{action}"
        kind: Kind = "http" if (service, action) == ("http", "invoke") else "optimized"
        return ResourceRef(
            "task", service, action + suffix, _pattern(suffix), handler,
            kind=kind, service=service, action=action, suffix=suffix,
        )
    return None


def starts_execution(ref: ResourceRef) -> bool:
    """`arn:aws:states:::states:startExecution[.sync|.sync:2|.waitForTaskToken]`: a Task
    that starts a child execution (served by the engine itself)."""
    return ref.family == "task" and (ref.resource_type, ref.resource.split(".")[0]) == (
        "states", "startExecution"
    )


def not_recognized(resource: str) -> str:
    """AWS's words for a Task resource it does not accept (CreateStateMachine's
    SCHEMA_VALIDATION_FAILED, as CloudFormation reports it)."""
    return (
        f"The resource provided {resource} is not recognized. The value is not a valid "
        "resource ARN, or the resource is not available in this region."
    )


def check_resource(resource: str) -> str | None:
    """None when AWS accepts `resource` as a Task's Resource, else AWS's message."""
    ref = parse_resource(resource)
    if ref is None:
        return not_recognized(resource)
    if ref.kind == "lambda-function":
        ok = _STRICT_LAMBDA.match(resource) is not None
    elif ref.kind == "activity":
        ok = _STRICT_ACTIVITY.match(resource) is not None
    else:
        m = (_AWS_SDK_ARN if ref.kind == "aws-sdk" else _SERVICE_ARN).match(resource)
        assert m is not None
        region, account = m.group(1), m.group(2)
        # Integrations are written `arn:aws:states:::...`; a region/account, if present,
        # must at least be well formed.
        ok = (not region or re.fullmatch(_REGION, region) is not None) and (
            not account or re.fullmatch(_ACCOUNT, account) is not None
        )
        ok = ok and allowed_patterns(ref) is not None and (
            ref.suffix or RR
        ) in (allowed_patterns(ref) or ())
    return None if ok else not_recognized(resource)


def allowed_patterns(ref: ResourceRef) -> frozenset[str] | None:
    """The patterns AWS allows for this integration (None: no such integration)."""
    if ref.kind == "aws-sdk":
        # AWS SDK integrations: request-response and the callback pattern, never .sync.
        return _RC if ref.action in aws_sdk_actions(ref.service) else None
    if ref.kind in ("optimized", "http"):
        return OPTIMIZED.get(ref.service, {}).get(ref.action)
    return None


@dataclass(frozen=True)
class SdkService:
    """An AWS SDK service as Step Functions names it: `name` in resources, `botocore`
    for boto3's client, `error_prefix` before its error names (`S3.NoSuchKeyException`)."""

    name: str
    botocore: str
    error_prefix: str


@lru_cache(maxsize=1)
def _sdk_catalog() -> dict[str, dict[str, str]]:
    # Shipped with the package (not read from botocore at run time): the pure layer never
    # imports boto3, and validation answers the same wherever it runs.
    text = importlib_resources.files("engine.asl").joinpath("aws_sdk_actions.json").read_text()
    catalog: dict[str, dict[str, str]] = json.loads(text)
    return catalog


@lru_cache(maxsize=512)
def aws_sdk_actions(service: str) -> frozenset[str]:
    entry = _sdk_catalog().get(service)
    return frozenset(entry["actions"].split(",")) if entry else frozenset()


def sdk_service(service: str) -> SdkService | None:
    entry = _sdk_catalog().get(service)
    if entry is None:
        return None
    return SdkService(service, entry["botocore"], entry["error"])


def handler_names(ref: ResourceRef, parameters: Any, resource: str) -> list[str]:
    """The names a user-registered handler may be registered under, in the order they are
    looked up: the function name (Lambda), `SERVICE:ACTION` (`aws-sdk:s3:getObject` or
    `s3:getObject` for the SDK), then the whole resource."""
    names: list[str] = []
    first = handler_name(ref, parameters)
    if first is not None:
        names.append(first)
    if ref.kind == "aws-sdk":
        names.append(f"{ref.service}:{ref.action}")
    names.append(resource)
    return list(dict.fromkeys(names))


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
