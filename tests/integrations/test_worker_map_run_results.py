"""The same on S3 through boto3 (a real worker with SFN_AWS_INTEGRATIONS=1, the moto
server over HTTP): a Distributed Map reads an S3 Inventory manifest (gzip CSV data files in
the inventory's destination bucket), writes JSON Lines files of flattened outputs, and a
Map Run failing on its tolerance lists the items it never started in PENDING files of its
manifest.json."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import pytest

from engine.connect import connect
from engine.embedded import RedisServer
from engine.settings import Settings
from tests.conftest import Worker
from tests.integrations.conftest import AwsEmulator

pytestmark = [pytest.mark.redis, pytest.mark.worker]


@pytest.fixture(scope="module")
def redis_url(own_redis: RedisServer) -> str:
    return own_redis.url


@pytest.fixture(scope="module")
def s3_worker(
    own_redis: RedisServer, aws_emulator: AwsEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    log = tmp_path_factory.mktemp("s3-worker") / "worker.log"
    env = {**aws_emulator.env, "SFN_AWS_INTEGRATIONS": "1"}
    w = Worker(own_redis.url, env=env, queues="sfn", log_path=log).start()
    yield w
    w.stop()


def dmap(reader: dict[str, Any], states: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "Label": "Each", "ItemReader": reader,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "Work", "States": states},
        "End": True, **more}}}


def read(s3: Any, bucket: str, key: str) -> bytes:
    return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def test_an_inventory_source_and_jsonl_flatten_files_on_s3(
    s3_worker: Worker, aws_emulator: AwsEmulator, redis_url: str, unique: str
) -> None:
    s3: Any = aws_emulator.client("s3")
    for bucket in (f"inv-{unique}", f"dest-{unique}", f"out-{unique}"):
        s3.create_bucket(Bucket=bucket)
    files = []
    for f in range(2):
        rows = "".join(f'"src","obj/{f}-{r}","{r}"\n' for r in range(150))
        key = f"src/cfg/data/{f}.csv.gz"
        s3.put_object(Bucket=f"dest-{unique}", Key=key, Body=gzip.compress(rows.encode()))
        files.append({"key": key})
    s3.put_object(Bucket=f"inv-{unique}", Key="src/cfg/manifest.json", Body=json.dumps({
        "destinationBucket": f"arn:aws:s3:::dest-{unique}", "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size", "files": files}).encode())
    reader = {"Resource": "arn:aws:states:::s3:getObject",
              "ReaderConfig": {"InputType": "CSV", "ManifestType": "S3_INVENTORY"},
              "Parameters": {"Bucket": f"inv-{unique}", "Key": "src/cfg/manifest.json"}}
    pair = {"Type": "Pass", "Parameters": {"pair.$": "States.Array($.Key, $.Size)"},
            "OutputPath": "$.pair", "End": True}
    writer = {"Resource": "arn:aws:states:::s3:putObject",
              "WriterConfig": {"Transformation": "FLATTEN", "OutputType": "JSONL"},
              "Parameters": {"Bucket": f"out-{unique}", "Prefix": "results"}}
    client = connect(Settings(redis_url=redis_url))
    client.create_state_machine(f"S3Inv{unique}", dmap(reader, {"Work": pair},
                                                       MaxConcurrency=100, ResultWriter=writer))
    done = client.wait(client.start_execution(f"S3Inv{unique}", {}).arn, timeout=120)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    details = json.loads(done.output or "")["ResultWriterDetails"]
    assert details["Bucket"] == f"out-{unique}"
    manifest = json.loads(read(s3, f"out-{unique}", details["Key"]))
    assert manifest["ResultFiles"]["FAILED"] == manifest["ResultFiles"]["PENDING"] == []
    values: list[Any] = []
    for listed in manifest["ResultFiles"]["SUCCEEDED"]:
        assert listed["Key"].endswith(".jsonl")
        body = read(s3, f"out-{unique}", listed["Key"])
        assert listed["Size"] == len(body)
        values.extend(json.loads(line) for line in body.decode().splitlines())
    pairs = sorted(zip(values[::2], values[1::2], strict=True))
    assert pairs == sorted((f"obj/{f}-{r}", str(r)) for f in range(2) for r in range(150))


def test_a_tolerance_failure_writes_pending_files_to_s3(
    s3_worker: Worker, aws_emulator: AwsEmulator, redis_url: str, unique: str
) -> None:
    s3: Any = aws_emulator.client("s3")
    bucket = f"pend-{unique}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="in.jsonl",
                  Body="".join(json.dumps({"n": n}) + "\n" for n in range(25)).encode())
    reader = {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSONL"},
              "Parameters": {"Bucket": bucket, "Key": "in.jsonl"}}
    states = {
        "Work": {"Type": "Choice", "Choices": [
            {"Variable": "$.n", "NumericEquals": 0, "Next": "Boom"}], "Default": "Fine"},
        "Boom": {"Type": "Fail", "Error": "Zero"},
        "Fine": {"Type": "Wait", "Seconds": 1, "End": True}}
    writer = {"Resource": "arn:aws:states:::s3:putObject",
              "Parameters": {"Bucket": bucket, "Prefix": "res"}}
    client = connect(Settings(redis_url=redis_url))
    client.create_state_machine(f"S3Pend{unique}", dmap(reader, states, MaxConcurrency=1,
                                                        ResultWriter=writer))
    done = client.wait(client.start_execution(f"S3Pend{unique}", {}).arn, timeout=120)
    assert (done.status, done.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    run_id = client.get_history(done.arn)[3]["mapRunStartedEventDetails"]["mapRunArn"][-36:]
    manifest = json.loads(read(s3, bucket, f"res/{run_id}/manifest.json"))
    [failed] = manifest["ResultFiles"]["FAILED"]
    [pending] = manifest["ResultFiles"]["PENDING"]
    assert pending["Key"] == f"res/{run_id}/PENDING_0.json"
    assert [json.loads(e["Input"])["n"] for e in json.loads(read(s3, bucket, failed["Key"]))
            ] == [0]
    entries = json.loads(read(s3, bucket, pending["Key"]))
    assert pending["Size"] == len(read(s3, bucket, pending["Key"]))
    assert [json.loads(e["Input"])["n"] for e in entries] == list(range(1, 25))
    assert {e["Status"] for e in entries} == {"PENDING"}
