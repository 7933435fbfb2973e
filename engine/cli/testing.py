"""`sfn test | export | replay`: test workflows in-process (engine/testing).

    sfn test workflows/x.asl.json --mock-config MockConfigFile.json [--test-case NAME]
    sfn export ARN > execution.json
    sfn replay execution.json [--definition new.asl.json]
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from engine.cli import app
from engine.cli.common import JsonOpt, read_input
from engine.cli.output import err, fail, out, print_json
from engine.errors import EngineError


def _import_handlers(definition: Path, modules: list[str]) -> None:
    """The handlers of unmocked states: the module beside the definition (workflows/x.py
    for workflows/x.asl.json, as `sfn run` does) and any `--handlers` module."""
    from engine.cli.executions import _handler_module

    beside = _handler_module(definition)
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    if beside is not None and str(beside[1]) not in sys.path:
        sys.path.insert(0, str(beside[1]))
    for name in [*([beside[0]] if beside else []), *modules]:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            fail(f"cannot import the handlers module {name!r}: {exc}")


def _expectations(values: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for value in values:
        case, sep, status = value.partition("=")
        if not sep or not case or not status:
            fail(f"--expect takes CASE=STATUS (e.g. GreeterDown=FAILED), not {value!r}")
        found[case] = status.upper()
    return found


_MockConfigOpt = typer.Option(
    ..., "--mock-config", help="MockConfigFile.json (AWS Step Functions Local's format).")
_TestCaseOpt = typer.Option(None, "--test-case", help="Run only this test case.")
_StateMachineOpt = typer.Option(
    None, "--state-machine",
    help="The StateMachines entry (default: the definition's file name, or the only one).")
_InputOpt = typer.Option(None, "--input", "-i",
                         help="Execution input: JSON, or @FILE (default {}).")
_ExpectOpt = typer.Option([], "--expect", help="CASE=STATUS: the status a test case should "
                          "end with (default SUCCEEDED).")
_HandlersOpt = typer.Option([], "--handlers", help="A module registering handlers for the "
                            "states the test case does not mock.")
_CoverageOpt = typer.Option(False, "--coverage", help="Report the states, Choice rules, "
                            "Retriers and Catchers the test cases exercised.")
_CoverageFileOpt = typer.Option(Path("sfn-coverage.json"), "--coverage-file",
                                help="Where --coverage writes its JSON.")


@app.command("test")
def test_command(
    definition: Path,
    mock_config: Path = _MockConfigOpt,
    test_case: str | None = _TestCaseOpt,
    state_machine: str | None = _StateMachineOpt,
    input_: str | None = _InputOpt,
    expect: list[str] = _ExpectOpt,
    handlers: list[str] = _HandlersOpt,
    coverage: bool = _CoverageOpt,
    coverage_file: Path = _CoverageFileOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Run a mock configuration file's test cases in-process (virtual clock, no Redis)."""
    from engine.testing.coverage import Coverage
    from engine.testing.mockconfig import MockConfig

    _import_handlers(definition, handlers)
    cov = Coverage()
    try:
        config = MockConfig.load(mock_config)
        if coverage:
            config.observers.append(
                lambda e: cov.add(e.definition, e.history, name=e.state_machine))
        results = config.run_all(
            definition, state_machine=state_machine, test_case=test_case,
            expected=_expectations(expect), input_text=read_input(input_))
    except (EngineError, OSError) as exc:
        fail(str(exc))
    failed = [r for r in results if not r.passed]
    if json_out:
        print_json({"testCases": [_case_json(r) for r in results],
                    "passed": len(results) - len(failed), "failed": len(failed),
                    **({"coverage": cov.to_json()} if coverage else {})})
    else:
        out.print(_table(results))
        for r in failed:
            err.print(f"[bold]{r.test_case}[/bold]: " + "; ".join(
                r.problems or [f"expected {r.expected_status}, got {r.execution.status}"]))
            err.print(r.execution.describe(), markup=False, highlight=False, soft_wrap=True)
        out.print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if coverage:
        cov.write_json(coverage_file)
        if not json_out:
            out.print(cov.table(), markup=False, highlight=False)
            out.print(f"coverage JSON written to {coverage_file}")
    raise typer.Exit(1 if failed else 0)


def _case_json(r: Any) -> dict[str, Any]:
    e = r.execution
    return {"testCase": r.test_case, "result": "PASS" if r.passed else "FAIL",
            "expectedStatus": r.expected_status, "status": e.status, "output": e.output,
            "error": e.error, "cause": e.cause, "path": e.path, "problems": r.problems}


def _table(results: list[Any]) -> Table:
    table = Table("Test case", "Result", "Status", "Path", "Output / error")
    for r in results:
        e = r.execution
        detail = json.dumps(e.output) if e.status == "SUCCEEDED" else f"{e.error}: {e.cause}"
        if len(detail) > 80:
            detail = detail[:77] + "..."
        table.add_row(r.test_case, "[green]PASS[/green]" if r.passed else "[red]FAIL[/red]",
                      e.status, " -> ".join(e.path), detail)
    return table


_DefinitionOpt = typer.Option(None, "--definition", "-d",
                              help="Replay against this definition instead of the recorded one.")


@app.command("export")
def export_command(arn: str) -> None:
    """Print an execution's definition, input and history as JSON (for `sfn replay`)."""
    from engine.cli.common import client
    from engine.testing.replay import export_execution

    try:
        print_json(export_execution(client(), arn))
    except EngineError as exc:
        fail(str(exc))


@app.command("replay")
def replay_command(
    recording: Path, definition: Path | None = _DefinitionOpt, json_out: bool = JsonOpt
) -> None:
    """Re-run a recorded execution in-process from its recorded results; exit 1 if it diverges."""
    from engine.testing.replay import replay

    try:
        report = replay(recording, definition=definition)
    except (EngineError, OSError, ValueError) as exc:
        fail(f"{recording}: {exc}")
    if json_out:
        d = report.divergence
        print_json({
            "executionArn": report.recording["executionArn"], "same": report.same,
            "sameOutcome": report.same_outcome,
            "replayed": {"status": report.execution.status, "output": report.execution.output,
                         "error": report.execution.error, "cause": report.execution.cause},
            "divergence": None if d is None else {
                "event": d.index + 1, "state": d.state, "expected": d.expected,
                "actual": d.actual},
        })
    else:
        out.print(report.describe(), markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(0 if report.same else 1)
