"""The end of a run: every execution checked, the report's figures, the JSON and the text.

The last line printed is the one the issue fixes:

    executions N, succeeded as expected N, lost 0, wrong 0, duplicate transitions 0,
    handler re-runs K, worker kills W, redis restarts R
"""

from __future__ import annotations

import json
import statistics
import subprocess
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chaos import checks, workload
from chaos.faults import ROOT, RedisRestart
from chaos.ledger import Ledger
from chaos.topology import RESTART_LABEL
from engine.store.redis_store import RedisStore


@dataclass
class Report:
    config: dict[str, Any]
    executions: int = 0
    succeeded: int = 0
    lost: int = 0
    wrong: int = 0
    duplicate_transitions: int = 0
    handler_reruns: int = 0
    worker_kills: int = 0
    redis_restarts: int = 0
    passed: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        return (
            f"executions {self.executions}, succeeded as expected {self.succeeded}, "
            f"lost {self.lost}, wrong {self.wrong}, "
            f"duplicate transitions {self.duplicate_transitions}, "
            f"handler re-runs {self.handler_reruns}, worker kills {self.worker_kills}, "
            f"{RESTART_LABEL.get(str(self.config.get('topology', 'redis')), 'redis restarts')} "
            f"{self.redis_restarts}"
        )


@dataclass
class FaultLog:
    """What the run did and saw, besides the store and the ledger."""

    t0: float  # wall clock of the run's start; times in the report are relative to it
    elapsed: float
    kills: list[checks.Kill]
    pauses: list[checks.Kill]
    restarts: list[RedisRestart]
    duplicated: Counter[str]
    unexpected_exits: int
    start_retries: int
    durations: list[float]  # seconds from start to seen finished, per finished execution
    #: What the answerer of callbacks did (chaos/callbacks.py): answers applied/refused,
    #: duplicate and late answers refused, and any that wrongly applied.
    callbacks: dict[str, int] = field(default_factory=dict)


def summarize(
    config: dict[str, Any], plan: list[workload.Planned],
    expected: dict[str, checks.Expected], store: RedisStore, ledger: Ledger, log: FaultLog,
) -> Report:
    verdicts = [
        checks.verify(p, expected[p.eid], store.get_execution(p.eid), store.history(p.eid))
        for p in plan
    ]
    runs = checks.reruns(ledger.runs())
    starts, ends = ledger.starts(), ledger.ends()
    found = checks.recoveries(log.kills, starts, ends)
    outages = [(r.killed, r.up) for r in log.restarts]
    t0 = log.t0
    causes = checks.rerun_causes(starts, ends, log.kills + log.pauses, outages, t0)
    durations = sorted(log.durations)
    report = Report(config=config)
    report.executions = len(plan)
    report.succeeded = sum(1 for v in verdicts if v.outcome == "ok")
    report.lost = sum(1 for v in verdicts if v.outcome == "lost")
    report.wrong = sum(1 for v in verdicts if v.outcome == "wrong")
    report.duplicate_transitions = sum(v.duplicates for v in verdicts)
    report.handler_reruns = runs.reruns
    report.worker_kills = len(log.kills)
    report.redis_restarts = len(log.restarts)
    report.passed = (
        report.lost == report.wrong == report.duplicate_transitions == 0
        and log.callbacks.get("late_or_duplicate_applied", 0) == 0
        and log.callbacks.get("activity_late_or_duplicate_applied", 0) == 0
    )
    report.details = {
        "elapsed_s": round(log.elapsed, 1),
        "machines": {m: sum(1 for p in plan if p.machine == m)
                     for m in {**workload.MIX, **workload.INTEGRATION_MIX}},
        "problems": [v.to_json() for v in verdicts if v.outcome != "ok" or v.duplicates],
        "handler_runs": {**asdict(runs), **causes},
        "worker_kills": {
            "whole_worker": sum(1 for k in log.kills if k.kind == "worker"),
            "pool_process": sum(1 for k in log.kills if k.kind == "child"),
            "unexpected_exits": log.unexpected_exits,
        },
        "worker_pauses": [[round(p.t - t0, 2), p.slot, p.pid] for p in log.pauses],
        "redis_restarts": [
            {"killed_at_s": round(r.killed - t0, 2), "downtime_s": r.downtime}
            for r in log.restarts
        ],
        "kills": [[round(k.t - t0, 2), k.kind, k.slot, k.pid] for k in log.kills],
        "duplicated_messages": dict(log.duplicated),
        "recovery_after_kill": {
            **checks.latency_summary(found),
            "samples": [[round(r.kill_t - t0, 2), r.kind, r.latency and round(r.latency, 2)]
                        for r in found],
        },
        "execution_seconds": {
            "median": round(statistics.median(durations), 1) if durations else None,
            "max": round(durations[-1], 1) if durations else None,
        },
        "start_retries": log.start_retries,
        "callback_answers": dict(log.callbacks),
        "code": code_version(),
        "notes": [
            "Handler runs are counted in a separate ledger redis-server that is never killed, "
            "so the counts are exact. Had they been kept in the engine's Redis "
            "(appendfsync everysec), a restart could lose up to the last second of counter "
            "writes.",
            "Duplicate transitions: history events (type and details, without id and "
            "timestamp) beyond their count in the fault-free run of the same execution.",
        ],
    }
    return report


