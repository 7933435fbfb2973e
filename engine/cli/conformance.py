"""`sfn conformance run | score`: the recorded AWS corpus against this engine."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from engine.cli.output import err, fail, out, print_json

app = typer.Typer(
    help="Run the conformance corpus recorded on AWS and score the engine on it.",
    no_args_is_help=True,
    add_completion=False,
)

#: The two issues' splits of the corpus, then every case.
LANGUAGES = ("JSONPath", "JSONata", "all")


@app.command()
def run(
    out_file: Annotated[
        Path, typer.Option("--out", help="Where to write one JSON result per line.")
    ],
    cases_file: Annotated[
        Path | None,
        typer.Argument(
            help="executions.jsonl, teststate.jsonl or validation.jsonl (a bare name is the "
            "in-repo corpus's file; default: its executions.jsonl)"
        ),
    ] = None,
    mode: str = typer.Option("inline", help="inline (in-process) or celery (Redis + workers)."),
    only: str = typer.Option(None, help="Only the cases whose id contains this text."),
    category: str = typer.Option(None, help="Only the cases of this category."),
    workers: int = typer.Option(2, help="Celery mode: worker processes."),
    concurrency: int = typer.Option(4, help="Celery mode: pool size of each worker."),
    parallel: int = typer.Option(8, help="Celery mode: executions in flight at once."),
    full_history: bool = typer.Option(False, help="Also write each execution's events."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress line per case."),
) -> None:
    """Run every case of CASES_FILE and write the results (a crash fails only its case)."""
    from engine.conformance.cases import load_cases
    from engine.conformance.runner import InlineBackend, run_cases

    if mode not in ("inline", "celery"):
        fail(f"unknown mode {mode!r} (inline or celery)")
    cases_file = _cases_path(cases_file)
    cases = load_cases(cases_file, only=only, category=category)
    started = time.monotonic()
    counts = {"done": 0}

    def progress(case: Any, result: dict[str, Any]) -> None:
        counts["done"] += 1
        if not quiet:
            err.print(
                f"[{counts['done']}/{len(cases)}] {result.get('status')} {case.id}", highlight=False
            )

    with out_file.open("w", encoding="utf-8") as sink:
        if mode == "inline":
            results = run_cases(cases, InlineBackend(full_history=full_history), on_result=progress)
            for result in results:
                sink.write(json.dumps(result, ensure_ascii=False) + "\n")
        else:
            from engine.conformance.celery_mode import CeleryHarness

            with CeleryHarness(
                cases_file, workers=workers, concurrency=concurrency, full_history=full_history
            ) as harness:
                for result in harness.run_all(cases, parallel=parallel, on_result=progress):
                    sink.write(json.dumps(result, ensure_ascii=False) + "\n")
                    sink.flush()
    elapsed = time.monotonic() - started
    err.print(f"{len(cases)} cases in {elapsed:.1f}s -> {out_file}", highlight=False)


@app.command()
def score(
    cases_file: Annotated[
        Path, typer.Argument(help="The cases that were run (a bare name: the in-repo corpus's).")
    ],
    results_file: Annotated[Path, typer.Argument(help="The results `run` wrote.")],
    json_out: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
    failures: bool = typer.Option(False, "--failures", help="List every failing case and why."),
    only: str = typer.Option(None, help="Only the cases whose id contains this text."),
    category: str = typer.Option(None, help="Only the cases of this category."),
) -> None:
    """Pass rates per category and overall (JSONPath cases and all cases)."""
    from engine.conformance.cases import load_cases, load_results
    from engine.conformance.score import score as compute

    cases = load_cases(_cases_path(cases_file), only=only, category=category)
    if not results_file.exists():
        fail(f"{results_file}: no such file")
    results = load_results(results_file)
    if only is None and category is None:
        # Score only what was run when the results cover a filtered run.
        ran = [c for c in cases if c.id in results]
        cases = ran if ran and len(ran) < len(cases) and len(results) < len(cases) else cases
    report = compute(cases, results)
    if json_out:
        print_json(report.to_json())
        return
    out.print(_table(report))
    if report.skipped:
        out.print(f"{report.skipped} case(s) belong to the API layer and are not scored.")
    if failures:
        for f in report.failures:
            out.print(
                f"[{f.what}] {f.category} {f.language} {f.id}\n    {f.reason}", highlight=False
            )
    sys.stdout.flush()


def _cases_path(path: Path | None) -> Path:
    """`path` when it exists; else, for a bare file name (or none), that file of the corpus
    the repository carries in conformance/."""
    from engine.conformance.cases import CORPUS_DIR

    if path is not None and path.exists():
        return path
    if path is None or path.parent == Path("."):
        candidate = CORPUS_DIR / (path.name if path is not None else "executions.jsonl")
        if candidate.is_file():
            return candidate
    fail(f"{path or CORPUS_DIR / 'executions.jsonl'}: no such file")


def _table(report: Any) -> Table:
    table = Table(title=f"conformance: {report.kind}", show_header=True, header_style="bold")
    table.add_column("category")
    for language in LANGUAGES:
        for metric in report.metrics:
            table.add_column(f"{language} {metric}", justify="right")
    for category in report.categories:
        row = [category if category != "all" else "[bold]overall[/]"]
        for language in LANGUAGES:
            for metric in report.metrics:
                row.append(str(report.tally(category, language, metric)))
        table.add_row(*row)
    return table
