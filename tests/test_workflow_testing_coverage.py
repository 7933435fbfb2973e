"""State coverage (engine/testing/coverage.py) read from histories of the inline runner."""

from __future__ import annotations

import json
from unittest.mock import Mock

from engine.handlers import TaskFailure
from engine.testing import Workflow
from engine.testing.coverage import Coverage

DEFINITION = {
    "StartAt": "Route",
    "States": {
        "Route": {"Type": "Choice", "Default": "Fallback", "Choices": [
            {"Variable": "$.n", "NumericLessThan": 0, "Next": "Work"},
            {"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Work"}]},
        "Work": {
            "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:Work",
            "Retry": [{"ErrorEquals": ["Throttled"], "IntervalSeconds": 1, "MaxAttempts": 2},
                      {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 1}],
            "Catch": [{"ErrorEquals": ["Throttled"], "Next": "Fallback"},
                      {"ErrorEquals": ["States.ALL"], "Next": "Broken"}],
            "Next": "Items"},
        "Items": {"Type": "Map", "ItemsPath": "$.items", "End": True, "ItemProcessor": {
            "StartAt": "Each", "States": {"Each": {"Type": "Pass", "End": True}}}},
        "Fallback": {"Type": "Pass", "End": True},
        "Broken": {"Type": "Fail", "Error": "Broken"},
    },
}


def run(cov: Coverage, data: dict[str, object], work: Mock) -> None:
    flow = Workflow(DEFINITION, name="Cov", handlers={"Work": work},
                    observers=[lambda e: cov.add(e.definition, e.history, name="Cov")])
    flow.run(data)


def test_rules_retriers_and_catchers_are_told_apart() -> None:
    cov = Coverage()
    # Rule 1 (not rule 0, which has the same Next) matches n=11; Work answers at once.
    run(cov, {"n": 11, "items": [1, 2, 3]}, Mock(return_value={"items": [1, 2, 3]}))
    # n=-1: rule 0; Work fails with Boom twice: Retry[1] once, then Catch[1].
    run(cov, {"n": -1}, Mock(side_effect=TaskFailure("Boom", "x")))
    report = cov.to_json()["stateMachines"]["Cov"]
    assert report["choiceRules"]["Route"] == {"Choices[0]": 1, "Choices[1]": 1, "Default": 0}
    assert report["retriers"]["Work"] == [0, 2]  # matched both failures (then exhausted)
    assert report["catchers"]["Work"] == [0, 1]
    assert report["states"] == {"Route": 2, "Work": 2, "Items": 1, "Each": 3, "Fallback": 0,
                                "Broken": 1}
    assert report["summary"]["Catcher"] == {"covered": 1, "total": 2}
    table = cov.table()
    assert "Route.Default" in table and "not covered" in table
    json.dumps(report)  # machine-readable as it is


def test_a_throttled_then_caught_task() -> None:
    cov = Coverage()
    run(cov, {"n": 99}, Mock(side_effect=TaskFailure("Throttled", "slow down")))
    report = cov.to_json()["stateMachines"]["Cov"]
    assert report["retriers"]["Work"] == [3, 0]  # 1 + MaxAttempts 2, all matched Retry[0]
    assert report["catchers"]["Work"] == [1, 0]
    assert report["states"]["Fallback"] == 1
