"""The fault-injection harness, very short: two dozen executions on a real Redis (AOF) and
three real workers while workers are SIGKILLed, Redis is restarted once and messages are
duplicated. `make chaos` runs the full version; this keeps the contract in CI."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from chaos.harness import PRESETS, run

pytestmark = [pytest.mark.redis, pytest.mark.worker]


def test_no_execution_lost_wrong_or_duplicated_under_faults(tmp_path: Path) -> None:
    config = replace(PRESETS["tiny"], results_dir=tmp_path)
    report = run(config)
    print(report.line())
    problems = report.details.get("problems", [])
    assert report.worker_kills >= 1
    assert report.redis_restarts >= 1
    assert report.executions == config.executions
    assert report.lost == 0, problems
    assert report.wrong == 0, problems
    assert report.duplicate_transitions == 0, problems
    assert report.succeeded == report.executions
    # ChaosActivity's boto3-only pollers took and answered its tasks; no second or late
    # answer applied.
    answers = report.details["callback_answers"]
    assert answers.get("activity_taken", 0) >= 1
    assert answers.get("activity_late_or_duplicate_applied", 0) == 0
    # ChaosJobs called the AWS emulator (moto server, through the delaying proxy) from the
    # workers: its DynamoDB item saved, its CodeBuild build started and polled.
    calls = report.details["integrations"]["calls"]
    assert calls.get("PutItem", 0) >= 1 and calls.get("StartBuild", 0) >= 1
    assert calls.get("BatchGetBuilds", 0) >= 1
    assert report.details["integrations"]["items_saved"] >= 1
