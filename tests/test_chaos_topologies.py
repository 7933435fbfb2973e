"""The fault-injection harness's short run on the other production topologies
(chaos/topology.py): RabbitMQ as the broker, restarted mid-run; the store on a Redis Cluster,
a primary SIGKILLed mid-run so its replica takes over. `make chaos-rabbitmq` and
`make chaos-cluster` run the full versions."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from chaos.harness import PRESETS, run
from tests.rabbitmq_server import find_rabbitmq_server

pytestmark = [pytest.mark.redis, pytest.mark.worker]


def _passes(topology: str, tmp_path: Path) -> None:
    config = replace(PRESETS["tiny"], results_dir=tmp_path, topology=topology)
    report = run(config)
    print(report.line())
    problems = report.details.get("problems", [])
    assert report.details["topology"] == topology
    assert report.worker_kills >= 1
    assert report.redis_restarts >= 1  # RabbitMQ restarts / primary failovers here
    assert report.executions == config.executions
    assert report.lost == 0, problems
    assert report.wrong == 0, problems
    assert report.duplicate_transitions == 0, problems
    assert report.succeeded == report.executions


def test_a_primary_failover_loses_nothing(tmp_path: Path) -> None:
    _passes("cluster", tmp_path)


@pytest.mark.skipif(find_rabbitmq_server() is None,
                    reason="rabbitmq-server is not installed (scripts/ensure-rabbitmq.sh)")
def test_a_rabbitmq_restart_loses_nothing(tmp_path: Path) -> None:
    _passes("rabbitmq", tmp_path)
