"""The `sfn` command. Each group of commands lives in its own module and registers itself
on `app` here; `main` is the console-script entry point."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="sfn",
    help="Amazon States Language state machines on Celery + Redis.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def main() -> None:
    # Importing a command module registers its commands on app.
    from engine.cli import down, executions, machines, serve, tasks, testing  # noqa: F401

    app.add_typer(tasks.app, name="task")

    try:
        from engine.cli import conformance
        app.add_typer(conformance.app, name="conformance")
    except ImportError:
        pass
    from engine.cli.output import err
    from engine.redis_safety import RedisSetupError

    try:
        app()
    except RedisSetupError as exc:  # one line naming the problem, never a traceback
        err.print(f"[bold red]error:[/] {exc.message}", highlight=False, soft_wrap=True)
        raise SystemExit(2) from None
