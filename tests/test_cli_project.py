"""The `sfn` command in a user's project: one embedded Redis per project, found from any
subfolder, and `sfn down` to stop it with its workers; `sfn run FILE` with the handlers
beside FILE from any directory; errors a new user can act on (unwrapped ARNs, a bad
`--status`, which Redis was asked)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from typer.testing import CliRunner

from engine.cli import app, down, executions, machines  # noqa: F401  (register the commands)
from engine.cli.common import masked
from engine.embedded import _alive, ensure_embedded, running_port, stop_embedded
from engine.settings import project_root

ROOT = Path(__file__).resolve().parent.parent
SFN = str(Path(sys.executable).parent / "sfn")

FLOW = {"StartAt": "Price", "States": {"Price": {
    "Type": "Task", "End": True,
    "Resource": "arn:aws:lambda:us-east-1:123456789012:function:PriceItem"}}}
HANDLERS = """\
from engine.handlers import handler


@handler("PriceItem")
def price(event, context):
    return {"price": 3 * event["qty"], "attempt": context.attempt}
"""
WAIT = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": True}}}


def _env(**extra: str) -> dict[str, str]:
    """The environment of a user without REDIS_URL, SFN_DATA_DIR or the checkout on PYTHONPATH."""
    drop = ("REDIS_URL", "SFN_DATA_DIR", "SFN_START_WORKER", "PYTHONPATH", "SFN_HANDLER_MODULES")
    return {**{k: v for k, v in os.environ.items() if k not in drop}, **extra}


def _sfn(cwd: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SFN, *args], cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture
def project(tmp_path: Path) -> Any:
    """A user's project folder (marked by its pyproject.toml); its embedded Redis and
    workers are stopped at the end whatever the test did."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'user-project'\n")
    yield root
    stop_embedded(root / ".sfn")


# --- the project root --------------------------------------------------------------------------


def test_the_project_root_is_the_nearest_folder_upward_with_a_marker(tmp_path: Path) -> None:
    deep = tmp_path / "proj" / "a" / "b"
    deep.mkdir(parents=True)
    assert project_root(deep) == deep  # no marker anywhere up: the folder itself
    (tmp_path / "proj" / "pyproject.toml").write_text("")
    assert project_root(deep) == tmp_path / "proj"
    (tmp_path / "proj" / "a" / ".git").mkdir()
    assert project_root(deep) == tmp_path / "proj" / "a"
    (deep / ".sfn").mkdir()
    assert project_root(deep) == deep


