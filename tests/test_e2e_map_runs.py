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
import redis

from engine.connect import connect
from engine.embedded import RedisServer
from engine.errors import ExecutionNotRedrivable
from engine.runtime import map_run_api as map_runs
from engine.runtime import redrive
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
def reader_worker(own_redis: RedisServer, files: Path,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    log = tmp_path_factory.mktemp("mrworker") / "worker.log"
    modules = "workflows.order_processing,tests.e2e_handlers,tests.map_run_handlers"
    w = Worker(own_redis.url, env={"SFN_ITEM_READER_ROOT": str(files),
                                   "SFN_HANDLER_MODULES": modules}, log_path=log).start()
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


def test_the_map_run_api_and_stopping_the_parent_aborts_the_map_run(
    reader_worker: Worker, redis_url: str, unique: str, files: Path
) -> None:
    import time

    from tests.api_stack import api_server, sfn_client

    write_items(files, f"{unique}.jsonl", 40)
    client = connect(Settings(redis_url=redis_url))
    slow = {"Type": "Wait", "Seconds": 30, "End": True}
    definition = machine(f"{unique}.jsonl", work=slow, ToleratedFailurePercentage=10)
    sm = client.create_state_machine(f"MA{unique}", definition)
    with api_server(redis_url) as running:
        sfn = sfn_client(running.url)
        execution = sfn.start_execution(stateMachineArn=sm.arn)["executionArn"]
        deadline = time.monotonic() + 30
        runs: list[Any] = []
        while time.monotonic() < deadline and not runs:
            runs = sfn.list_map_runs(executionArn=execution)["mapRuns"]
            time.sleep(0.2)
        [run] = runs
        arn = run["mapRunArn"]
        described = sfn.describe_map_run(mapRunArn=arn)
        assert described["status"] == "RUNNING" and described["maxConcurrency"] == 3
        assert described["toleratedFailurePercentage"] == 10.0
        assert described["executionArn"] == execution
        sfn.update_map_run(mapRunArn=arn, maxConcurrency=5)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            counts = sfn.describe_map_run(mapRunArn=arn)["executionCounts"]
            if counts["running"] == 5:
                break
            time.sleep(0.2)
        assert counts["running"] == 5, counts
        assert sfn.describe_map_run(mapRunArn=arn)["maxConcurrency"] == 5
        kids = sfn.list_executions(mapRunArn=arn, statusFilter="RUNNING")["executions"]
        assert len(kids) == 5 and all(k["mapRunArn"] == arn for k in kids)
        kid = sfn.describe_execution(executionArn=kids[0]["executionArn"])
        assert kid["mapRunArn"] == arn
        sfn.stop_execution(executionArn=execution)
        assert sfn.describe_map_run(mapRunArn=arn)["status"] == "ABORTED"
        types = [e["type"] for e in sfn.get_execution_history(executionArn=execution)["events"]]
        assert types[-2:] == ["MapRunAborted", "ExecutionAborted"]
        statuses = {k["status"] for k in sfn.list_executions(mapRunArn=arn)["executions"]}
        assert statuses == {"ABORTED"}
        missing = arn[:-4] + "0000"
        try:
            sfn.describe_map_run(mapRunArn=missing)
            raise AssertionError("a Map Run that does not exist was described")
        except sfn.exceptions.ResourceNotFound:
            pass


def test_batches_jsonata_selector_and_max_items(
    reader_worker: Worker, redis_url: str, unique: str, files: Path
) -> None:
    write_items(files, f"{unique}.jsonl", 20)
    client = connect(Settings(redis_url=redis_url))
    client.create_state_machine(f"MB{unique}", {
        "QueryLanguage": "JSONata", "StartAt": "Each", "States": {"Each": {
            "Type": "Map",
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                           "ReaderConfig": {"InputType": "JSONL", "MaxItems": 17},
                           "Arguments": {"Bucket": "data", "Key": f"{unique}.jsonl"}},
            "ItemSelector": {"v": "{% $states.context.Map.Item.Value.n * 10 %}",
                             "i": "{% $states.context.Map.Item.Index %}",
                             "tag": "{% $states.input.tag %}"},
            "ItemBatcher": {"MaxItemsPerBatch": 5, "BatchInput": {"b": "{% $states.input.tag %}"}},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Sum", "States": {"Sum": {
                    "Type": "Pass", "Output": {
                        "b": "{% $states.input.BatchInput.b %}",
                        "is": "{% $states.input.Items.i %}"}, "End": True}}},
            "MaxConcurrency": 2, "End": True}}})
    done = client.wait(client.start_execution(f"MB{unique}", {"tag": "t"}).arn, timeout=60)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    assert json.loads(done.output or "") == [
        {"b": "t", "is": list(range(0, 5))}, {"b": "t", "is": list(range(5, 10))},
        {"b": "t", "is": list(range(10, 15))}, {"b": "t", "is": [15, 16]}]


