"""Stopping the `.sync` jobs the engine no longer waits for, durably.

A Task waiting for a job (its snapshot holds `task.job`, engine/integrations/jobs.py) is
abandoned when:

- the execution is stopped (StopExecution) or times out: every run of it that waits for a
  job, found from the root run down through the open Parallel/Map joins;
- the Task's own TimeoutSeconds (or HeartbeatSeconds) elapses;
- a sibling branch or iteration fails its Parallel/Map (the join aborts it);
- a job started while the run moved on meanwhile (its commit was refused: the execution
  ended, a timeout fired, the branch was aborted), unless another worker's commit already
  tracks that very job.

For each, a `job_stop` message (the resource, which names the job kind, and the job's
handle: nothing else) goes into the execution's outbox in the same atomic commit that ends
the job's state (the closing commit of an execution keeps it, engine/store/base.py's
`clear_outbox`), and is sent after it, like every other message: lost with the broker or
with a process killed right after the commit, the recovery sweep sends it again. A job
whose commit was refused has no commit to ride on: its stop request is recorded right after
the refusal (`Store.settle_outbox`).

The worker that takes the message makes the integration's stop call (`batch:terminateJob`,
`ecs:stopTask`, ...; the process that noticed may be the API server, which calls no AWS).
The call is idempotent (a job already ended or stopping counts as stopped, as AWS's stop
APIs answer). Settled, the entry is consumed; a call that failed (throttled, the service
away) is recorded again as its next attempt, `RETRY_SECONDS` later and doubling, up to
`MAX_ATTEMPTS`, then given up with an error in the worker log.

What is not covered: a worker killed after a job's start call whose commit would have been
refused (the execution was stopped meanwhile) leaves that job unknown to the engine; a
commit that meets the history cap (engine/runtime/quotas.py) records no stops.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

from engine import deletion, execution_logs
from engine.integrations.jobs import stoppable
from engine.interpreter.types import TimerFired
from engine.runtime import messages
from engine.runtime.messages import Message
from engine.store.base import OutboxEntry

if TYPE_CHECKING:
    from engine.interpreter.types import Occurrence
    from engine.runtime.driver import Dispatcher, Driver
    from engine.store.base import ExecutionRecord, LoadedRun, Store

log = logging.getLogger(__name__)

KIND: Final = "job_stop"
#: How deep the walk goes through nested Parallel/Map joins.
_MAX_DEPTH: Final = 32
#: Stop calls that failed are tried again after this long, doubling, up to the cap ...
RETRY_SECONDS: Final = 15.0
RETRY_MAX_SECONDS: Final = 900.0
#: ... this many calls in all.
MAX_ATTEMPTS: Final = 8

Job = tuple[str, str, Any]  # (run, resource, job handle)


def waited_job(doc: dict[str, Any]) -> tuple[str, Any] | None:
    """(resource, job handle) of the job this run's snapshot waits for, if stoppable."""
    if doc.get("phase") != "task":
        return None
    task = doc.get("task") or {}
    job, resource = task.get("job"), str(task.get("resource", ""))
    if job is None or not stoppable(resource):
        return None
    return resource, job


def running_jobs(store: Store, eid: str) -> list[Job]:
    """(run, resource, job) of every run of the execution that waits for a job."""
    root = store.load_run(eid, "0")
    if root is None:
        return []
    return list(_walk(store, eid, "0", root.doc, 0))


def _walk(store: Store, eid: str, run: str, doc: dict[str, Any], depth: int) -> Iterator[Job]:
    found = waited_job(doc)
    if found is not None:
        yield run, found[0], found[1]
    yield from children_jobs(store, eid, doc, depth)


def children_jobs(store: Store, eid: str, doc: dict[str, Any], depth: int = 0,
                  ) -> Iterator[Job]:
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


# --- the record ---------------------------------------------------------------------


def stop_message(eid: str, run: str, resource: str, job: Any, why: str,
                 attempt: int = 0) -> Message:
    """The stop request: the resource (the job kind) and the job's handle. `t` tells the
    entries of two jobs of one run apart (a job orphaned beside the one the run waits for);
    `a` is the attempt of the stop call."""
    if isinstance(job, dict):  # a deletion's answer is no part of what names the job
        job = {k: v for k, v in job.items() if k != "Answer"}
    digest = hashlib.sha1(  # noqa: S324 - an entry id, not security
        json.dumps([resource, job], sort_keys=True).encode()).hexdigest()[:16]
    return messages.make(KIND, eid, run, 0, a=attempt, t=digest, res=resource, job=job,
                         why=why)


def stop_entries(eid: str, jobs: list[Job], why: str, now: float,
                 redeliver_seconds: float) -> list[OutboxEntry]:
    """The outbox entries of the stop requests of `jobs`, to send at once."""
    out = []
    for run, resource, job in jobs:
        message = stop_message(eid, run, resource, job, why)
        out.append(OutboxEntry(messages.entry_id(message), message, now,
                               now + redeliver_seconds, True))
    return out


def send(dispatcher: Dispatcher, entries: list[OutboxEntry]) -> None:
    """Send committed stop requests (a send that fails is logged: the sweep sends them)."""
    for entry in entries:
        try:
            dispatcher.send(entry.message)
        except Exception:  # noqa: BLE001 - the broker may be away; the entry stays
            log.warning("could not send the stop request %s now; the sweep will", entry.id,
                        exc_info=True)


