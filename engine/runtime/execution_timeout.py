"""An execution's own timeout (the machine's TimeoutSeconds): the timer message the start
scheduled ends the execution TIMED_OUT, as one commit, then stops what it left running."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine import execution_logs
from engine.interpreter import history as h
from engine.interpreter.types import epoch_millis, iso_timestamp
from engine.runtime import job_stops, map_runs, nested, redrive
from engine.runtime.messages import Message
from engine.store.base import Commit

if TYPE_CHECKING:
    from engine.runtime.driver import Driver


def fire(driver: Driver, message: Message) -> str:
    """The execution's TimeoutSeconds elapsed: it ends TIMED_OUT (unless it ended first or
    was redriven since), its jobs, children and Map Runs are stopped."""
    eid = message["x"]
    if not redrive.current_timeout(driver.store, eid, message):
        return "stale"  # an earlier attempt's timeout (the execution was redriven)
    now = driver.clock()
    redeliver = driver.settings.redeliver_seconds
    jobs = job_stops.running_jobs(driver.store, eid)
    stops = job_stops.stop_entries(eid, jobs, "timed out", now, redeliver)
    commit = Commit(
        events=[h.execution_timed_out(iso_timestamp(now), "States.Timeout", None)],
        execution={
            "status": "TIMED_OUT", "error": "States.Timeout", "stop": epoch_millis(now)
        },
        clear_outbox=True,
        outbox_add=stops,  # its jobs' stop requests, in the same commit
    )
    result = driver.store.commit(eid, commit)
    if not result.ok:
        return "stale"
    job_stops.send(driver.dispatcher, stops)
    job_stops.after_end(driver.store, driver.dispatcher, eid, jobs, "timed out", now, redeliver)
    known = driver.execution(eid)
    if known is not None:
        execution_logs.committed(known[0], commit.events, result.last_event_id)
    nested.wake_parent(driver.store, driver.dispatcher, eid)
    if driver.map_runs:  # its Map Runs stop with it, and their children
        map_runs.abort_all(map_runs.client_of(driver), eid)
    return "applied"
