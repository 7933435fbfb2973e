"""The recorded AWS corpus, run inline over every case at CI speed (the whole executions
file takes about a second): the JSONPath issue's targets must hold.

The corpus is part of the repository (conformance/); without it these tests fail.
"""

from __future__ import annotations

import pytest

from engine.conformance.cases import Case, corpus_file, load_cases
from engine.conformance.runner import InlineBackend, run_cases
from engine.conformance.score import ALL, JSONPATH, Report, score


def _report(name: str) -> Report:
    cases: list[Case] = load_cases(corpus_file(name))
    results = {r["id"]: r for r in run_cases(cases, InlineBackend())}
    return score(cases, results)


def _failures(report: Report, what: str) -> str:
    return "\n".join(
        f"{f.id}: {f.reason[:300]}"
        for f in report.failures
        if f.what == what and f.language == JSONPATH
    )


@pytest.fixture(scope="module")
def executions() -> Report:
    return _report("executions.jsonl")


def test_jsonpath_outputs_at_least_97_percent(executions: Report) -> None:
    tally = executions.tally(ALL, JSONPATH, "output")
    assert tally.n > 0
    assert (tally.rate or 0) >= 0.97, f"{tally}\n{_failures(executions, 'output')}"


def test_jsonpath_histories_at_least_90_percent(executions: Report) -> None:
    tally = executions.tally(ALL, JSONPATH, "history")
    assert tally.n > 0
    assert (tally.rate or 0) >= 0.90, f"{tally}\n{_failures(executions, 'history')}"


def test_no_case_crashes_the_runner(executions: Report) -> None:
    crashed = [f for f in executions.failures if "runner crashed" in f.reason]
    assert not crashed, [f"{f.id}: {f.reason[:500]}" for f in crashed]


def test_teststate_jsonpath_at_least_90_percent() -> None:
    report = _report("teststate.jsonl")
    tally = report.tally(ALL, JSONPATH, "response")
    assert tally.n > 0
    assert (tally.rate or 0) >= 0.90, f"{tally}\n{_failures(report, 'response')}"


def test_validation_rejections() -> None:
    report = _report("validation.jsonl")
    tally = report.tally(ALL, ALL, "rejection")
    assert tally.n > 0
    assert (tally.rate or 0) >= 0.90, f"{tally}\n{_failures(report, 'rejection')}"
