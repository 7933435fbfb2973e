"""What the run should have produced, and how it compares with what it did produce.

Expected results: each execution of the plan is run once without faults by the in-process
InlineRunner (the real driver and interpreter over the in-memory store, a virtual clock, the
pure handlers). That gives the final status and output, and the history.

Duplicate transitions: a history event carries no run id, but in this workload no state is
ever legitimately entered twice with the same input, and a retry re-emits only its
`*Scheduled`/`*Started`/`*Failed` events. So each event is keyed by its type and details
(name, input, output, index, error, ...; not its id or timestamp) and the faulted history is
compared with the fault-free one as multisets: every event beyond its fault-free count is a
duplicate transition (e.g. a second `TaskStateEntered` of the same state and input, a second
`LambdaFunctionStarted` of one attempt, a second `MapIterationStarted` of one index). An
event the fault-free run has and the faulted one lacks makes the execution wrong.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from chaos import activities, callbacks, integrations, workload
from chaos.ledger import Start
from engine.runtime.inline import InlineRunner
from engine.store.base import TERMINAL, ExecutionRecord

#: Event fields that differ between two correct runs.
_VOLATILE = ("id", "previousEventId", "timestamp")


def event_key(event: dict[str, Any]) -> str:
    return callbacks.normalize(json.dumps(
        {k: v for k, v in integrations.masked(event).items() if k not in _VOLATILE},
        sort_keys=True,
        separators=(",", ":"),
    ))


@dataclass(frozen=True)
class Expected:
    status: str
    output: Any
    events: Counter[str]


def expected_outcomes(plan: list[workload.Planned]) -> dict[str, Expected]:
    out: dict[str, Expected] = {}
    for planned in plan:
        # One runner per execution: each fault-free run starts from an empty store, the
        # same for every seed and plan size.
        asked: list[dict[str, Any]] = []
        if planned.machine == "ChaosActivity":  # served by pollers: chaos/activities.py
            done = activities.fault_free(
                planned.machine, json.dumps(workload.DEFINITIONS[planned.machine]),
                planned.name, planned.input, workload.pure_registry(asked),
                workload.REGION, workload.ACCOUNT)
            if done.status not in TERMINAL:
                raise RuntimeError(f"the fault-free run of {planned.eid} did not finish")
            out[planned.eid] = Expected(done.status, done.output,
                                        Counter(event_key(e) for e in done.history))
            continue
        registry = workload.pure_registry(asked)
        runner = InlineRunner(
            registry, region=workload.REGION, account=workload.ACCOUNT,
            # The integration workload calls the emulator the harness started.
            integrations=(integrations.expected_integrations(registry)
                          if planned.machine == integrations.MACHINE else None),
        )
        for name, definition in workload.DEFINITIONS.items():  # ChaosNested's child too
            runner.create_state_machine(name, definition)
        record = runner.run(planned.machine, name=planned.name, input=planned.input)
        if asked and record.status not in TERMINAL:  # waits for its callback: answer it
            callbacks.answer_expected(runner.client, asked)
            runner.drain(record.eid)
            record = runner.client.describe_execution(record.eid)
        if record.status not in TERMINAL:
            raise RuntimeError(f"the fault-free run of {planned.eid} did not finish")
        history = runner.client.get_history(record.eid)
        out[planned.eid] = Expected(
            record.status,
            json.loads(record.output) if record.output is not None else None,
            Counter(event_key(e) for e in history),
        )
    return out


@dataclass
class Verdict:
    eid: str
    machine: str
    outcome: str  # "ok" | "lost" | "wrong"
    reason: str = ""
    duplicates: int = 0
    missing: int = 0
    duplicate_events: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return self.__dict__


def verify(
    planned: workload.Planned,
    expected: Expected,
    record: ExecutionRecord | None,
    history: list[dict[str, Any]],
) -> Verdict:
    verdict = Verdict(planned.eid, planned.machine, "ok")
    actual = Counter(event_key(e) for e in history)
    extra = actual - expected.events
    missing = expected.events - actual
    verdict.duplicates = sum(extra.values())
    verdict.duplicate_events = sorted(extra)[:10]
    verdict.missing = sum(missing.values())
    ids = [e.get("id") for e in history]
    if record is None:
        verdict.outcome, verdict.reason = "lost", "no execution record"
    elif record.status not in TERMINAL:
        verdict.outcome, verdict.reason = "lost", f"still {record.status}"
    elif record.status != expected.status:
        verdict.outcome = "wrong"
        verdict.reason = (
            f"{record.status} ({record.error}: {record.cause}), expected {expected.status}"
        )
    elif json.loads(record.output or "null") != expected.output:
        verdict.outcome, verdict.reason = "wrong", "output differs from the fault-free run"
    elif verdict.missing:
        verdict.outcome = "wrong"
        verdict.reason = f"history lacks {verdict.missing} event(s): {sorted(missing)[:3]}"
    elif ids != list(range(1, len(history) + 1)):
        verdict.outcome, verdict.reason = "wrong", "history event ids are not 1..n"
    return verdict


# --- handler re-runs -------------------------------------------------------------------------


@dataclass(frozen=True)
class Reruns:
    invocations: int  # handler starts in all
    keys: int  # distinct idempotency keys (= attempts that ran at least once)
    reruns: int  # starts beyond the first, summed over keys
    keys_rerun: int
    most: int  # the most starts of one key


def reruns(runs: dict[str, int]) -> Reruns:
    counts = list(runs.values())
    return Reruns(
        invocations=sum(counts),
        keys=len(counts),
        reruns=sum(c - 1 for c in counts if c > 1),
        keys_rerun=sum(1 for c in counts if c > 1),
        most=max(counts, default=0),
    )


# --- recovery latency after a worker kill ------------------------------------------------------


@dataclass(frozen=True)
class Kill:
    t: float
    #: "worker": the whole worker (its process group) was SIGKILLed; "child": one pool
    #: process; "pause": the whole worker was SIGSTOPped past its lease, then resumed
    kind: str
    slot: int
    pid: int  # the pool process, or the worker's main process (= its pgid)


@dataclass(frozen=True)
class Recovery:
    key: str
    kill_t: float
    kind: str
    latency: float | None  # None: the key never started again


def recoveries(kills: list[Kill], starts: list[Start], ends: set[str]) -> list[Recovery]:
    """For every handler that was running in a process when it was killed, the time from
    the kill to the next start of the same idempotency key (the state running again)."""
    by_key: dict[str, list[float]] = {}
    for s in starts:
        by_key.setdefault(s.key, []).append(s.t)
    for times in by_key.values():
        times.sort()
    out: list[Recovery] = []
    seen: set[str] = set()  # a pool process killed, then its whole worker: count it once
    for kill in sorted(kills, key=lambda k: k.t):
        for s in starts:
            hit = s.pgid == kill.pid if kill.kind == "worker" else s.pid == kill.pid
            if not hit or s.t > kill.t or s.inv in ends or s.inv in seen:
                continue
            seen.add(s.inv)
            later = [t for t in by_key[s.key] if t > kill.t]
            out.append(Recovery(s.key, kill.t, kill.kind, (later[0] - kill.t) if later else None))
    return out


def latency_summary(found: list[Recovery]) -> dict[str, Any]:
    values = sorted(r.latency for r in found if r.latency is not None)
    if not values:
        return {"affected": len(found), "re_ran": 0}

    def pct(p: float) -> float:
        return round(values[min(len(values) - 1, int(p * len(values)))], 2)

    return {
        "affected": len(found),
        "re_ran": len(values),
        "median_s": round(statistics.median(values), 2),
        "p90_s": pct(0.9),
        "min_s": round(values[0], 2),
        "max_s": round(values[-1], 2),
        "by_kind": {
            kind: round(statistics.median(v), 2)
            for kind in ("worker", "child")
            if (v := [r.latency for r in found if r.kind == kind and r.latency is not None])
        },
    }


# --- why handlers ran again -------------------------------------------------------------------


def rerun_causes(
    starts: list[Start], ends: set[str], kills: list[Kill],
    outages: list[tuple[float, float]], t0: float, *, top: int = 5,
) -> dict[str, Any]:
    """Explain each re-run by what happened to the previous run of the same key: its process
    was killed while the handler ran ("kill") or after it returned but before its outcome was
    committed ("kill after return"), Redis was down in between ("redis": a lease could not
    be renewed, or a commit failed), or none of these ("other", listed: worth a look)."""
    by_key: dict[str, list[Start]] = {}
    for s in starts:
        by_key.setdefault(s.key, []).append(s)
    causes: Counter[str] = Counter()
    unexplained: list[dict[str, Any]] = []
    for key, runs in by_key.items():
        runs.sort(key=lambda s: s.t)
        for prev, cur in zip(runs, runs[1:], strict=False):
            hits = [
                k for k in kills
                if prev.t <= k.t <= cur.t
                and (k.pid == prev.pid if k.kind == "child" else k.pid == prev.pgid)
            ]
            down = any(a <= cur.t and b >= prev.t for a, b in outages)
            if any(k.kind != "pause" for k in hits):
                causes["kill" if prev.inv not in ends else "kill after return"] += 1
            elif hits:
                causes["pause"] += 1
            elif down:
                causes["redis"] += 1
            else:
                causes["other"] += 1
                unexplained.append({
                    "key": key, "previous": _start_json(prev, ends, t0),
                    "again": _start_json(cur, ends, t0),
                })
    most = sorted(by_key.items(), key=lambda kv: -len(kv[1]))[:top]
    return {
        "causes": dict(causes),
        "unexplained": unexplained[:20],
        "most_rerun": [
            {"key": key, "runs": [_start_json(s, ends, t0) for s in runs]}
            for key, runs in most if len(runs) > 1
        ],
    }


def _start_json(s: Start, ends: set[str], t0: float) -> dict[str, Any]:
    return {"t": round(s.t - t0, 2), "pid": s.pid, "pgid": s.pgid, "returned": s.inv in ends}
