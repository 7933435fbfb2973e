"""`sfn task success | failure | heartbeat`: answer a task token from the shell (a human
approval, an operator unblocking a callback), as SendTaskSuccess/Failure/Heartbeat do."""

from __future__ import annotations

import typer

from engine.cli import app as sfn
from engine.cli.common import client, read_input
from engine.cli.output import fail, out
from engine.errors import EngineError

app = typer.Typer(
    help="Answer a task token (.waitForTaskToken callbacks and activities).",
    no_args_is_help=True,
)
sfn.add_typer(app, name="task")


@app.command()
def success(
    token: str,
    output: str = typer.Option(
        None, "--output", "-o", help="The task's result: JSON text, or @FILE (default {})."
    ),
) -> None:
    """SendTaskSuccess: the task waiting for TOKEN succeeds with OUTPUT."""
    try:
        client().send_task_success(token, output_text=read_input(output))
    except EngineError as exc:
        fail(f"{exc.code}: {exc}")
    out.print("ok", highlight=False)


@app.command()
def failure(
    token: str,
    error: str = typer.Option(None, "--error", "-e", help="The error name (for Retry/Catch)."),
    cause: str = typer.Option(None, "--cause", "-c", help="A longer explanation."),
) -> None:
    """SendTaskFailure: the task waiting for TOKEN fails with ERROR and CAUSE."""
    try:
        client().send_task_failure(token, error=error, cause=cause)
    except EngineError as exc:
        fail(f"{exc.code}: {exc}")
    out.print("ok", highlight=False)


@app.command()
def heartbeat(token: str) -> None:
    """SendTaskHeartbeat: the task waiting for TOKEN is still being worked on."""
    try:
        client().send_task_heartbeat(token)
    except EngineError as exc:
        fail(f"{exc.code}: {exc}")
    out.print("ok", highlight=False)
