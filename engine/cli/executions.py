"""`sfn validate | run | start | describe | history | list | stop | redrive | recover`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table

from engine.cli import app
from engine.cli.common import (
    InputOpt,
    JsonOpt,
    fail_engine,
    interrupt_on_sigterm,
    machine_name,
    read_input,
    read_text,
)
from engine.cli.output import (
    err,
    event_line,
    fail,
    history_table,
    out,
    print_json,
    status_text,
    timestamp,
)
from engine.errors import EngineError


def _client() -> Any:
    from engine.cli.common import client

    return client()


def _machine_name(path: Path) -> str:
    return machine_name(path)


def _handler_module(path: Path) -> tuple[str, Path] | None:
    """The handlers beside a definition (flow.asl.json -> flow.py), wherever `sfn` runs:
    the module's dotted name under the nearest folder upward that is not a package (has no
    __init__.py), and that folder, which goes on the import path. So
    workflows/order_processing.py is `workflows.order_processing`, the name workers import
    it by, and a flow.py in a plain folder is `flow`."""
    candidate = path.resolve().with_name(_machine_name(path) + ".py")
    if not candidate.is_file():
        return None
    root = candidate.parent
    parts = [candidate.stem]
    while (root / "__init__.py").is_file() and root.parent != root:
        parts.insert(0, root.name)
        root = root.parent
    return ".".join(parts), root


def _import_handlers(module: str, root: Path | None) -> None:
    """Import `module` in this process too, so that its handlers are known when the state
    machine is created (its Task resources are checked against them)."""
    import importlib
    import sys

    if root is not None and str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - the user's module: report, do not crash
        fail(f"cannot import the handlers module {module!r}"
             f"{f' (from {root})' if root else ''}: {type(exc).__name__}: {exc}")


def _where_handlers_are(
    module: str | None, root: Path | None, file: Path, names: tuple[str, ...]
) -> str:
    """For an unknown resource: where handlers were looked for, and how to add one."""
    from engine.settings import Settings

    beside = file.resolve().with_name(_machine_name(file) + ".py")
    places = [f"module {module!r}" + (f" ({root})" if root else "") if module
              else f"{beside} (no such file)"]
    places.append("SFN_HANDLER_MODULES=" + ",".join(Settings.from_env().handler_modules))
    places.append("the handlers announced by running workers")
    name = names[0] if names else "NAME"
    return ("handlers were looked for in: " + "; ".join(places) + ". Register one with "
            f"`@handler(\"{name}\")` (from engine.handlers import handler) in {beside}, "
            "in --handlers MODULE, or in a module named in SFN_HANDLER_MODULES")


@app.command()
def validate(
    file: Path,
    type_: str = typer.Option("STANDARD", "--type", help="STANDARD or EXPRESS."),
    json_out: bool = JsonOpt,
) -> None:
    """Check a definition and list every problem with its location."""
    from engine.asl.validation import validate as check
    from engine.feature_support import unsupported_warnings

    # The text, not the parsed value: JSON syntax errors become diagnostics too.
    text = read_text(file)
    problems = check(text, state_machine_type=type_.upper())
    errors = [d for d in problems if d.severity == "ERROR"]
    warnings = _integration_warnings(text)
    if not errors:  # what `sfn create` would refuse, as warnings (engine/feature_support.py)
        problems = [*problems, *unsupported_warnings(read_text(file), type_.upper())]
    if json_out:
        print_json({"result": "FAIL" if errors else "OK",
                    "diagnostics": [{"severity": d.severity, "code": d.code,
                                     "message": d.message, "location": d.location}
                                    for d in problems],
                    "warnings": [{"location": loc, "message": msg} for loc, msg in warnings]})
    else:
        for d in problems:
            err.print(f"{file}:{d.location or '/'}: {d.severity} {d.code}: {d.message}",
                      highlight=False, soft_wrap=True)
        for loc, msg in warnings:
            err.print(f"{file}:{loc}: WARNING {msg}", highlight=False, soft_wrap=True)
        if not errors:
            out.print(f"{file}: OK", highlight=False)
        else:
            err.print(f"{file}: {len(errors)} problem(s)", highlight=False)
    if errors:
        raise typer.Exit(1)


def _integration_warnings(text: str) -> list[tuple[str, str]]:
    """Tasks only a built-in AWS integration serves, unless this environment allows them
    (SFN_AWS_INTEGRATIONS=1; the workers need it too)."""
    import json

    from engine.integrations import resource_warnings
    from engine.settings import Settings

    if Settings.from_env().aws_integrations:
        return []
    try:
        return resource_warnings(json.loads(text))
    except ValueError:
        return []


@app.command()
def run(
    file: Path,
    input: str = InputOpt,
    name: str = typer.Option(None, help="Execution name (default: a UUID)."),
    handlers: str = typer.Option(
        None, help="Module with the @handler functions (default: the .py beside FILE)."
    ),
    timeout: float = typer.Option(300.0, help="Seconds to wait for the end."),
    history: bool = typer.Option(False, "--history", help="Print the history table at the end."),
    json_out: bool = JsonOpt,
) -> None:
    """Create or update FILE's state machine, run it, follow it live, print the result.

    No REDIS_URL: the embedded redis-server and a Celery worker process are started.

    SFN_START_WORKER=1 starts a worker for a configured REDIS_URL too.
    """
    from engine.connect import resolve
    from engine.errors import UnknownResource
    from engine.handlers import default_registry

    text = read_text(file)
    beside = None if handlers else _handler_module(file)
    module, root = (handlers, None) if handlers else (beside or (None, None))
    if module is not None:
        _import_handlers(module, root)
    settings = resolve()
    worker = None
    if os.environ.get("REDIS_URL") is None or os.environ.get("SFN_START_WORKER"):
        interrupt_on_sigterm()
        worker = _start_worker(settings.redis_url or "", module, root)
    try:
        from engine.connect import connect

        client = connect(settings, registry=default_registry if module else None)
        sm = _machine_name(file)
        try:
            client.create_state_machine(sm, text)
        except UnknownResource as exc:
            fail(f"{exc}\n{_where_handlers_are(module, root, file, exc.names)}")
        with _no_worker_warnings():
            execution = client.start_execution(sm, input_text=read_input(input), name=name)
        err.print(f"started {execution.arn}", highlight=False, soft_wrap=True)
        record, events = _follow(client, execution.arn, timeout, quiet=json_out)
    except EngineError as exc:
        fail_engine(exc)
    finally:
        if worker is not None:
            _stop_worker(worker, settings)
    if json_out:
        print_json(_describe(record))
    else:
        if history:
            out.print(history_table(events))
        out.print("status:", status_text(record.status), highlight=False)
        if record.output is not None:
            out.print(f"output: {record.output}", highlight=False, soft_wrap=True)
        if record.error is not None or record.cause is not None:
            out.print(f"error: {record.error}\ncause: {record.cause}", highlight=False,
                      soft_wrap=True)
    if record.status != "SUCCEEDED":
        raise typer.Exit(2)


def _start_worker(
    redis_url: str, module: str | None, root: Path | None = None
) -> subprocess.Popen[bytes]:
    """A `celery -A tasks.worker worker` child process serving `module`'s handlers (besides
    SFN_HANDLER_MODULES), once it is consuming. Its log goes to SFN_DATA_DIR/worker.log,
    and its pid to SFN_DATA_DIR/workers/ (`sfn down` stops it should this command die).
    The worker app comes from the installed package; `root` (where `module` is found) and
    the current directory are on its path for the user's own handler modules."""
    from engine.embedded import register_worker
    from engine.settings import Settings

    path = os.pathsep.join(
        p for p in (str(root) if root else None, os.getcwd(), os.environ.get("PYTHONPATH")) if p
    )
    env = {**os.environ, "REDIS_URL": redis_url, "PYTHONPATH": path}
    modules = [m for m in (os.environ.get("SFN_HANDLER_MODULES"), module) if m]
    if modules:
        env["SFN_HANDLER_MODULES"] = ",".join(modules)
    log = Settings.from_env().data_dir / "worker.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    offset = log.stat().st_size if log.exists() else 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tasks.worker", "worker", "-Q", "sfn",
         "--concurrency", "2", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
         "-n", f"sfn-run-{os.getpid()}@%h"],
        env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )
    register_worker(log.parent, proc.pid)
    # Celery logs "<hostname> ready." once its consumer is attached to the queue. (Waiting
    # for the handlers' announcement instead would mean clearing the other workers' ones.)
    deadline = time.monotonic() + 60
    while True:
        with log.open("rb") as f:
            f.seek(offset)
            if b" ready." in f.read():
                break
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.terminate()
            fail(f"the Celery worker did not start; see {log}")
        time.sleep(0.1)
    _await_announcement(redis_url, proc.pid)
    err.print(f"worker started (pid {proc.pid}, log {log})", highlight=False, soft_wrap=True)
    return proc


