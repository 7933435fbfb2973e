"""The resource model (engine/asl/resources.py): every Task resource AWS accepts is accepted
with the patterns AWS allows for it, and what AWS refuses is refused at creation with AWS's
message and the field's location."""

from __future__ import annotations

import pytest

from engine.asl import resources
from engine.asl.validation import validate

ACCEPTED = [
    "arn:aws:lambda:us-east-1:123456789012:function:Echo",
    "arn:aws:lambda:eu-west-3:123456789012:function:Echo:7",
    "arn:aws:lambda:us-east-1:123456789012:function:Echo:prod",
    "arn:aws:lambda:us-east-1:123456789012:function:Echo:$LATEST",
    "arn:aws-cn:lambda:cn-north-1:123456789012:function:Echo",
    "arn:aws-iso-f:lambda:us-isof-south-1:123456789012:function:Echo",
    "arn:aws-eusc:states:eusc-de-east-1:123456789012:activity:Approve",
    "arn:aws-iso-e:states:eu-isoe-west-1:123456789012:activity:Approve",
    "arn:aws:states:::lambda:invoke",
    "arn:aws:states:::lambda:invoke.waitForTaskToken",
    "arn:aws:states:::sns:publish",
    "arn:aws:states:::sns:publish.waitForTaskToken",
    "arn:aws:states:::sqs:sendMessage",
    "arn:aws:states:::dynamodb:putItem",
    "arn:aws:states:::dynamodb:getItem",
    "arn:aws:states:::dynamodb:updateItem",
    "arn:aws:states:::dynamodb:deleteItem",
    "arn:aws:states:::events:putEvents",
    "arn:aws:states:::athena:startQueryExecution.sync",
    "arn:aws:states:::batch:submitJob.sync",
    "arn:aws:states:::glue:startJobRun.sync",
    "arn:aws:states:::ecs:runTask.waitForTaskToken",
    "arn:aws:states:::elasticmapreduce:createCluster.sync",
    "arn:aws:states:::bedrock:invokeModel",
    "arn:aws:states:::states:startExecution",
    "arn:aws:states:::states:startExecution.sync",
    "arn:aws:states:::states:startExecution.sync:2",
    "arn:aws:states:::states:startExecution.waitForTaskToken",
    "arn:aws:states:::http:invoke",
    "arn:aws:states:::aws-sdk:s3:getObject",
    "arn:aws:states:::aws-sdk:s3:listObjectsV2",
    "arn:aws:states:::aws-sdk:dynamodb:query",
    "arn:aws:states:::aws-sdk:sfn:startSyncExecution",
    "arn:aws:states:::aws-sdk:cloudwatchlogs:putLogEvents",
    "arn:aws:states:::aws-sdk:eventbridge:putEvents",
    "arn:aws:states:::aws-sdk:ec2:describeInstances",
    "arn:aws:states:::aws-sdk:sqs:sendMessage.waitForTaskToken",
    "arn:aws:states:us-east-1:123456789012:activity:Approve",
    # Activity names as CreateActivity takes them, not only [A-Za-z0-9_.-].
    "arn:aws:states:us-east-1:123456789012:activity:Approve+Order@v2",
    "arn:aws:states:::bedrockagentcore:invokeHarness",
    # SDK names drop a trailing "Service" (the Developer Guide's table, not botocore's id).
    "arn:aws:states:::aws-sdk:config:describeConfigRules",
    "arn:aws:states:::aws-sdk:databasemigration:describeReplicationTasks",
    "arn:aws:states:::aws-sdk:elasticsearch:listDomainNames",
    "arn:aws:states:::aws-sdk:directory:describeDirectories",
    # Still listed by Step Functions, no longer in the current botocore.
    "arn:aws:states:::aws-sdk:iotanalytics:listChannels",
    "arn:aws:states:::aws-sdk:honeycode:listTables",
]

REFUSED = [
    "arn:aws:states:::nosuchservice:doIt",
    "arn:aws:states:::dynamodb:query",  # an SDK action, not an optimized one
    "arn:aws:states:::dynamodb:putItem.sync",
    "arn:aws:states:::dynamodb:putItem.waitForTaskToken",
    "arn:aws:states:::sns:publish.sync",
    "arn:aws:states:::lambda:invoke.sync",
    "arn:aws:states:::glue:startJobRun.sync:2",
    "arn:aws:states:::http:invoke.waitForTaskToken",
    "arn:aws:states:::aws-sdk:s3:getObject.sync",  # the SDK integrations have no .sync
    "arn:aws:states:::aws-sdk:nosuchservice:getObject",
    "arn:aws:states:::aws-sdk:s3:noSuchAction",
    "arn:aws:states:::aws-sdk:logs:putLogEvents",  # botocore's name, not the SDK's
    "arn:aws:states:::aws-sdk:configservice:describeConfigRules",  # nor its service id
    "arn:aws:states:::bedrockagentcore:invokeHarness.waitForTaskToken",
    # Documented unsupported operations, services Step Functions removed or never offered.
    "arn:aws:states:::aws-sdk:s3:selectObjectContent",
    "arn:aws:states:::aws-sdk:sts:assumeRole",
    "arn:aws:states:::aws-sdk:lexruntime:postText",
    "arn:aws:states:::aws-sdk:apigatewaymanagementapi:postToConnection",
    "arn:aws:states:::bedrockagentcore:invokeHarness.sync",
    "arn:aws:lambda::123456789012:function:Echo",  # no region
    "arn:aws:lambda:us-east-1:abc:function:Echo",  # non-numeric account
    "arn:aws:lambda:us-east-1:123456789012:function:Echo:a:b",
    "arn:aws:states:us-east-1:abc:activity:Approve",
    "arn:aws:states:us-east-1:123456789012:activity:Approve/Order",
    "arn:aws:states:::sns",
    "not-an-arn",
]


