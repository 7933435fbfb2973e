"""Map Runs on real workers and a real Redis: a Distributed Map with an ItemReader runs its
items as child executions of their own (ARNs `execution:MACHINE/LABEL:NAME`, listed by
the Map Run), admitted up to MaxConcurrency from a reader read by position; the parent's
history has MapRunStarted/MapRunSucceeded|Failed; results are the Map's output (256 KiB at
most) or ResultWriter files; tolerances as AWS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.connect import connect
from engine.runtime import map_run_api as map_runs
from engine.settings import Settings
from tests.conftest import Worker

pytestmark = [pytest.mark.redis, pytest.mark.worker]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("files")


@pytest.fixture(scope="module")
def reader_worker(redis_server: Any, files: Path,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    log = tmp_path_factory.mktemp("mrworker") / "worker.log"
    w = Worker(redis_server.url, env={"SFN_ITEM_READER_ROOT": str(files)}, log_path=log).start()
    yield w
    w.stop()


def machine(key: str, *, writer: bool = False, work: dict[str, Any] | None = None,
            **more: Any) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Map", "Label": "Each",
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                       "ReaderConfig": {"InputType": "JSONL"},
                       "Parameters": {"Bucket": "data", "Key": key}},
        "ItemSelector": {"n.$": "$$.Map.Item.Value.n", "index.$": "$$.Map.Item.Index"},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Work",
            "States": {"Work": work or {"Type": "Pass", "End": True}},
        },
        "MaxConcurrency": 3, "End": True, **more,
    }
    if writer:
        state["ResultWriter"] = {"Resource": "arn:aws:states:::s3:putObject",
                                 "Parameters": {"Bucket": "data", "Prefix": "out"}}
    return {"StartAt": "Each", "States": {"Each": state}}


def write_items(files: Path, key: str, count: int) -> None:
    (files / "data").mkdir(parents=True, exist_ok=True)
    with (files / "data" / key).open("w") as f:
        for n in range(count):
            f.write(json.dumps({"n": n}) + "\n")


def test_children_are_executions_of_the_map_run_and_results_are_the_output(
    reader_worker: Worker, redis_url: str, unique: str, files: Path
) -> None:
    write_items(files, f"{unique}.jsonl", 25)
    client = connect(Settings(redis_url=redis_url))
    client.create_state_machine(f"MR{unique}", machine(f"{unique}.jsonl"))
    execution = client.start_execution(f"MR{unique}", {})
    done = client.wait(execution.arn, timeout=60)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    assert json.loads(done.output or "") == [{"n": n, "index": n} for n in range(25)]
    history = client.get_history(execution.arn)
    types = [e["type"] for e in history]
    assert types == ["ExecutionStarted", "MapStateEntered", "MapStateStarted", "MapRunStarted",
                     "MapRunSucceeded", "MapStateSucceeded", "MapStateExited",
                     "ExecutionSucceeded"]
    arn = history[3]["mapRunStartedEventDetails"]["mapRunArn"]
    assert arn.startswith(f"arn:aws:states:us-east-1:000000000000:mapRun:MR{unique}/Each:")
    described = map_runs.describe(client, arn)
    assert described["status"] == "SUCCEEDED"
    assert described["executionCounts"]["succeeded"] == 25
    assert described["executionCounts"]["total"] == 25
    assert described["itemCounts"]["succeeded"] == 25
    kids = map_runs.list_children(client, arn, status=None, limit=100)
    assert len(kids) == 25
    assert all(k.arn.startswith(
        f"arn:aws:states:us-east-1:000000000000:execution:MR{unique}/Each:") for k in kids)
    assert {k.map_run_arn for k in kids} == {arn}
    kid_history = [e["type"] for e in client.get_history(kids[0].arn)]
    assert kid_history == ["ExecutionStarted", "PassStateEntered", "PassStateExited",
                           "ExecutionSucceeded"]
    assert [r["mapRunArn"] for r in map_runs.list_runs(client, execution.arn)] == [arn]


def test_result_writer_files_and_manifest(
    reader_worker: Worker, redis_url: str, unique: str, files: Path
) -> None:
    write_items(files, f"{unique}.jsonl", 30)
    client = connect(Settings(redis_url=redis_url))
    client.create_state_machine(f"MW{unique}", machine(f"{unique}.jsonl", writer=True))
    done = client.wait(client.start_execution(f"MW{unique}", {}).arn, timeout=60)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    out = json.loads(done.output or "")
    key = out["ResultWriterDetails"]["Key"]
    manifest = json.loads((files / "data" / key).read_text())
    assert manifest["MapRunArn"] == out["MapRunArn"]
    [entry] = manifest["ResultFiles"]["SUCCEEDED"]
    results = json.loads((files / "data" / entry["Key"]).read_text())
    assert sorted(json.loads(r["Output"])["index"] for r in results) == list(range(30))
    assert {r["Status"] for r in results} == {"SUCCEEDED"}


def test_a_failed_child_fails_the_map_run_unless_tolerated(
    reader_worker: Worker, redis_url: str, unique: str, files: Path
) -> None:
    write_items(files, f"{unique}.jsonl", 10)
    client = connect(Settings(redis_url=redis_url))
    fail_five = {"Type": "Choice", "Choices": [
        {"Variable": "$.n", "NumericEquals": 5, "Next": "Boom"}], "Default": "Fine"}
    definition = machine(f"{unique}.jsonl")
    definition["States"]["Each"]["ItemProcessor"]["StartAt"] = "Work"
    definition["States"]["Each"]["ItemProcessor"]["States"] = {
        "Work": fail_five, "Boom": {"Type": "Fail", "Error": "Five", "Cause": "n is 5"},
        "Fine": {"Type": "Pass", "End": True}}
    client.create_state_machine(f"MF{unique}", definition)
    done = client.wait(client.start_execution(f"MF{unique}", {}).arn, timeout=60)
    assert (done.status, done.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    types = [e["type"] for e in client.get_history(done.arn)]
    assert types[-3:] == ["MapRunFailed", "MapStateFailed", "ExecutionFailed"]
    definition["States"]["Each"]["ToleratedFailureCount"] = 1
    client.create_state_machine(f"MT{unique}", definition)
    done = client.wait(client.start_execution(f"MT{unique}", {}).arn, timeout=60)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    output = json.loads(done.output or "")
    assert output[5] == {"Error": "Five", "Cause": "n is 5"} and output[4] == {"n": 4, "index": 4}