def _stop_worker(proc: subprocess.Popen[bytes], settings: Any) -> None:
    from engine.embedded import unregister_worker

    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    unregister_worker(settings.data_dir, proc.pid)


def _await_announcement(redis_url: str, pid: int, timeout: float = 5.0) -> None:
    """The worker announces itself (engine/fleet.py) from a thread as it starts: wait a
    moment for it, so that the start's no-worker check sees this worker."""
    from engine.fleet import Fleet
    from engine.store.redis_client import client_from_url

    fleet = Fleet(client_from_url(redis_url, decode_responses=True))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not any(w.pid == pid for w in fleet.live()):
        time.sleep(0.1)


def _follow(
    client: Any, arn: str, timeout: float, *, quiet: bool
) -> tuple[Any, list[dict[str, Any]]]:
    """Poll until the execution ends; unless quiet, print each event as it happens (on
    stderr) under a live line naming the running states and the time so far."""
    events: list[dict[str, Any]] = []
    running: dict[str, None] = {}  # states entered and not yet exited, in order
    began = time.monotonic()
    deadline = began + timeout
    spinner = Spinner("dots", text="starting")
    with Live(spinner, console=err, transient=True, refresh_per_second=10,
              redirect_stdout=False, redirect_stderr=False) as live:
        while True:
            record = client.describe_execution(arn)
            new = client.get_history(arn, len(events))
            events.extend(new)
            t0 = timestamp(events[0]) if events else 0.0
            for event in new:
                _track(running, event)
                if not quiet:
                    live.console.print(event_line(event, t0), highlight=False, soft_wrap=True)
            now = ", ".join(list(running)[-3:]) or "-"
            spinner.update(text=f"{record.status} {time.monotonic() - began:.1f}s  "
                                f"{len(events)} events  running: {now}")
            if record.status != "RUNNING":
                # The status was read before the history: print what came in between.
                for event in client.get_history(arn, len(events)):
                    events.append(event)
                    if not quiet:
                        live.console.print(event_line(event, t0), highlight=False, soft_wrap=True)
                return record, events
            if time.monotonic() > deadline:
                fail(f"{arn} is still RUNNING after {timeout}s")
            time.sleep(0.1)


