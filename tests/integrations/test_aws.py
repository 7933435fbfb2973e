"""Built-in AWS integrations through boto3 against an AWS API emulator (moto in server mode,
a separate process; tests/aws_emulator.py): the AWS SDK integrations, the optimized ones
(DynamoDB, SNS, SQS, EventBridge, Lambda), AWS's error names, the switch that allows AWS
calls, and a handler the user registered winning over the built-in."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.handlers import Registry, TaskContext
from engine.integrations import Integrations, IntegrationSettings
from engine.runtime.inline import InlineRunner
from tests.integrations.conftest import AwsEmulator

SDK = "arn:aws:states:::aws-sdk:"


def run(definition: dict[str, Any], input: Any = None, *, aws: bool = True,
        registry: Registry | None = None) -> tuple[Any, list[dict[str, Any]]]:
    registry = registry or Registry()
    runner = InlineRunner(
        registry, integrations=Integrations(registry, IntegrationSettings(aws=aws))
    )
    runner.create_state_machine("M", definition)
    record = runner.run("M", input=input if input is not None else {})
    history = runner.client.get_history(record.eid)
    return record, history


def task(resource: str, parameters: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": resource, "Parameters": parameters, **more}


def chain(*states: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for i, (name, state) in enumerate(states):
        if i + 1 < len(states):
            body[name] = {**state, "Next": states[i + 1][0]}
        else:
            body[name] = {**state, "End": True}
    return {"StartAt": states[0][0], "States": body}


def output(record: Any) -> Any:
    assert record.status == "SUCCEEDED", (record.error, record.cause)
    return json.loads(record.output)


def test_aws_sdk_s3_round_trip_returns_the_api_response(aws_env: AwsEmulator) -> None:
    aws_env.client("s3").create_bucket(Bucket="orders")  # type: ignore[attr-defined]
    definition = chain(
        ("Put", task(SDK + "s3:putObject",
                     {"Bucket": "orders", "Key": "o/1.json", "Body.$": "States.JsonToString($)"},
                     ResultPath="$.put")),
        ("Get", task(SDK + "s3:getObject", {"Bucket": "orders", "Key": "o/1.json"},
                     ResultSelector={"Body.$": "States.StringToJson($.Body)",
                                     "ContentLength.$": "$.ContentLength"})),
    )
    record, history = run(definition, {"orderId": "42"})
    out = output(record)
    assert out["Body"] == {"orderId": "42"}
    assert out["ContentLength"] == len('{"orderId":"42"}')
    scheduled = [e for e in history if e["type"] == "TaskScheduled"]
    assert scheduled[0]["taskScheduledEventDetails"]["resourceType"] == "aws-sdk:s3"
    assert scheduled[0]["taskScheduledEventDetails"]["resource"] == "putObject"
    succeeded = [e for e in history if e["type"] == "TaskSucceeded"]
    put = json.loads(succeeded[0]["taskSucceededEventDetails"]["output"])
    assert "ETag" in put and "ResponseMetadata" not in put


def test_aws_sdk_errors_are_named_service_dot_code_exception(aws_env: AwsEmulator) -> None:
    aws_env.client("s3").create_bucket(Bucket="empty")  # type: ignore[attr-defined]
    definition = chain(
        ("Get", task(SDK + "s3:getObject", {"Bucket": "empty", "Key": "missing"},
                     Catch=[{"ErrorEquals": ["S3.NoSuchKeyException"], "Next": "Missing"}])),
    )
    definition["States"]["Missing"] = {"Type": "Pass", "End": True}
    record, history = run(definition)
    assert record.status == "SUCCEEDED"
    failed = [e for e in history if e["type"] == "TaskFailed"][0]["taskFailedEventDetails"]
    assert failed["error"] == "S3.NoSuchKeyException"
    assert "(Service: S3, Status Code: 404, Request ID:" in failed["cause"]


def test_aws_sdk_dynamodb_errors_use_the_sdk_service_name(aws_env: AwsEmulator) -> None:
    record, _ = run(chain(("Q", task(SDK + "dynamodb:query", {
        "TableName": "nope", "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": {":p": {"S": "x"}}}))))
    assert (record.status, record.error) == ("FAILED", "DynamoDb.ResourceNotFoundException")


def test_dynamodb_optimized_put_get_update_delete(aws_env: AwsEmulator) -> None:
    ddb: Any = aws_env.client("dynamodb")
    ddb.create_table(TableName="Orders", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    key = {"id": {"S.$": "$.id"}}
    definition = chain(
        ("Put", task("arn:aws:states:::dynamodb:putItem",
                     {"TableName": "Orders", "Item": {"id": {"S.$": "$.id"}, "n": {"N": "1"}}},
                     ResultPath="$.put")),
        ("Update", task("arn:aws:states:::dynamodb:updateItem",
                        {"TableName": "Orders", "Key": key, "UpdateExpression": "SET n = n + :one",
                         "ExpressionAttributeValues": {":one": {"N": "1"}},
                         "ReturnValues": "ALL_NEW"}, ResultPath="$.update")),
        ("Get", task("arn:aws:states:::dynamodb:getItem", {"TableName": "Orders", "Key": key},
                     ResultPath="$.get")),
        ("Delete", task("arn:aws:states:::dynamodb:deleteItem",
                        {"TableName": "Orders", "Key": key}, ResultPath="$.delete")),
    )
    out = output(run(definition, {"id": "o-1"})[0])
    assert out["update"]["Attributes"]["n"] == {"N": "2"}
    assert out["get"]["Item"] == {"id": {"S": "o-1"}, "n": {"N": "2"}}
    assert out["get"]["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert out["get"]["SdkResponseMetadata"]["RequestId"]
    assert "Item" not in ddb.get_item(TableName="Orders", Key={"id": {"S": "o-1"}})


def test_dynamodb_optimized_error_names(aws_env: AwsEmulator) -> None:
    ddb: Any = aws_env.client("dynamodb")
    ddb.create_table(TableName="Once", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    ddb.put_item(TableName="Once", Item={"id": {"S": "a"}})
    record, _ = run(chain(("Put", task("arn:aws:states:::dynamodb:putItem", {
        "TableName": "Once", "Item": {"id": {"S": "a"}},
        "ConditionExpression": "attribute_not_exists(id)"}))))
    assert (record.status, record.error) == ("FAILED", "DynamoDB.ConditionalCheckFailedException")
    assert "Service: AmazonDynamoDBv2; Status Code: 400" in record.cause


def test_sns_sqs_and_eventbridge_send_json_messages(aws_env: AwsEmulator) -> None:
    sqs: Any = aws_env.client("sqs")
    queue = sqs.create_queue(QueueName="orders")["QueueUrl"]
    topic = aws_env.client("sns").create_topic(Name="orders")["TopicArn"]  # type: ignore[attr-defined]
    definition = chain(
        ("Send", task("arn:aws:states:::sqs:sendMessage",
                      {"QueueUrl": queue, "MessageBody": {"orderId.$": "$.orderId"}},
                      ResultPath="$.sqs")),
        ("Publish", task("arn:aws:states:::sns:publish",
                         {"TopicArn": topic, "Message": {"orderId.$": "$.orderId"}},
                         ResultPath="$.sns")),
        ("Events", task("arn:aws:states:::events:putEvents", {"Entries": [
            {"Source": "shop", "DetailType": "OrderPlaced", "Detail": {"orderId.$": "$.orderId"}}
        ]}, ResultPath="$.events")),
    )
    out = output(run(definition, {"orderId": "7"})[0])
    assert out["sns"]["MessageId"] and out["sqs"]["MessageId"]
    assert out["events"]["FailedEntryCount"] == 0
    [message] = sqs.receive_message(QueueUrl=queue)["Messages"]
    assert json.loads(message["Body"]) == {"orderId": "7"}


def test_lambda_through_aws_reports_a_missing_function(aws_env: AwsEmulator) -> None:
    record, _ = run(chain(("Call", task("arn:aws:states:::lambda:invoke",
                                        {"FunctionName": "nowhere", "Payload": {}}))))
    assert (record.status, record.error) == ("FAILED", "Lambda.ResourceNotFoundException")


def test_with_aws_calls_off_the_state_fails_saying_how_to_enable_them() -> None:
    record, _ = run(chain(("Get", task(SDK + "s3:getObject", {"Bucket": "b", "Key": "k"}))),
                    aws=False)
    assert (record.status, record.error) == ("FAILED", "States.TaskFailed")
    assert "SFN_AWS_INTEGRATIONS=1" in record.cause
    assert "'aws-sdk:s3:getObject' or 's3:getObject' or " in record.cause


@pytest.mark.parametrize("name", ["aws-sdk:s3:getObject", "s3:getObject",
                                  "arn:aws:states:::aws-sdk:s3:getObject"])
def test_a_registered_handler_serves_an_sdk_resource_without_aws(name: str) -> None:
    registry = Registry()

    def local_get(event: Any, context: TaskContext) -> Any:
        return {"Body": f"local {event['Key']}"}

    registry.register(name, local_get)
    record, _ = run(chain(("Get", task(SDK + "s3:getObject", {"Bucket": "b", "Key": "k"}))),
                    aws=False, registry=registry)
    assert output(record) == {"Body": "local k"}


def test_a_registered_handler_wins_over_the_builtin(aws_env: AwsEmulator) -> None:
    registry = Registry()
    registry.register("sqs:sendMessage", lambda event, ctx: {"MessageId": "ours"})
    record, _ = run(chain(("Send", task("arn:aws:states:::sqs:sendMessage",
                                        {"QueueUrl": "http://nowhere/q", "MessageBody": "x"}))),
                    registry=registry)
    assert output(record) == {"MessageId": "ours"}


def test_a_lambda_arn_registered_as_a_whole_is_accepted_at_creation_and_served() -> None:
    from engine.client import Client
    from engine.runtime.driver import Driver
    from engine.store.memory import MemoryStore

    arn = "arn:aws:lambda:us-east-1:123456789012:function:Price:prod"
    registry = Registry()
    registry.register(arn, lambda event, ctx: {"price": 3})
    sent: list[dict[str, Any]] = []

    class Queue:
        def send(self, message: dict[str, Any], *, countdown: float = 0.0) -> None:
            sent.append(message)

    store, queue = MemoryStore(), Queue()
    client = Client(store, queue, registry=registry)
    driver = Driver(store, queue, registry)
    client.create_state_machine("M", chain(("P", {"Type": "Task", "Resource": arn})))
    execution = client.start_execution("M", {})
    while sent:
        driver.handle(sent.pop(0))
    assert output(client.describe_execution(execution.arn)) == {"price": 3}
