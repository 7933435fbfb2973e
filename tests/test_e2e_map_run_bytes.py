"""A Distributed Map with an ItemReader and an ItemBatcher bounded by bytes
(MaxInputBytesPerBatch, its Path form, JSONata) runs as a Map Run on real workers and a
real Redis: one child execution per batch, every item in exactly one batch, each batch's
input at most the limit (an item bigger than it alone), the batches those the
in-execution Map cuts from the same items, across windows that end inside a batch.
Readers: JSON Lines and CSV over the local reader directory (SFN_ITEM_READER_ROOT), and a
registered handler serving the read. S3 through the emulator: tests/integrations/
test_map_run_bytes_s3.py."""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.connect import connect
from engine.embedded import RedisServer
from engine.interpreter import maps
from engine.interpreter.history import to_json_text
from engine.runtime import map_run_api
from engine.settings import Settings
from tests.conftest import Worker

pytestmark = [pytest.mark.redis, pytest.mark.worker]

PASS_CHILD = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
              "StartAt": "Work", "States": {"Work": {"Type": "Pass", "End": True}}}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("files")


@pytest.fixture(scope="module")
def redis_url(own_redis: RedisServer) -> str:
    return own_redis.url


@pytest.fixture(scope="module")
def reader_worker(own_redis: RedisServer, files: Path,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    log = tmp_path_factory.mktemp("mrbworker") / "worker.log"
    modules = "workflows.order_processing,tests.e2e_handlers,tests.map_run_handlers"
    w = Worker(own_redis.url, env={"SFN_ITEM_READER_ROOT": str(files),
                                   "SFN_HANDLER_MODULES": modules}, log_path=log).start()
    yield w
    w.stop()


def records(count: int, seed: int = 5) -> list[dict[str, Any]]:
    """Items of uneven sizes (some bigger than the smaller limits), non-ASCII text too."""
    rng = random.Random(seed)
    return [{"n": n, "text": "é" * rng.randrange(0, 6)
             + "x" * (1200 if n % 97 == 5 else rng.choice([3, 20, 60, 400]))}
            for n in range(count)]


def check_batches(client: Any, execution_arn: str, output: list[Any], items: list[Any],
                  size: int, limit: int, batch_input: Any) -> list[list[Any]]:
    """The children's batches (a Pass child: its output is its input): every item in
    exactly one, in order; each within the limit unless it is one item; the batches the
    in-execution Map cuts (`maps.batch_groups`, its one rule); one child execution per
    batch, each with that batch as its input. Returns the batches."""
    def envelope(group: list[Any]) -> dict[str, Any]:
        return {"Items": group} if batch_input is None else {
            "BatchInput": batch_input, "Items": group}

    batches = [b["Items"] for b in output]
    assert all(b == envelope(b["Items"]) for b in output)
    assert [i for b in batches for i in b] == items  # each item once, in order
    for b in batches:
        assert len(b) <= size
        assert len(b) == 1 or len(to_json_text(envelope(b)).encode()) <= limit
    assert batches == maps.batch_groups(items, size, limit, envelope)
    history = client.get_history(execution_arn)
    types = [e["type"] for e in history]
    assert "MapRunStarted" in types and "MapIterationStarted" not in types
    [started] = [e for e in history if e["type"] == "MapRunStarted"]
    arn = started["mapRunStartedEventDetails"]["mapRunArn"]
    described = map_run_api.describe(client, arn)
    assert described["executionCounts"]["total"] == len(batches)
    assert described["executionCounts"]["succeeded"] == len(batches)
    assert described["itemCounts"]["total"] == len(items)
    kids = map_run_api.list_children(client, arn, status=None, limit=len(batches) + 10)
    assert len(kids) == len(batches) and len({k.name for k in kids}) == len(batches)
    inputs = [json.loads(k.input) for k in reversed(kids)]  # listed newest first
    assert inputs == [envelope(b) for b in batches]
    return batches


def reader_map(reader: dict[str, Any], batcher: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "Label": "Each", "ItemReader": reader, "ItemBatcher": batcher,
        "ItemProcessor": PASS_CHILD, "MaxConcurrency": 40, "End": True, **more}}}


