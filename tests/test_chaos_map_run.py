"""A Map Run under worker kills: its pool processes are SIGKILLed several times while it
admits children, counts them and writes result files; every item's result is written
exactly once, and every item ran as exactly one child execution (a child's state
transitions are never repeated: its name is derived from its index, so starting it twice
finds the first)."""

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

pytestmark = [pytest.mark.redis, pytest.mark.worker]

ITEMS = 1500


def _children_of(pid: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(name))
    return found


def test_worker_kills_during_a_map_run_lose_no_item_and_repeat_none(tmp_path: Path) -> None:
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
        client.create_state_machine("Chaos", {"StartAt": "Each", "States": {"Each": {
            "Type": "Map", "MaxConcurrency": 50,
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                           "ReaderConfig": {"InputType": "JSONL"},
                           "Parameters": {"Bucket": "data", "Key": "items.jsonl"}},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Work", "States": {"Work": {
                    "Type": "Pass", "Parameters": {"twice.$": "States.MathAdd($.n, $.n)",
                                                   "n.$": "$.n"}, "End": True}}},
            "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                             "Parameters": {"Bucket": "data", "Prefix": "out"}},
            "End": True}}})
        record = client.start_execution("Chaos", {})
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
        out = json.loads(done.output or "")
        manifest = json.loads((files / "data" / out["ResultWriterDetails"]["Key"]).read_text())
        assert manifest["ResultFiles"]["FAILED"] == []
        seen: list[int] = []
        for entry in manifest["ResultFiles"]["SUCCEEDED"]:
            for result in json.loads((files / "data" / entry["Key"]).read_text()):
                output = json.loads(result["Output"])
                assert output["twice"] == 2 * output["n"]
                seen.append(output["n"])
        assert sorted(seen) == list(range(ITEMS))  # each item's result, once
        arn = out["MapRunArn"]
        described = map_run_api.describe(client, arn)
        assert described["executionCounts"]["succeeded"] == ITEMS
        assert described["executionCounts"]["total"] == ITEMS
        assert described["executionCounts"]["resultsWritten"] == ITEMS
        kids = map_run_api.list_children(client, arn, status=None, limit=ITEMS + 10)
        assert len(kids) == ITEMS and len({k.name for k in kids}) == ITEMS
        for kid in kids[:50]:  # no transition of a child repeated
            types = [e["type"] for e in client.get_history(kid.arn)]
            assert types == ["ExecutionStarted", "PassStateEntered", "PassStateExited",
                             "ExecutionSucceeded"]
    finally:
        worker.stop()
        server.stop()
