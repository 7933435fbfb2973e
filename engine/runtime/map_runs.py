"""Map Runs on the shell's side: a Distributed Map's children as child executions,
admitted up to MaxConcurrency, their items read by position in windows.

- The parent's run waits for its Map Run as for a `.sync` job: a Map Run "task" claimed
  like any (no Task events), then a durable "job_poll" timer every POLL_SECONDS. Each poll
  (`advance`) creates the Map Run once, sweeps its running children (counting any whose
  end was not reported), admits more and reports the outcome once it has ended.
- A child's last commit reports its end at once (`child_ended`, best effort like
  nested.wake_parent; the poll's sweep is the durable path): counted once in the Map Run,
  its result collected or buffered for the ResultWriter, the next children admitted, and
  the parent woken when the Map Run ends.
- Admitting: one admitter at a time (a lock with an expiry); it reads the next window of
  items after the recorded position, creates their child executions (names derived from
  the Map Run and the index: created twice, they exist once), records the new position
  under a compare-and-set, then sends their start messages. A worker that dies anywhere in
  between leaves a position that reads the same window again.
- Results: without ResultWriter they are the Map's output, at most 256 KiB in all (past
  it the Map Run fails with States.DataLimitExceeded, as AWS); with one they are written
  as they come, FLUSH_ENTRIES entries a file, AWS's manifest.json at the end.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from typing import TYPE_CHECKING, Any, Final

from engine.asl import errors
from engine.asl.failure import StatesFailure
from engine.interpreter import history as h
from engine.interpreter import map_runs as plan_of
from engine.interpreter.dataflow import MAX_PAYLOAD_BYTES
from engine.interpreter.join import exceeds_tolerance
from engine.interpreter.types import JobRunning, Occurrence, TaskFailed, TaskSucceeded
from engine.runtime import map_run_express as express
from engine.runtime import messages
from engine.runtime.map_run_items import has_input_items, spool_input_items, stored_plan
from engine.runtime.map_run_pending import never_started
from engine.runtime.map_run_results import child_result, map_output, result_entry, write
from engine.runtime.map_run_results import writer_fields as writer_fields_of
from engine.runtime.map_run_windows import next_window
from engine.store.base import ExecutionRecord, LoadedRun, StateMachineRecord
from engine.store.map_runs import RedisMapRuns

if TYPE_CHECKING:
    from engine.runtime.driver import Driver

log = logging.getLogger(__name__)

#: How often a waiting Map is looked at (sweep, admit, outcome) when no child wakes it.
POLL_SECONDS: Final = 5.0
#: Children admitted per window (items read, executions created in one round trip).
WINDOW: Final = 200
LOCK_SECONDS: Final = 10.0
#: A Distributed Map without MaxConcurrency (or 0) runs 1,000 children at once, as on
#: AWS; none runs more than AWS's quota of 10,000 or the deployment's cap
#: (SFN_MAP_RUN_MAX_CONCURRENCY, DriverSettings.map_run_max_concurrency).
DEFAULT_MAX_CONCURRENCY: Final = 1000
DISTRIBUTED_QUOTA: Final = 10_000

_STATUS_FIELD: Final = {
    "SUCCEEDED": "succeeded", "FAILED": "failed", "TIMED_OUT": "timed_out", "ABORTED": "aborted",
}


def store_of(driver_or_store: Any) -> RedisMapRuns | None:
    """The Map Run store beside an execution store (None: the in-memory store, whose
    Distributed Maps run their iterations inside the execution)."""
    store = getattr(driver_or_store, "store", driver_or_store)
    cached = getattr(store, "_map_runs", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    client = getattr(store, "r", None)
    if client is None or not hasattr(client, "register_script"):
        return None
    made = RedisMapRuns(client, getattr(store, "retention_seconds", 0.0))
    store._map_runs = made
    return made


def serves(loaded: LoadedRun) -> bool:
    return "map_run" in (loaded.doc.get("task") or {})


def run_id_of(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


MAP_RUN_RESOURCE: Final = plan_of.MAP_RUN_RESOURCE


def waiting_task(arn: str) -> dict[str, Any]:
    """The `task` of a run waiting on the Map Run `arn` (as `job_running` leaves it): a
    redriven parent waits on the same Map Run (engine/runtime/redrive.py)."""
    return {"resource": MAP_RUN_RESOURCE, "handler": None, "input": None, "parameters": None,
            "timeout": None, "heartbeat": None, "map_run": {"arn": arn}}


def reopened(store: Any, rid: str) -> None:
    """A redrive reopened the Map Run `rid` (in its atomic step): its ARN's index to the
    parent, in another slot, loses the retention's expiry too."""
    mr = store_of(store)
    if mr is not None:
        mr.keep_parent(rid)


