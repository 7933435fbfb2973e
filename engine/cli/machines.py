"""`sfn create | update | graph`: state machines from definition files."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from engine.cli import app
from engine.cli.common import JsonOpt, client, fail_engine, machine_name, read_text
from engine.cli.output import fail, out, print_json
from engine.errors import EngineError

NameOpt = typer.Option(None, "--name", "-n", help="State machine name (default: FILE's name).")
TagOpt = typer.Option(None, "--tag", help="KEY=VALUE; repeat for more tags.")


def _tags(values: list[str] | None) -> dict[str, str]:
    tags: dict[str, str] = {}
    for value in values or []:
        key, sep, tag_value = value.partition("=")
        if not sep or not key:
            fail(f"--tag wants KEY=VALUE, not {value!r}")
        tags[key] = tag_value
    return tags


@app.command()
def create(
    file: Path,
    name: str = NameOpt,
    type_: str = typer.Option("STANDARD", "--type", help="STANDARD or EXPRESS (immutable)."),
    role_arn: str = typer.Option(None, help="IAM role ARN to record (not used by the engine)."),
    tag: list[str] = TagOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Create a state machine from FILE; print its ARN.

    The same definition again is a no-op; another one is an error (use `sfn update`).
    """
    text = read_text(file)
    try:
        record = client().create_state_machine(
            name or machine_name(file), text, role_arn=role_arn, type=type_.upper(),
            update=False, tags=_tags(tag),
        )
    except EngineError as exc:
        fail_engine(exc)
    if json_out:
        print_json({"stateMachineArn": record.arn, "creationDate": record.created})
    else:
        out.print(record.arn, highlight=False, soft_wrap=True)


@app.command()
def update(
    file: Path,
    name: str = NameOpt,
    role_arn: str = typer.Option(None, help="A new IAM role ARN to record."),
    json_out: bool = JsonOpt,
) -> None:
    """Give an existing state machine FILE's definition.

    Running executions finish with the definition they started with.
    """
    text = read_text(file)
    try:
        record = client().update_state_machine(
            name or machine_name(file), definition=text, role_arn=role_arn
        )
    except EngineError as exc:
        fail_engine(exc)
    if json_out:
        print_json({"stateMachineArn": record.arn, "updateDate": record.updated,
                    "revisionId": str(record.revision)})
    else:
        out.print(f"{record.arn} (revision {record.revision})", highlight=False, soft_wrap=True)


class GraphFormat(StrEnum):
    mermaid = "mermaid"
    dot = "dot"
    json = "json"


FormatOpt = typer.Option(
    GraphFormat.mermaid, "--format", "-f", help="mermaid, dot (Graphviz) or json."
)


@app.command()
def graph(
    file: Path,
    format: GraphFormat = FormatOpt,  # noqa: A002 (the option is --format)
) -> None:
    """Print FILE's state machine as a Mermaid or DOT graph.

    Choice edges carry their rules, Catch edges are dashed, Parallel and Map are boxes.
    """
    from engine.asl import graph as g
    from engine.asl.loader import parse_definition

    try:
        document = parse_definition(read_text(file))
    except EngineError as exc:
        fail(f"{file}: {exc}")
    if not isinstance(document, dict):
        fail(f"{file}: a definition is a JSON object")
    built = g.build(document)
    if format is GraphFormat.json:
        print_json(built.to_dict())
    elif format is GraphFormat.dot:
        out.out(g.to_dot(built, machine_name(file)), end="", highlight=False)
    else:
        out.out(g.to_mermaid(built), end="", highlight=False)
