"""An EXPRESS Map Run under worker kills: its pool processes are SIGKILLed several times
while it admits EXPRESS children, counts and forgets them and writes result files; every
item still has exactly one result entry (the Map Run counts each item once, whatever its
child's steps ran again), and no counted child is left in Redis."""

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

ITEMS = 300


def test_worker_kills_during_an_express_map_run_write_each_result_once(tmp_path: Path) -> None:
    files = tmp_path / "files"
    (files / "data").mkdir(parents=True)
    with (files / "data" / "items.jsonl").open("w") as f:
        for n in range(ITEMS):
            f.write(json.dumps({"n": n}) + "\n")
    server = RedisServer(tmp_path / "redis")
    server.start()
    worker = Worker(server.url, concurrency=2, log_path=tmp_path / "worker.log",
                    env={"SFN_LEASE_SECONDS": "2", "SFN_REDELIVER_SECONDS": "2",
                         "SFN_ITEM_READER_ROOT": str(files)})
    try:
        worker.start()
        client = connect(Settings(redis_url=server.url))
        client.create_state_machine("XChaos", {"StartAt": "Each", "States": {"Each": {
            "Type": "Map", "Label": "Each", "MaxConcurrency": 40,
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                           "ReaderConfig": {"InputType": "JSONL"},
                           "Parameters": {"Bucket": "data", "Key": "items.jsonl"}},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                "StartAt": "Pause", "States": {
                    "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Work"},
                    "Work": {"Type": "Pass", "End": True,
                             "Parameters": {"twice.$": "States.MathAdd($.n, $.n)",
                                            "n.$": "$.n"}}}},
            "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                             "Parameters": {"Bucket": "data", "Prefix": "out"}},
            "End": True}}})
        record = client.start_execution("XChaos", {})
        kills = 0
        assert worker.process is not None
        for _ in range(4):
            time.sleep(1.0)
            for pid in _children_of(worker.process.pid):
                os.kill(pid, signal.SIGKILL)
                kills += 1
        done = client.wait(record.arn, timeout=300)
        assert kills >= 4
        assert done.status == "SUCCEEDED", (done.error, done.cause)
        out = json.loads(done.output or "")
        manifest = json.loads((files / "data" / out["ResultWriterDetails"]["Key"]).read_text())
        assert manifest["ResultFiles"]["FAILED"] == []
        seen: list[int] = []
        for entry in manifest["ResultFiles"]["SUCCEEDED"]:
            for result in json.loads((files / "data" / entry["Key"]).read_text()):
                assert ":express:XChaos/Each:" in result["ExecutionArn"]
                output = json.loads(result["Output"])
                assert output["twice"] == 2 * output["n"]
                seen.append(output["n"])
        assert sorted(seen) == list(range(ITEMS))  # each item's result, once
        arn = out["MapRunArn"]
        described = map_run_api.describe(client, arn)
        assert described["executionCounts"]["succeeded"] == ITEMS
        assert described["executionCounts"]["total"] == ITEMS
        assert described["itemCounts"]["succeeded"] == ITEMS
        assert described["executionCounts"]["resultsWritten"] == ITEMS
        # Counted children are forgotten: none is listed, none left in Redis but the
        # delivery count of a message redelivered after its child was forgotten and whose
        # step was killed (engine/store/deliveries.py: it expires on its own).
        assert map_run_api.list_children(client, arn, status=None, limit=10) == []
        r = redis.Redis.from_url(server.url, decode_responses=True)
        left = list(r.scan_iter(match="sfn:x:{XChaos/Each:*", count=1000))
        assert all(k.endswith(":deliveries") and r.ttl(k) > 0 for k in left), sorted(left)
    finally:
        worker.stop()
        server.stop()
