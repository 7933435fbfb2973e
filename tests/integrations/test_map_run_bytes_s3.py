"""A Map Run reading S3 through boto3 (the AWS API emulator, a separate process over HTTP)
with an ItemBatcher bounded by bytes, on a real worker and a real Redis: a JSON Lines
object read by `Range` from the first item of each window's first batch, and an object
listing continued with `StartAfter` from the key before it; one child execution per
batch, every item in exactly one, each within the limit, as the in-execution Map cuts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from engine.connect import connect
from engine.embedded import RedisServer
from engine.settings import Settings
from tests.conftest import Worker
from tests.integrations.conftest import AwsEmulator
from tests.test_e2e_map_run_bytes import check_batches, reader_map, records

pytestmark = [pytest.mark.redis, pytest.mark.worker]


@pytest.fixture(scope="module")
def s3_worker(own_redis: RedisServer, aws_emulator: AwsEmulator,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    log = tmp_path_factory.mktemp("mrs3worker") / "worker.log"
    env = {**aws_emulator.env, "SFN_AWS_INTEGRATIONS": "1"}
    w = Worker(own_redis.url, env=env, log_path=log).start()
    yield w
    w.stop()


def test_s3_json_lines_and_listing_cut_by_bytes(
    s3_worker: Worker, own_redis: RedisServer, aws_emulator: AwsEmulator, unique: str
) -> None:
    s3: Any = aws_emulator.client("s3")
    bucket = f"bytes-{unique}"
    s3.create_bucket(Bucket=bucket)
    items = records(500, seed=11)
    s3.put_object(Bucket=bucket, Key="in/items.jsonl", Body="".join(
        json.dumps(i, ensure_ascii=False) + "\n" for i in items).encode())
    for n in range(260):
        s3.put_object(Bucket=bucket, Key=f"files/f{n:04d}.txt", Body=b"x" * (n % 13))
    client = connect(Settings(redis_url=own_redis.url))

    reader = {"Resource": "arn:aws:states:::s3:getObject",
              "ReaderConfig": {"InputType": "JSONL"},
              "Parameters": {"Bucket": bucket, "Key": "in/items.jsonl"}}
    client.create_state_machine(f"SJ{unique}", reader_map(
        reader, {"MaxInputBytesPerBatch": 900, "BatchInput": {"s3": True}}))
    done = client.wait(client.start_execution(f"SJ{unique}", {}).arn, timeout=240)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    batches = check_batches(client, done.arn, json.loads(done.output or ""), items, 10**6,
                            900, {"s3": True})
    assert len(batches) > 40  # several windows (MaxConcurrency 40)

    listing = {"Resource": "arn:aws:states:::s3:listObjectsV2",
               "Parameters": {"Bucket": bucket, "Prefix": "files/"}}
    client.create_state_machine(f"SL{unique}", reader_map(
        listing, {"MaxInputBytesPerBatch": 150, "MaxItemsPerBatch": 5},
        ItemSelector={"key.$": "$$.Map.Item.Value.Key", "size.$": "$$.Map.Item.Value.Size",
                      "i.$": "$$.Map.Item.Index"}))
    done = client.wait(client.start_execution(f"SL{unique}", {}).arn, timeout=240)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    keys = [{"key": f"files/f{n:04d}.txt", "size": n % 13, "i": n} for n in range(260)]
    batches = check_batches(client, done.arn, json.loads(done.output or ""), keys, 5, 150,
                            None)
    assert any(len(b) < 5 for b in batches)  # cut by bytes before MaxItemsPerBatch
