"""Printing for the CLI: results to stdout, problems and progress to stderr, `--json` for
scripts."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    # soft_wrap: an ARN in a message must stay one line that can be copied, whatever the
    # terminal's width (rich would otherwise break it at 80 columns).
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


_STATUS_STYLES = {
    "SUCCEEDED": "green",
    "FAILED": "red",
    "TIMED_OUT": "red",
    "ABORTED": "yellow",
    "RUNNING": "cyan",
}


def status_text(status: str) -> Text:
    return Text(status, style=f"bold {_STATUS_STYLES.get(status, '')}".strip())


def event_style(event_type: str) -> str:
    if event_type.endswith(("Failed", "TimedOut", "Aborted", "StartFailed", "ScheduleFailed")):
        return "red"
    if event_type.startswith("Execution") or event_type.endswith("Succeeded"):
        return "green" if event_type.endswith("Succeeded") else "bold"
    if event_type.endswith("Entered"):
        return "cyan"
    return ""


def _clip(value: Any, width: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def event_details(event: dict[str, Any]) -> tuple[str, str]:
    """(state name, one readable line of the other details) of an event."""
    for key, details in event.items():
        if key.endswith("EventDetails") and isinstance(details, dict):
            name = str(details.get("name", ""))
            parts = []
            for field in ("index", "length", "resource", "error", "cause", "output", "input"):
                if field in details:
                    parts.append(f"{field}={_clip(details[field])}")
            return name, " ".join(parts)
    return "", ""


def event_summary(event: dict[str, Any]) -> str:
    """One readable line of an event's details."""
    name, details = event_details(event)
    return f"name={name} {details}".strip() if name else details


def timestamp(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00")).timestamp()


def elapsed(event: dict[str, Any], start: float) -> str:
    return f"+{timestamp(event) - start:.3f}s"


def history_table(events: list[dict[str, Any]]) -> Table:
    """The events as a table: id, time since the start, type, state, details."""
    table = Table(show_header=True, header_style="bold", expand=False, box=None, pad_edge=False)
    table.add_column("id", justify="right")
    table.add_column("time", justify="right")
    table.add_column("type", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("details", overflow="fold")
    start = timestamp(events[0]) if events else 0.0
    for e in events:
        name, details = event_details(e)
        kind = Text(e["type"], style=event_style(e["type"]))
        table.add_row(str(e["id"]), elapsed(e, start), kind, name, details)
    return table


def event_line(event: dict[str, Any], start: float) -> Text:
    """One live progress line of an event: id, time since the start, type, state, details."""
    name, details = event_details(event)
    line = Text(f"{event['id']:>4} {elapsed(event, start):>9}  ")
    line.append(f"{event['type']:<26}", style=event_style(event["type"]))
    line.append(f" {name:<18}", style="bold")
    if details:
        line.append(f" {_clip(details, 60)}", style="dim")
    return line