def child_machine(plan: dict[str, Any]) -> str:
    """`MACHINE/LABEL` as in the Map Run's ARN: its children's state machine name."""
    return str(plan["arn"]).split(":mapRun:", 1)[1].rsplit(":", 1)[0]


# --- the parent's poll ---------------------------------------------------------------------


def advance(driver: Driver, eid: str, run: str, loaded: LoadedRun) -> Occurrence:
    """The parent's Map Run task: create it once, tick it, report its outcome."""
    mr = store_of(driver)
    assert mr is not None
    task = loaded.doc["task"]
    plan = task["map_run"]
    attempt = int(loaded.doc.get("attempt", 0))
    rid = run_id_of(plan["arn"])
    record, _ = driver.execution(eid) or (None, None)
    assert record is not None
    if mr.field(eid, rid, "status") is None:
        _create(driver, mr, eid, run, record, plan, attempt)
    tick(driver, eid, rid, sweep=True)
    return outcome(driver, eid, rid, attempt) or JobRunning(
        attempt, {"MapRunArn": plan["arn"]}, POLL_SECONDS
    )


def outcome(driver: Driver, eid: str, rid: str, attempt: int) -> Occurrence | None:
    mr = store_of(driver)
    assert mr is not None
    found = mr.record(eid, rid, ("status", "error", "cause", "arn", "total", "writer"))
    status = found.get("status")
    if status == "RUNNING" or status is None:
        return None
    if status == "SUCCEEDED":
        writer = json.loads(found.get("writer") or "null")
        if writer is not None:
            return TaskSucceeded(attempt, {
                "MapRunArn": found["arn"],
                "ResultWriterDetails": {"Bucket": writer["bucket"],
                                        "Key": writer["base"] + "/manifest.json"},
            })
        results = mr.results(eid, rid, int(found.get("total") or 0))
        return TaskSucceeded(attempt, map_output(_plan(mr, eid, rid).get("writer"), results))
    return TaskFailed(attempt, found.get("error") or errors.TASK_FAILED, found.get("cause"))


