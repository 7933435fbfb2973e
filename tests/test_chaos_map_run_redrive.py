"""A Map Run's redrive under worker kills: the parent redriven, its pool processes are
SIGKILLed while the Map Run redrives its failed children; every child that failed is
redriven exactly once (one ExecutionRedriven in its history), none that succeeded is
touched, and the ResultWriter's files hold each item once."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
import redis

from engine.connect import connect
from engine.embedded import RedisServer
from engine.runtime import map_run_api
from engine.settings import Settings
from tests.conftest import Worker
from tests.test_chaos_map_run import _children_of

pytestmark = [pytest.mark.redis, pytest.mark.worker]

ITEMS = 240


def test_worker_kills_during_a_map_run_redrive_redrive_each_failed_child_once(
    tmp_path: Path,
) -> None:
    files = tmp_path / "files"
    (files / "data").mkdir(parents=True)
    with (files / "data" / "items.jsonl").open("w") as f:
        for n in range(ITEMS):
            f.write(json.dumps({"n": n}) + "\n")
    server = RedisServer(tmp_path / "redis")
    server.start()
    worker = Worker(server.url, concurrency=2, log_path=tmp_path / "worker.log",
                    env={"SFN_LEASE_SECONDS": "2", "SFN_REDELIVER_SECONDS": "2",
                         "SFN_ITEM_READER_ROOT": str(files),
                         "SFN_HANDLER_MODULES":
                             "workflows.order_processing,tests.e2e_handlers,"
                             "tests.map_run_handlers"})
    r = redis.Redis.from_url(server.url, decode_responses=True)
    ledger = "test:ledger:chaos"
    r.sadd(ledger + ":bad", *[str(n) for n in range(0, ITEMS, 3)])
    try:
        worker.start()
        client = connect(Settings(redis_url=server.url))
        client.create_state_machine("ChaosRedrive", {"StartAt": "Each", "States": {"Each": {
            # Every third item fails: the last of those fails the Map Run.
            "Type": "Map", "MaxConcurrency": 40, "ToleratedFailureCount": ITEMS // 3 - 1,
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                           "ReaderConfig": {"InputType": "JSONL"},
                           "Parameters": {"Bucket": "data", "Key": "items.jsonl"}},
            "ItemSelector": {"n.$": "$$.Map.Item.Value.n", "ledger": ledger},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Work", "States": {"Work": {
                    "Type": "Task", "End": True,
                    "Resource": "arn:aws:lambda:us-east-1:000000000000:function:"
                                "MapRunItemLambda"}}},
            "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                             "Parameters": {"Bucket": "data", "Prefix": "out"}},
            "End": True}}})
        record = client.start_execution("ChaosRedrive", {})
        first = client.wait(record.arn, timeout=300)
        assert first.status == "FAILED"
        [arn] = [m["mapRunArn"] for m in map_run_api.list_runs(client, record.arn)]
        kids = map_run_api.list_children(client, arn, status=None, limit=ITEMS + 10)
        before = {k.name: k.status for k in kids}
        assert sum(s == "FAILED" for s in before.values()) == ITEMS // 3

        r.delete(ledger + ":bad")
        client.redrive_execution(record.arn)
        kills = 0
        assert worker.process is not None
        for _ in range(3):
            time.sleep(1.0)
            for pid in _children_of(worker.process.pid):
                os.kill(pid, signal.SIGKILL)
                kills += 1
        done = client.wait(record.arn, timeout=300)
        assert kills >= 3
        assert done.status == "SUCCEEDED", (done.error, done.cause)
        out = json.loads(done.output or "")
        assert out["MapRunArn"] == arn  # the same Map Run
        manifest = json.loads((files / "data" / out["ResultWriterDetails"]["Key"]).read_text())
        assert manifest["ResultFiles"]["FAILED"] == []
        seen = [json.loads(e["Input"])["n"] for f in manifest["ResultFiles"]["SUCCEEDED"]
                for e in json.loads((files / "data" / f["Key"]).read_text())]
        assert sorted(seen) == list(range(ITEMS))  # each item's result, once
        kids = map_run_api.list_children(client, arn, status=None, limit=ITEMS + 10)
        assert len(kids) == ITEMS and {k.status for k in kids} == {"SUCCEEDED"}
        for kid in kids:
            types = [e["type"] for e in client.get_history(kid.arn)]
            again = before.get(kid.name, "SUCCEEDED") != "SUCCEEDED"
            assert types.count("ExecutionRedriven") == (1 if again else 0), (kid.name, types)
            assert types.count("ExecutionSucceeded") == 1
        described = map_run_api.describe(client, arn)
        assert described["redriveCount"] == 1
        assert described["executionCounts"]["succeeded"] == ITEMS
        assert described["executionCounts"]["resultsWritten"] == ITEMS
    finally:
        worker.stop()
        server.stop()
