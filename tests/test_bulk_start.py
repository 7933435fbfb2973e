"""Bulk starts: `Client.start_executions` writes a batch of executions in one Redis round
trip and starts each exactly as `start_execution` would; `sfn start --batch FILE`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from engine.cli import app, executions, machines  # noqa: F401  (register the commands)
from engine.client import Client
from engine.errors import ExecutionAlreadyExists, InvalidExecutionInput, ValidationException
from engine.starts import batch_inputs
from engine.store.memory import MemoryStore
from engine.store.redis_store import RedisStore

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


class Queue:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any], *, countdown: float = 0.0) -> None:
        self.sent.append(message)


def test_a_batch_starts_each_execution_as_a_single_start_would() -> None:
    store, queue = MemoryStore(), Queue()
    client = Client(store, queue)
    client.create_state_machine("M", PASS)
    records = client.start_executions("M", [{"i": i} for i in range(5)], batch_size=2)
    assert [json.loads(r.input) for r in records] == [{"i": i} for i in range(5)]
    assert [m["x"] for m in queue.sent] == [r.eid for r in records]
    assert {m["k"] for m in queue.sent} == {"start"}
    single = client.start_execution("M", {"i": 9})
    for record in records:
        stored = store.get_execution(record.eid)
        assert stored is not None and stored.status == "RUNNING"
        assert [e["type"] for e in store.history(record.eid)] == ["ExecutionStarted"]
        assert store.history(record.eid)[0].keys() == store.history(single.eid)[0].keys()


def test_names_are_idempotent_and_a_conflict_is_reported_after_the_others_start() -> None:
    store, queue = MemoryStore(), Queue()
    client = Client(store, queue)
    client.create_state_machine("M", PASS)
    first = client.start_executions("M", [1, 2], names=["a", "b"])
    again = client.start_executions("M", [1, 2], names=["a", "b"])
    assert [r.arn for r in again] == [r.arn for r in first]
    assert len(queue.sent) == 2  # nothing sent twice
    with pytest.raises(ExecutionAlreadyExists, match=":execution:M:b'"):
        client.start_executions("M", [3, 99, 4], names=["c", "b", "d"])
    assert store.get_execution("M:c") is not None and store.get_execution("M:d") is not None
    with pytest.raises(ValidationException, match="2 names for 3 inputs"):
        client.start_executions("M", [1, 2, 3], names=["x", "y"])


def test_one_round_trip_per_batch_on_redis(redis_url: str) -> None:
    store = RedisStore.from_url(redis_url.rsplit("/", 1)[0] + "/14")
    store.r.flushdb()
    queue = Queue()
    client = Client(store, queue)
    client.create_state_machine("Bulk", PASS)
    client.start_execution("Bulk", {})  # loads the script (a first NOSCRIPT costs a retry)
    queue.sent.clear()
    pipelines = 0
    make = store.r.pipeline

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal pipelines
        pipelines += 1
        return make(*args, **kwargs)

    store.r.pipeline = counting  # type: ignore[method-assign]
    records = client.start_executions("Bulk", [{"i": i} for i in range(120)], batch_size=50)
    store.r.pipeline = make  # type: ignore[method-assign]
    assert pipelines == 3  # 50 + 50 + 20
    assert len({r.eid for r in records}) == 120 and len(queue.sent) == 120
    assert store.count_executions("Bulk") == 121
    for record in records[::17]:
        assert store.get_execution(record.eid) == record
        assert [e["type"] for e in store.history(record.eid)] == ["ExecutionStarted"]
    again = client.start_executions("Bulk", [{"i": 0}], names=[records[0].name])
    assert again == [records[0]]
    store.r.flushdb()


def test_batch_files_are_json_lines_or_an_array_and_bad_lines_are_located() -> None:
    assert batch_inputs('{"a": 1}\n\n[1, 2]\n"x"\n', "f") == ['{"a": 1}', "[1, 2]", '"x"']
    assert batch_inputs(' [{"a": 1}, 2]\n', "f") == ['{"a":1}', "2"]
    assert batch_inputs("[1]\n[2]\n", "f") == ["[1]", "[2]"]
    with pytest.raises(InvalidExecutionInput, match="f, line 2: the input is not JSON"):
        batch_inputs('{"a": 1}\n{nope\n', "f")
    with pytest.raises(InvalidExecutionInput, match="line 1"):
        batch_inputs("NaN\n", "f")


def test_sfn_start_batch(redis_url: str, tmp_path: Path, unique: str) -> None:
    runner = CliRunner()
    env = {"REDIS_URL": redis_url}
    definition = tmp_path / "pass.asl.json"
    definition.write_text(json.dumps(PASS))
    name = f"Batch{unique}"
    assert runner.invoke(app, ["create", str(definition), "--name", name], env=env).exit_code == 0
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text("".join(json.dumps({"n": i}) + "\n" for i in range(4)))
    started = runner.invoke(app, ["start", name, "--batch", str(inputs), "--json"], env=env)
    assert started.exit_code == 0, started.stderr
    arns = [e["executionArn"] for e in json.loads(started.stdout)]
    assert len(arns) == 4 and all(f":execution:{name}:" in a for a in arns)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"n": 1}\n{oops\n')
    refused = runner.invoke(app, ["start", name, "--batch", str(bad)], env=env)
    assert refused.exit_code == 1 and "bad.jsonl, line 2" in refused.stderr
    both = runner.invoke(app, ["start", name, "--batch", str(inputs), "--input", "{}"], env=env)
    assert both.exit_code == 1 and "--batch" in both.stderr
    listed = runner.invoke(app, ["list", name, "--json"], env=env)
    assert len(json.loads(listed.stdout)) == 4  # the refused file started nothing


def test_send_many_publishes_every_message_in_one_batch(redis_url: str, unique: str) -> None:
    import redis as redis_py

    from engine.celery_app import CeleryDispatcher, build_app

    queue_name = f"bulk-idle-{unique}"

    class Idle(CeleryDispatcher):
        def queue(self, message: dict[str, Any]) -> str:
            return queue_name

    dispatcher = Idle(build_app(redis_url), lambda handler: queue_name)
    batch = [{"k": "start", "x": f"M:e{i}", "r": "0", "v": 1} for i in range(5)]
    dispatcher.send_many(batch)
    r = redis_py.Redis.from_url(redis_url, decode_responses=True)
    try:
        raw = r.lrange(queue_name, 0, -1)
        assert len(raw) == 5
        import base64

        bodies = [json.loads(base64.b64decode(json.loads(m)["body"])) for m in raw]
        assert sorted(b[0][0]["x"] for b in bodies) == [f"M:e{i}" for i in range(5)]
    finally:
        r.delete(queue_name)
