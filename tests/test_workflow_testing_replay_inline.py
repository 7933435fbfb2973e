"""Replay details that need no worker: a recorded Task timeout, a Wait, and a recording that
is not one."""

from __future__ import annotations

import json

import pytest

from engine.handlers import Registry
from engine.runtime.inline import InlineRunner
from engine.testing.replay import export_execution, replay

SLOW = {
    "StartAt": "Nap",
    "States": {
        "Nap": {"Type": "Wait", "Seconds": 3600, "Next": "Slow"},
        "Slow": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:Slow",
                 "TimeoutSeconds": 5, "Next": "Done",
                 "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "GaveUp"}]},
        "Done": {"Type": "Succeed"},
        "GaveUp": {"Type": "Pass", "Result": "gave up", "End": True},
    },
}


def test_a_recorded_timeout_and_wait_replay_the_same() -> None:
    registry = Registry()
    registry.register("Slow", lambda event, ctx: {"late": True})
    runner = InlineRunner(registry, simulated_seconds={"Slow": 60.0})
    runner.create_state_machine("slow", json.dumps(SLOW))
    record = runner.run("slow", input={}, name="slow-1")
    recording = export_execution(runner.client, record.arn)
    types = [e["type"] for e in recording["history"]]
    assert "LambdaFunctionTimedOut" in types and record.output == '"gave up"'
    report = replay(recording)
    report.assert_same()
    assert report.execution.path == ["Nap", "Slow", "GaveUp"]


def test_not_a_recording() -> None:
    with pytest.raises(ValueError, match="not an `sfn export` recording"):
        replay({"history": []})
