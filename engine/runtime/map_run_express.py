"""A Map Run's EXPRESS children (`ItemProcessor.ProcessorConfig.ExecutionType: EXPRESS`),
as AWS runs them: EXPRESS child executions with EXPRESS ARNs, at most 5 minutes each, no
history offered, and no redrive of their own (a redrive of the parent re-runs a failed one
as a new execution, as AWS reruns them with StartExecution).

- The id: `MACHINE/LABEL:NAME:ID`, ARN `arn:aws:states:REGION:ACCOUNT:express:MACHINE/
  LABEL:NAME:ID`. NAME is the STANDARD child's name (derived from the Map Run and the item
  index); ID is derived from them and the Map Run's redrive count when the child started
  (its last group): created twice (a worker killed while admitting), a child exists once;
  re-run by a redrive, it is a new execution beside the failed one.
- Memory: once the Map Run has counted a SUCCEEDED child (its result taken into the Map
  Run's results or ResultWriter buffer in the same script), its record, history and keys
  are deleted: Redis holds the running children, not every child that ever ran. A failed,
  timed-out or aborted child is kept (its input is what a redrive of the parent re-runs).
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Final

from engine.interpreter import map_runs as plan_of
from engine.store import keys
from engine.store.base import ExecutionRecord

#: AWS's maximum duration of an EXPRESS execution (States.Timeout past it).
MAX_SECONDS: Final = 300
EXPRESS: Final = "EXPRESS"


def is_express(plan: dict[str, Any]) -> bool:
    return plan.get("execution_type") == EXPRESS


def express_id(map_run_arn: str, index: int, attempt: int) -> str:
    """The child's EXPRESS id: the same for the same item and attempt (the Map Run's redrive
    count when it started), whoever creates it. A UUID whose last group is the attempt."""
    digest = uuid.uuid5(uuid.NAMESPACE_URL, f"{map_run_arn}#{index}#express#{attempt}").hex
    return str(uuid.UUID(hex=digest[:20] + f"{attempt:012x}"))


def attempt_of(child: ExecutionRecord) -> int:
    """The attempt an EXPRESS child ran in (the last group of its id); a STANDARD child's
    redrive count (it is redriven in place)."""
    if child.type != EXPRESS:
        return child.redrive_count
    try:
        return int(child.eid[-12:], 16)
    except ValueError:
        return 0


def child_id(plan: dict[str, Any], index: int, attempt: int = 0) -> str:
    """The execution id of the Map Run's child for item (or batch) `index`: `MACHINE/LABEL:
    NAME`, or an EXPRESS child's `MACHINE/LABEL:NAME:ID` for `attempt`."""
    arn = str(plan["arn"])
    base = f"{plan['_machine']}:{plan_of.child_name(arn, index)}"
    if not is_express(plan):
        return base
    return f"{base}:{express_id(arn, index, attempt)}"


def attempt(mr: Any, eid: str, rid: str) -> int:
    """The Map Run's redrive count: the attempt its running EXPRESS children started in (a
    redrive reopens it only once every child it ran has been counted)."""
    return int(mr.field(eid, rid, "redrive_count") or 0)


def child_ids(plan: dict[str, Any], mr: Any, eid: str, rid: str,
              indexes: list[int]) -> list[str]:
    now = attempt(mr, eid, rid) if is_express(plan) else 0
    return [child_id(plan, i, now) for i in indexes]


def new_child_options(plan: dict[str, Any], index: int, attempt_now: int) -> dict[str, Any]:
    """What `starts.new_execution` needs beyond a STANDARD child's for this child."""
    if not is_express(plan):
        return {}
    return {"express_id": express_id(str(plan["arn"]), index, attempt_now),
            "max_seconds": MAX_SECONDS}


def forget(store: Any, child: ExecutionRecord) -> None:
    """Delete a counted EXPRESS child: record, history, runs, outbox and index entries
    (AWS keeps no history of EXPRESS executions). One pipeline, no transaction: what a
    crash leaves is deleted by the sweep's retention like any ended execution's."""
    if child.type != EXPRESS:
        return
    r = store.r
    eid = child.eid
    sm = keys.state_machine_of(eid)
    members = [str(m) for m in r.smembers(keys.child_keys(eid))]
    pipe = r.pipeline(transaction=False)
    if members:
        pipe.unlink(*members)
    pipe.unlink(keys.meta(eid), keys.history(eid), keys.tasks(eid), keys.run(eid, "0"),
                keys.outbox(eid), keys.outbox_due(eid), keys.heartbeats(eid),
                keys.parent(eid), keys.children(eid), keys.deliveries(eid),
                keys.child_keys(eid))
    for index in (keys.executions(), keys.sm_executions(sm), keys.recent(), keys.recent(sm),
                  keys.due_index(), keys.closed(), keys.ended()):
        pipe.zrem(index, eid)
    pipe.execute()


def rerun(driver: Any, plan: dict[str, Any], mr: Any, eid: str, rid: str, index: int,
          failed_in: int) -> str | None:
    """A redrive of the parent re-runs the failed EXPRESS child `index` (it failed in
    attempt `failed_in`) as a new EXPRESS execution with the same input, as AWS reruns
    them with StartExecution. None: re-run (or created already by an admitter that died
    before marking it); else the status it stays counted as (the failed child is gone)."""
    from engine.starts import send_all

    now = attempt(mr, eid, rid)
    old = driver.store.get_execution(child_id(plan, index, failed_in))
    if driver.store.get_execution(child_id(plan, index, now)) is not None:
        return None  # re-run already (its admitter died before marking it running)
    if old is None:
        return "failed"
    from engine.runtime.map_runs import _create_children

    record, _ = driver.execution(eid) or (None, None)
    assert record is not None
    same_input = json.loads(old.input or "{}")
    starts = _create_children(driver, record, plan, index, [same_input], attempt=now)
    send_all(driver.dispatcher, starts)
    forget(driver.store, old)  # the new child holds its input now
    return None


__all__ = ["MAX_SECONDS", "attempt", "attempt_of", "child_id", "child_ids", "express_id",
           "forget", "is_express", "new_child_options", "rerun"]