def test_results_past_256_kib_fail_with_data_limit_exceeded(
    reader_worker: Worker, redis_url: str, unique: str, files: Path
) -> None:
    (files / "data").mkdir(parents=True, exist_ok=True)
    with (files / "data" / f"{unique}.jsonl").open("w") as f:
        for n in range(30):
            f.write(json.dumps({"n": n, "pad": "x" * 10_000}) + "\n")
    client = connect(Settings(redis_url=redis_url))
    definition = machine(f"{unique}.jsonl", MaxConcurrency=10)
    definition["States"]["Each"]["ItemSelector"] = {"pad.$": "$$.Map.Item.Value.pad"}
    client.create_state_machine(f"ML{unique}", definition)
    done = client.wait(client.start_execution(f"ML{unique}", {}).arn, timeout=60)
    assert (done.status, done.error) == ("FAILED", "States.DataLimitExceeded")
    history = client.get_history(done.arn)
    [failed] = [e for e in history if e["type"] == "MapRunFailed"]
    assert failed["mapRunFailedEventDetails"]["error"] == "States.DataLimitExceeded"


def test_a_missing_object_fails_the_map_with_item_reader_failed(
    reader_worker: Worker, redis_url: str, unique: str
) -> None:
    client = connect(Settings(redis_url=redis_url))
    definition = machine(f"{unique}-missing.jsonl")
    definition["States"]["Each"]["Catch"] = [
        {"ErrorEquals": ["States.ItemReaderFailed"], "Next": "Caught"}]
    definition["States"]["Each"].pop("End")
    definition["States"]["Each"]["Next"] = "Caught"
    definition["States"]["Caught"] = {"Type": "Pass", "End": True}
    client.create_state_machine(f"MM{unique}", definition)
    done = client.wait(client.start_execution(f"MM{unique}", {}).arn, timeout=60)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    assert json.loads(done.output or "")["Error"] == "States.ItemReaderFailed"


def test_a_registered_handler_serves_the_reader(
    reader_worker: Worker, redis_url: str, unique: str
) -> None:
    client = connect(Settings(redis_url=redis_url))
    definition = machine("unused")
    each = definition["States"]["Each"]
    each["ItemReader"] = {"Resource": "arn:aws:states:::s3:listObjectsV2",
                          "ReaderConfig": {"MaxItems": 450},
                          "Parameters": {"Bucket": "b", "Prefix": "p/", "Count": 1000}}
    each["ItemSelector"] = {"key.$": "$$.Map.Item.Value.Key"}
    each["MaxConcurrency"] = 100
    client.create_state_machine(f"MH{unique}", definition)
    done = client.wait(client.start_execution(f"MH{unique}", {}).arn, timeout=120)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    assert json.loads(done.output or "") == [{"key": f"p/k{n}"} for n in range(450)]


