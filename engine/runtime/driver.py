"""The driver: load -> advance -> commit -> dispatch, for one message.

This is the whole of what a worker does with a message, independent of Celery (the Celery
tasks are thin wrappers around `Driver.handle`) and of the store (Redis in production, the
in-memory store for the inline runner). Commit first, then send: what was committed but not
sent stays in the outbox and the recovery sweep sends it.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
import zlib
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from engine import execution_logs
from engine.asl.budget import StepBudget
from engine.asl.loader import load
from engine.asl.model import StateMachine
from engine.handlers import Invocation, Registry, TaskContext, invoke
from engine.integrations import Integrations, IntegrationSettings
from engine.interpreter import (
    advance,
    new_child_doc,
)
from engine.interpreter.types import (
    Ctx,
    ExecutionInfo,
    JobRunning,
    Occurrence,
    Resumed,
    RunStarted,
    TaskFailed,
    TaskSubmitted,
    TaskSucceeded,
    TimerFired,
    Transition,
    iso_timestamp,
)
from engine.metrics import NullRecorder
from engine.runtime import (
    commits,
    execution_timeout,
    job_stops,
    map_runs,
    messages,
    nested,
    redrive,
)
from engine.runtime.activities import hand_off, is_activity_task, rearm_timeout
from engine.runtime.callbacks import index_waiting, new_token, rearm_heartbeat
from engine.runtime.chaining import Chain
from engine.runtime.commits import started_event
from engine.runtime.joins import Joins
from engine.runtime.leases import LeaseRenewer
from engine.runtime.messages import Message
from engine.runtime.unknown import unknown_resource
from engine.store.base import (
    ClaimNext,
    Commit,
    ExecutionRecord,
    LoadedRun,
    OutboxEntry,
    Store,
)

log = logging.getLogger(__name__)


class Dispatcher(Protocol):
    def send(self, message: Message, *, countdown: float = 0.0) -> None: ...


@dataclass(frozen=True)
class DriverSettings:
    #: A claimed Task is run again elsewhere if its worker stops renewing the lease this long.
    lease_seconds: float = 20.0
    #: A committed message not consumed after this long is sent again by the sweep.
    redeliver_seconds: float = 30.0
    #: Timers at most this far out go to the broker with a countdown (Celery's own retry);
    #: longer ones wait in Redis for the sweep (never a long broker ETA).
    countdown_max_seconds: float = 10.0
    #: Inline transitions per message before yielding (see Ctx.max_steps).
    max_steps: int = 1000
    #: The chaining budget of one delivery (see `Driver.handle`): at most this many Tasks
    #: run in one Celery task, one after another, the delivered one included (0: none
    #: inline; 1: a Task message runs its Task only, and a start, timer or join the first
    #: Task it schedules, as before chaining) ...
    chain_max_tasks: int = 32
    #: ... and no new one starts once the delivery has taken this long (wall clock, the
    #: handlers' time included): past either, the next Task goes through the broker, so
    #: other executions waiting in the queue get their turn.
    chain_max_seconds: float = 0.5
    #: The time one engine step (one `advance`: expressions, intrinsics, regular expressions,
    #: JSON parsing) may compute; past it the state fails (docs/reliability.md).
    step_budget_seconds: float = 5.0
    #: AWS's cap on an execution's history (engine/runtime/quotas.py); 0: none.
    max_history_events: int = 25_000
    region: str = "us-east-1"
    account: str = "000000000000"
    #: Built-in AWS calls through boto3 (SFN_AWS_INTEGRATIONS; engine/integrations).
    aws_integrations: bool = False
    #: The HTTP Task connections file (SFN_HTTP_CONNECTIONS; engine/integrations/http.py).
    http_connections: str | None = None
    #: The directory a Map's ItemReader reads (SFN_ITEM_READER_ROOT).
    item_reader_root: str | None = None
    #: The most children one Map Run runs at once (SFN_MAP_RUN_MAX_CONCURRENCY).
    map_run_max_concurrency: int = 10_000


class Driver:
    def __init__(
        self,
        store: Store,
        dispatcher: Dispatcher,
        registry: Registry,
        *,
        settings: DriverSettings | None = None,
        clock: Callable[[], float] = time.time,
        owner: str = "driver",
        metrics: NullRecorder | None = None,
        budget_clock: Callable[[], float] = time.thread_time,
        step_guard: Callable[[], AbstractContextManager[object]] = nullcontext,
        integrations: Integrations | None = None,
    ) -> None:
        self.store = store
        #: Counts transitions, durations, retries, timer lag and commits (engine/metrics.py;
        #: tasks/worker.py passes a MetricsRecorder); the default records nothing.
        self.metrics = metrics if metrics is not None else NullRecorder()
        self.dispatcher = dispatcher
        self.registry = registry
        self.settings = settings or DriverSettings()
        #: Who serves a Task: a registered handler, else a built-in integration.
        self.integrations = integrations or Integrations(
            registry,
            IntegrationSettings(
                aws=self.settings.aws_integrations,
                http_connections=self.settings.http_connections,
                region=self.settings.region,
                item_reader_root=self.settings.item_reader_root,
            ),
        )
        self.clock = clock
        #: The step budget's clock: the CPU time of the thread running the step (the
        #: `regex` package's timeouts count CPU time too; a busy machine does not make a
        #: step fail that would pass on an idle one), and what each
        #: `advance` runs inside: the Celery shell's watchdog (engine/runtime/watchdog.py)
        #: ends a step that the budget's own checks cannot reach.
        self.budget_clock = budget_clock
        self.step_guard = step_guard
        self._owner = owner
        self._machine = lru_cache(maxsize=256)(self._load_machine)
        self._info: dict[str, tuple[ExecutionRecord, ExecutionInfo]] = {}
        self._local = threading.local()
        self._leases: LeaseRenewer | None = None
        self.joins = Joins(store, self._machine, self._entry)
        #: A Distributed Map with an ItemReader runs as a Map Run of child executions
        #: where the store keeps Map Runs (Redis: engine/runtime/map_runs.py).
        self.map_runs = map_runs.store_of(store) is not None

    @property
    def owner(self) -> str:
        """This process's name on leases (prefork workers share one Driver before forking)."""
        return f"{self._owner}:{os.getpid()}"

    # --- caches of immutable things ---------------------------------------------------

    def _load_machine(self, sha: str) -> StateMachine:
        text = self.store.get_definition(sha)
        if text is None:
            raise LookupError(f"definition {sha} is missing from the store")
        return load(text)

    def execution(self, eid: str) -> tuple[ExecutionRecord, ExecutionInfo] | None:
        cached = self._info.get(eid)
        if cached is not None:
            return cached
        record = self.store.get_execution(eid)
        if record is None:
            return None
        info = ExecutionInfo(
            arn=record.arn,
            name=record.name,
            state_machine_arn=record.state_machine_arn,
            state_machine_name=record.state_machine_name,
            start_time=iso_timestamp(record.start),
            input=json.loads(record.input),
            role_arn=record.role_arn,
            region=self.settings.region,
            account=self.settings.account,
        )
        if len(self._info) > 4096:
            self._info.clear()
        self._info[eid] = (record, info)
        return record, info

    # --- entry point ----------------------------------------------------------------

    def handle(
        self,
        message: Message,
        *,
        dispatcher: Dispatcher | None = None,
        run_task_inline: bool = False,
        task_id: str | None = None,
    ) -> str:
        """Process one message; returns what happened (for logs and tests). `dispatcher`
        overrides where this message's follow-ups are sent (the Celery task uses it to turn
        a retry into Celery's own `Task.retry`).

        `run_task_inline` (the Celery shell sets it): when this message's commit schedules
        a Task that this process serves on the default queue, run that Task here, right
        after the commit, instead of sending its message and taking another trip through
        the broker; and so on from that Task's own commit (a chain), within the budget
        `chain_max_tasks` / `chain_max_seconds`, after which the next Task's message goes
        through the broker as usual. Each chained Task's message is in the committed
        outbox all the same and is claimed like any delivered message (lease, TaskStarted
        once), in the same atomic step as the commit that scheduled it (`ClaimNext`: one
        round trip per hop); if this worker dies the sweep re-sends it once its lease has
        run out.

        `task_id` (the Celery task's id) is recorded by the claim of a Task this message
        runs, against its TaskStarted event (the execution view links it to Flower)."""
        self._local.dispatcher = dispatcher
        self._local.task_id = task_id
        chain = Chain.starting_now(self.settings.chain_max_tasks, self.settings.chain_max_seconds)
        if message.get("k") == "task":
            chain.left -= 1  # the delivered Task is one of the delivery's Tasks
        self._local.chain = chain if run_task_inline else None
        try:
            outcome = self._handle(message)
            # A loop, not a recursion: each chained Task's commit may chain the next one.
            while (chained := chain.pop()) is not None:
                next_message, claimed = chained
                if next_message["k"] == "start":
                    done = self._start(next_message)
                elif claimed is None:
                    done = self.run_task(next_message)
                else:
                    done = self._run_claimed(next_message, claimed)
                log.debug("ran %s inline: %s", messages.entry_id(next_message), done)
            return outcome
        finally:
            self._local.dispatcher = None
            self._local.task_id = None
            self._local.chain = None

    def _handle(self, message: Message) -> str:
        kind = message.get("k")
        eid = message.get("x")
        if kind == job_stops.KIND and isinstance(eid, str):
            # A `.sync` job abandoned (runtime/job_stops.py): stopped even once its
            # execution's record is gone.
            return job_stops.handle(self, message)
        if not isinstance(eid, str) or self.execution(eid) is None:
            return "unknown execution"
        if kind == "task":
            return self.run_task(message)
        if kind == "start":
            return self._start(message)
        if kind == "exec_timeout":
            return execution_timeout.fire(self, message)
        loaded = self.store.load_run(eid, message["r"])
        if loaded is None or loaded.version != message["v"]:
            return "stale"
        occurrence: Occurrence
        lag: float | None = None
        if kind == "timer":
            if message["t"] == "heartbeat" and rearm_heartbeat(self, message, loaded):
                return "heartbeat re-armed"  # a heartbeat came since (callbacks.py)
            if message["t"] == "task_timeout" and rearm_timeout(self, message, loaded):
                return "timeout re-armed"  # counts from ActivityStarted (activities.py)
            occurrence = TimerFired(message["t"], message["a"])
            if message["t"] == "poll":  # a .sync child execution (nested.py)
                if loaded.doc.get("phase") != "task" or loaded.doc.get("attempt") != message["a"]:
                    return "stale"
                job = nested.poll(self, message, loaded)
                if job is None:
                    return "job still running"
                occurrence = job
            if "d" in message:
                lag = self.clock() - message["d"]
        elif kind == "resume":
            occurrence = Resumed()
        elif kind == "join":
            found = self.joins.occurrence(eid, message["j"])
            if found is None:
                return "stale"
            occurrence = found
        else:
            log.warning("dropping a message of unknown kind: %r", message)
            return "unknown kind"
        consumed = messages.entry_id(message)
        outcome = self.step(eid, message["r"], loaded, occurrence, consumed=consumed)
        if lag is not None and outcome == "applied":
            self.metrics.timer_fired(message["t"], lag)
        return outcome

    # --- one step of one run ----------------------------------------------------------

    def step(
        self,
        eid: str,
        run: str,
        loaded: LoadedRun,
        occurrence: Occurrence,
        *,
        consumed: str,
    ) -> str:
        record, info = self.execution(eid) or (None, None)
        assert record is not None and info is not None
        if loaded.status != "RUNNING":
            return "execution not running"
        if loaded.stopping:  # its state machine is being deleted (engine/deletion.py)
            return job_stops.abort_for_deletion(self, eid, record)
        machine = self._machine(record.definition_sha)
        now = self.clock()
        ctx = Ctx(
            now=now,
            random=random.Random(_seed(eid, run, loaded.version)),
            execution=info,
            next_event_id=loaded.history_length + 1,
            max_steps=self.settings.max_steps,
            budget=StepBudget.starting_now(self.settings.step_budget_seconds, self.budget_clock),
            # Drawn here, not in the interpreter: a token must be unguessable.
            task_token=self.issue_token(eid, run),
            read_items=True,
            map_runs=self.map_runs,
        )
        with self.step_guard():
            tr = advance(machine, loaded.doc, occurrence, ctx)
        if not tr.applied:
            return "stale"
        # A child's outcome updates its join; under contention the join's version moves,
        # so rebuild and retry the commit (the run's own write stays the same).
        for _ in range(50):
            self.joins.take_abandoned()  # a rebuilt commit finds the aborted siblings again
            commit, to_send = self._build_commit(eid, run, loaded, tr, consumed, now, record)
            # The jobs this step abandons: their stop requests go in this same commit.
            stops = job_stops.abandoned(self, eid, run, loaded, occurrence, now)
            commit.outbox_add.extend(stops)
            to_send.extend(stops)
            chain: Chain | None = getattr(self._local, "chain", None)
            inline = chain.pick(to_send, self.registry) if chain is not None else None
            if inline is not None and inline.message["k"] == "task":
                commit.claim = self._claim_next(inline, now)
            committing = time.perf_counter()
            result = self.store.commit(eid, commit)
            self.metrics.checkpoint(result, time.perf_counter() - committing)
            if result.capped:
                log.warning("%s reached the history cap and failed", eid)
                if commit.history_limit is not None:
                    execution_logs.committed(
                        record, [commit.history_limit.failure], result.last_event_id
                    )
                return "history limit"
            if result.ok:
                execution_logs.committed(record, commit.events, result.last_event_id)
                claimed = result.claimed
                if (
                    claimed is not None and commit.claim is not None
                    and commit.claim.started_event is not None
                    and claimed.history_length == result.last_event_id + 1
                ):
                    # The chained Task's TaskStarted, appended by the same commit.
                    execution_logs.committed(
                        record, [commit.claim.started_event], claimed.history_length
                    )
                self.metrics.committed(record.state_machine_name, loaded.doc, tr, occurrence, now)
                if tr.outcome is not None and run == "0":
                    nested.wake_parent(self.store, self.dispatcher, eid)
                    if record.map_run_arn:
                        map_runs.child_ended(self, record)
                index_waiting(self, eid, run, loaded.doc, tr.doc, now)
                if inline is None:
                    self._send(to_send, now)
                    return "applied"
                self._send([e for e in to_send if e is not inline], now)
                # Run by `handle` once this step has returned (claimed already, unless the
                # store could not claim it with the commit: then `run_task` claims it).
                assert chain is not None
                chain.push(inline.message, result.claimed)
                return "applied"
            if result.reason != "conflict" or tr.outcome is None or run == "0":
                return f"dropped ({result.reason})"
            current = self.store.load_run(eid, run)
            if (current.version if current else 0) != loaded.version:
                return "stale"  # the run itself moved on: a duplicate got there first
        raise RuntimeError(f"join of {eid}/{run} kept conflicting")

    def _build_commit(
        self, eid: str, run: str, loaded: LoadedRun, tr: Transition, consumed: str,
        now: float, record: ExecutionRecord,
    ) -> tuple[Commit, list[OutboxEntry]]:
        return commits.build_commit(
            self.settings, self.joins, eid, run, loaded, tr, consumed, now, record
        )

    def entry(self, message: Message, now: float, delay: float = 0.0) -> OutboxEntry:
        return commits.outbox_entry(self.settings, message, now, delay)

    def _entry(self, message: Message, now: float, delay: float = 0.0) -> OutboxEntry:
        return commits.outbox_entry(self.settings, message, now, delay)

    def _claim_next(self, entry: OutboxEntry, now: float) -> ClaimNext:
        """What the commit scheduling `entry` claims with it (see `run_task`'s claim)."""
        message = entry.message
        return ClaimNext(
            run=message["r"], entry_id=entry.id, owner=self.owner,
            lease_until=now + self.settings.lease_seconds,
            started_event=started_event(message, now),
            task_id=getattr(self._local, "task_id", None),
            history_limit=self.settings.max_history_events or None,
        )

    def _send(self, entries: list[OutboxEntry], now: float) -> None:
        dispatcher = getattr(self._local, "dispatcher", None) or self.dispatcher
        for entry in entries:
            dispatcher.send(entry.message, countdown=max(0.0, entry.due - now))

    def issue_token(self, eid: str, run: str) -> str:
        """The token a callback Task entered by this step gets (replay reuses recorded
        ones: engine/testing/harness.py)."""
        return new_token(eid, run)

    # --- starting runs ----------------------------------------------------------------

    def _start(self, message: Message) -> str:
        eid, run = message["x"], message["r"]
        consumed = messages.entry_id(message)
        if "j" not in message:  # the root run
            loaded = self.store.load_run(eid, run)
            if loaded is None or loaded.version != message["v"]:
                return "stale"
            record, _ = self.execution(eid) or (None, None)
            assert record is not None
            started = RunStarted(json.loads(record.input))
            return self.step(eid, run, loaded, started, consumed=consumed)
        join = message["j"]
        start = self.store.load_child_start(eid, run, join, message["i"])
        if start.exists:
            # This child has started already, unless a redrive parked it for its join to
            # launch (engine/runtime/redrive.py): it enters its state again now.
            return redrive.launch_parked(self, eid, run, consumed)
        if start.join is None or start.join["status"] != "running":
            return "stale"
        doc = new_child_doc(start.join["template"], join, message["i"])
        fresh = LoadedRun(
            version=0,
            doc=doc,
            history_length=start.history_length,
            # Not read here (the execution record holds the whole input, which for a big
            # Map is the item array): the commit checks the execution is RUNNING.
            status="RUNNING",
        )
        return self.step(eid, run, fresh, RunStarted(start.item), consumed=consumed)

    # --- Task states -------------------------------------------------------------------

    def run_task(self, message: Message) -> str:
        """Claim, invoke the handler (keeping the lease alive), then complete."""
        if is_activity_task(message):
            return hand_off(self, message)  # served by pollers (runtime/activities.py)
        eid, run, version, attempt = message["x"], message["r"], message["v"], message["a"]
        now = self.clock()
        entry = messages.entry_id(message)
        started = started_event(message, now)
        claim = self.store.claim_task(
            eid, run, version, attempt, now=now,
            lease_until=now + self.settings.lease_seconds, owner=self.owner,
            entry_id=entry, started_event=started,
            task_id=getattr(self._local, "task_id", None),
            history_limit=self.settings.max_history_events or None,
        )
        if not claim.ok or claim.loaded is None:
            return f"dropped ({claim.reason})"
        cap = self.settings.max_history_events
        if started is not None and (not cap or claim.loaded.history_length < cap - 1):
            # The claim appended TaskStarted as the last event (near the history cap it may
            # not have: nothing is logged there rather than a record under a wrong id).
            known = self.execution(eid)
            if known is not None:
                execution_logs.committed(known[0], [started], claim.loaded.history_length)
        if nested.serves(self, message):  # a child execution (runtime/nested.py)
            child = nested.start_child(self, eid, run, claim.loaded)
            return self.step(eid, run, claim.loaded, child, consumed=entry)
        if map_runs.serves(claim.loaded):  # a Distributed Map's Map Run (runtime/map_runs.py)
            polled = map_runs.advance(self, eid, run, claim.loaded)
            return self.step(eid, run, claim.loaded, polled, consumed=entry)
        return self._run_claimed(message, claim.loaded)

    def _run_claimed(self, message: Message, loaded: LoadedRun) -> str:
        """Invoke the handler of a claimed Task and commit its outcome."""
        eid = message["x"]
        outcome = self.invoke(eid, loaded, message)
        # The claim returned the snapshot (and the history length) atomically with the
        # version check; the commit compares that version again, so a run that moved on
        # meanwhile (a task timeout, a stop) refuses this completion as before, without
        # loading the run a second time.
        return self._complete(
            eid, message["r"], message["a"], outcome, messages.entry_id(message), loaded
        )

    def invoke(self, eid: str, loaded: LoadedRun, message: Message) -> Invocation:
        record, info = self.execution(eid) or (None, None)
        assert record is not None
        task = loaded.doc["task"]
        name = task.get("handler")
        found = self.integrations.handler(task)
        context = TaskContext(
            function_name=found.name if found is not None else (name or task["resource"]),
            execution_arn=record.arn,
            state_name=loaded.doc["state"],
            attempt=message["a"],
            idempotency_key=f"{record.arn}/{message['r']}/{loaded.doc['state']}/{message['a']}",
        )
        # The handler gets its own copy of the input: the snapshot is used again to commit
        # the outcome (a Retry schedules the same input again).
        event = _private(task["input"])
        token = self._lease_renewer().hold(eid, message)
        try:
            if found is not None:
                return invoke(found, event, context)
            # The state's visit (its *StateEntered event) tells apart two passes of a loop
            # through the same state, for the idempotency tokens of AWS calls.
            # `rerun`: this version was claimed before, its first run may have made the
            # call (a deletion's re-run: engine/integrations/resource_jobs.py).
            builtin = self.integrations.call(
                {**task, "visit": loaded.doc.get("entered_id"), "rerun": loaded.reclaimed},
                context,
            )
            if builtin is not None:
                return builtin
            return unknown_resource(
                task["resource"], name, self.settings.region, self.settings.account
            )
        finally:
            self._lease_renewer().release(token)

    def _lease_renewer(self) -> LeaseRenewer:
        renewer = self._leases
        if renewer is None or renewer.pid != os.getpid():  # a forked pool child: its own
            renewer = self._leases = LeaseRenewer(
                self.store,
                owner=lambda: self.owner,
                clock=self.clock,
                lease_seconds=self.settings.lease_seconds,
            )
        return renewer

    def complete_task(
        self, eid: str, run: str, attempt: int, outcome: Invocation, consumed: str
    ) -> str:
        loaded = self.store.load_run(eid, run)
        if loaded is None:
            return "stale"
        return self._complete(eid, run, attempt, outcome, consumed, loaded)

    def _complete(
        self, eid: str, run: str, attempt: int, outcome: Invocation, consumed: str,
        loaded: LoadedRun,
    ) -> str:
        occurrence: Occurrence = (
            TaskSucceeded(attempt, outcome.result, response=outcome.response)
            if outcome.ok
            else TaskFailed(attempt, outcome.error, outcome.cause)
        )
        if outcome.ok and outcome.job is not None:  # a `.sync` job runs: poll it later
            occurrence = JobRunning(attempt, outcome.job, outcome.poll_seconds, outcome.result)
        elif outcome.ok and (loaded.doc.get("task") or {}).get("token"):
            # A callback's handler returned: the task is submitted and waits for its token.
            occurrence = TaskSubmitted(attempt, outcome.result)
        done = self.step(eid, run, loaded, occurrence, consumed=consumed)
        if outcome.ok and outcome.job is not None and done != "applied":
            job_stops.stop_orphaned(self, eid, run, outcome.job, loaded)
        return done


def _private(value: Any) -> Any:
    """A deep copy of a JSON value (scalars are immutable: shared as they are)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.loads(json.dumps(value))


def _seed(eid: str, run: str, version: int) -> int:
    return zlib.crc32(f"{eid}/{run}/{version}".encode())