def after_end(store: Store, dispatcher: Dispatcher, eid: str, recorded: list[Job], why: str,
              now: float, redeliver_seconds: float) -> None:
    """After an execution's closing commit (which carried the stops of the jobs read just
    before it): a job some run came to wait for between that read and the commit is
    recorded now. No run commits any more once the execution has ended, so this read is
    final."""
    known = {(run, json.dumps(job, sort_keys=True)) for run, _, job in recorded}
    late = [j for j in running_jobs(store, eid)
            if (j[0], json.dumps(j[2], sort_keys=True)) not in known]
    if late:
        entries = stop_entries(eid, late, why, now, redeliver_seconds)
        store.settle_outbox(eid, add=entries, remove=[])
        send(dispatcher, entries)


# --- the worker's side ----------------------------------------------------------------


def handle(driver: Driver, message: Message) -> str:
    """A worker makes the stop call, then settles the request: consumed, or recorded again
    as its next attempt."""
    eid, resource, job = str(message["x"]), str(message.get("res", "")), message.get("job")
    why = str(message.get("why", "aborted"))
    known = driver.execution(eid)
    arn = known[0].arn if known is not None else eid
    outcome = driver.integrations.stop_job(resource, job, reason_text(arn, why))
    consumed = messages.entry_id(message)
    attempt = int(message.get("a", 0)) + 1
    if outcome.settled or attempt >= MAX_ATTEMPTS:
        driver.store.settle_outbox(eid, add=[], remove=[consumed])
        level = logging.INFO if outcome.settled else logging.ERROR
        log.log(level, "job stop (%s) of %s, run %s, %s %s: %s%s", why, eid, message.get("r"),
                resource, job, outcome.text,
                "" if outcome.settled else f"; gave up after {attempt} attempts")
        return f"job stop: {outcome.text}"
    delay = min(RETRY_MAX_SECONDS, RETRY_SECONDS * 2 ** (attempt - 1))
    again = {k: v for k, v in message.items() if k != "n"}
    again["a"] = attempt
    due = driver.clock() + delay
    driver.store.settle_outbox(
        eid, add=[OutboxEntry(messages.entry_id(again), again, due, due, False)],
        remove=[consumed])
    log.warning("job stop (%s) of %s, run %s, %s %s: %s; trying again in %.0f s", why, eid,
                message.get("r"), resource, job, outcome.text, delay)
    return f"job stop: {outcome.text} (attempt {attempt + 1} in {delay:.0f} s)"


# --- the driver's side (engine/runtime/driver.py) ----------------------------------------


def abandoned(driver: Driver, eid: str, run: str, loaded: LoadedRun, occurrence: Occurrence,
              now: float) -> list[OutboxEntry]:
    """The stop requests the commit being built must carry: the jobs of the siblings a
    failed Parallel/Map aborts (the joins collected them), and the Task's own job when its
    timeout fires."""
    redeliver = driver.settings.redeliver_seconds
    entries = stop_entries(eid, driver.joins.take_abandoned(), "aborted", now, redeliver)
    if isinstance(occurrence, TimerFired) and occurrence.kind in ("task_timeout",
                                                                   "heartbeat"):
        found = waited_job(loaded.doc)
        if found is not None:
            entries += stop_entries(eid, [(run, found[0], found[1])], "timed out", now,
                                    redeliver)
    return entries


def abort_for_deletion(driver: Driver, eid: str, record: ExecutionRecord) -> str:
    """The execution's state machine is being deleted: it ends ABORTED, with the stop
    requests of its jobs in that commit (engine/deletion.py)."""
    now, redeliver = driver.clock(), driver.settings.redeliver_seconds
    jobs = running_jobs(driver.store, eid)
    stops = stop_entries(eid, jobs, "aborted", now, redeliver)
    commit, result = deletion.stop_for_deletion(
        driver.store, eid, record.state_machine_arn, now, stops)
    if result.ok:
        execution_logs.committed(record, commit.events, result.last_event_id)
        send(driver.dispatcher, stops)
        after_end(driver.store, driver.dispatcher, eid, jobs, "aborted", now, redeliver)
    return "stopped: state machine deleted"


def stop_orphaned(driver: Driver, eid: str, run: str, job: Any, loaded: LoadedRun) -> None:
    """A job runs but this step's commit was refused: record its stop, unless the run
    (another worker's commit of the same delivery) waits for that very job."""
    now = driver.store.load_run(eid, run)
    if now is not None and now.status == "RUNNING" and now.doc.get("phase") == "task" and (
        (now.doc.get("task") or {}).get("job") == job
    ):
        return
    found = waited_job(
        {"phase": "task", "task": {**(loaded.doc.get("task") or {}), "job": job}}
    )
    if found is None:
        return
    entries = stop_entries(eid, [(run, found[0], found[1])], "aborted", driver.clock(),
                           driver.settings.redeliver_seconds)
    driver.store.settle_outbox(eid, add=entries, remove=[])
    send(driver.dispatcher, entries)


__all__ = ["KIND", "MAX_ATTEMPTS", "abandoned", "abort_for_deletion", "after_end",
           "children_jobs", "handle", "reason_text", "running_jobs", "send", "stop_entries",
           "stop_message", "stop_orphaned", "waited_job"]