def _create(driver: Driver, mr: RedisMapRuns, eid: str, run: str, record: ExecutionRecord,
            plan: dict[str, Any], attempt: int) -> None:
    now = driver.clock()
    text = json.dumps(plan["definition"], separators=(",", ":"), sort_keys=True)
    sha = driver.store.put_definition(text)
    concurrency = int(plan.get("max_concurrency") or 0)
    writer_fields = writer_fields_of(plan, run_id_of(plan["arn"]))
    fields = {
        "arn": plan["arn"], "eid": eid, "run": run, "attempt": str(attempt),
        "state": plan["state"], "machine": child_machine(plan), "sha": sha,
        "plan": json.dumps(stored_plan(plan), separators=(",", ":")), "status": "RUNNING",
        "start": str(now), "max_concurrency": str(concurrency),
        "tolerated_count": json.dumps(plan.get("tolerated_count")),
        "tolerated_percentage": json.dumps(plan.get("tolerated_percentage")),
        "admitted": "0", "items": "0", "total": "-1", "pos": "null", "dirty": "0",
        "writer": json.dumps(writer_fields), "results_written": "0", "bytes": "0",
        "role": record.role_arn,
        # its failed children are kept for a redrive of the parent (older records: not)
        "redrivable": "1",
        **{f: "0" for f in _STATUS_FIELD.values()},
        **{f"items_{f}": "0" for f in _STATUS_FIELD.values()},
    }
    rid = run_id_of(plan["arn"])
    spooled: bool | str | None
    if has_input_items(plan):  # ItemsPath / Items: the items came with the input
        spool_input_items(mr, eid, rid, plan)
        spooled = True
    else:
        spooled = _spool_handler_items(driver, mr, eid, rid, record, plan, attempt)
    if spooled is not None:
        fields["spooled"] = "1"
    mr.create(eid, rid, fields, now)
    if isinstance(spooled, str):  # the handler failed: the Map's ItemReaderFailed
        _end(driver, mr, eid, rid, "FAILED", errors.ITEM_READER_FAILED, spooled)


def _spool_handler_items(driver: Driver, mr: RedisMapRuns, eid: str, rid: str,
                         record: ExecutionRecord, plan: dict[str, Any],
                         attempt: int) -> bool | str | None:
    """A handler registered for the reader's resource (`s3:getObject`, ...) serves the
    read, as for any Task: called once, its items kept in Redis a chunk at a time and
    read back by position. None: no such handler; a text: its failure."""
    from engine.handlers import TaskContext, invoke

    reader = plan["reader"]
    task = {"resource": reader.get("resource", ""), "parameters": reader.get("parameters"),
            "handler": None}
    found = driver.integrations.handler(task)
    if found is None:
        return None
    context = TaskContext(
        function_name=found.name, execution_arn=record.arn, state_name=plan["state"],
        attempt=attempt, idempotency_key=f"{record.arn}/{plan['arn']}/ItemReader",
    )
    outcome = invoke(found, reader.get("parameters"), context)
    if not outcome.ok:
        return outcome.cause or outcome.error or "The ItemReader handler failed."
    if not isinstance(outcome.result, list):
        return "The ItemReader did not yield a JSON array."
    items = outcome.result
    limit = reader.get("max_items")
    if isinstance(limit, int) and limit > 0:
        items = items[:limit]
    mr.spool(eid, rid, [json.dumps(i, separators=(",", ":"), ensure_ascii=False) for i in items])
    return True


# --- one tick: sweep, admit, write, finish ---------------------------------------------------


def tick(driver: Driver, eid: str, rid: str, *, sweep: bool) -> None:
    mr = store_of(driver)
    assert mr is not None
    if sweep:
        _sweep(driver, mr, eid, rid)
    owner = f"{driver.owner}:{time.monotonic_ns()}"
    for _ in range(1000):
        if not mr.acquire(eid, rid, owner, LOCK_SECONDS):
            mr.mark_dirty(eid, rid)  # the holder admits again before letting go
            return
        try:
            _admit_all(driver, mr, eid, rid)
            _settle(driver, mr, eid, rid)
        except Exception:
            mr.release(eid, rid, owner)
            raise
        if not mr.release(eid, rid, owner):
            return


def _plan(mr: RedisMapRuns, eid: str, rid: str, cache: dict[str, Any] = {}) -> dict[str, Any]:  # noqa: B006
    key = f"{eid}|{rid}"
    found = cache.get(key)
    if found is None:
        if len(cache) > 64:
            cache.clear()
        found = cache[key] = {
            **json.loads(mr.field(eid, rid, "plan") or "{}"),
            "_sha": mr.field(eid, rid, "sha"), "_machine": mr.field(eid, rid, "machine"),
            "_role": mr.field(eid, rid, "role") or "",
            "_spooled": mr.field(eid, rid, "spooled") == "1",
        }
    return found