def _track(running: dict[str, None], event: dict[str, Any]) -> None:
    details = event.get("stateEnteredEventDetails") or event.get("stateExitedEventDetails")
    if not isinstance(details, dict) or "name" not in details:
        return
    if event["type"].endswith("Entered"):
        running[details["name"]] = None
    else:
        running.pop(details["name"], None)


@contextmanager
def _no_worker_warnings() -> Iterator[None]:
    """Print the client's NoWorkerWarnings (engine/fleet.py) as plain `warning:` lines."""
    from engine.fleet import NoWorkerWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NoWorkerWarning)
        yield
    for warning in caught:
        if issubclass(warning.category, NoWorkerWarning):
            err.print(f"warning: {warning.message}", highlight=False, soft_wrap=True)
        else:
            warnings.showwarning(
                warning.message, warning.category, warning.filename, warning.lineno
            )


def _describe(record: Any) -> dict[str, Any]:
    out_: dict[str, Any] = {
        "executionArn": record.arn,
        "stateMachineArn": record.state_machine_arn,
        "name": record.name,
        "status": record.status,
        "startDate": record.start,
        "input": record.input,
    }
    for key, value in (("stopDate", record.stop), ("output", record.output),
                       ("error", record.error), ("cause", record.cause)):
        if value is not None:
            out_[key] = value
    if record.redrive_count:
        out_["redriveCount"] = record.redrive_count
        out_["redriveDate"] = record.redrive_date
    return out_


BatchOpt = typer.Option(
    None, "--batch", metavar="FILE",
    help="Start one execution per input in FILE (JSON Lines: one JSON input per line; or "
    "one JSON array of inputs; - reads stdin), one round trip per batch of executions; "
    "print their ARNs.",
)