def test_a_redrive_of_the_parent_redrives_only_the_failed_children_of_the_same_map_run(
    reader_worker: Worker, redis_url: str, unique: str, files: Path
) -> None:
    """AWS's Map Run redrive: the parent redriven, its Map Run (the same ARN) redrives only
    its failed child executions (the others keep their results and histories); the
    parent's history has MapRunRedriven; DescribeMapRun shows redriveCount 1."""
    key = f"{unique}-rd.jsonl"
    write_items(files, key, 8)
    ledger = f"test:ledger:{unique}"
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    r.sadd(ledger + ":bad", "2", "5")
    work = {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:"
            "MapRunItemLambda", "End": True}
    # One failure tolerated: the second (item 5) fails the Map Run, after both ran.
    definition = machine(key, work=work, MaxConcurrency=3, ToleratedFailureCount=1)
    definition["States"]["Each"]["ItemSelector"] = {"n.$": "$$.Map.Item.Value.n",
                                                    "ledger": ledger}
    client = connect(Settings(redis_url=redis_url))
    client.create_state_machine(f"MRR{unique}", definition)
    execution = client.start_execution(f"MRR{unique}", {})
    failed = client.wait(execution.arn, timeout=60)
    assert (failed.status, failed.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    [arn] = [m["mapRunArn"] for m in map_runs.list_runs(client, execution.arn)]
    children = {c.name: c for c in map_runs.list_children(client, arn, status=None, limit=100)}
    bad = {c.name for c in children.values() if c.status != "SUCCEEDED"}
    ran_first = r.hgetall(ledger)
    assert {"2", "5"} <= set(ran_first) and all(v == "1" for v in ran_first.values())
    for name in bad:
        assert client.redrive_status(children[name]) == ("REDRIVABLE_BY_MAP_RUN", None)
    kept = {name: client.get_history(c.arn) for name, c in children.items()
            if name not in bad}

    r.delete(ledger + ":bad")
    client.redrive_execution(execution.arn)
    done = client.wait(execution.arn, timeout=60)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    assert json.loads(done.output or "") == [{"n": n} for n in range(8)]
    # Only the children that did not succeed ran again (each once more; one the Map Run
    # aborted before its Task had not run it yet); the others were not started again.
    again = {item_of(children[name]) for name in bad}
    assert {"2", "5"} <= again
    admitted = {item_of(c) for c in children.values()}
    ran = r.hgetall(ledger)
    assert ran == {str(n): str(int(ran_first.get(str(n), "0")) + (str(n) in again))
                   if str(n) in admitted else "1" for n in range(8)}
    assert [m["mapRunArn"] for m in map_runs.list_runs(client, execution.arn)] == [arn]
    for name, c in children.items():
        events = [e["type"] for e in client.get_history(c.arn)]
        if name in bad:
            assert events.count("ExecutionRedriven") == 1, events
            assert events[-1] == "ExecutionSucceeded"
        else:
            assert client.get_history(c.arn) == kept[name]
    described = map_runs.describe(client, arn)
    assert described["status"] == "SUCCEEDED"
    assert described["redriveCount"] == 1 and described["redriveDate"] > 0
    counts = described["executionCounts"]
    assert (counts["succeeded"], counts["failed"], counts["pendingRedrive"]) == (8, 0, 0)
    types = [e["type"] for e in client.get_history(execution.arn)]
    assert types.count("ExecutionRedriven") == 1 and types.count("MapRunStarted") == 1
    [redriven] = [e for e in client.get_history(execution.arn) if e["type"] == "MapRunRedriven"]
    assert redriven["mapRunRedrivenEventDetails"] == {"mapRunArn": arn, "redriveCount": 1}
    assert types.index("MapRunRedriven") == types.index("ExecutionRedriven") + 1
    assert types[-4:] == ["MapRunSucceeded", "MapStateSucceeded", "MapStateExited",
                          "ExecutionSucceeded"]


def item_of(child: Any) -> str:
    """The item (as the ledger names it) a child execution ran."""
    return str(json.loads(child.input)["n"])


def test_a_child_already_redriven_is_not_redriven_twice(
    reader_worker: Worker, redis_url: str, unique: str, files: Path
) -> None:
    """What a worker dying between a child's redrive and its mark as running leaves: the
    child redriven already (here by the engine's redrive path, and failed again) when the
    Map Run's admitter comes to it. It is marked running, not redriven a second time: it
    counts as failed again, and the next redrive of the parent redrives it."""
    key = f"{unique}-twice.jsonl"
    write_items(files, key, 4)
    ledger = f"test:ledger:{unique}"
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    r.sadd(ledger + ":bad", "1")
    work = {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:"
            "MapRunItemLambda", "End": True}
    definition = machine(key, work=work, MaxConcurrency=1)
    definition["States"]["Each"]["ItemSelector"] = {"n.$": "$$.Map.Item.Value.n",
                                                    "ledger": ledger}
    client = connect(Settings(redis_url=redis_url))
    client.create_state_machine(f"MRT{unique}", definition)
    execution = client.start_execution(f"MRT{unique}", {})
    assert client.wait(execution.arn, timeout=60).status == "FAILED"
    [arn] = [m["mapRunArn"] for m in map_runs.list_runs(client, execution.arn)]
    [child] = map_runs.list_children(client, arn, status="FAILED", limit=10)
    # RedriveExecution on a Map Run's child is refused: its parent's redrive redrives it.
    with pytest.raises(ExecutionNotRedrivable, match="child workflow execution of a Map Run"):
        client.redrive_execution(child.arn)
    assert client.redrive_status(child) == ("REDRIVABLE_BY_MAP_RUN", None)
    # The state a worker dying inside the Map Run's redrive leaves: the child redriven
    # (by the engine's own path), its Map Run not told.
    redrive.redrive_execution(client.store, client.dispatcher, child, now=client.clock(),
                              rules=client.redrive_rules)
    assert client.wait(child.arn, timeout=60).status == "FAILED"
    assert r.hget(ledger, "1") == "2"

    client.redrive_execution(execution.arn)
    again = client.wait(execution.arn, timeout=60)
    assert (again.status, again.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    assert r.hget(ledger, "1") == "2"  # not run a third time
    assert [e["type"] for e in client.get_history(child.arn)].count("ExecutionRedriven") == 1

    r.delete(ledger + ":bad")
    client.redrive_execution(execution.arn)
    done = client.wait(execution.arn, timeout=60)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    assert json.loads(done.output or "") == [{"n": n} for n in range(4)]
    ran = r.hgetall(ledger)
    # (item 2 may have been admitted, then aborted by the first redrive's failure: it ran
    # again in the second)
    assert (ran["0"], ran["1"], sorted(ran)) == ("1", "3", ["0", "1", "2", "3"])
    assert [e["type"] for e in client.get_history(child.arn)].count("ExecutionRedriven") == 2
    described = map_runs.describe(client, arn)
    assert described["redriveCount"] == 2
    counts = described["executionCounts"]
    assert (counts["succeeded"], counts["failed"], counts["total"]) == (4, 0, 4)
    types = [e["type"] for e in client.get_history(execution.arn)]
    assert types.count("MapRunRedriven") == 2 and types.count("MapRunFailed") == 2


def test_a_redriven_map_run_writes_each_item_once(
    reader_worker: Worker, redis_url: str, unique: str, files: Path
) -> None:
    """With a ResultWriter: the failed children's entries written before the redrive are
    no longer in the manifest's files; their redrive writes them again, each item once."""
    key = f"{unique}-rw.jsonl"
    write_items(files, key, 6)
    ledger = f"test:ledger:{unique}"
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    r.sadd(ledger + ":bad", "1", "4")
    work = {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:"
            "MapRunItemLambda", "End": True}
    definition = machine(key, writer=True, work=work, MaxConcurrency=3, ToleratedFailureCount=1)
    definition["States"]["Each"]["ItemSelector"] = {"n.$": "$$.Map.Item.Value.n",
                                                    "ledger": ledger}
    client = connect(Settings(redis_url=redis_url))
    client.create_state_machine(f"MRW{unique}", definition)
    execution = client.start_execution(f"MRW{unique}", {})
    assert client.wait(execution.arn, timeout=60).status == "FAILED"
    [arn] = [m["mapRunArn"] for m in map_runs.list_runs(client, execution.arn)]
    r.delete(ledger + ":bad")
    client.redrive_execution(execution.arn)
    done = client.wait(execution.arn, timeout=60)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    out = json.loads(done.output or "")
    assert out["MapRunArn"] == arn
    manifest = json.loads((files / "data" / out["ResultWriterDetails"]["Key"]).read_text())
    assert manifest["ResultFiles"]["FAILED"] == []
    entries = [e for f in manifest["ResultFiles"]["SUCCEEDED"]
               for e in json.loads((files / "data" / f["Key"]).read_text())]
    assert sorted(json.loads(e["Input"])["n"] for e in entries) == list(range(6))
    assert all(e["Status"] == "SUCCEEDED" for e in entries)
    # (the failed items, and any the Map Run's failure aborted, were redriven once)
    redriven = {json.loads(e["Input"])["n"] for e in entries if e["RedriveCount"] == 1}
    assert {1, 4} <= redriven and {e["RedriveCount"] for e in entries} <= {0, 1}
    assert map_runs.describe(client, arn)["executionCounts"]["resultsWritten"] == 6


def test_a_map_run_recorded_before_redrive_tracking_is_run_again_as_a_new_one(
    reader_worker: Worker, redis_url: str, unique: str, files: Path
) -> None:
    """A Map Run whose record lacks `redrivable` (recorded before its failed children were
    kept) cannot be reopened: the redriven parent enters the Map again, a new Map Run."""
    from engine.runtime.map_runs import run_id_of
    from engine.store import keys

    key = f"{unique}-old.jsonl"
    write_items(files, key, 3)
    ledger = f"test:ledger:{unique}"
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    r.sadd(ledger + ":bad", "1")
    work = {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:"
            "MapRunItemLambda", "End": True}
    definition = machine(key, work=work)
    definition["States"]["Each"]["ItemSelector"] = {"n.$": "$$.Map.Item.Value.n",
                                                    "ledger": ledger}
    client = connect(Settings(redis_url=redis_url))
    client.create_state_machine(f"MRO{unique}", definition)
    execution = client.start_execution(f"MRO{unique}", {})
    assert client.wait(execution.arn, timeout=60).status == "FAILED"
    [arn] = [m["mapRunArn"] for m in map_runs.list_runs(client, execution.arn)]
    eid = execution.arn.split(":execution:", 1)[1]
    assert r.hdel(keys.map_run(eid, run_id_of(arn)), "redrivable") == 1
    r.delete(ledger + ":bad")
    client.redrive_execution(execution.arn)
    done = client.wait(execution.arn, timeout=60)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    runs = [m["mapRunArn"] for m in map_runs.list_runs(client, execution.arn)]
    assert len(runs) == 2 and arn in runs
    types = [e["type"] for e in client.get_history(execution.arn)]
    assert "MapRunRedriven" not in types and types.count("MapRunStarted") == 2
