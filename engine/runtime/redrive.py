"""RedriveExecution: an ended Standard execution starts again where it failed.

AWS (Developer Guide, "Redriving executions"; API reference, RedriveExecution): a FAILED,
TIMED_OUT or ABORTED Standard execution, within 14 days of its end, continues from the
state that did not complete, with the same input, definition and ARN, keeping its history
(an `ExecutionRedriven` event, then the history goes on). The state is entered again, so a
Task's retry counters and timeouts start afresh; inside a Parallel or an inline Map only the
branches or iterations that failed or were aborted run again, the others keep their results.

How it is done here: each run (the root, a branch, an iteration) that did not succeed is
written back to RUNNING shape at the state it failed or stopped in, and a message that
re-enters that state goes to the outbox; a Parallel/Map's join is reopened with the
succeeded children counted and kept. The interpreter records the state a run failed in
(`failed` in its snapshot); a run whose snapshot lacks it ended before this existed
("Execution was started before the launch of RedriveExecution", as AWS says of those).
The whole plan is applied in one atomic step of the store (engine/store/redrive.py).

A run that failed (or stopped) waiting on a DISTRIBUTED Map's Map Run waits on the same Map
Run again: the plan reopens it (its failed children pending redrive, its redrive count,
MapRunRedriven after ExecutionRedriven) and its admitter redrives those children, each by
`redrive_execution` (engine/runtime/map_runs.py; docs/redrive.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from engine import execution_logs
from engine.asl.loader import load
from engine.asl.model import MapState, ParallelState, StateMachine
from engine.errors import EngineFault, ExecutionNotRedrivable
from engine.interpreter import history as h
from engine.interpreter.join import concurrency_limit
from engine.interpreter.machine import scope_states
from engine.interpreter.types import Resumed, epoch_millis, iso_timestamp
from engine.runtime import map_runs, messages
from engine.store.base import DocWrite, ExecutionRecord, LoadedRun, OutboxEntry, Store
from engine.store.redrive import MapRunReopen, RedrivePlan

#: AWS: an execution can be redriven for 14 days after it ended (SFN_REDRIVE_SECONDS).
REDRIVE_SECONDS: Final = 14 * 86400.0
#: AWS's quota of redrives per execution.
MAX_REDRIVES: Final = 1000
#: AWS: an execution open longer than a year cannot be redriven.
MAX_OPEN_SECONDS: Final = 365 * 86400.0
#: AWS: "idempotent responses for the last 10 client tokens used to successfully redrive
#: the execution ... valid for up to 15 minutes after they are first used".
TOKENS_KEPT: Final = 10
TOKEN_SECONDS: Final = 15 * 60.0

#: redriveStatusReason, in AWS's words (DescribeExecution's API reference) ...
RUNNING: Final = "Execution is RUNNING and cannot be redriven"
SUCCEEDED: Final = "Execution is SUCCEEDED and cannot be redriven"
DELETING: Final = "State machine is in DELETING status"
BEFORE_LAUNCH: Final = "Execution was started before the launch of RedriveExecution"
HISTORY_LIMIT: Final = "Execution history event limit exceeded"
MAX_TIME: Final = "Execution has exceeded the max execution time"
PERIOD: Final = "Execution redrivable period exceeded"
#: ... and ours where AWS documents the rule but no wording (docs/redrive.md).
EXPRESS: Final = "Execution of an EXPRESS state machine cannot be redriven"
BY_MAP_RUN: Final = (
    "Execution is a child workflow execution of a Map Run and is redriven only by a redrive "
    "of its parent execution"
)
TOO_MANY: Final = f"Execution has been redriven the maximum number of times ({MAX_REDRIVES})"


@dataclass(frozen=True)
class RedriveRules:
    """The limits a redrive is checked against (settings, passed down)."""

    window_seconds: float = REDRIVE_SECONDS
    max_history_events: int = 25_000
    redeliver_seconds: float = 30.0


def not_redrivable(
    store: Store, record: ExecutionRecord, now: float, rules: RedriveRules
) -> str | None:
    """Why `record` cannot be redriven now (AWS's redriveStatusReason), or None."""
    if record.status in ("RUNNING", "SUCCEEDED"):
        return f"Execution is {record.status} and cannot be redriven"
    if record.type == "EXPRESS":
        return EXPRESS
    # A Map Run's child (`MACHINE/LABEL`) is of its parent's state machine.
    machine = store.get_state_machine(record.state_machine_name.split("/", 1)[0])
    if machine is None or machine.status == "DELETING":
        return DELETING
    if record.stop is not None and now - record.stop > rules.window_seconds:
        return PERIOD  # (a window of 0: redrive is off)
    if now - record.start > MAX_OPEN_SECONDS:
        return MAX_TIME
    cap = rules.max_history_events
    # AWS: fewer than 24,999 events, to leave room for ExecutionRedriven and one more.
    if cap and store.history_length(record.eid) >= cap - 1:
        return HISTORY_LIMIT
    if record.redrive_count >= MAX_REDRIVES:
        return TOO_MANY
    root = store.load_run(record.eid, "0")
    if root is None or _stopped_at(root.doc) is None:
        return BEFORE_LAUNCH
    return None


def redrive_execution(
    store: Store,
    dispatcher: Any,
    record: ExecutionRecord,
    *,
    now: float,
    rules: RedriveRules,
    client_token: str | None = None,
) -> float:
    """Redrive `record`: check, plan, apply in one atomic step, then send the messages
    that re-enter its runs (the sweep sends them if this process dies first). Returns
    the redriveDate (epoch s)."""
    answered = previous_answer(record, client_token, now)
    if answered is not None:
        return answered
    reason = not_redrivable(store, record, now, rules)
    if reason is not None:
        raise ExecutionNotRedrivable(f"{reason}: '{record.arn}'")
    text = store.get_definition(record.definition_sha)
    if text is None:
        raise EngineFault(f"definition {record.definition_sha} is missing from the store")
    made = plan(store, record, load(text), now, rules, client_token)
    result = store.redrive(record.eid, made)
    if not result.ok:
        # Another redrive (or a change of the record) came first: the same token's answer
        # if it was that one, else why it cannot be redriven now.
        fresh = store.get_execution(record.eid) or record
        answered = previous_answer(fresh, client_token, now)
        if answered is not None:
            return answered
        why = not_redrivable(store, fresh, now, rules) or PERIOD
        raise ExecutionNotRedrivable(f"{why}: '{record.arn}'")
    execution_logs.committed(record, [made.event, *made.more_events], result.event_id)
    for reopened in made.map_runs:
        map_runs.reopened(store, reopened.run_id)
    for entry in made.outbox:
        if entry.immediate:
            dispatcher.send(entry.message, countdown=0.0)
    return float(made.execution["redrive_date"])


def _stopped_at(doc: dict[str, Any]) -> str | None:
    """The state a run starts again from: the one it failed in, or the one it was in when
    the execution ended ("" for a run that never started); None: unknown."""
    phase = doc.get("phase")
    if phase == "new":
        return ""
    if phase == "done":
        found = doc.get("failed")
        return found if isinstance(found, str) else None
    state = doc.get("state")
    return state if isinstance(state, str) else None


def previous_answer(record: ExecutionRecord, token: str | None, now: float) -> float | None:
    """The redriveDate a redrive with this client token already answered (AWS answers a
    repeat with the same response for 15 minutes), or None."""
    if token is None:
        return None
    for used, first, date in json.loads(record.redrive_tokens or "[]"):
        if used == token and now - first <= TOKEN_SECONDS:
            return float(date)
    return None


def plan(
    store: Store,
    record: ExecutionRecord,
    machine: StateMachine,
    now: float,
    rules: RedriveRules,
    client_token: str | None,
) -> RedrivePlan:
    """Everything the redrive writes, read from the store as the execution ended."""
    count = record.redrive_count + 1
    date = epoch_millis(now)
    tokens = [
        t for t in json.loads(record.redrive_tokens or "[]") if now - t[1] <= TOKEN_SECONDS
    ]
    if client_token is not None:
        tokens = [*tokens, [client_token, now, date]][-TOKENS_KEPT:]
    result = RedrivePlan(
        status=record.status,
        redrive_count=record.redrive_count,
        stopped_after=now - rules.window_seconds,
        event=h.event(
            iso_timestamp(date), "ExecutionRedriven", "executionRedrivenEventDetails",
            redriveCount=count,
        ),
        execution={
            "status": "RUNNING", "redrive_count": count, "redrive_date": date,
            "redrive_tokens": json.dumps(tokens),
        },
    )
    _Planner(store, record, machine, now, count, rules, result).root()
    if machine.timeout_seconds:
        # AWS: the execution's TimeoutSeconds counts again from the redrive. `a` tells this
        # timeout from an earlier attempt's (the driver drops one of another count).
        msg = messages.make(
            "exec_timeout", record.eid, "0", 0, a=count, m=record.state_machine_name
        )
        due = now + machine.timeout_seconds
        result.outbox.append(OutboxEntry(messages.entry_id(msg), msg, due, due, False))
    return result


class _Planner:
    def __init__(
        self,
        store: Store,
        record: ExecutionRecord,
        machine: StateMachine,
        now: float,
        count: int,
        rules: RedriveRules,
        plan: RedrivePlan,
    ) -> None:
        self.store = store
        self.eid = record.eid
        self.sm = record.state_machine_name
        self.machine = machine
        self.now = now
        self.marks = {"rc": count, "rt": iso_timestamp(epoch_millis(now))}
        self.rules = rules
        self.plan = plan

    def root(self) -> None:
        loaded = self.store.load_run(self.eid, "0")
        if loaded is None:
            raise ExecutionNotRedrivable(BEFORE_LAUNCH)
        self.reenter("0", loaded)

    def send(self, message: messages.Message, *, deadline: float | None = None) -> None:
        due = self.now
        self.plan.outbox.append(OutboxEntry(
            messages.entry_id(message), message, due,
            deadline if deadline is not None else due + self.rules.redeliver_seconds, True,
        ))

    def write(self, run: str, loaded: LoadedRun, doc: dict[str, Any]) -> None:
        self.plan.writes.append(
            DocWrite("run", run, loaded.version, doc, doc.get("phase", ""), doc.get("attempt", 0))
        )

    def reenter(self, run: str, loaded: LoadedRun, *, park: bool = False) -> None:
        """Write `run` back at the state it stopped in and send what enters it again.
        `park`: a Map iteration queued behind MaxConcurrency: written ready to re-enter,
        entered when the join launches it (its start message; engine/runtime/driver.py)."""
        doc = loaded.doc
        name = _stopped_at(doc)
        if name is None:
            raise ExecutionNotRedrivable(BEFORE_LAUNCH)
        version = loaded.version + 1
        new = {
            k: v for k, v in doc.items() if k not in ("outcome", "aborted", "failed", "parked")
        }
        new.update(self.marks, outbox=[])
        if name == "":  # the root run never started: start it
            self.write(run, loaded, new)
            self.send(messages.make("start", self.eid, run, version, m=self.sm))
            return
        states, _ = scope_states(self.machine, doc["scope"])
        state = states[name]
        new["state"] = name
        # The join of its last attempt: named in the snapshot while it waits for it, else
        # rebuilt as the interpreter names it (engine/interpreter/children.py).
        join = doc.get("join") or f"{run}/{name}#{doc.get('entered_id')}.{doc.get('attempt', 0)}"
        found = self.store.load_join(self.eid, join)
        if (
            isinstance(state, ParallelState | MapState)
            and found is not None
            and found[1].get("state") == name
            and found[1].get("parent_run") == run
        ):
            # A Parallel or Map: the children that did not succeed run again; the
            # others keep their results.
            new["phase"] = "children"
            self.write(run, loaded, new)
            self.reopen(str(join), found[0], found[1], run, version)
            return
        arn = self.map_run(run, doc, name) if isinstance(state, MapState) else None
        if arn is not None:
            new.update(phase="task", task=map_runs.waiting_task(arn))
            new.pop("retries", None)  # the state is entered again: its retries afresh
            self.write(run, loaded, new)
            self.send(messages.make(
                "task", self.eid, run, version, a=doc.get("attempt", 0),
                res=map_runs.MAP_RUN_RESOURCE, s=name, m=self.sm, q=1,
            ))
            return
        # Any other state is entered again with the input it had (Resumed: `enter` resets
        # the retry counters, the attempt and the Task's timeouts, as AWS's redrive does).
        new["phase"] = "ready"
        if park:
            new["parked"] = True
            self.write(run, loaded, new)
            return
        self.write(run, loaded, new)
        self.send(messages.make("resume", self.eid, run, version, s=name, m=self.sm))

    def map_run(self, run: str, doc: dict[str, Any], name: str) -> str | None:
        """The Map Run `run` waited on in state `name`, reopened in the plan if it did not
        succeed (AWS: its failed children are redriven, MapRunRedriven); None: none."""
        arn = doc.get("map_run_arn") or ((doc.get("task") or {}).get("map_run") or {}).get("arn")
        mr = map_runs.store_of(self.store)
        if not isinstance(arn, str) or mr is None:
            return None
        rid = map_runs.run_id_of(arn)
        found = mr.record(self.eid, rid, ("status", "run", "state", "redrive_count",
                                          "redrivable"))
        if found.get("run") != run or found.get("state") != name:
            return None  # not a Map Run's (an in-execution Distributed Map's ARN)
        if found.get("redrivable") != "1":
            return None  # a Map Run recorded before its failed children were: a new one
        if found.get("status") in ("FAILED", "ABORTED", "TIMED_OUT"):
            map_runs.sweep(self.store, self.eid, rid)  # children stopped with it, uncounted
            count = int(found.get("redrive_count") or 0) + 1
            date = epoch_millis(self.now)
            self.plan.map_runs.append(MapRunReopen(rid, {
                "status": "RUNNING", "redrive_count": str(count), "redrive_date": str(date),
                "dirty": "1",
            }))
            self.plan.more_events.append(h.event(
                iso_timestamp(date), "MapRunRedriven", "mapRunRedrivenEventDetails",
                mapRunArn=arn, redriveCount=count,
            ))
        return arn

    def reopen(
        self, join: str, join_version: int, doc: dict[str, Any], parent_run: str,
        parent_version: int,
    ) -> None:
        wake = messages.make(
            "join", self.eid, parent_run, parent_version, j=join, s=doc["state"], m=self.sm
        )
        new = {k: v for k, v in doc.items() if k not in ("error", "cause")}
        new["parent_version"] = parent_version
        new["template"] = {**doc["template"], **self.marks}
        if doc["status"] == "succeeded":
            # Every child succeeded; the state failed after them (its ResultSelector, its
            # ResultWriter...): deliver their results to it again.
            self.plan.writes.append(DocWrite("join", join, join_version, new, "succeeded"))
            self.send(wake)
            return
        launched = int(doc["launched"])
        again: list[tuple[int, LoadedRun | None]] = []
        kept = 0
        for i in range(launched):
            child = self.store.load_run(self.eid, f"{join}/{i}")
            outcome = (child.doc.get("outcome") or {}) if child is not None else {}
            if child is not None and outcome.get("status") == "SUCCEEDED":
                kept += 1
            else:
                again.append((i, child))
        limit = concurrency_limit(doc)
        now, later = again[:limit], again[limit:]
        free = limit - len(now)
        fresh = list(range(launched, min(int(doc["total"]), launched + max(0, free))))
        new.update(
            status="running", succeeded=kept, failed=0, launched=launched + len(fresh),
            relaunch=[i for i, _ in later],
        )
        if not again and not fresh and kept == doc["total"]:
            new["status"] = "succeeded"
            self.plan.writes.append(DocWrite("join", join, join_version, new, "succeeded"))
            self.send(wake)
            return
        self.plan.writes.append(DocWrite("join", join, join_version, new, "running"))
        if again:
            self.plan.forget[join] = [i for i, _ in again]
        for i, child in now:
            if child is None:
                self.start_child(join, i)
            else:
                self.reenter(f"{join}/{i}", child)
        for i, child in later:
            if child is not None:
                self.reenter(f"{join}/{i}", child, park=True)
        for i in fresh:
            self.start_child(join, i)

    def start_child(self, join: str, index: int) -> None:
        self.send(messages.make(
            "start", self.eid, f"{join}/{index}", 0, j=join, i=index, m=self.sm
        ))


# --- the driver's side ---------------------------------------------------------------


def launch_parked(driver: Any, eid: str, run: str, consumed: str) -> str:
    """A start message for a child that exists: "stale", unless a redrive parked it behind
    its join's MaxConcurrency (`reenter(park=True)`): then it enters its state again."""
    loaded = driver.store.load_run(eid, run)
    if loaded is None or not loaded.doc.get("parked") or loaded.doc.get("phase") != "ready":
        return "stale"
    doc = {k: v for k, v in loaded.doc.items() if k != "parked"}
    unparked = LoadedRun(
        loaded.version, doc, loaded.history_length, loaded.status, stopping=loaded.stopping
    )
    return str(driver.step(eid, run, unparked, Resumed(), consumed=consumed))


def current_timeout(store: Store, eid: str, message: messages.Message) -> bool:
    """Whether an `exec_timeout` message is the current attempt's (a redrive sends a new
    one, `a` = its redrive count)."""
    record = store.get_execution(eid)
    return record is not None and int(message.get("a") or 0) == record.redrive_count
