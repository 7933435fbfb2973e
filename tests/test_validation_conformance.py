"""Validation against AWS recordings (the corpus in conformance/): the definitions AWS rejected are
rejected with AWS's code, problem and location, and every definition AWS ran is accepted.

Cases whose error belongs to the API layer (StateMachineAlreadyExists,
MissingRequiredParameter, client-side parameter validation) are not validation's and are
left out of the rate.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.asl.validation import Diagnostic, format_message, validate
from engine.conformance.cases import corpus_file

VALIDATION = corpus_file("validation.jsonl")
EXECUTIONS = corpus_file("executions.jsonl")
REQUIRED_RATE = 0.8


def _cases(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _as_response(diagnostics: list[Diagnostic]) -> list[dict[str, str]]:
    """ValidateStateMachineDefinition's diagnostics; `location` is absent when empty."""
    return [
        {
            "code": d.code,
            "message": d.message,
            **({"location": d.location} if d.location else {}),
            "severity": d.severity,
        }
        for d in diagnostics
    ]


def _passes(case: dict[str, Any]) -> bool | None:
    """True/False for a validation case, None when it belongs to the API layer."""
    if case["kind"] == "ValidateStateMachineDefinition":
        request = case["request"]
        found = validate(request["definition"], state_machine_type=request["type"])
        return bool(_as_response(found) == case["expected"]["diagnostics"])
    expected = case["expected_error"]
    if expected["Code"] != "InvalidDefinition":
        return None
    # The express cases are recorded by TestSfnApiExpress; every other one is STANDARD.
    machine_type = "EXPRESS" if "express" in case["id"].lower() else "STANDARD"
    found = validate(case["definition_text"], state_machine_type=machine_type)
    return bool(found) and format_message(found) == expected["Message"]


def test_rejected_definitions_pass_rate() -> None:
    results = {case["id"]: _passes(case) for case in _cases(VALIDATION)}
    scored = {key: ok for key, ok in results.items() if ok is not None}
    failures = sorted(key for key, ok in scored.items() if not ok)
    rate = sum(1 for ok in scored.values() if ok) / len(scored)
    assert rate >= REQUIRED_RATE, f"pass rate {rate:.0%}; failing: {failures}"


def test_every_definition_aws_executed_is_valid() -> None:
    invalid = {}
    for case in _cases(EXECUTIONS):
        machine_type = case.get("state_machine_type") or "STANDARD"
        found = validate(case["definition"], state_machine_type=machine_type)
        if found:
            invalid[case["id"]] = [str(d) for d in found]
    assert not invalid, invalid
