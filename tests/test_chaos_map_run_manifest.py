"""A Map Run over an S3 Inventory manifest under worker kills: its pool processes are
SIGKILLed while it reads the gzip data files by position (data file, byte offset), admits
children and writes JSON Lines result files; every listed object ran as exactly one child
and its result is written exactly once."""

from __future__ import annotations

import gzip
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

pytestmark = [pytest.mark.redis, pytest.mark.worker]

FILES, ROWS = 4, 200


def test_worker_kills_during_a_manifest_map_run_lose_no_item_and_repeat_none(
    tmp_path: Path,
) -> None:
    files = tmp_path / "files"
    listed = []
    for f in range(FILES):
        rows = "".join(f'"src","obj/{f * ROWS + r}"\n' for r in range(ROWS))
        data = files / "dest" / f"data/{f}.csv.gz"
        data.parent.mkdir(parents=True, exist_ok=True)
        data.write_bytes(gzip.compress(rows.encode()))
        listed.append({"key": f"data/{f}.csv.gz"})
    (files / "inv").mkdir()
    (files / "inv" / "manifest.json").write_text(json.dumps({
        "destinationBucket": "arn:aws:s3:::dest", "fileFormat": "CSV",
        "fileSchema": "Bucket, Key", "files": listed}))
    server = RedisServer(tmp_path / "redis")
    server.start()
    worker = Worker(server.url, concurrency=2, log_path=tmp_path / "worker.log",
                    env={"SFN_LEASE_SECONDS": "2", "SFN_REDELIVER_SECONDS": "2",
                         "SFN_ITEM_READER_ROOT": str(files)})
    try:
        worker.start()
        client = connect(Settings(redis_url=server.url))
        client.create_state_machine("ChaosInv", {"StartAt": "Each", "States": {"Each": {
            "Type": "Map", "MaxConcurrency": 40,
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                           "ReaderConfig": {"InputType": "MANIFEST"},
                           "Parameters": {"Bucket": "inv", "Key": "manifest.json"}},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Work", "States": {"Work": {
                    "Type": "Pass", "Parameters": {"key.$": "$.Key"}, "End": True}}},
            "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                             "WriterConfig": {"Transformation": "COMPACT",
                                              "OutputType": "JSONL"},
                             "Parameters": {"Bucket": "inv", "Prefix": "out"}},
            "End": True}}})
        record = client.start_execution("ChaosInv", {})
        kills = 0
        assert worker.process is not None
        for _ in range(3):
            time.sleep(1.5)
            for pid in _children_of(worker.process.pid):
                os.kill(pid, signal.SIGKILL)
                kills += 1
        done = client.wait(record.arn, timeout=300)
        assert kills >= 3
        assert done.status == "SUCCEEDED", (done.error, done.cause)
        out = json.loads(done.output or "")
        manifest = json.loads((files / "inv" / out["ResultWriterDetails"]["Key"]).read_text())
        assert manifest["ResultFiles"]["FAILED"] == manifest["ResultFiles"]["PENDING"] == []
        seen = [json.loads(line)["key"]
                for entry in manifest["ResultFiles"]["SUCCEEDED"]
                for line in (files / "inv" / entry["Key"]).read_text().splitlines()]
        assert sorted(seen) == sorted(f"obj/{n}" for n in range(FILES * ROWS))  # once each
        kids = map_run_api.list_children(client, out["MapRunArn"], status=None,
                                         limit=FILES * ROWS + 10)
        assert len(kids) == FILES * ROWS and len({k.name for k in kids}) == FILES * ROWS
    finally:
        worker.stop()
        server.stop()
