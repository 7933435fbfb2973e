"""Stop-gap check of the Choice rules against executions recorded on real AWS.

The `choice_operators` cases are each a Choice state followed by Pass (or Succeed/Fail)
states whose literal `Result` is the final output. Until the interpreter exists, a tiny
evaluator for exactly that shape runs them through `engine.asl.choice.choose`.
"""

from __future__ import annotations

import json
from typing import Any

from engine.asl.choice import choose
from engine.asl.failure import StatesFailure
from engine.asl.model import (
    ChoiceState,
    FailState,
    PassState,
    StateMachine,
    SucceedState,
    is_set,
)
from engine.conformance.cases import corpus_file

CORPUS = corpus_file("executions.jsonl")
CATEGORY = "choice_operators"
REQUIRED_PASS_RATE = 0.97
MAX_STEPS = 100


def _cases() -> list[dict[str, Any]]:
    with CORPUS.open(encoding="utf-8") as lines:
        cases = [json.loads(line) for line in lines if line.strip()]
    return [case for case in cases if case.get("category") == CATEGORY]


def _run(definition: dict[str, Any], data: Any) -> dict[str, Any]:
    """Status and output (or error) of a machine made of Choice/Pass/Succeed/Fail states
    without paths or parameters; anything else raises NotImplementedError."""
    machine = StateMachine.model_validate(definition)
    name: str | None = machine.start_at
    for _ in range(MAX_STEPS):
        assert name is not None
        state = machine.states[name]
        if isinstance(state, ChoiceState):
            try:
                rule = choose(state, data, context={}, variables={})
            except StatesFailure as failure:
                return {"status": "FAILED", "error": failure.error, "cause": failure.cause}
            name = rule.next if rule is not None else state.default
            if name is None:
                return {"status": "FAILED", "error": "States.NoChoiceMatched"}
        elif isinstance(state, PassState):
            if is_set(state, "Parameters") or state.input_path != "$" or state.result_path != "$":
                raise NotImplementedError("Pass with paths or Parameters")
            data = state.result if is_set(state, "Result") else data
            if state.end:
                return {"status": "SUCCEEDED", "output": data}
            name = state.next
        elif isinstance(state, SucceedState):
            return {"status": "SUCCEEDED", "output": data}
        elif isinstance(state, FailState):
            return {"status": "FAILED", "error": state.error, "cause": state.cause}
        else:
            raise NotImplementedError(state.type)
    raise AssertionError("too many steps")


def _outcome(case: dict[str, Any]) -> dict[str, Any]:
    expected = case["expected"]
    if expected["status"] == "SUCCEEDED":
        return {"status": "SUCCEEDED", "output": expected["output"]}
    return {"status": expected["status"], "error": expected.get("error")}


def _actual(case: dict[str, Any]) -> dict[str, Any]:
    try:
        result = _run(case["definition"], json.loads(case["input"]))
    except NotImplementedError as unsupported:
        return {"status": "UNSUPPORTED", "detail": str(unsupported)}
    result.pop("cause", None)
    return result


def test_choice_operators_match_recorded_aws_outputs() -> None:
    cases = _cases()
    assert cases, f"no {CATEGORY} cases in {CORPUS}"
    failures = []
    for case in cases:
        expected, actual = _outcome(case), _actual(case)
        if actual != expected:
            failures.append((case["id"], case["input"], expected, actual))
    for failure in failures:
        print("FAIL", *failure)
    rate = 1 - len(failures) / len(cases)
    print(f"{CATEGORY}: {len(cases) - len(failures)}/{len(cases)} = {rate:.1%}")
    assert rate >= REQUIRED_PASS_RATE
