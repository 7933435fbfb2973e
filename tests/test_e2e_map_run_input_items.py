"""A Distributed Map whose items come with its input (ItemsPath, or `Items` in JSONata)
runs as a Map Run of child executions on real workers and a real Redis, as AWS runs every
Distributed Map: MapRunStarted/MapRunSucceeded in the parent, children with their own ARNs
listed by the Map Run, ItemSelector, ItemBatcher, tolerances, ResultWriter and
MaxConcurrency as for a reader's items (engine/runtime/map_run_items.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.connect import connect
from engine.embedded import RedisServer
from engine.runtime import map_run_api as map_runs
from engine.settings import Settings
from tests.conftest import Worker

pytestmark = [pytest.mark.redis, pytest.mark.worker]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("files")


@pytest.fixture(scope="module")
def redis_url(own_redis: RedisServer) -> str:
    return own_redis.url


@pytest.fixture(scope="module")
def worker(own_redis: RedisServer, files: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    log = tmp_path_factory.mktemp("mriworker") / "worker.log"
    w = Worker(own_redis.url, env={"SFN_ITEM_READER_ROOT": str(files)}, log_path=log).start()
    yield w
    w.stop()


def machine(work: dict[str, Any] | None = None, **more: Any) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Map", "Label": "Each", "ItemsPath": "$.orders",
        "ItemSelector": {"n.$": "$$.Map.Item.Value.n", "index.$": "$$.Map.Item.Index",
                         "tag.$": "$.tag"},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Work",
            "States": {"Work": work or {"Type": "Pass", "End": True}},
        },
        "MaxConcurrency": 3, "End": True, **more,
    }
    return {"StartAt": "Each", "States": {"Each": state}}


def orders(count: int) -> dict[str, Any]:
    return {"tag": "t", "orders": [{"n": n} for n in range(count)]}


def test_items_path_runs_as_a_map_run_of_child_executions(
    worker: Worker, redis_url: str, unique: str
) -> None:
    client = connect(Settings(redis_url=redis_url))
    client.create_state_machine(f"IP{unique}", machine())
    execution = client.start_execution(f"IP{unique}", orders(12))
    done = client.wait(execution.arn, timeout=60)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    assert json.loads(done.output or "") == [
        {"n": n, "index": n, "tag": "t"} for n in range(12)]
    history = client.get_history(execution.arn)
    assert [e["type"] for e in history] == [
        "ExecutionStarted", "MapStateEntered", "MapStateStarted", "MapRunStarted",
        "MapRunSucceeded", "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]
    # The items' number is known: they came with the input (AWS's length).
    assert history[2]["mapStateStartedEventDetails"]["length"] == 12
    arn = history[3]["mapRunStartedEventDetails"]["mapRunArn"]
    assert arn.startswith(f"arn:aws:states:us-east-1:000000000000:mapRun:IP{unique}/Each:")
    described = map_runs.describe(client, arn)
    assert described["status"] == "SUCCEEDED" and described["maxConcurrency"] == 3
    assert described["executionCounts"]["succeeded"] == 12
    assert described["itemCounts"]["total"] == 12
    kids = map_runs.list_children(client, arn, status=None, limit=100)
    assert len(kids) == 12 and {k.map_run_arn for k in kids} == {arn}
    assert all(k.arn.startswith(
        f"arn:aws:states:us-east-1:000000000000:execution:IP{unique}/Each:") for k in kids)
    assert [e["type"] for e in client.get_history(kids[0].arn)] == [
        "ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    assert [r["mapRunArn"] for r in map_runs.list_runs(client, execution.arn)] == [arn]


def test_an_empty_items_array_is_a_map_run_with_no_children(
    worker: Worker, redis_url: str, unique: str
) -> None:
    client = connect(Settings(redis_url=redis_url))
    client.create_state_machine(f"IE{unique}", machine())
    done = client.wait(client.start_execution(f"IE{unique}", orders(0)).arn, timeout=60)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    assert json.loads(done.output or "") == []
    [run] = map_runs.list_runs(client, done.arn)
    assert map_runs.describe(client, run["mapRunArn"])["executionCounts"]["total"] == 0


def test_jsonata_items_with_a_batcher(worker: Worker, redis_url: str, unique: str) -> None:
    client = connect(Settings(redis_url=redis_url))
    client.create_state_machine(f"IJ{unique}", {
        "QueryLanguage": "JSONata", "StartAt": "Each", "States": {"Each": {
            "Type": "Map", "Items": "{% $states.input.orders %}",
            "ItemSelector": {"i": "{% $states.context.Map.Item.Index %}"},
            "ItemBatcher": {"MaxItemsPerBatch": 4,
                            "BatchInput": {"b": "{% $states.input.tag %}"}},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Sum", "States": {"Sum": {
                    "Type": "Pass", "Output": {
                        "b": "{% $states.input.BatchInput.b %}",
                        "is": "{% $states.input.Items.i %}"}, "End": True}}},
            "MaxConcurrency": 2, "End": True}}})
    done = client.wait(client.start_execution(f"IJ{unique}", orders(10)).arn, timeout=60)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    assert json.loads(done.output or "") == [
        {"b": "t", "is": [0, 1, 2, 3]}, {"b": "t", "is": [4, 5, 6, 7]}, {"b": "t", "is": [8, 9]}]
    [run] = map_runs.list_runs(client, done.arn)
    kids = map_runs.list_children(client, run["mapRunArn"], status=None, limit=100)
    assert len(kids) == 3


def test_tolerated_failures_and_a_bad_tolerance_path(
    worker: Worker, redis_url: str, unique: str
) -> None:
    client = connect(Settings(redis_url=redis_url))
    fail_three = {"Type": "Choice", "Choices": [
        {"Variable": "$.n", "NumericEquals": 3, "Next": "Boom"}], "Default": "Fine"}
    definition = machine()
    processor = definition["States"]["Each"]["ItemProcessor"]
    processor["States"] = {"Work": fail_three, "Fine": {"Type": "Pass", "End": True},
                           "Boom": {"Type": "Fail", "Error": "Three", "Cause": "n is 3"}}
    client.create_state_machine(f"IF{unique}", definition)
    done = client.wait(client.start_execution(f"IF{unique}", orders(6)).arn, timeout=60)
    assert (done.status, done.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    assert [e["type"] for e in client.get_history(done.arn)][-3:] == [
        "MapRunFailed", "MapStateFailed", "ExecutionFailed"]
    definition["States"]["Each"]["ToleratedFailureCount"] = 1
    client.create_state_machine(f"IT{unique}", definition)
    done = client.wait(client.start_execution(f"IT{unique}", orders(6)).arn, timeout=60)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    output = json.loads(done.output or "")
    assert output[3] == {"Error": "Three", "Cause": "n is 3"}
    assert output[2] == {"n": 2, "index": 2, "tag": "t"}
    # AWS reads the thresholds after MapStateStarted: a bad path fails the state there.
    bad = machine(ToleratedFailureCountPath="$.tag")
    client.create_state_machine(f"IB{unique}", bad)
    done = client.wait(client.start_execution(f"IB{unique}", orders(2)).arn, timeout=60)
    assert (done.status, done.error) == ("FAILED", "States.Runtime")
    assert [e["type"] for e in client.get_history(done.arn)] == [
        "ExecutionStarted", "MapStateEntered", "MapStateStarted", "ExecutionFailed"]


def test_result_writer_with_items_from_the_input(
    worker: Worker, redis_url: str, unique: str, files: Path
) -> None:
    (files / "data").mkdir(parents=True, exist_ok=True)
    client = connect(Settings(redis_url=redis_url))
    client.create_state_machine(f"IW{unique}", machine(ResultWriter={
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": "data", "Prefix": f"out{unique}"}}))
    done = client.wait(client.start_execution(f"IW{unique}", orders(7)).arn, timeout=60)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    out = json.loads(done.output or "")
    manifest = json.loads((files / "data" / out["ResultWriterDetails"]["Key"]).read_text())
    assert manifest["MapRunArn"] == out["MapRunArn"]
    assert [r["mapRunArn"] for r in map_runs.list_runs(client, done.arn)] == [out["MapRunArn"]]
    [entry] = manifest["ResultFiles"]["SUCCEEDED"]
    results = json.loads((files / "data" / entry["Key"]).read_text())
    assert sorted(json.loads(r["Output"])["index"] for r in results) == list(range(7))


def test_batches_cut_by_bytes_match_the_in_execution_cut(
    worker: Worker, redis_url: str, unique: str
) -> None:
    from tests.test_interpreter_helpers import run

    definition = machine(MaxConcurrency=2, ItemBatcher={
        "MaxInputBytesPerBatch": 150, "BatchInput": {"b.$": "$.tag"}})
    definition["States"]["Each"]["ItemSelector"] = {"n.$": "$$.Map.Item.Value.n",
                                                    "pad.$": "$$.Map.Item.Value.pad"}
    value = {"tag": "t", "orders": [{"n": n, "pad": "x" * (10 + 7 * (n % 5))}
                                    for n in range(23)]}
    inline = run(definition, value)  # the in-memory store: iterations inside the execution
    assert inline.status == "SUCCEEDED"
    client = connect(Settings(redis_url=redis_url))
    client.create_state_machine(f"IY{unique}", definition)
    done = client.wait(client.start_execution(f"IY{unique}", value).arn, timeout=60)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    output = json.loads(done.output or "")
    assert output == inline.output
    assert [i["n"] for b in output for i in b["Items"]] == list(range(23))
    assert all(len(json.dumps(b, separators=(",", ":"))) <= 150 for b in output)
    [run_] = map_runs.list_runs(client, done.arn)
    kids = map_runs.list_children(client, run_["mapRunArn"], status=None, limit=100)
    assert len(kids) == len(output) > 2


def test_items_near_the_payload_limit_and_past_it(
    worker: Worker, redis_url: str, unique: str
) -> None:
    client = connect(Settings(redis_url=redis_url))
    definition = machine(MaxConcurrency=0)
    definition["States"]["Each"]["ItemSelector"] = {"n.$": "$$.Map.Item.Value.n"}
    definition["States"]["Each"]["ResultSelector"] = {"count.$": "States.ArrayLength($)"}
    client.create_state_machine(f"IN{unique}", definition)
    big = {"tag": "t", "orders": [{"n": n, "pad": "x" * 1000} for n in range(240)]}
    done = client.wait(client.start_execution(f"IN{unique}", big).arn, timeout=90)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    assert json.loads(done.output or "") == {"count": 240}
    # Items past 256 KiB (JSONata can build them): the Map's own States.DataLimitExceeded,
    # before any Map Run, as for an inline Map.
    client.create_state_machine(f"IX{unique}", {
        "QueryLanguage": "JSONata", "StartAt": "Each", "States": {"Each": {
            "Type": "Map", "Items": "{% [1..70000] %}", "End": True,
            "ItemProcessor": definition["States"]["Each"]["ItemProcessor"]}}})
    done = client.wait(client.start_execution(f"IX{unique}", {}).arn, timeout=60)
    assert (done.status, done.error) == ("FAILED", "States.DataLimitExceeded")
    assert map_runs.list_runs(client, done.arn) == []
