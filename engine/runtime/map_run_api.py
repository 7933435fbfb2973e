"""The Map Run actions, as the client answers them (the HTTP API translates:
engine/api/actions_map_runs.py): DescribeMapRun, ListMapRuns, UpdateMapRun, and
ListExecutions by mapRunArn."""

from __future__ import annotations

import json
from typing import Any

from engine import arns
from engine.errors import EngineError
from engine.runtime import map_run_express as express
from engine.runtime.map_runs import DEFAULT_MAX_CONCURRENCY, run_id_of, store_of
from engine.store.base import ExecutionRecord


class MapRunNotFound(EngineError):
    code = "ResourceNotFound"


def _where(client: Any, arn: str) -> tuple[Any, str, str]:
    mr = store_of(client.store)
    if mr is None or ":mapRun:" not in arn:
        raise MapRunNotFound(f"Resource not found: '{arn}'")
    rid = run_id_of(arn)
    eid = mr.parent_of(rid)
    if eid is None or mr.field(eid, rid, "arn") != arn:
        raise MapRunNotFound(f"Resource not found: '{arn}'")
    return mr, eid, rid


def _millis(value: str | None) -> float | None:
    return float(value) if value not in (None, "") else None


def describe(client: Any, arn: str) -> dict[str, Any]:
    mr, eid, rid = _where(client, arn)
    c = mr.counters(eid, rid) or {}
    record = mr.record(eid, rid, ("eid",))
    parent = client.store.get_execution(record.get("eid", eid))
    # Failed children a redrive reopened, waiting to be redriven: executions, items.
    waiting, waiting_items = mr.pending_redrive_totals(eid, rid)

    def counts(prefix: str) -> dict[str, int]:
        got = {k: int(c.get(prefix + f) or 0) for k, f in (
            ("succeeded", "succeeded"), ("failed", "failed"), ("timedOut", "timed_out"),
            ("aborted", "aborted"))}
        admitted = int(c.get("items" if prefix else "admitted") or 0)
        redrive = waiting_items if prefix else waiting
        running = admitted - sum(got.values()) - redrive
        total = int(c.get("total") or -1)
        if prefix and total >= 0:
            total = admitted
        pending = 0 if total < 0 else max(0, total - admitted)
        return {
            "pending": pending, "running": max(0, running) if c.get("status") == "RUNNING" else 0,
            **got, "total": admitted + pending if total >= 0 else admitted,
            "resultsWritten": int(c.get("results_written") or 0) or (
                sum(got.values()) if c.get("status") == "SUCCEEDED" else 0),
            "failuresNotRedrivable": 0 if prefix else int(c.get("not_redrivable") or 0),
            "pendingRedrive": redrive,
        }

    out: dict[str, Any] = {
        "mapRunArn": arn,
        "executionArn": parent.arn if parent is not None else "",
        "status": c.get("status", "RUNNING"),
        "startDate": float(c.get("start") or 0),
        "maxConcurrency": int(c.get("max_concurrency") or 0) or 0,
        "toleratedFailurePercentage": float(json.loads(c.get("tolerated_percentage") or "null")
                                            or 0.0),
        "toleratedFailureCount": int(json.loads(c.get("tolerated_count") or "null") or 0),
        "itemCounts": counts("items_"),
        "executionCounts": counts(""),
        "redriveCount": int(c.get("redrive_count") or 0),
    }
    if c.get("redrive_date"):
        out["redriveDate"] = float(c["redrive_date"])
    stop = _millis(c.get("stop"))
    if stop is not None and c.get("status") != "RUNNING":
        out["stopDate"] = stop
    return out


def list_runs(client: Any, execution_arn: str) -> list[dict[str, Any]]:
    mr = store_of(client.store)
    eid = arns.execution_id(execution_arn)
    record = client.store.get_execution(eid)
    if record is None:
        raise EngineError(f"Execution Does Not Exist: '{execution_arn}'")
    out = []
    for rid in reversed(mr.ids(eid) if mr is not None else []):
        found = mr.record(eid, rid, ("arn", "start", "stop", "status")) if mr else {}
        item: dict[str, Any] = {
            "executionArn": record.arn, "mapRunArn": found.get("arn", ""),
            "stateMachineArn": record.state_machine_arn,
            "startDate": float(found.get("start") or 0),
        }
        if found.get("status") != "RUNNING" and found.get("stop"):
            item["stopDate"] = float(found["stop"])
        out.append(item)
    return out


def update(client: Any, arn: str, *, max_concurrency: int | None,
           tolerated_count: int | None, tolerated_percentage: float | None) -> None:
    """New settings, effective for the next admissions and the next counts."""
    mr, eid, rid = _where(client, arn)
    fields: dict[str, str] = {}
    if max_concurrency is not None:
        fields["max_concurrency"] = str(max_concurrency)
    if tolerated_count is not None:
        fields["tolerated_count"] = json.dumps(tolerated_count)
    if tolerated_percentage is not None:
        fields["tolerated_percentage"] = json.dumps(tolerated_percentage)
    mr.update(eid, rid, fields)  # the next admission (a child's end, a poll) reads them


def list_children(client: Any, arn: str, *, status: str | None, limit: int,
                  offset: int = 0, chunk: int = 500) -> list[ExecutionRecord]:
    """The Map Run's child executions, newest first (by index), `status` filtered: those
    whose records exist (an EXPRESS Map Run's succeeded children are forgotten once
    counted, engine/runtime/map_run_express.py). Statuses are read a chunk a round trip."""
    mr, eid, rid = _where(client, arn)
    admitted = int(mr.field(eid, rid, "admitted") or 0)
    plan = {"arn": arn, "_machine": mr.field(eid, rid, "machine") or "",
            "execution_type": json.loads(mr.field(eid, rid, "plan") or "{}").get(
                "execution_type")}
    out: list[ExecutionRecord] = []
    skipped = 0
    for top in range(admitted - 1, -1, -chunk):
        indexes = list(range(top, max(-1, top - chunk), -1))
        ids = express.child_ids(plan, mr, eid, rid, indexes)
        for child_id, found in zip(ids, mr.statuses(ids), strict=True):
            if found is None or (status is not None and found != status):
                continue
            if skipped < offset:
                skipped += 1
                continue
            child = client.store.get_execution(child_id)
            if child is None:
                continue
            out.append(child)
            if len(out) >= limit:
                return out
    return out


__all__ = ["DEFAULT_MAX_CONCURRENCY", "MapRunNotFound", "describe", "list_children",
           "list_runs", "update"]
