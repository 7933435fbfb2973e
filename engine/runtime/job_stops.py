"""Stopping the `.sync` jobs the engine no longer waits for, as AWS does (best effort).

A Task waiting for a job (its snapshot holds `task.job`, engine/integrations/jobs.py) is
abandoned when:

- the execution is stopped (StopExecution) or times out: every run of it that waits for a
  job, found from the root run down through the open Parallel/Map joins;
- the Task's own TimeoutSeconds elapses;
- a sibling branch or iteration fails its Parallel/Map (the join aborts it);
- a job started while the run moved on meanwhile (its commit was refused: the execution
  ended, a timeout fired, the branch was aborted), unless another worker's commit already
  tracks that very job.

For each, a `job_stop` message goes to the workers (the process that notices may be the API
server, which does not call AWS); the worker that takes it makes the integration's stop
call (`batch:terminateJob`, `ecs:stopTask`, ...) and logs what came of it. Not in the
outbox: a message lost with the broker, or a process killed right after the commit, leaves
the job running (AWS too only attempts the stop).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from engine.integrations.jobs import stoppable
from engine.interpreter.types import TimerFired
from engine.runtime import messages
from engine.runtime.messages import Message

if TYPE_CHECKING:
    from engine.interpreter.types import Occurrence
    from engine.runtime.driver import Dispatcher, Driver
    from engine.store.base import ExecutionRecord, LoadedRun, Store

log = logging.getLogger(__name__)

KIND = "job_stop"
#: How deep the walk goes through nested Parallel/Map joins.
_MAX_DEPTH = 32


def waited_job(doc: dict[str, Any]) -> tuple[str, Any] | None:
    """(resource, job handle) of the job this run's snapshot waits for, if stoppable."""
    if doc.get("phase") != "task":
        return None
    task = doc.get("task") or {}
    job, resource = task.get("job"), str(task.get("resource", ""))
    if job is None or not stoppable(resource):
        return None
    return resource, job


def running_jobs(store: Store, eid: str) -> list[tuple[str, str, Any]]:
    """(run, resource, job) of every run of the execution that waits for a job."""
    root = store.load_run(eid, "0")
    if root is None:
        return []
    return list(_walk(store, eid, "0", root.doc, 0))


def _walk(store: Store, eid: str, run: str, doc: dict[str, Any], depth: int,
          ) -> Iterator[tuple[str, str, Any]]:
    found = waited_job(doc)
    if found is not None:
        yield run, found[0], found[1]
    yield from children_jobs(store, eid, doc, depth)


def children_jobs(store: Store, eid: str, doc: dict[str, Any], depth: int = 0,
                  ) -> Iterator[tuple[str, str, Any]]:
    """The jobs of the still-running children of this run's Parallel/Map, if it has one."""
    join = doc.get("join") if doc.get("phase") == "children" else None
    if not join or depth >= _MAX_DEPTH:
        return
    loaded = store.load_join(eid, join)
    if loaded is None:
        return
    for _, _, child in store.load_unfinished_children(
        eid, join, int(loaded[1].get("launched", 0))
    ):
        yield from _walk(store, eid, str(child.get("run", "")), child, depth + 1)


def reason_text(execution_arn: str, why: str) -> str:
    """What the stop call gives as its reason where the API takes one (AWS's words for a
    Batch job: "... which was managing this resource was aborted")."""
    return (f"The Task state in Step Functions execution [{execution_arn}] which was "
            f"managing this resource was {why}")


def request_stops(
    dispatcher: Dispatcher, eid: str, execution_arn: str, jobs: list[tuple[str, str, Any]],
    why: str,
) -> None:
    """Send one `job_stop` message per job (a send that fails is logged, not raised: the
    transition that abandoned the job has been committed already)."""
    for run, resource, job in jobs:
        message = messages.make(KIND, eid, run, 0, res=resource, job=job, arn=execution_arn,
                                why=why)
        try:
            dispatcher.send(message)
        except Exception:  # noqa: BLE001 - best effort: the broker may be away
            log.warning("could not ask for the stop of %s's job %s", eid, job, exc_info=True)


def handle(driver: Driver, message: Message) -> str:
    """A worker makes the stop call."""
    resource, job = str(message.get("res", "")), message.get("job")
    why = str(message.get("why", "aborted"))
    outcome = driver.integrations.stop_job(
        resource, job, reason_text(str(message.get("arn", "")), why)
    )
    level = logging.INFO if outcome == "stopped" else logging.WARNING
    log.log(level, "job stop (%s) of %s, run %s, %s %s: %s", why, message.get("x"),
            message.get("r"), resource, job, outcome)
    return f"job stop: {outcome}"


__all__ = ["KIND", "children_jobs", "handle", "reason_text", "request_stops", "running_jobs",
           "stop_abandoned", "stop_orphaned", "waited_job"]


# --- the driver's side (engine/runtime/driver.py) ----------------------------------------


def stop_abandoned(
    driver: Driver, eid: str, run: str, record: ExecutionRecord, loaded: LoadedRun,
    occurrence: Occurrence,
) -> None:
    """A committed step left `.sync` jobs behind: the Task's own timeout, or siblings
    aborted by a failed Parallel/Map (the joins collected their jobs)."""
    aborted = driver.joins.take_abandoned()
    if aborted:
        request_stops(driver.dispatcher, eid, record.arn, aborted, "aborted")
    if isinstance(occurrence, TimerFired) and occurrence.kind in ("task_timeout",
                                                                   "heartbeat"):
        found = waited_job(loaded.doc)
        if found is not None:
            request_stops(driver.dispatcher, eid, record.arn, [(run, found[0], found[1])],
                          "timed out")


def stop_orphaned(driver: Driver, eid: str, run: str, job: Any, loaded: LoadedRun) -> None:
    """A job runs but this step's commit was refused: stop it, unless the run (another
    worker's commit of the same delivery) waits for that very job."""
    now = driver.store.load_run(eid, run)
    if now is not None and now.status == "RUNNING" and now.doc.get("phase") == "task" and (
        (now.doc.get("task") or {}).get("job") == job
    ):
        return
    found = waited_job(
        {"phase": "task", "task": {**(loaded.doc.get("task") or {}), "job": job}}
    )
    record = driver.execution(eid)
    if found is not None and record is not None:
        request_stops(driver.dispatcher, eid, record[0].arn, [(run, found[0], found[1])],
                      "aborted")
