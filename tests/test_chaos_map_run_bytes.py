"""A Map Run whose batches are cut by bytes (MaxInputBytesPerBatch) under worker kills: the
pool processes are SIGKILLed several times while it admits its windows. An admitter that
dies after creating its children and before recording its position leaves the old
position: the next one reads the same window, cuts the same batches and finds the same
children (their names come from the Map Run and the batch's index). So every item is in
exactly one batch, each batch ran as exactly one child execution, and the batches are
those the in-execution Map cuts."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from engine.connect import connect
from engine.embedded import RedisServer
from engine.runtime import map_run_api
from engine.settings import Settings
from tests.conftest import Worker
from tests.test_chaos_map_run import _children_of
from tests.test_e2e_map_run_bytes import check_batches

pytestmark = [pytest.mark.redis, pytest.mark.worker]

ITEMS = 1500


def test_worker_kills_while_admitting_batches_cut_by_bytes(tmp_path: Path) -> None:
    files = tmp_path / "files"
    (files / "data").mkdir(parents=True)
    items = [{"n": n, "t": "x" * (n % 41)} for n in range(ITEMS)]
    (files / "data" / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    server = RedisServer(tmp_path / "redis")
    server.start()
    worker = Worker(server.url, concurrency=2, log_path=tmp_path / "worker.log",
                    env={"SFN_LEASE_SECONDS": "2", "SFN_REDELIVER_SECONDS": "2",
                         "SFN_ITEM_READER_ROOT": str(files)})
    try:
        worker.start()
        client = connect(Settings(redis_url=server.url))
        client.create_state_machine("ChaosBytes", {"StartAt": "Each", "States": {"Each": {
            "Type": "Map", "MaxConcurrency": 30,
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                           "ReaderConfig": {"InputType": "JSONL"},
                           "Parameters": {"Bucket": "data", "Key": "items.jsonl"}},
            "ItemBatcher": {"MaxInputBytesPerBatch": 200, "BatchInput": {"b": 1}},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Work", "States": {"Work": {"Type": "Pass", "End": True}}},
            "End": True}}})
        record = client.start_execution("ChaosBytes", {})
        kills = 0
        assert worker.process is not None
        for _ in range(4):
            time.sleep(1.5)
            for pid in _children_of(worker.process.pid):
                os.kill(pid, signal.SIGKILL)
                kills += 1
        done = client.wait(record.arn, timeout=300)
        assert kills >= 4
        assert done.status == "SUCCEEDED", (done.error, done.cause)
        batches = check_batches(client, done.arn, json.loads(done.output or ""), items,
                                10**6, 200, {"b": 1})
        assert len(batches) > 300
        history = client.get_history(done.arn)
        arn = next(e for e in history if e["type"] == "MapRunStarted")[
            "mapRunStartedEventDetails"]["mapRunArn"]
        for kid in map_run_api.list_children(client, arn, status=None, limit=60):
            types = [e["type"] for e in client.get_history(kid.arn)]
            assert types == ["ExecutionStarted", "PassStateEntered", "PassStateExited",
                             "ExecutionSucceeded"]  # no transition of a child repeated
    finally:
        worker.stop()
        server.stop()
