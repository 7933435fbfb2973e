"""Helpers shared by the command modules: the client, names, options."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import urlsplit, urlunsplit

import typer

from engine.cli.output import fail
from engine.errors import EngineError, ExecutionDoesNotExist, StateMachineDoesNotExist

if TYPE_CHECKING:
    from engine.client import Client

JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON.")
InputOpt = typer.Option(
    None, "--input", "-i", help="Execution input: JSON text, or @FILE to read it (default {})."
)


def client() -> Client:
    """A client over REDIS_URL, or the embedded redis-server (started if needed)."""
    from engine.connect import connect

    return connect()


def masked(url: str) -> str:
    """A URL fit to print: its password replaced by ***."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.rpartition("@")
    user = netloc[0].partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[2]}"))


def redis_in_use() -> str:
    """Which Redis the commands use: REDIS_URL, or the project's embedded one (where)."""
    from engine.embedded import running_port
    from engine.settings import Settings

    settings = Settings.from_env()
    if settings.redis_url:
        return f"REDIS_URL={masked(settings.redis_url)}"
    data_dir = settings.data_dir.resolve()
    port = running_port(data_dir)
    state = f"on 127.0.0.1:{port}" if port else "not running"
    return f"the embedded Redis of {data_dir} {state}; REDIS_URL is not set"


def fail_engine(exc: EngineError) -> NoReturn:
    """Fail with an engine error. A missing execution or state machine also names the
    Redis that was asked: a forgotten `export REDIS_URL=...` looks like that."""
    if isinstance(exc, ExecutionDoesNotExist | StateMachineDoesNotExist):
        fail(f"{exc} (looked in {redis_in_use()})")
    fail(str(exc))


def machine_name(path: Path) -> str:
    """workflows/order_processing.asl.json -> order_processing."""
    name = path.name
    for suffix in (".json", ".asl"):
        name = name.removesuffix(suffix)
    return name


def read_text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        fail(f"{path}: {exc.strerror or exc}")


def read_input(value: str | None) -> str:
    """The input text: as given, `{}` when absent, a file's text for `@FILE`."""
    if value is None:
        return "{}"
    if value.startswith("@"):
        return read_text(Path(value[1:]))
    return value


def interrupt_on_sigterm() -> None:
    """Treat SIGTERM (what process managers send) like Ctrl-C, so `finally` blocks run and
    child processes this command started (a worker) are stopped with it."""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
