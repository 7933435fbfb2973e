"""The `sfn` command: in-process through typer's CliRunner where no worker is needed or
the session's worker serves, and as real subprocesses for `sfn run` (the fresh-clone path:
embedded redis-server and its own worker) and `sfn serve`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from typer.testing import CliRunner

from engine.cli import app, executions, machines, serve  # noqa: F401  (register the commands)
from engine.embedded import free_port

ROOT = Path(__file__).resolve().parent.parent
SFN = str(Path(sys.executable).parent / "sfn")
ORDER = "workflows/order_processing.asl.json"

runner = CliRunner()


def sfn(*args: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(app, list(args), env=env)


# --- no Redis needed -------------------------------------------------------------------------


def test_validate_ok_and_every_problem_with_its_location(tmp_path: Path) -> None:
    ok = sfn("validate", ORDER)
    assert ok.exit_code == 0 and "OK" in ok.stdout
    bad = tmp_path / "bad.asl.json"
    bad.write_text(json.dumps({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "Nowhere"}, "B": {"Type": "Bogus", "End": True}}}))
    result = sfn("validate", str(bad))
    assert result.exit_code == 1 and result.stdout == ""
    assert f"{bad}:/States/A/Next:" in result.stderr and f"{bad}:/States/B/Type:" in result.stderr
    as_json = json.loads(sfn("validate", str(bad), "--json").stdout)
    assert as_json["result"] == "FAIL"
    assert {d["location"] for d in as_json["diagnostics"]} >= {"/States/A/Next", "/States/B/Type"}
    syntax = tmp_path / "syntax.json"
    syntax.write_text('{"StartAt": ')
    result = sfn("validate", str(syntax))
    assert result.exit_code == 1 and "INVALID_JSON_DESCRIPTION" in result.stderr
    missing = sfn("validate", str(tmp_path / "none.json"))
    assert missing.exit_code == 1 and "none.json" in missing.stderr


def test_graph_as_mermaid_dot_and_json(tmp_path: Path) -> None:
    mermaid = sfn("graph", ORDER)
    assert mermaid.exit_code == 0 and mermaid.stdout.startswith("flowchart TD")
    assert '("ProcessOrder")' in mermaid.stdout
    dot = sfn("graph", ORDER, "--format", "dot")
    assert dot.exit_code == 0 and dot.stdout.startswith('digraph "order_processing" {')
    data = json.loads(sfn("graph", ORDER, "-f", "json").stdout)
    assert {n["name"] for n in data["nodes"] if n["name"]} == {"ProcessOrder", "SendEmail"}
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    result = sfn("graph", str(broken))
    assert result.exit_code == 1 and "error" in result.stderr


def test_help_lists_every_command() -> None:
    result = sfn("--help")
    for command in ("validate", "create", "update", "run", "start", "describe", "history",
                    "list", "stop", "serve", "graph"):
        assert command in result.stdout


# --- against the test Redis and the session's worker -----------------------------------------


@pytest.mark.redis
@pytest.mark.worker
def test_create_update_start_describe_history_list_stop(
    worker: Any, redis_url: str, unique: str, tmp_path: Path
) -> None:
    env = {"REDIS_URL": redis_url}
    name = f"Cli{unique}"
    created = sfn("create", ORDER, "--name", name, "--tag", "team=orders", "--json", env=env)
    assert created.exit_code == 0, created.stderr
    assert json.loads(created.stdout)["stateMachineArn"].endswith(f":stateMachine:{name}")
    assert sfn("create", ORDER, "--name", name, env=env).exit_code == 0  # same again: no-op

    wait = tmp_path / "wait.asl.json"
    wait.write_text(json.dumps(
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}}))
    conflict = sfn("create", str(wait), "--name", name, env=env)
    assert conflict.exit_code == 1 and "State Machine Already Exists" in conflict.stderr

    input_file = tmp_path / "input.json"
    input_file.write_text('{"orderId": "7"}')
    started = sfn("start", name, "--input", f"@{input_file}", "--name", "o-7", env=env)
    assert started.exit_code == 0, started.stderr
    arn = started.stdout.strip()
    assert arn.endswith(f":execution:{name}:o-7")
    deadline = time.monotonic() + 30
    while json.loads(sfn("describe", arn, "--json", env=env).stdout)["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    described = sfn("describe", arn, env=env)
    assert "status: SUCCEEDED" in described.stdout and '"orderId":"7"' in described.stdout

    history = sfn("history", arn, env=env)
    assert history.exit_code == 0
    for text in ("ExecutionStarted", "TaskStateEntered", "ProcessOrder", "SendEmail",
                 "ExecutionSucceeded"):
        assert text in history.stdout
    events = json.loads(sfn("history", arn, "--json", env=env).stdout)
    assert events[-1]["type"] == "ExecutionSucceeded"

    updated = sfn("update", str(wait), "--name", name, env=env)
    assert updated.exit_code == 0 and "(revision 2)" in updated.stdout
    long_arn = sfn("start", name, env=env).stdout.strip()
    listed = sfn("list", name, "--status", "RUNNING", "--json", env=env)
    assert [e["executionArn"] for e in json.loads(listed.stdout)] == [long_arn]
    table = sfn("list", name, env=env)
    assert "RUNNING" in table.stdout and "SUCCEEDED" in table.stdout
    stopped = sfn("stop", long_arn, "--error", "Cancelled", env=env)
    assert stopped.exit_code == 0 and "ABORTED" in stopped.stdout

    missing = sfn("describe", f"{name}:nope", env=env)
    assert missing.exit_code == 1 and "Execution Does Not Exist" in missing.stderr
    assert missing.stdout == ""


# --- subprocesses ------------------------------------------------------------------------------


def _subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SFN_START_WORKER")}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


@pytest.mark.redis
@pytest.mark.worker
def test_sfn_run_from_scratch_starts_redis_and_a_worker(tmp_path: Path) -> None:
    """The README's first command: no REDIS_URL, so the embedded redis-server and a worker."""
    data = tmp_path / "sfn-data"
    env = _subprocess_env(SFN_DATA_DIR=str(data))
    try:
        result = subprocess.run(
            [SFN, "run", ORDER, "--input", '{"orderId": "12345"}', "--name", "first"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
        )
        assert result.returncode == 0, result.stderr + result.stdout
        assert "status: SUCCEEDED" in result.stdout
        assert 'output: {"status":"Email Sent","orderId":"12345"}' in result.stdout
        # Live progress went to stderr, event by event.
        assert "started arn:aws:states:" in result.stderr and "worker started" in result.stderr
        for text in ("ExecutionStarted", "LambdaFunctionSucceeded", "ExecutionSucceeded"):
            assert text in result.stderr
        # From another directory, with nothing of the checkout on the path: the worker it
        # starts comes from the installed package (tasks.worker), not from ./worker.py.
        elsewhere = {k: v for k, v in env.items() if k != "PYTHONPATH"}
        as_json = subprocess.run(
            [SFN, "run", str(ROOT / ORDER), "--input", '{"orderId": "2"}', "--json"],
            cwd=tmp_path, env=elsewhere, capture_output=True, text=True, timeout=180,
        )
        assert as_json.returncode == 0, as_json.stderr
        assert json.loads(json.loads(as_json.stdout)["output"])["orderId"] == "2"
    finally:
        port_file = data / "redis.port"
        if port_file.exists():  # stop the embedded redis-server this test caused to start
            try:
                redis.Redis(port=int(port_file.read_text())).shutdown(nosave=True)
            except redis.ConnectionError:
                pass


@pytest.mark.redis
def test_sfn_serve_answers_boto3(redis_url: str, tmp_path: Path) -> None:
    boto3 = pytest.importorskip("boto3")
    port = free_port()
    process = subprocess.Popen(
        [SFN, "serve", "--port", str(port), "--no-worker"],
        cwd=ROOT, env=_subprocess_env(REDIS_URL=redis_url), stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert f"sfn API on http://127.0.0.1:{port}" in line, line
        assert line.rstrip().endswith(f"web view on http://127.0.0.1:{port}/ui/"), line
        client = boto3.client("stepfunctions", endpoint_url=f"http://127.0.0.1:{port}",
                              region_name="us-east-1", aws_access_key_id="x",
                              aws_secret_access_key="x")
        assert "stateMachines" in client.list_state_machines()
    finally:
        process.terminate()
        process.wait(timeout=20)