@pytest.mark.parametrize("resource", ACCEPTED)
def test_resources_aws_accepts_are_accepted(resource: str) -> None:
    assert resources.check_resource(resource) is None
    assert validate(_machine(resource)) == []


@pytest.mark.parametrize("resource", REFUSED)
def test_resources_aws_refuses_are_refused_with_its_message_and_location(resource: str) -> None:
    assert resources.check_resource(resource) == resources.not_recognized(resource)
    [found] = validate(_machine(resource))
    assert found.location == "/States/T/Resource"
    assert found.message == (
        f"The resource provided {resource} is not recognized. The value is not a valid "
        "resource ARN, or the resource is not available in this region."
    )


def test_express_machines_still_refuse_sync_with_awss_message() -> None:
    [found] = validate(
        _machine("arn:aws:states:::glue:startJobRun.sync"), state_machine_type="EXPRESS"
    )
    assert found.message == "Express state machine does not support '.sync' service integration"


def test_an_sdk_resource_is_parsed_as_aws_reports_it() -> None:
    ref = resources.parse_resource("arn:aws:states:::aws-sdk:s3:getObject")
    assert ref is not None
    assert (ref.family, ref.kind, ref.resource_type, ref.resource) == (
        "task", "aws-sdk", "aws-sdk:s3", "getObject"
    )
    assert (ref.service, ref.action, ref.pattern) == ("s3", "getObject", "request-response")


def test_pattern_and_suffix_of_a_nested_execution() -> None:
    ref = resources.parse_resource("arn:aws:states:::states:startExecution.sync:2")
    assert ref is not None
    assert (ref.pattern, ref.suffix, ref.resource) == ("sync", ".sync:2", "startExecution.sync:2")


def test_sdk_services_carry_boto3_names_and_step_functions_error_prefixes() -> None:
    assert resources.sdk_service("s3") == resources.SdkService("s3", "s3", "S3")
    assert resources.sdk_service("dynamodb") == resources.SdkService(
        "dynamodb", "dynamodb", "DynamoDb"
    )
    assert resources.sdk_service("acmpca") == resources.SdkService("acmpca", "acm-pca", "AcmPca")
    assert resources.sdk_service("cloudwatchlogs") == resources.SdkService(
        "cloudwatchlogs", "logs", "CloudWatchLogs"
    )
    assert resources.sdk_service("sfn") == resources.SdkService("sfn", "stepfunctions", "Sfn")
    assert resources.sdk_service("logs") is None
    # Prefixes as the Developer Guide's table gives them, where no naming rule does.
    assert resources.sdk_service("config") == resources.SdkService("config", "config", "Config")
    assert resources.sdk_service("sesv2") == resources.SdkService("sesv2", "sesv2", "SesV2")
    iot = resources.sdk_service("iot")
    assert iot is not None and iot.error_prefix == "Iot"
    analytics = resources.sdk_service("iotanalytics")
    assert analytics is not None and analytics.error_prefix == "IoTAnalytics"


def test_handler_names_in_lookup_order() -> None:
    sdk = "arn:aws:states:::aws-sdk:s3:getObject"
    ref = resources.parse_resource(sdk)
    assert ref is not None
    assert resources.handler_names(ref, {}, sdk) == ["aws-sdk:s3:getObject", "s3:getObject", sdk]
    fn = "arn:aws:lambda:us-east-1:123456789012:function:Echo:prod"
    ref = resources.parse_resource(fn)
    assert ref is not None
    assert resources.handler_names(ref, {}, fn) == ["Echo", fn]
    ref = resources.parse_resource(resources.LAMBDA_INVOKE)
    assert ref is not None
    assert resources.handler_names(ref, {"FunctionName": "arn:aws:lambda:us-east-1:1:function:F:1"},
                                   resources.LAMBDA_INVOKE) == ["F", resources.LAMBDA_INVOKE]
    sns = "arn:aws:states:::sns:publish"
    ref = resources.parse_resource(sns)
    assert ref is not None
    assert resources.handler_names(ref, {}, sns) == ["sns:publish", sns]


def test_the_shipped_sdk_catalog_matches_botocore() -> None:
    """aws_sdk_actions.json is generated from the installed botocore; a stale file would
    refuse actions boto3 can call (regenerate: scripts/gen_aws_sdk_actions.py)."""
    botocore_session = pytest.importorskip("botocore.session")
    session = botocore_session.get_session()
    ops = session.get_service_model("s3").operation_names
    # All of botocore's but the operation Step Functions documents as unsupported.
    expected = {op[0].lower() + op[1:] for op in ops} - {"selectObjectContent"}
    assert expected == set(resources.aws_sdk_actions("s3"))


def _machine(resource: str) -> dict[str, object]:
    return {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "End": True}}}
