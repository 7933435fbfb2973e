"""ResultWriter's WriterConfig, PENDING result files and manifest ItemReaders on real
workers and a real Redis, against the local directory reader (SFN_ITEM_READER_ROOT): an
S3 Inventory manifest's objects as the items, JSON Lines files of flattened outputs, the
transformed results as the Map's output, and a Map Run failing on its tolerance that lists
the items it never started in PENDING files of its manifest.json."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.connect import connect
from engine.embedded import RedisServer
from engine.settings import Settings
from tests.conftest import Worker

pytestmark = [pytest.mark.redis, pytest.mark.worker]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("files")


@pytest.fixture(scope="module")
def worker(own_redis: RedisServer, files: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    log = tmp_path_factory.mktemp("rfworker") / "worker.log"
    w = Worker(own_redis.url, env={"SFN_ITEM_READER_ROOT": str(files)}, log_path=log).start()
    yield w
    w.stop()


def dmap(reader: dict[str, Any], work: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "Label": "Each", "ItemReader": reader,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "Work", "States": {"Work": work}},
        "End": True, **more}}}


def jsonl(files: Path, key: str, count: int) -> dict[str, Any]:
    (files / "data").mkdir(parents=True, exist_ok=True)
    (files / "data" / key).write_text("".join(json.dumps({"n": n}) + "\n" for n in range(count)))
    return {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSONL"},
            "Parameters": {"Bucket": "data", "Key": key}}


PAIR = {"Type": "Pass", "Parameters": {"pair.$": "States.Array($.n, $.n)"},
        "OutputPath": "$.pair", "End": True}


def test_an_s3_inventory_manifest_is_the_source(
    worker: Worker, own_redis: RedisServer, unique: str, files: Path
) -> None:
    keys = []
    for f in range(3):
        rows = "".join(f'"photos","{unique}/{f}-{r}.jpg","{r}"\n' for r in range(90))
        data = files / "dest" / unique / f"data/{f}.csv.gz"
        data.parent.mkdir(parents=True, exist_ok=True)
        data.write_bytes(gzip.compress(rows.encode()))
        keys.append({"key": f"{unique}/data/{f}.csv.gz", "size": data.stat().st_size})
    (files / "inv").mkdir(exist_ok=True)
    (files / "inv" / f"{unique}.json").write_text(json.dumps({
        "destinationBucket": "arn:aws:s3:::dest", "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size", "files": keys}))
    reader = {"Resource": "arn:aws:states:::s3:getObject",
              "ReaderConfig": {"InputType": "MANIFEST"},
              "Parameters": {"Bucket": "inv", "Key": f"{unique}.json"}}
    client = connect(Settings(redis_url=own_redis.url))
    client.create_state_machine(f"Inv{unique}", dmap(
        reader, {"Type": "Pass", "End": True}, MaxConcurrency=50,
        ItemSelector={"key.$": "$$.Map.Item.Value.Key", "i.$": "$$.Map.Item.Index"}))
    done = client.wait(client.start_execution(f"Inv{unique}", {}).arn, timeout=120)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    assert json.loads(done.output or "") == [
        {"key": f"{unique}/{f}-{r}.jpg", "i": 90 * f + r} for f in range(3) for r in range(90)]


def test_writer_config_jsonl_flatten_files_and_as_the_output(
    worker: Worker, own_redis: RedisServer, unique: str, files: Path
) -> None:
    client = connect(Settings(redis_url=own_redis.url))
    config = {"Transformation": "FLATTEN", "OutputType": "JSONL"}
    client.create_state_machine(f"Wf{unique}", dmap(
        jsonl(files, f"{unique}.jsonl", 12), PAIR, MaxConcurrency=5,
        ResultWriter={"Resource": "arn:aws:states:::s3:putObject", "WriterConfig": config,
                      "Parameters": {"Bucket": "data", "Prefix": f"out/{unique}"}}))
    done = client.wait(client.start_execution(f"Wf{unique}", {}).arn, timeout=60)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    out = json.loads(done.output or "")
    assert out["ResultWriterDetails"]["Key"].endswith("/manifest.json")
    manifest = json.loads((files / "data" / out["ResultWriterDetails"]["Key"]).read_text())
    [entry] = manifest["ResultFiles"]["SUCCEEDED"]
    assert entry["Key"].endswith("/SUCCEEDED_0.jsonl")
    text = (files / "data" / entry["Key"]).read_text()
    assert entry["Size"] == len(text.encode())
    assert [json.loads(line) for line in text.splitlines()] == [
        n for n in range(12) for _ in range(2)]
    # WriterConfig alone: the transformed results are the Map's output
    client.create_state_machine(f"Wo{unique}", dmap(
        jsonl(files, f"{unique}-o.jsonl", 4), PAIR, MaxConcurrency=5,
        ResultWriter={"WriterConfig": {"Transformation": "FLATTEN", "OutputType": "JSON"}}))
    done = client.wait(client.start_execution(f"Wo{unique}", {}).arn, timeout=60)
    assert json.loads(done.output or "") == [0, 0, 1, 1, 2, 2, 3, 3]
    client.create_state_machine(f"Wn{unique}", dmap(
        jsonl(files, f"{unique}-n.jsonl", 2), PAIR,
        ResultWriter={"WriterConfig": {"Transformation": "NONE", "OutputType": "JSON"}}))
    done = client.wait(client.start_execution(f"Wn{unique}", {}).arn, timeout=60)
    entries = json.loads(done.output or "")
    assert [(json.loads(e["Output"]), e["Status"]) for e in entries] == [
        ([0, 0], "SUCCEEDED"), ([1, 1], "SUCCEEDED")]


def test_a_map_run_failing_on_its_tolerance_writes_pending_files(
    worker: Worker, own_redis: RedisServer, unique: str, files: Path
) -> None:
    fail_one = {"Type": "Choice", "Choices": [
        {"Variable": "$.n", "NumericEquals": 1, "Next": "Boom"}], "Default": "Fine"}
    definition = dmap(jsonl(files, f"{unique}-p.jsonl", 40), fail_one, MaxConcurrency=2,
                      ResultWriter={"Resource": "arn:aws:states:::s3:putObject",
                                    "Parameters": {"Bucket": "data", "Prefix": "pend"}})
    definition["States"]["Each"]["ItemProcessor"]["States"] = {
        "Work": fail_one, "Boom": {"Type": "Fail", "Error": "One", "Cause": "n is 1"},
        "Fine": {"Type": "Wait", "Seconds": 1, "End": True}}
    client = connect(Settings(redis_url=own_redis.url))
    client.create_state_machine(f"Pe{unique}", definition)
    done = client.wait(client.start_execution(f"Pe{unique}", {}).arn, timeout=60)
    assert (done.status, done.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    history = client.get_history(done.arn)
    run_arn = history[3]["mapRunStartedEventDetails"]["mapRunArn"]
    base = files / "data" / "pend" / run_arn.rsplit(":", 1)[-1]
    manifest = json.loads((base / "manifest.json").read_text())
    assert manifest["DestinationBucket"] == "data" and manifest["MapRunArn"] == run_arn
    assert set(manifest["ResultFiles"]) == {"FAILED", "PENDING", "SUCCEEDED"}
    found: dict[str, list[dict[str, Any]]] = {}
    for status, listed in manifest["ResultFiles"].items():
        for f in listed:
            body = (files / "data" / f["Key"]).read_bytes()
            assert f["Size"] == len(body) and f["Key"].startswith(f"pend/{run_arn[-36:]}")
            found.setdefault(status, []).extend(json.loads(body))
    inputs = {s: [json.loads(e["Input"])["n"] for e in found.get(s, [])] for s in found}
    every = sorted(n for ns in inputs.values() for n in ns)
    assert every == list(range(40))  # each item once, in one of the three
    assert 1 in inputs["FAILED"] and len(inputs["PENDING"]) >= 30
    assert inputs["PENDING"] == sorted(inputs["PENDING"])
    pending = found["PENDING"][0]
    assert pending["Status"] == "PENDING" and pending["ExecutionArn"].startswith(
        f"arn:aws:states:us-east-1:000000000000:execution:Pe{unique}/Each:")
    assert {e["Status"] for e in found["FAILED"]} <= {"FAILED", "ABORTED"}


def test_jsonata_max_items_and_writer_config_on_a_map_run(
    worker: Worker, own_redis: RedisServer, unique: str, files: Path
) -> None:
    reader = jsonl(files, f"{unique}-j.jsonl", 9)
    reader["Arguments"] = reader.pop("Parameters")
    reader["ReaderConfig"]["MaxItems"] = "{% $states.input.limit %}"
    definition = dmap(reader, {"Type": "Pass", "Output": "{% [$states.input.n] %}", "End": True},
                      ResultWriter={"WriterConfig": {"Transformation": "FLATTEN",
                                                     "OutputType": "JSONL"}})
    definition["QueryLanguage"] = "JSONata"
    client = connect(Settings(redis_url=own_redis.url))
    client.create_state_machine(f"Jm{unique}", definition)
    done = client.wait(client.start_execution(f"Jm{unique}", {"limit": 4}).arn, timeout=60)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    assert json.loads(done.output or "") == [0, 1, 2, 3]
