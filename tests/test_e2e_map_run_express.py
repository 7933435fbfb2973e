"""A Distributed Map with `ExecutionType: EXPRESS` on real workers and a real Redis: its
children are EXPRESS executions (ARNs `express:MACHINE/LABEL:NAME:ID`), described but with
no history offered, at most 5 minutes each, counted by DescribeMapRun, and forgotten once
counted (their results are the Map Run's); a redrive of the parent re-runs a failed one as
a new EXPRESS execution, as AWS reruns them with StartExecution."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from engine.api.actions import Context, dispatch
from engine.api.protocol import ApiError, Request
from engine.connect import connect
from engine.embedded import RedisServer
from engine.runtime import map_run_api as map_runs
from engine.runtime import map_run_express
from engine.settings import Settings
from engine.store import keys
from tests.conftest import Worker

pytestmark = [pytest.mark.redis, pytest.mark.worker]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("xfiles")


@pytest.fixture(scope="module")
def redis_url(own_redis: RedisServer) -> str:
    return own_redis.url


@pytest.fixture(scope="module")
def worker(own_redis: RedisServer, files: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    log = tmp_path_factory.mktemp("xworker") / "worker.log"
    modules = "workflows.order_processing,tests.e2e_handlers,tests.map_run_handlers"
    w = Worker(own_redis.url, env={"SFN_ITEM_READER_ROOT": str(files),
                                   "SFN_HANDLER_MODULES": modules}, log_path=log).start()
    yield w
    w.stop()


def machine(key: str, *, work: dict[str, Any] | None = None, writer: bool = False,
            **more: Any) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Map", "Label": "Each",
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                       "ReaderConfig": {"InputType": "JSONL"},
                       "Parameters": {"Bucket": "data", "Key": key}},
        "ItemSelector": {"n.$": "$$.Map.Item.Value.n"},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "Work",
            "States": {"Work": work or {"Type": "Pass", "End": True}},
        },
        "MaxConcurrency": 4, "End": True, **more,
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


def _map_run(client: Any, execution_arn: str) -> str:
    [arn] = [m["mapRunArn"] for m in map_runs.list_runs(client, execution_arn)]
    return str(arn)


def test_express_children_are_express_executions_forgotten_once_counted(
    worker: Worker, redis_url: str, unique: str, files: Path
) -> None:
    write_items(files, f"{unique}.jsonl", 12)
    client = connect(Settings(redis_url=redis_url))
    client.create_state_machine(f"X{unique}", machine(f"{unique}.jsonl"))
    execution = client.start_execution(f"X{unique}", {})
    done = client.wait(execution.arn, timeout=60)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    assert json.loads(done.output or "") == [{"n": n} for n in range(12)]
    arn = _map_run(client, execution.arn)
    counts = map_runs.describe(client, arn)["executionCounts"]
    assert (counts["succeeded"], counts["total"], counts["running"]) == (12, 12, 0)
    assert map_runs.describe(client, arn)["itemCounts"]["succeeded"] == 12
    # Counted and their results taken: nothing of them is left in Redis.
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    left = [k for k in r.scan_iter(match=f"sfn:x:{{X{unique}/Each:*")]
    assert left == []
    assert r.zcard(keys.sm_executions(f"X{unique}/Each")) == 0
    assert map_runs.list_children(client, arn, status=None, limit=100) == []


def call(client: Any, action: str, params: dict[str, Any]) -> dict[str, Any]:
    return dispatch(Context(client), Request(action, params))


def test_a_running_express_child_is_described_not_historied_and_times_out_at_5_minutes(
    worker: Worker, redis_url: str, unique: str, files: Path
) -> None:
    write_items(files, f"{unique}-w.jsonl", 1)
    client = connect(Settings(redis_url=redis_url))
    client.create_state_machine(f"XW{unique}", machine(
        f"{unique}-w.jsonl", work={"Type": "Wait", "Seconds": 600, "End": True}))
    execution = client.start_execution(f"XW{unique}", {})
    arn = ""
    kids: list[Any] = []
    for _ in range(200):
        runs = map_runs.list_runs(client, execution.arn)
        if runs:
            arn = runs[0]["mapRunArn"]
            kids = map_runs.list_children(client, arn, status="RUNNING", limit=10)
            if kids:
                break
        time.sleep(0.1)
    [kid] = kids
    prefix = f"arn:aws:states:us-east-1:000000000000:express:XW{unique}/Each:{kid.name}:"
    assert kid.arn.startswith(prefix) and kid.type == "EXPRESS"
    assert kid.arn.rsplit(":", 1)[1] == map_run_express.express_id(arn, 0, 0)
    # DescribeExecution answers for an EXPRESS child a Map Run dispatched (AWS); its
    # history and StopExecution are refused as for any EXPRESS execution.
    described = call(client, "DescribeExecution", {"executionArn": kid.arn})
    assert (described["status"], described["mapRunArn"]) == ("RUNNING", arn)
    for refused in ("GetExecutionHistory", "StopExecution"):
        with pytest.raises(ApiError, match="Resource type not valid in this context: express"):
            call(client, refused, {"executionArn": kid.arn})
    listed = call(client, "ListExecutions", {"mapRunArn": arn})["executions"]
    assert [e["executionArn"] for e in listed] == [kid.arn]
    # No TimeoutSeconds in the definition: AWS's 5 minutes for an EXPRESS execution.
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    [entry] = [i for i, m in r.hgetall(keys.outbox(kid.eid)).items()
               if json.loads(m)["k"] == "exec_timeout"]
    due = r.zscore(keys.outbox_due(kid.eid), entry)
    start = kid.start / 1000 if kid.start > 1e11 else kid.start
    assert due is not None and abs(due - (start + map_run_express.MAX_SECONDS)) < 2
    # Those 5 minutes pass (the timeout made due now): the child times out as AWS's.
    now = time.time()
    r.zadd(keys.outbox_due(kid.eid), {entry: now})
    r.zadd(keys.due_index(), {kid.eid: now})
    done = client.wait(execution.arn, timeout=60)
    assert (done.status, done.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    counts = map_runs.describe(client, arn)["executionCounts"]
    assert (counts["timedOut"], counts["succeeded"]) == (1, 0)
    [timed_out] = map_runs.list_children(client, arn, status="TIMED_OUT", limit=10)
    assert (timed_out.eid, timed_out.error) == (kid.eid, "States.Timeout")


def test_result_writer_entries_name_the_express_children(
    worker: Worker, redis_url: str, unique: str, files: Path
) -> None:
    write_items(files, f"{unique}-rw.jsonl", 30)
    client = connect(Settings(redis_url=redis_url))
    client.create_state_machine(f"XR{unique}", machine(f"{unique}-rw.jsonl", writer=True))
    execution = client.start_execution(f"XR{unique}", {})
    done = client.wait(execution.arn, timeout=60)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    out = json.loads(done.output or "")
    manifest = json.loads((files / "data" / out["ResultWriterDetails"]["Key"]).read_text())
    entries = [e for f in manifest["ResultFiles"]["SUCCEEDED"]
               for e in json.loads((files / "data" / f["Key"]).read_text())]
    assert sorted(json.loads(e["Output"])["n"] for e in entries) == list(range(30))
    assert all(":express:" in e["ExecutionArn"] for e in entries)
    assert map_runs.describe(client, out["MapRunArn"])["executionCounts"]["resultsWritten"] == 30


def test_a_redrive_of_the_parent_reruns_failed_express_children_as_new_executions(
    worker: Worker, redis_url: str, unique: str, files: Path
) -> None:
    key = f"{unique}-rd.jsonl"
    write_items(files, key, 6)
    ledger = f"test:ledger:{unique}"
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    r.sadd(ledger + ":bad", "1", "4")
    work = {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:"
            "MapRunItemLambda", "End": True}
    definition = machine(key, work=work, MaxConcurrency=6, ToleratedFailureCount=1)
    definition["States"]["Each"]["ItemSelector"] = {"n.$": "$$.Map.Item.Value.n",
                                                    "ledger": ledger}
    client = connect(Settings(redis_url=redis_url))
    client.create_state_machine(f"XRD{unique}", definition)
    execution = client.start_execution(f"XRD{unique}", {})
    failed = client.wait(execution.arn, timeout=60)
    assert (failed.status, failed.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    arn = _map_run(client, execution.arn)
    bad = {c.eid: c for c in map_runs.list_children(client, arn, status=None, limit=100)
           if c.status != "SUCCEEDED"}
    assert {json.loads(c.input or "")["n"] for c in bad.values()} >= {1, 4}
    for child in bad.values():
        assert client.redrive_status(child) == ("REDRIVABLE_BY_MAP_RUN", None)

    r.delete(ledger + ":bad")
    client.redrive_execution(execution.arn)
    done = client.wait(execution.arn, timeout=60)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    assert json.loads(done.output or "") == [{"n": n} for n in range(6)]
    ran = r.hgetall(ledger)
    assert ran["1"] == "2" and ran["4"] == "2"  # re-run once each
    # The failed ones were re-run as new EXPRESS executions (attempt 1) and are gone.
    for child in bad.values():
        assert client.store.get_execution(child.eid) is None
    described = map_runs.describe(client, arn)
    assert described["redriveCount"] == 1
    counts = described["executionCounts"]
    assert (counts["succeeded"], counts["failed"], counts["pendingRedrive"]) == (6, 0, 0)