def code_version() -> dict[str, Any]:
    """The commit the run tested, and whether the engine's files differed from it."""
    dirty = _git("status", "--porcelain", "--", "engine", "tasks", "worker.py")
    return {"commit": _git("rev-parse", "--short", "HEAD") or None, "engine_modified": bool(dirty)}


def _git(*args: str) -> str:
    try:
        found = subprocess.run(  # noqa: S603 - git, with our own arguments
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return found.stdout.strip() if found.returncode == 0 else ""


def write_report(report: Report, results_dir: Path, name: str, run_dir: Path,
                 out: Callable[[str], None]) -> None:
    """The JSON (`chaos-<name>.json` and `latest-<mode>.json`), then the text report."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"chaos-{name}.json"
    document = {**asdict(report), "line": report.line(), "run_dir": str(run_dir)}
    text = json.dumps(document, indent=2, default=str)
    path.write_text(text)
    (results_dir / f"latest-{report.config['mode']}.json").write_text(text)
    d = report.details
    if d:
        latency = d["recovery_after_kill"]
        runs = d["handler_runs"]
        out(f"elapsed {d['elapsed_s']}s; machines {d['machines']}")
        out(f"handler runs: {runs['invocations']} starts of {runs['keys']} attempts; "
            f"{runs['keys_rerun']} attempts ran more than once (at most {runs['most']} times); "
            f"re-runs after: {runs['causes']}")
        out(f"worker kills: {d['worker_kills']}, pauses past the lease: "
            f"{len(d['worker_pauses'])}; redis restarts (downtime s): "
            f"{[r['downtime_s'] for r in d['redis_restarts']]}")
        out(f"duplicated messages: {d['duplicated_messages']}")
        out(f"callback answers: {d.get('callback_answers', {})}")
        if "integrations" in d:  # chaos/integrations.py: calls the AWS emulator saw
            out(f"AWS integration calls (through the delaying proxy): {d['integrations']}")
        summary = {k: v for k, v in latency.items() if k != "samples"}
        out(f"recovery after a kill (kill -> the killed Task's handler starts again), "
            f"SFN_LEASE_SECONDS={report.config['lease_seconds']:g}: {summary}")
        for problem in d["problems"][:20]:
            out(f"PROBLEM {problem}")
        for rerun in runs["unexplained"][:5]:
            out(f"unexplained re-run: {rerun}")
    out(f"report: {path}" + ("" if report.passed else f"; logs and data: {run_dir}"))
    out(report.line())