def _limit(counters: dict[str, str], cap: int) -> int:
    """MaxConcurrency (as UpdateMapRun left it), within the deployment's cap; 0: AWS's
    default of 1,000."""
    wanted = int(counters.get("max_concurrency") or 0)
    return min(wanted if wanted > 0 else DEFAULT_MAX_CONCURRENCY, cap)


def _finished(c: dict[str, str]) -> int:
    return sum(int(c.get(f) or 0) for f in _STATUS_FIELD.values())


def _admit_all(driver: Driver, mr: RedisMapRuns, eid: str, rid: str) -> None:
    """Admit children while there is room, a window at a time."""
    while True:
        c = mr.counters(eid, rid)
        if c is None or c["status"] != "RUNNING" or _over(c):  # (settled next: no more)
            return
        limit = _limit(c, getattr(driver.settings, "map_run_max_concurrency", DISTRIBUTED_QUOTA))
        if _redrive_children(driver, mr, eid, rid, c, limit) or int(c["total"]) >= 0:
            return
        admitted = int(c["admitted"])
        running = admitted - _finished(c)
        room = limit - running
        # Refill by windows, not one child per child that ends: a window once a quarter
        # of the room (at most WINDOW) is free, or when nothing runs.
        if room <= 0 or (running > 0 and room < min(WINDOW, max(1, limit // 4))):
            return
        plan = _plan(mr, eid, rid)
        want = min(room, WINDOW)
        try:
            read = functools.partial(_read, driver, mr, eid, rid, plan)
            cut = next_window(plan, read, json.loads(c["pos"]), want, int(c["items"]))
        except StatesFailure as failure:
            _end(driver, mr, eid, rid, "FAILED", failure.error, failure.cause)
            return
        except Exception as exc:  # the reader's own failure: the Map's ItemReaderFailed
            from engine.integrations.readers import ReaderError

            if not isinstance(exc, ReaderError):
                raise
            _end(driver, mr, eid, rid, "FAILED", errors.ITEM_READER_FAILED, str(exc))
            return
        children = [plan_of.batch(plan, g) for g in cut.groups]
        record, _ = driver.execution(eid) or (None, None)
        assert record is not None
        starts = _create_children(driver, record, plan, admitted, children,
                                  attempt=int(c.get("redrive_count") or 0))
        total = admitted + len(children) if cut.eof else None
        done = mr.admit(eid, rid, admitted, cut.position, int(c["items"]) + cut.items, total,
                        [len(g) for g in cut.groups])
        if done == 1:
            _send(driver, starts)
        if done == -1 or total is not None:
            return


def _redrive_children(driver: Driver, mr: RedisMapRuns, eid: str, rid: str,
                      c: dict[str, str], limit: int) -> bool:
    """The failed children a redrive of the parent reopened, redriven as room allows
    (each its own RedriveExecution, on its own keys); True while some wait.

    A child is redriven, then marked running: a worker dying in between leaves it pending,
    and the next admitter finds it redriven already (its redrive count past the one it
    failed with, or RUNNING) and only marks it; two admitters cannot both redrive it (the
    redrive's compare-and-set on the child's redrive count refuses the second)."""
    from engine.errors import ExecutionNotRedrivable
    from engine.runtime import redrive

    pending = mr.pending_redrive_count(eid, rid)
    if pending == 0:
        return False
    room = limit - (int(c["admitted"]) - _finished(c) - pending)
    if room <= 0:
        return True
    plan = _plan(mr, eid, rid)
    rules = redrive.RedriveRules(
        window_seconds=redrive.MAX_OPEN_SECONDS,  # the parent's redrive was allowed
        max_history_events=driver.settings.max_history_events,
        redeliver_seconds=driver.settings.redeliver_seconds,
    )
    # A window at a time: the lock (LOCK_SECONDS) is not held across thousands of redrives.
    for index, redrives in mr.pending_redrive(eid, rid, min(room, WINDOW)):
        if express.is_express(plan):  # re-run as a new EXPRESS execution (AWS)
            refused = express.rerun(driver, plan, mr, eid, rid, index, redrives)
            mr.redriven(eid, rid, index, refused=refused or "")
            continue
        child_id = express.child_id(plan, index)
        child = driver.store.get_execution(child_id)
        if child is None:  # gone past the retention: it stays a failure
            mr.redriven(eid, rid, index, refused="failed")
            continue
        if child.status != "RUNNING" and child.redrive_count <= redrives:
            try:
                redrive.redrive_execution(driver.store, driver.dispatcher, child,
                                          now=driver.clock(), rules=rules)
            except ExecutionNotRedrivable:
                fresh = driver.store.get_execution(child_id) or child
                if fresh.status != "RUNNING" and fresh.redrive_count <= redrives:
                    mr.redriven(eid, rid, index,
                                refused=_STATUS_FIELD.get(fresh.status, "failed"))
                    continue
        mr.redriven(eid, rid, index)
    return mr.pending_redrive_count(eid, rid) > 0


def _read(driver: Driver, mr: RedisMapRuns, eid: str, rid: str, plan: dict[str, Any],
          position: dict[str, Any] | None, count: int) -> Any:
    from engine.integrations.item_windows import Window, read_window
    from engine.integrations.readers import ReaderError

    if plan.get("_spooled"):
        done = int((position or {}).get("i", 0))
        found = [json.loads(x) for x in mr.spooled(eid, rid, done, count)]
        return Window(found, {"i": done + len(found)}, len(found) < count)

    reader = plan["reader"]
    action = str(reader.get("resource", "")).rsplit(":", 1)[-1]
    integrations = driver.integrations
    root = integrations.settings.item_reader_root
    aws = integrations.aws if integrations.settings.aws else None
    if action not in ("getObject", "listObjectsV2"):
        raise ReaderError(f"The ItemReader resource '{reader.get('resource')}' is not supported.")
    return read_window(action, reader.get("parameters"), reader.get("config") or {}, position,
                       count, max_items=reader.get("max_items"), root=root, aws=aws)


def _create_children(driver: Driver, parent: ExecutionRecord, plan: dict[str, Any],
                     first: int, inputs: list[Any], *, attempt: int = 0) -> list[dict[str, Any]]:
    from engine.starts import new_execution

    machine_name = plan["_machine"]
    machine = StateMachineRecord(
        name=machine_name,
        arn=f"arn:aws:states:{driver.settings.region}:{driver.settings.account}:"
            f"stateMachine:{machine_name}",
        definition="", definition_sha=plan["_sha"], role_arn=plan["_role"],
        type="EXPRESS" if express.is_express(plan) else "STANDARD", created=0.0, updated=0.0,
    )
    target = _Target(machine)
    model = driver._machine(plan["_sha"])
    now = driver.clock()
    batch = []
    starts = []
    for n, value in enumerate(inputs):
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        new, message = new_execution(
            target, model, text, plan_of.child_name(plan["arn"], first + n),
            region=driver.settings.region, account=driver.settings.account, now=now,
            redeliver_seconds=driver.settings.redeliver_seconds,
            **express.new_child_options(plan, first + n, attempt),
        )
        new.record.map_run_arn = plan["arn"]
        batch.append(new)
        starts.append(message)
    driver.store.create_executions(batch)
    return starts


class _Target:
    def __init__(self, machine: StateMachineRecord) -> None:
        self.machine = machine
        self.version_arn = None
        self.alias_arn = None


def _send(driver: Driver, starts: list[dict[str, Any]]) -> None:
    from engine.starts import send_all

    send_all(driver.dispatcher, starts)


# --- counting children ------------------------------------------------------------------------


def child_ended(driver: Driver, record: ExecutionRecord) -> None:
    """A child execution ended (its last commit applied): count it, admit more, wake the
    parent once the Map Run has ended. Best effort: the parent's poll sweeps."""
    arn = record.map_run_arn
    mr = store_of(driver)
    if not arn or mr is None:
        return
    rid = run_id_of(arn)
    parent = mr.parent_of(rid)
    if parent is None:
        return
    fresh = driver.store.get_execution(record.eid)
    if fresh is None:
        return
    index = _index_of(mr, parent, rid, fresh)
    if index is not None:
        _count(mr, parent, rid, index, fresh, driver.store)
    tick(driver, parent, rid, sweep=False)
    _wake_if_ended(driver, mr, parent, rid)


def _index_of(mr: RedisMapRuns, eid: str, rid: str, child: ExecutionRecord) -> int | None:
    return plan_of.index_of(_plan(mr, eid, rid)["arn"], child.name)


def _count(mr: RedisMapRuns, eid: str, rid: str, index: int, child: ExecutionRecord,
           store: Any = None) -> None:
    status = child.status
    if status not in _STATUS_FIELD:
        return
    result = entry = None
    writer = _plan(mr, eid, rid).get("writer")
    if writer is None or not writer.get("resource"):  # no export: the Map's output
        result = child_result(writer, child)
    else:
        entry = json.dumps({**result_entry(child), "_i": index}, separators=(",", ":"),
                           ensure_ascii=False)
    counted = mr.count(eid, rid, index, _STATUS_FIELD[status], result, entry,
                       express.attempt_of(child))
    if counted and status == "SUCCEEDED" and store is not None:
        express.forget(store, child)  # its result is the Map Run's now (EXPRESS only)


def _sweep(driver: Driver, mr: RedisMapRuns, eid: str, rid: str) -> None:
    """Count the running children that have ended (their own report was lost)."""
    sweep(driver.store, eid, rid)


def sweep(store: Any, eid: str, rid: str) -> None:
    """`_sweep` from a store: a redrive of the parent counts the children that ended
    uncounted (stopped with their Map Run) before it reopens it, so that they are redriven."""
    mr = store_of(store)
    assert mr is not None
    plan = _plan(mr, eid, rid)
    running = mr.running(eid, rid)
    ids = express.child_ids(plan, mr, eid, rid, running)
    for index, child_id, status in zip(running, ids, mr.statuses(ids), strict=True):
        if status is not None and status != "RUNNING":
            child = store.get_execution(child_id)
            if child is not None:
                _count(mr, eid, rid, index, child, store)


# --- ending ---------------------------------------------------------------------------------


def _over(c: dict[str, str]) -> bool:
    """Whether the failures are past the tolerance."""
    total = int(c["total"])
    failures = sum(int(c.get(f) or 0) for f in ("failed", "timed_out", "aborted"))
    count = json.loads(c.get("tolerated_count") or "null")
    percentage = json.loads(c.get("tolerated_percentage") or "null")
    if count is None and percentage is None:
        count = 0  # AWS: no tolerance set tolerates no failure
    return bool((count is not None and failures > count) or (
        percentage is not None and total >= 0
        and exceeds_tolerance(None, percentage, failures, total)))


def _settle(driver: Driver, mr: RedisMapRuns, eid: str, rid: str) -> None:
    """Write what is buffered; end the Map Run when its children are done or its
    failures are past the tolerance (the lock is held)."""
    c = mr.counters(eid, rid)
    if c is None or c["status"] != "RUNNING":
        return
    writer = json.loads(mr.field(eid, rid, "writer") or "null")
    total = int(c["total"])
    over = _over(c)
    if writer is not None:
        from engine.integrations.writers import ResultWriterError

        try:
            pending: Any = ()
            if over:  # its running children are aborted (FAILED files), the rest PENDING
                stop_children(client_of(driver), eid, rid)
                _sweep(driver, mr, eid, rid)
                pending = never_started(driver, eid, rid, c)
            write(driver.integrations, mr, eid, rid, writer, pending=pending,
                  final=over or (total >= 0 and _finished(c) >= total))
        except (OSError, ResultWriterError) as exc:
            _end(driver, mr, eid, rid, "FAILED", errors.RESULT_WRITER_FAILED, str(exc))
            return
    elif int(c.get("bytes") or 0) + 2 > MAX_PAYLOAD_BYTES:
        _end(driver, mr, eid, rid, "FAILED", errors.DATA_LIMIT_EXCEEDED, plan_of.DATA_LIMIT_CAUSE)
        return
    if over:
        _end(driver, mr, eid, rid, "FAILED", errors.EXCEED_TOLERATED_FAILURE_THRESHOLD,
             "The specified tolerated failure threshold was exceeded")
    elif total >= 0 and _finished(c) >= total:
        _end(driver, mr, eid, rid, "SUCCEEDED", None, None)


def _end(driver: Driver, mr: RedisMapRuns, eid: str, rid: str, status: str,
         error: str | None, cause: str | None) -> None:
    if not mr.finish(eid, rid, status, driver.clock(), error, cause):
        return
    if status != "SUCCEEDED":
        stop_children(client_of(driver), eid, rid)
    _wake_if_ended(driver, mr, eid, rid)


def _wake_if_ended(driver: Driver, mr: RedisMapRuns, eid: str, rid: str) -> None:
    """The parent's poll now rather than at its timer (best effort)."""
    found = mr.record(eid, rid, ("status", "run", "arn", "state"))
    if found.get("status") in (None, "RUNNING"):
        return
    loaded = driver.store.load_run(eid, found["run"])
    if loaded is None or loaded.doc.get("phase") != "task":
        return
    task = loaded.doc.get("task") or {}
    if (task.get("map_run") or {}).get("arn") != found["arn"]:
        return
    driver.dispatcher.send(messages.make(
        "timer", eid, found["run"], loaded.version, t="job_poll", a=loaded.doc.get("attempt", 0),
        s=loaded.doc.get("state"), m=eid.split(":", 1)[0],
    ))


def stop_children(client: Any, eid: str, rid: str) -> None:
    """Stop the children still running (the Map Run failed or was aborted)."""
    from engine.errors import EngineError

    mr = store_of(client.store)
    assert mr is not None
    plan = _plan(mr, eid, rid)
    running = mr.running(eid, rid)
    for child in express.child_ids(plan, mr, eid, rid, running):
        try:
            client.stop_execution(child)
        except EngineError:
            continue


def running_ids(store: Any, eid: str) -> list[str]:
    """The Map Runs of `eid` still running."""
    mr = store_of(store)
    if mr is None:
        return []
    return [rid for rid in mr.ids(eid) if mr.field(eid, rid, "status") == "RUNNING"]


def aborted_events(store: Any, eid: str, timestamp: str) -> list[dict[str, Any]]:
    """What stopping `eid` logs before ExecutionAborted: MapRunAborted for each Map Run
    still running (AWS)."""
    return [h.plain(timestamp, "MapRunAborted") for _ in running_ids(store, eid)]


def abort_all(client: Any, eid: str) -> None:
    """`eid` was stopped: its running Map Runs are ABORTED, their running children
    stopped."""
    mr = store_of(client.store)
    if mr is None:
        return
    for rid in running_ids(client.store, eid):
        if mr.finish(eid, rid, "ABORTED", client.clock(), None, None):
            stop_children(client, eid, rid)


def client_of(driver: Any) -> Any:
    from engine.client import Client

    return Client(driver.store, driver.dispatcher, region=driver.settings.region,
                  account=driver.settings.account, clock=driver.clock)


__all__ = ["advance", "child_ended", "serves", "stop_children", "store_of", "tick"]