def test_json_lines_cut_by_bytes_into_one_child_per_batch(
    reader_worker: Worker, redis_url: str, unique: str, files: Path
) -> None:
    items = records(700)
    (files / "data").mkdir(parents=True, exist_ok=True)
    (files / "data" / f"{unique}.jsonl").write_text(
        "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), "utf-8")
    client = connect(Settings(redis_url=redis_url))
    reader = {"Resource": "arn:aws:states:::s3:getObject",
              "ReaderConfig": {"InputType": "JSONL"},
              "Parameters": {"Bucket": "data", "Key": f"{unique}.jsonl"}}
    # 1,000 bytes: a few items a batch, some alone (bigger than the limit with the
    # envelope); the Path form read from the input, with MaxItemsPerBatch too.
    for n, (batcher, value, size, limit) in enumerate([
        ({"MaxInputBytesPerBatch": 1000, "BatchInput": {"b": "x"}}, {}, 10**6, 1000),
        ({"MaxInputBytesPerBatchPath": "$.bytes", "MaxItemsPerBatch": 4,
          "BatchInput": {"b": "x"}}, {"bytes": 2500}, 4, 2500),
    ]):
        client.create_state_machine(f"BJ{n}{unique}", reader_map(reader, batcher))
        done = client.wait(client.start_execution(f"BJ{n}{unique}", value).arn, timeout=240)
        assert done.status == "SUCCEEDED", (done.error, done.cause)
        batches = check_batches(client, done.arn, json.loads(done.output or ""), items,
                                size, limit, {"b": "x"})
        assert len(batches) > 40  # several windows (MaxConcurrency 40 a window at most)
        # An item bigger than the limit (those of 1,200 bytes and more, at 1,000) is a
        # batch of its own.
        big = [[i] for b in batches for i in b if len(to_json_text(i).encode()) > limit]
        assert [b for b in batches if b in big] == big
        assert len(big) == (8 if limit == 1000 else 0)  # items 5, 102, ... 684


def test_csv_with_and_without_header_and_jsonata_bytes(
    reader_worker: Worker, redis_url: str, unique: str, files: Path
) -> None:
    items = records(450, seed=9)
    text = io.StringIO()
    rows = csv.writer(text)
    rows.writerow(["n", "text"])
    for i in items:
        rows.writerow([i["n"], i["text"]])
    (files / "data").mkdir(parents=True, exist_ok=True)
    (files / "data" / f"{unique}-h.csv").write_text(text.getvalue(), "utf-8")
    (files / "data" / f"{unique}-g.csv").write_text(text.getvalue().split("\n", 1)[1], "utf-8")
    as_text = [{"n": str(i["n"]), "text": i["text"]} for i in items]  # CSV values are strings
    client = connect(Settings(redis_url=redis_url))
    for n, config in enumerate([
        {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
        {"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["n", "text"]},
    ]):
        key = f"{unique}-h.csv" if n == 0 else f"{unique}-g.csv"
        definition = {"QueryLanguage": "JSONata", "StartAt": "Each", "States": {"Each": {
            "Type": "Map", "ItemReader": {
                "Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": config,
                "Arguments": {"Bucket": "data", "Key": key}},
            "ItemBatcher": {"MaxInputBytesPerBatch": "{% $states.input.bytes %}",
                            "BatchInput": {"b": "{% $states.input.tag %}"}},
            "ItemProcessor": PASS_CHILD, "MaxConcurrency": 40, "End": True}}}
        client.create_state_machine(f"BC{n}{unique}", definition)
        execution = client.start_execution(f"BC{n}{unique}", {"bytes": 700, "tag": "t"})
        done = client.wait(execution.arn, timeout=240)
        assert done.status == "SUCCEEDED", (done.error, done.cause)
        check_batches(client, done.arn, json.loads(done.output or ""), as_text, 10**6, 700,
                      {"b": "t"})


def test_a_handler_served_reader_cut_by_bytes(
    reader_worker: Worker, redis_url: str, unique: str
) -> None:
    client = connect(Settings(redis_url=redis_url))
    reader = {"Resource": "arn:aws:states:::s3:listObjectsV2",
              "ReaderConfig": {"MaxItems": 600},
              "Parameters": {"Bucket": "b", "Prefix": "p/", "Count": 1000}}
    client.create_state_machine(f"BH{unique}", reader_map(
        reader, {"MaxInputBytesPerBatch": 150, "BatchInput": {"b": 1}}))
    done = client.wait(client.start_execution(f"BH{unique}", {}).arn, timeout=240)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    items = [{"Key": f"p/k{n}"} for n in range(600)]
    batches = check_batches(client, done.arn, json.loads(done.output or ""), items, 10**6,
                            150, {"b": 1})
    assert len(batches) > 40  # several windows
