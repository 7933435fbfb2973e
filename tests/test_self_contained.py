"""The repository carries what it tests with: the conformance corpus (with its NOTICE and
licence) is in conformance/, `sfn conformance` finds it from any directory, and no file
names a path outside the repository."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from engine.cli import conformance as conformance_cli
from engine.conformance.cases import CORPUS_DIR, corpus_file

ROOT = Path(__file__).resolve().parent.parent

# Spelled in pieces so that this file does not contain what it looks for.
OUTSIDE = ("/" + "work/", "../" + "shared", "shared" + "/conformance", "/tmp/" + "wt")


def _tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if listed.returncode == 0:
        return [ROOT / name for name in listed.stdout.split("\0") if name]
    skip = {".git", ".venv", ".sfn", "node_modules", "__pycache__", ".mypy_cache",
            ".pytest_cache", ".ruff_cache", "artifacts"}
    return [p for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.parts)]


def test_the_corpus_is_in_the_repository_with_its_notice_and_licence() -> None:
    assert CORPUS_DIR == ROOT / "conformance"
    counts = {}
    for name in ("executions.jsonl", "teststate.jsonl", "validation.jsonl"):
        lines = corpus_file(name).read_text(encoding="utf-8").splitlines()
        counts[name] = sum(1 for line in lines if line.strip() and json.loads(line))
    assert counts == {"executions.jsonl": 532, "teststate.jsonl": 94, "validation.jsonl": 62}
    notice = (CORPUS_DIR / "NOTICE").read_text()
    assert "LocalStack" in notice and "Apache License, Version 2.0" in notice
    licence = (CORPUS_DIR / "LICENSE").read_text()
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence


def test_a_missing_corpus_file_is_an_error_not_an_empty_corpus() -> None:
    try:
        corpus_file("no-such-file.jsonl")
    except FileNotFoundError as exc:
        assert "conformance" in str(exc) and "no-such-file.jsonl" in str(exc)
    else:
        raise AssertionError("a missing corpus file must raise")


def test_no_file_names_a_path_outside_the_repository() -> None:
    offenders = []
    for path in _tracked_files():
        if not path.is_file() or path.suffix in (".png", ".jsonl") or path.name == "LICENSE":
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if any(marker in line for marker in OUTSIDE):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}")
    assert not offenders, "paths outside the repository:\n" + "\n".join(offenders)


def test_sfn_conformance_defaults_to_the_in_repo_corpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sfn = typer.Typer()
    sfn.add_typer(conformance_cli.app, name="conformance")
    monkeypatch.chdir(tmp_path)  # far from the checkout: a bare name is the corpus's file
    runner = CliRunner()
    ran = runner.invoke(sfn, ["conformance", "run", "validation.jsonl", "--out", "r.jsonl", "-q"])
    assert ran.exit_code == 0, ran.output
    assert len((tmp_path / "r.jsonl").read_text().splitlines()) == 62
    scored = runner.invoke(sfn, ["conformance", "score", "validation.jsonl", "r.jsonl", "--json"])
    assert scored.exit_code == 0, scored.output
    assert json.loads(scored.stdout)
    default = runner.invoke(sfn, ["conformance", "run", "--out", "all.jsonl", "-q",
                                  "--category", "comments"])
    assert default.exit_code == 0, default.output
    assert '"id"' in (tmp_path / "all.jsonl").read_text()
    missing = runner.invoke(sfn, ["conformance", "run", "nope.jsonl", "--out", "x.jsonl"])
    assert missing.exit_code == 1 and "nope.jsonl: no such file" in missing.stderr
