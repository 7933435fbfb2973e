"""The join of a Parallel or a Map: which children to launch and when the state is done.

A join is a small JSON document kept beside the parent run. Each child that finishes updates
it (under the store's compare-and-set), which says which further children to launch (for
`MaxConcurrency`) and whether the parent can continue. The first update that finds the join
complete produces the parent's occurrence, exactly once.

Failure rules: a Parallel fails with its branch's own error (AWS propagates the child's error
name, not `States.BranchFailed`); a Map without a tolerance does the same; a Map with
`ToleratedFailureCount`/`Percentage` fails with `States.ExceedToleratedFailureThreshold`
once the failed share exceeds the tolerance.
"""

from __future__ import annotations

from typing import Any

from engine.asl import errors
from engine.interpreter.maps import DISTRIBUTED_MAX_CONCURRENCY, INLINE_MAX_CONCURRENCY
from engine.interpreter.types import ChildrenFailed, ChildrenSucceeded, Outcome, StartChildren

JoinDoc = dict[str, Any]


def open_join(cmd: StartChildren, template: dict[str, Any]) -> tuple[JoinDoc, list[int]]:
    total = len(cmd.inputs)
    limit = cmd.max_concurrency or total
    if cmd.kind == "map":
        # AWS's quota: an inline Map runs at most 40 iterations at once, a Distributed
        # Map at most 10,000 child executions, whatever MaxConcurrency says (0: no limit).
        ceiling = DISTRIBUTED_MAX_CONCURRENCY if cmd.isolated else INLINE_MAX_CONCURRENCY
        limit = min(limit, ceiling)
    first = list(range(min(limit, total)))
    doc: JoinDoc = {
        "join": cmd.join,
        "kind": cmd.kind,
        "state": cmd.state,
        "parent_run": template["parent_run"],
        "template": template,
        "total": total,
        "max_concurrency": cmd.max_concurrency,
        "launched": len(first),
        "succeeded": 0,
        "failed": 0,
        "tolerated_count": cmd.tolerated_failure_count,
        "tolerated_percentage": cmd.tolerated_failure_percentage,
        "status": "running",
    }
    return doc, first


def child_finished(
    doc: JoinDoc, outcome: Outcome
) -> tuple[JoinDoc, list[int], ChildrenSucceeded | ChildrenFailed | None]:
    """Count one finished child. Returns the new doc, children to launch now, and the
    parent's occurrence when this child completes the join (results are filled in by the
    caller, who reads them from the store)."""
    if doc["status"] != "running":
        return doc, [], None
    doc = dict(doc)
    if outcome.status == "SUCCEEDED":
        doc["succeeded"] += 1
    else:
        doc["failed"] += 1
        failure = _failure(doc, outcome)
        if failure is not None:
            doc["status"] = "failed"
            return doc, [], failure
    launch: list[int] = []
    relaunch = doc.get("relaunch") or []
    if relaunch:
        # A redriven join's failed children wait here for a free place under its
        # MaxConcurrency (engine/runtime/redrive.py), before the never-started ones.
        doc["relaunch"] = relaunch[1:]
        launch = [relaunch[0]]
    elif doc["launched"] < doc["total"]:
        launch = [doc["launched"]]
        doc["launched"] += 1
    if doc["succeeded"] + doc["failed"] == doc["total"]:
        doc["status"] = "succeeded"
        return doc, launch, ChildrenSucceeded(results=[])
    return doc, launch, None


def concurrency_limit(doc: JoinDoc) -> int:
    """How many of a join's children may run at once (as `open_join` decided it)."""
    total = doc["total"]
    limit = doc.get("max_concurrency") or total
    if doc["kind"] == "map":
        quiet = bool((doc.get("template") or {}).get("quiet"))
        limit = min(limit, DISTRIBUTED_MAX_CONCURRENCY if quiet else INLINE_MAX_CONCURRENCY)
    return max(1, int(limit))


def _failure(doc: JoinDoc, outcome: Outcome) -> ChildrenFailed | None:
    count, percentage = doc["tolerated_count"], doc["tolerated_percentage"]
    if doc["kind"] == "parallel" or (count is None and percentage is None):
        return ChildrenFailed(outcome.error, outcome.cause)
    failed, total = doc["failed"], doc["total"]
    if exceeds_tolerance(count, percentage, failed, total):
        return ChildrenFailed(
            errors.EXCEED_TOLERATED_FAILURE_THRESHOLD,
            "The specified tolerated failure threshold was exceeded",
        )
    return None


def exceeds_tolerance(
    count: int | None, percentage: float | None, failed: int, total: int
) -> bool:
    """Either threshold exceeded fails the Map (percentage counts failed / total items)."""
    return (count is not None and failed > count) or (
        percentage is not None and failed * 100.0 / (total or 1) > percentage
    )


def result_of(outcome: Outcome) -> Any:
    """What a finished child contributes to the parent's result array."""
    if outcome.status == "SUCCEEDED":
        return outcome.output
    return {"Error": outcome.error, "Cause": outcome.cause}