@app.command()
def start(
    state_machine: str,
    input: str = InputOpt,
    name: str = typer.Option(None, help="Execution name (default: a UUID)."),
    batch: Path = BatchOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Start an execution of a state machine already created; print its ARN."""
    if batch is not None:
        if input is not None or name is not None:
            fail("--batch takes the inputs from its file: not with --input or --name")
        _start_batch(state_machine, batch, json_out)
        return
    try:
        with _no_worker_warnings():
            record = _client().start_execution(
                state_machine, input_text=read_input(input), name=name
            )
    except EngineError as exc:
        fail_engine(exc)
    if json_out:
        print_json({"executionArn": record.arn, "startDate": record.start})
    else:
        out.print(record.arn, highlight=False, soft_wrap=True)


def _start_batch(state_machine: str, path: Path, json_out: bool) -> None:
    from engine.starts import batch_inputs

    text = sys.stdin.read() if str(path) == "-" else read_text(path)
    try:
        inputs = batch_inputs(text, str(path))
        records = _client().start_executions(state_machine, [], input_texts=inputs)
    except EngineError as exc:
        fail_engine(exc)
    if json_out:
        print_json([{"executionArn": r.arn, "startDate": r.start} for r in records])
    else:
        for record in records:
            out.print(record.arn, highlight=False, soft_wrap=True)


@app.command()
def describe(execution: str, json_out: bool = JsonOpt) -> None:
    """Status, input, output, error and dates of an execution."""
    try:
        client = _client()
        record = client.describe_execution(execution)
    except EngineError as exc:
        fail_engine(exc)
    described = _describe(record)
    if record.status == "RUNNING":  # Tasks waiting for a worker that serves their handler
        waiting = [t.describe() for t in client.waiting_tasks(record.arn)]
        if waiting:
            described["waitingForWorkers"] = waiting
    if json_out:
        print_json(described)
    else:
        for key, value in described.items():
            shown = _local_time(value) if key in ("startDate", "stopDate", "redriveDate") else value
            out.print(f"{key}: ", status_text(value) if key == "status" else shown,
                      sep="", highlight=False, soft_wrap=True)


@app.command()
def history(execution: str, json_out: bool = JsonOpt) -> None:
    """The execution's events, as a table (or JSON)."""
    try:
        events = _client().get_history(execution)
    except EngineError as exc:
        fail_engine(exc)
    if json_out:
        print_json(events)
    else:
        out.print(history_table(events))


#: AWS's ExecutionStatus values (ListExecutions' statusFilter).
STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")


@app.command("list")
def list_executions(
    state_machine: str = typer.Argument(None, help="A state machine name or ARN (default: all)."),
    status: str = typer.Option(None, help=", ".join(STATUSES) + " (any case)."),
    limit: int = typer.Option(20, help="At most this many, newest first."),
    json_out: bool = JsonOpt,
) -> None:
    """Executions, newest first."""
    if status is not None and status.upper() not in STATUSES:
        # Not an empty list: a mistyped filter would look like "no such executions".
        fail(f"unknown status {status!r}: use one of {', '.join(STATUSES)}", code=2)
    try:
        records = _client().list_executions(
            state_machine, status=status.upper() if status else None, limit=limit
        )
    except EngineError as exc:
        fail_engine(exc)
    if json_out:
        print_json([_describe(r) for r in records])
        return
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("status", "started", "duration", "execution ARN"):
        table.add_column(column, no_wrap=column != "execution ARN", overflow="fold")
    for r in records:
        duration = f"{(r.stop or time.time()) - r.start:.1f}s"
        table.add_row(status_text(r.status), _local_time(r.start), duration, r.arn)
    out.print(table)


def _local_time(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


@app.command()
def stop(
    execution: str,
    error: str = typer.Option(None),
    cause: str = typer.Option(None),
) -> None:
    """Abort a running execution."""
    try:
        record = _client().stop_execution(execution, error=error, cause=cause)
    except EngineError as exc:
        fail_engine(exc)
    out.print(f"{record.status} {record.arn}", highlight=False)


@app.command()
def redrive(
    execution: str,
    client_token: str = typer.Option(
        None, "--client-token", help="Repeat-safe: the same token within 15 minutes answers "
        "the same redrive again (AWS's clientToken)."),
) -> None:
    """Restart a FAILED, TIMED_OUT or ABORTED execution from the state that did not
    complete; what had succeeded keeps its results (RedriveExecution)."""
    try:
        record = _client().redrive_execution(execution, client_token=client_token)
    except EngineError as exc:
        fail_engine(exc)
    out.print(f"{record.status} {record.arn} (redrive {record.redrive_count})", highlight=False)


@app.command()
def recover(
    watch: bool = typer.Option(False, help="Keep sweeping until interrupted."),
) -> None:
    """Send every due or lost message now (what the workers' sweep does continuously)."""
    from engine.celery_app import CeleryDispatcher, HandlerQueues, build_app
    from engine.connect import resolve
    from engine.runtime.recovery import Sweeper
    from engine.store.redis_store import RedisStore

    settings = resolve()
    assert settings.redis_url is not None
    store = RedisStore.from_url(settings.redis_url)
    dispatcher = CeleryDispatcher(
        build_app(settings.broker), HandlerQueues({}, store.announced_handlers)
    )
    sweeper = Sweeper(store, dispatcher, redeliver_seconds=settings.redeliver_seconds)
    # Look at every execution with pending work, not only those the index says are due.
    for eid in store.running_execution_ids():
        store.reschedule_execution(eid, 0.0)
    total = 0
    while True:
        total += sweeper.sweep_once()
        if sweeper.last_looked == 0:
            if not watch:
                break
            time.sleep(settings.sweep_interval)
    out.print(f"re-sent {total} message(s)")