def test_two_processes_at_once_start_one_server(tmp_path: Path) -> None:
    data = tmp_path / ".sfn"
    urls: list[str] = []
    threads = [threading.Thread(target=lambda: urls.append(ensure_embedded(data)))
               for _ in range(3)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(set(urls)) == 1
        assert running_port(data) == int(urls[0].rsplit(":", 1)[1].split("/")[0])
    finally:
        stopped = stop_embedded(data)
    assert stopped.redis_pid is not None and not _alive(stopped.redis_pid)
    assert running_port(data) is None


@pytest.mark.redis
def test_one_embedded_redis_per_project_found_from_any_subfolder(project: Path) -> None:
    deep = project / "a" / "b"
    deep.mkdir(parents=True)
    arn = "arn:aws:states:us-east-1:000000000000:execution:Nope:missing"
    first = _sfn(deep, "describe", arn)
    # Not found, and which Redis was asked: a forgotten REDIS_URL is obvious.
    assert first.returncode == 1
    assert f"the embedded Redis of {project / '.sfn'} on 127.0.0.1:" in first.stderr
    assert "REDIS_URL is not set" in first.stderr
    assert not (deep / ".sfn").exists()
    port = running_port(project / ".sfn")
    assert port is not None
    assert _sfn(project / "a", "list", "--json").returncode == 0
    assert running_port(project / ".sfn") == port  # the same server, not another one
    pid = int(redis.Redis(port=port).info("server")["process_id"])

    stopped = _sfn(deep, "down")
    assert stopped.returncode == 0, stopped.stderr
    assert f"stopped the embedded Redis (pid {pid}, port {port}" in stopped.stdout
    assert not _alive(pid) and running_port(project / ".sfn") is None
    again = _sfn(deep, "down")
    assert again.returncode == 0 and "no embedded Redis running" in again.stdout


@pytest.mark.redis
@pytest.mark.worker
def test_sfn_down_stops_the_worker_a_killed_run_left_behind(project: Path) -> None:
    (project / "wait.asl.json").write_text(json.dumps(WAIT))
    run = subprocess.Popen([SFN, "run", "wait.asl.json"], cwd=project, env=_env(),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert run.stderr is not None
    try:
        deadline = time.monotonic() + 120
        for line in run.stderr:
            if line.startswith("started arn:"):
                break
            assert time.monotonic() < deadline
    finally:
        run.send_signal(signal.SIGKILL)  # no clean-up: its worker is orphaned
        run.wait()
    pids = [int(p.read_text().split()[0]) for p in (project / ".sfn" / "workers").glob("*.pid")]
    assert len(pids) == 1 and _alive(pids[0])
    redis_port = running_port(project / ".sfn")
    assert redis_port is not None

    result = subprocess.run(["make", "-f", str(ROOT / "Makefile"), f"BIN={Path(SFN).parent}",
                             "stop"], cwd=project, env=_env(), capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert f"stopped worker (pid {pids[0]})" in result.stdout
    assert not _alive(pids[0])
    assert running_port(project / ".sfn") is None
    assert not list((project / ".sfn" / "workers").glob("*.pid"))


# --- sfn run FILE: the handlers beside FILE ----------------------------------------------------


@pytest.mark.redis
@pytest.mark.worker
def test_sfn_run_loads_the_handlers_beside_the_file_from_any_directory(project: Path) -> None:
    flows = project / "my-flows"  # not a valid module name: only the file's own folder works
    flows.mkdir()
    (flows / "flow.asl.json").write_text(json.dumps(FLOW))
    (flows / "flow.py").write_text(HANDLERS)
    elsewhere = project / "elsewhere"
    elsewhere.mkdir()
    result = _sfn(elsewhere, "run", "../my-flows/flow.asl.json", "--input", '{"qty": 2}',
                  "--json")
    assert result.returncode == 0, result.stderr
    described = json.loads(result.stdout)
    assert described["status"] == "SUCCEEDED"
    # context.attempt counts from 0 (the first attempt), as the README says.
    assert json.loads(described["output"]) == {"price": 6, "attempt": 0}

    missing = dict(FLOW)
    missing["States"] = {"Price": {**FLOW["States"]["Price"],  # type: ignore[dict-item]
                                   "Resource": "arn:aws:lambda:us-east-1:1:function:Missing"}}
    (flows / "other.asl.json").write_text(json.dumps(missing))
    (flows / "other.py").write_text(HANDLERS.replace("PriceItem", "Other"))
    unknown = _sfn(elsewhere, "run", "../my-flows/other.asl.json")
    assert unknown.returncode == 1
    message = unknown.stderr
    assert "no handler is registered for 'Missing'" in message
    assert f"handlers were looked for in: module 'other' ({flows})" in message
    assert "SFN_HANDLER_MODULES=workflows.order_processing,workflows.order_jsonata" in message
    assert f'`@handler("Missing")` (from engine.handlers import handler) in {flows}/other.py' in (
        message)


# --- errors ------------------------------------------------------------------------------------


runner = CliRunner()


@pytest.mark.redis
def test_errors_name_the_redis_keep_arns_whole_and_check_the_status(redis_url: str) -> None:
    env = {"REDIS_URL": redis_url}
    arn = ("arn:aws:states:us-east-1:000000000000:execution:AStateMachineWithAVeryLongName:"
           "an-execution-name-long-enough-to-pass-eighty-columns")
    result = runner.invoke(app, ["describe", arn], env=env)
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert "\n" not in line and arn in line  # one line, whatever the width
    assert f"(looked in REDIS_URL={redis_url})" in line

    bogus = runner.invoke(app, ["list", "--status", "BOGUS"], env=env)
    assert bogus.exit_code == 2 and bogus.stdout == ""
    assert ("unknown status 'BOGUS': use one of RUNNING, SUCCEEDED, FAILED, TIMED_OUT, "
            "ABORTED, PENDING_REDRIVE") in bogus.stderr
    assert runner.invoke(app, ["list", "--status", "succeeded"], env=env).exit_code == 0


def test_a_printed_redis_url_hides_its_password() -> None:
    assert masked("redis://:s3cret@db:6379/0") == "redis://:***@db:6379/0"
    assert masked("redis://app:s3cret@db:6379/0") == "redis://app:***@db:6379/0"
    assert masked("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_sfn_down_stops_only_the_process_it_recorded(tmp_path: Path) -> None:
    """A pid file that outlived its worker must not stop a process that reuses the pid."""
    from engine.embedded import register_worker

    data = tmp_path / ".sfn"
    data.mkdir()
    stand_in = subprocess.Popen(["bash", "-c", "exec -a celery-stand-in sleep 60"])
    try:
        time.sleep(0.2)  # let exec name it
        (data / "workers").mkdir()
        (data / "workers" / f"{stand_in.pid}.pid").write_text(f"{stand_in.pid} 1")  # another
        assert stop_embedded(data).workers == ()
        assert stand_in.poll() is None
        register_worker(data, stand_in.pid)  # now it is the one recorded
        assert stop_embedded(data).workers == (stand_in.pid,)
        stand_in.wait(timeout=10)  # (already reaped by stop_embedded: our own child)
        assert not _alive(stand_in.pid)
    finally:
        if stand_in.poll() is None:
            stand_in.kill()
            stand_in.wait()
