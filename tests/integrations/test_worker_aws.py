"""End to end: a real Celery worker (SFN_AWS_INTEGRATIONS=1) runs
workflows/order_fulfilment.asl.json against the AWS API emulator over HTTP (DynamoDB,
S3 through the AWS SDK integration, SQS, SNS), a real redis-server holding the state."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.connect import connect
from engine.settings import Settings
from tests.conftest import Worker
from tests.integrations.conftest import AwsEmulator

pytestmark = [pytest.mark.redis, pytest.mark.worker]
WORKFLOW = Path("workflows/order_fulfilment.asl.json")


@pytest.fixture(scope="module")
def aws_worker(
    redis_server: Any, aws_emulator: AwsEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    log = tmp_path_factory.mktemp("aws-worker") / "worker.log"
    env = {**aws_emulator.env, "SFN_AWS_INTEGRATIONS": "1"}
    w = Worker(redis_server.url, env=env, queues="sfn", log_path=log).start()
    yield w
    w.stop()


def test_order_fulfilment_calls_aws_from_the_worker(
    aws_worker: Worker, aws_emulator: AwsEmulator, redis_url: str, unique: str
) -> None:
    aws_emulator.reset()
    ddb: Any = aws_emulator.client("dynamodb")
    s3: Any = aws_emulator.client("s3")
    sqs: Any = aws_emulator.client("sqs")
    sns: Any = aws_emulator.client("sns")
    ddb.create_table(
        TableName="Orders", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "orderId", "AttributeType": "S"}],
    )
    s3.create_bucket(Bucket="order-archive")
    queue = sqs.create_queue(QueueName=f"shipping-{unique}")["QueueUrl"]
    topic = sns.create_topic(Name=f"orders-{unique}")["TopicArn"]
    client = connect(Settings(redis_url=redis_url))
    client.create_state_machine(f"Fulfil{unique}", WORKFLOW)
    order = {"orderId": f"o-{unique}", "total": 12.5, "items": ["book"],
             "shippingQueueUrl": queue, "ordersTopicArn": topic}

    first = client.wait(client.start_execution(f"Fulfil{unique}", order).arn, timeout=60)
    assert first.status == "SUCCEEDED", (first.error, first.cause)
    out = json.loads(first.output or "")
    assert out["status"] == "RECEIVED" and out["archiveETag"]
    item = ddb.get_item(TableName="Orders", Key={"orderId": {"S": order["orderId"]}})["Item"]
    assert item["total"] == {"N": "12.5"}
    archived = s3.get_object(Bucket="order-archive", Key=f"orders/{order['orderId']}.json")
    assert json.loads(archived["Body"].read())["orderId"] == order["orderId"]
    [message] = sqs.receive_message(QueueUrl=queue)["Messages"]
    assert json.loads(message["Body"]) == {"orderId": order["orderId"], "items": ["book"]}

    # The same order again: DynamoDB's condition fails, AWS's error name is caught.
    again = client.wait(client.start_execution(f"Fulfil{unique}", order).arn, timeout=60)
    assert json.loads(again.output or "") == {"orderId": order["orderId"], "status": "DUPLICATE"}


def test_an_athena_sync_job_is_polled_on_durable_timers_by_the_worker(
    aws_worker: Worker, redis_url: str, unique: str
) -> None:
    client = connect(Settings(redis_url=redis_url))
    client.create_state_machine(f"Query{unique}", {"StartAt": "Q", "States": {"Q": {
        "Type": "Task", "Resource": "arn:aws:states:::athena:startQueryExecution.sync",
        "Parameters": {"QueryString": "SELECT 1", "WorkGroup": "primary",
                       "ResultConfiguration": {"OutputLocation": "s3://results/"}},
        "End": True}}})
    done = client.wait(client.start_execution(f"Query{unique}", {}).arn, timeout=60)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    assert json.loads(done.output or "")["QueryExecution"]["Status"]["State"] == "SUCCEEDED"
    types = [e["type"] for e in client.get_history(done.arn)]
    assert types.count("TaskStarted") == 1 and types.count("TaskSubmitted") == 1


def test_the_orders_batch_example_on_a_worker_reads_and_writes_s3(
    aws_worker: Worker, aws_emulator: AwsEmulator, redis_url: str, unique: str
) -> None:
    s3: Any = aws_emulator.client("s3")
    bucket = f"shop-{unique}"
    s3.create_bucket(Bucket=bucket)
    orders = [{"orderId": f"o-{i}", "lines": [{"price": i, "quantity": 2}]} for i in range(25)]
    body = "".join(json.dumps(o) + "\n" for o in orders)
    s3.put_object(Bucket=bucket, Key="in/orders.jsonl", Body=body.encode())
    client = connect(Settings(redis_url=redis_url))
    client.create_state_machine(f"Batch{unique}", Path("workflows/orders_batch.asl.json"))
    done = client.wait(client.start_execution(
        f"Batch{unique}", {"bucket": bucket, "ordersKey": "in/orders.jsonl"}).arn, timeout=120)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    key = json.loads(done.output or "")["manifest"]["Key"]
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    [results] = manifest["ResultFiles"]["SUCCEEDED"]
    entries = json.loads(s3.get_object(Bucket=bucket, Key=results["Key"])["Body"].read())
    assert [json.loads(e["Output"]) for e in entries] == [
        {"orderId": f"o-{i}", "total": 2 * i} for i in range(25)]


def test_stopping_an_execution_stops_its_ecs_task_from_the_worker(
    aws_worker: Worker, aws_emulator: AwsEmulator, redis_url: str, unique: str
) -> None:
    """StopExecution (here the API's client, which calls no AWS) asks the workers to stop
    the `.sync` job: a worker makes ECS's StopTask, with AWS's reason."""
    ecs: Any = aws_emulator.client("ecs")
    cluster = f"jobs-{unique}"
    ecs.create_cluster(clusterName=cluster)
    ecs.register_task_definition(family=f"work-{unique}", containerDefinitions=[
        {"name": "main", "image": "busybox", "memory": 128, "essential": True}])
    client = connect(Settings(redis_url=redis_url))
    client.create_state_machine(f"Ecs{unique}", {"StartAt": "Run", "States": {"Run": {
        "Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync",
        "Parameters": {"Cluster": cluster, "TaskDefinition": f"work-{unique}",
                       "LaunchType": "FARGATE"}, "End": True}}})
    arn = client.start_execution(f"Ecs{unique}", {}).arn
    deadline = time.monotonic() + 30
    while not any(e["type"] == "TaskSubmitted" for e in client.get_history(arn)):
        assert time.monotonic() < deadline, "the ECS task was never submitted"
        time.sleep(0.2)
    client.stop_execution(arn)
    [task_arn] = ecs.list_tasks(cluster=cluster)["taskArns"]
    reason = ""
    while "was aborted" not in reason:
        assert time.monotonic() < deadline + 30, f"not stopped: {reason!r}"
        time.sleep(1.0)
        reason = ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"][0].get(
            "stoppedReason") or ""
    assert arn in reason
