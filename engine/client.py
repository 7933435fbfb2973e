"""The Python client for application code.

    client.create_state_machine("OrderProcessing", Path("workflows/order_processing.asl.json"))
    execution = client.start_execution("OrderProcessing", {"orderId": "12345"}, name="order-12345")
    done = client.wait(execution.arn)
    print(done.status, done.output)

Starting an execution commits it (record, root run, ExecutionStarted, the first message in
the outbox) and then sends the first message; the workers do the rest. Starting the same
name twice with the same input returns the same execution; with another input it is an
error, as on AWS.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from engine import arns, deletion, execution_logs
from engine.asl.loader import load
from engine.asl.model import StateMachine
from engine.definitions import (
    check_resources,
    check_tags,
    configured,
    definition_text,
    task_handlers,
)
from engine.errors import (
    ExecutionAlreadyExists,
    ExecutionDoesNotExist,
    ExecutionNotRedrivable,
    ExecutionNotRunning,
    MissingRequiredParameter,
    StateMachineAlreadyExists,
    StateMachineDoesNotExist,
    ValidationException,
)
from engine.fleet import Fleet, WaitingTask
from engine.handlers import Registry
from engine.interpreter import history as h
from engine.interpreter.types import epoch_millis, iso_timestamp
from engine.runtime import job_stops, map_runs, nested, redrive
from engine.runtime.activities import Activities, activity_store
from engine.runtime.callbacks import TaskTokens
from engine.runtime.driver import Dispatcher, Driver, DriverSettings
from engine.runtime.messages import Message
from engine.starts import (
    START_BATCH,
    checked_input,
    create_and_send,
    existing_or_conflict,
    machine_of,
    new_execution,
    start_batches,
)
from engine.store.base import (
    TERMINAL,
    Commit,
    ExecutionRecord,
    NewExecution,
    StateMachineRecord,
    Store,
)
from engine.versions import Versions

if TYPE_CHECKING:
    from engine.direct_starts import DirectStarts

#: `wait` looks once, after this long, for a reason the execution is not moving.
WAIT_WARN_AFTER_SECONDS = 2.0
DEFAULT_ROLE = "arn:aws:iam::{account}:role/StatesExecutionRole"


class Client:
    def __init__(
        self,
        store: Store,
        dispatcher: Dispatcher,
        *,
        region: str = "us-east-1",
        account: str = "000000000000",
        registry: Registry | None = None,
        clock: Callable[[], float] = time.time,
        redeliver_seconds: float = 30.0,
        fleet: Fleet | None = None,
    ) -> None:
        self.store = store
        #: The live workers' announcements (engine/fleet.py), for the warnings that nothing
        #: will run an execution; None (the in-process runner) warns of nothing.
        self.fleet = fleet
        self.dispatcher = dispatcher
        self.region = region
        self.account = account
        self.registry = registry
        self.clock = clock
        self.redeliver_seconds = redeliver_seconds
        #: Versions and aliases (engine/versions.py); `versions.choose` draws alias routes.
        self.versions = Versions(self)
        self._tokens: TaskTokens | None = None
        self._activities: Activities | None = None
        #: RedriveExecution's window and limits (engine/runtime/redrive.py; connect() sets
        #: them from the settings).
        self.redrive_rules = redrive.RedriveRules(redeliver_seconds=redeliver_seconds)
        self._direct: DirectStarts | None | Literal[False] = False

    # --- state machines ---------------------------------------------------------------

    def create_state_machine(
        self,
        name: str,
        definition: str | Mapping[str, Any] | Path,
        *,
        role_arn: str | None = None,
        type: str = "STANDARD",
        update: bool = True,
        tags: dict[str, str] | None = None,
        configuration: Mapping[str, dict[str, Any] | None] | None = None,
    ) -> StateMachineRecord:
        """Create a state machine; with `update`, an existing one gets the new definition
        (running executions keep the definition they started with). `configuration`:
        `logging`, `tracing`, `encryption` as engine/machine_config.py checked them."""
        arns.check_name(name, "state machine name")
        text = definition_text(definition)
        machine = load(text, state_machine_type=type)
        check_resources(machine, self.registry, self.store)
        sha = self.store.put_definition(text)
        now = self.clock()
        existing = self.store.get_state_machine(name)
        if existing is not None and existing.status == "DELETING":
            if deletion.finish(self, name):
                existing = None
            else:
                deletion.refuse_if_deleting(existing)
        if existing is not None and not update:
            same_config = all(
                getattr(existing, k) == v for k, v in (configuration or {}).items()
            )
            if existing.definition_sha == sha and existing.type == type and same_config:
                return existing  # AWS: creating the same thing twice is idempotent
            raise StateMachineAlreadyExists(f"State Machine Already Exists: '{existing.arn}'")
        record = StateMachineRecord(
            name=name,
            arn=arns.state_machine_arn(self.region, self.account, name),
            definition=text,
            definition_sha=sha,
            role_arn=role_arn or DEFAULT_ROLE.format(account=self.account),
            type=type,
            created=existing.created if existing else now,
            updated=now,
            revision=(existing.revision + 1) if existing else 1,
            tags=check_tags(tags, limit=True) if tags else (existing.tags if existing else {}),
        )
        record = configured(record, configuration)
        self.store.put_state_machine(record, create=existing is None)
        return record

    def describe_state_machine(self, name_or_arn: str) -> StateMachineRecord:
        name = arns.state_machine_name(name_or_arn)
        record = self.store.get_state_machine(name)
        if record is not None and record.status == "DELETING" and deletion.finish(self, name):
            record = None  # its last execution has ended: it is gone
        if record is None:
            raise StateMachineDoesNotExist(
                "State Machine Does Not Exist: "
                f"'{arns.state_machine_arn(self.region, self.account, name)}'"
            )
        return record

    def update_state_machine(
        self,
        name_or_arn: str,
        *,
        definition: str | Mapping[str, Any] | Path | None = None,
        role_arn: str | None = None,
        configuration: Mapping[str, dict[str, Any] | None] | None = None,
    ) -> StateMachineRecord:
        """UpdateStateMachine: a new definition, role and/or configuration (`logging`,
        `tracing`, `encryption`) for an existing machine (its type is immutable); running
        executions keep the definition they started with."""
        settings = {k: v for k, v in (configuration or {}).items() if v}
        if definition is None and role_arn is None and not settings:
            raise MissingRequiredParameter(
                "Either the definition, the roleArn, the loggingConfiguration, the "
                "tracingConfiguration or the encryptionConfiguration must be specified"
            )
        existing = self.describe_state_machine(name_or_arn)
        deletion.refuse_if_deleting(existing)
        text = existing.definition
        if definition is not None:
            text = definition_text(definition)
            check_resources(load(text, state_machine_type=existing.type), self.registry, self.store)
        record = replace(
            existing,
            definition=text,
            definition_sha=self.store.put_definition(text),
            role_arn=role_arn or existing.role_arn,
            updated=self.clock(),
            revision=existing.revision + 1,
        )
        record = configured(record, settings)
        self.store.put_state_machine(record, create=False)
        return record

    def delete_state_machine(self, name_or_arn: str) -> bool:
        """DeleteStateMachine (idempotent, as on AWS): DELETING until its running
        executions, stopped at their next transition, have ended; then gone. Its executions
        stay readable (engine/deletion.py)."""
        return deletion.delete(self, arns.state_machine_name(name_or_arn))

    def list_state_machines(self) -> list[StateMachineRecord]:
        """Every state machine, oldest first (a DELETING one until it is gone)."""
        return [
            r for r in self.store.list_state_machines()
            if r.status != "DELETING" or not deletion.finish(self, r.name)
        ]

    def tag_state_machine(self, name_or_arn: str, tags: Mapping[str, str]) -> dict[str, str]:
        """Add or overwrite tags (AWS's limits: 50 tags, keys 1-128 and values 0-256
        characters, no `aws:` prefix); returns all the machine's tags."""
        record = self.describe_state_machine(name_or_arn)
        merged = check_tags({**record.tags, **tags}, limit=True)
        self.store.put_state_machine(replace(record, tags=merged), create=False)
        return merged

    def untag_state_machine(self, name_or_arn: str, keys: Sequence[str]) -> dict[str, str]:
        record = self.describe_state_machine(name_or_arn)
        remaining = {k: v for k, v in record.tags.items() if k not in set(keys)}
        self.store.put_state_machine(replace(record, tags=remaining), create=False)
        return remaining

    # --- executions -------------------------------------------------------------------

    def start_execution(
        self,
        state_machine: str,
        input: Any = None,
        *,
        name: str | None = None,
        input_text: str | None = None,
    ) -> ExecutionRecord:
        """Start an execution. `input` is a JSON value, or pass the JSON text itself as
        `input_text` (it is checked and kept as written). `state_machine` is a name or an
        ARN, which may be a version's or an alias's (engine/versions.py)."""
        target = self.versions.resolve(state_machine)
        deletion.refuse_if_deleting(target.machine)
        text = checked_input(input, input_text)
        machine = machine_of(target)
        new, first = self._new_execution(target, machine, text, name)
        ((created, existing),) = create_and_send(
            self.store, self.dispatcher, self._direct_starts(), [(new, first)]
        )
        if not created:
            return existing_or_conflict(existing, text)
        execution_logs.committed(new.record, new.events, 1)
        self._warn_if_nothing_runs(machine)
        return new.record

    def _direct_starts(self) -> DirectStarts | None:
        """The start messages' way into the store's own write, when the broker is this
        Redis (engine/direct_starts.py); looked up once."""
        if self._direct is False:
            from engine.direct_starts import DirectStarts  # Celery only where it is used

            self._direct = DirectStarts.for_dispatcher(self.dispatcher, self.store)
        return self._direct

    def _warn_if_nothing_runs(self, machine: StateMachine) -> None:
        """A NoWorkerWarning when no live worker consumes the control queue or serves one of
        the definition's handlers: the execution is stored and will run once one starts."""
        if self.fleet is None:
            return
        self.fleet.warn(name for _, _, name in task_handlers(machine.states, "/States"))

    def _new_execution(
        self, target: Any, machine: StateMachine, text: str, name: str | None
    ) -> tuple[NewExecution, Message]:
        return new_execution(
            target, machine, text, name, region=self.region, account=self.account,
            now=epoch_millis(self.clock()), redeliver_seconds=self.redeliver_seconds,
        )

    def start_executions(
        self,
        state_machine: str,
        inputs: Sequence[Any],
        *,
        names: Sequence[str | None] | None = None,
        input_texts: Sequence[str] | None = None,
        batch_size: int = START_BATCH,
    ) -> list[ExecutionRecord]:
        """Start many executions of one state machine: each as `start_execution` would
        (the same checks, records, events and messages), but the definition is resolved
        once and the executions are written `batch_size` at a time, one Redis round trip
        per batch, each start message queued with its execution when the broker is the
        store's Redis (engine/direct_starts.py), else published over one connection.
        `input_texts` (JSON texts, kept as written) instead of `inputs`; `names` (None or
        an entry None: a UUID). Returns the records in order; a name already used with the
        same input returns that execution (idempotent, as StartExecution). A name used
        with another input raises ExecutionAlreadyExists once every other execution of
        the batch has been started; the error names it."""
        texts = (
            [checked_input(None, t) for t in input_texts]
            if input_texts is not None
            else [checked_input(value, None) for value in inputs]
        )
        if names is not None and len(names) != len(texts):
            raise ValidationException(
                f"names: {len(names)} names for {len(texts)} inputs (one name per input)"
            )
        if batch_size < 1:
            raise ValidationException("batch_size must be at least 1")
        target = self.versions.resolve(state_machine)
        deletion.refuse_if_deleting(target.machine)
        machine = machine_of(target)

        def prepared() -> Iterator[list[tuple[NewExecution, Message]]]:
            for first in range(0, len(texts), batch_size):
                yield [
                    self._new_execution(
                        target, machine, text, names[first + i] if names is not None else None
                    )
                    for i, text in enumerate(texts[first : first + batch_size])
                ]

        records, conflicts = start_batches(
            self.store, self.dispatcher, self._direct_starts(), prepared()
        )
        self._warn_if_nothing_runs(machine)
        if conflicts:
            raise ExecutionAlreadyExists(f"Execution Already Exists: '{conflicts[0]}'")
        return records


    def waiting_tasks(self, arn_or_eid: str) -> list[WaitingTask]:
        """The Tasks of an execution waiting for a worker that serves their handler (none is
        live): they run as soon as one starts, unless their TimeoutSeconds ends them first."""
        if self.fleet is None:
            return []
        return self.fleet.waiting(arns.execution_id(arn_or_eid))

    def describe_execution(self, arn_or_eid: str) -> ExecutionRecord:
        eid = arns.execution_id(arn_or_eid)
        record = self.store.get_execution(eid)
        if record is None:
            raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{arn_or_eid}'")
        return record

    def wait(self, arn_or_eid: str, timeout: float = 60.0, poll: float = 0.02) -> ExecutionRecord:
        """Block until the execution has ended (or raise TimeoutError)."""
        deadline = time.monotonic() + timeout
        warn_at: float | None = time.monotonic() + WAIT_WARN_AFTER_SECONDS
        while True:
            record = self.describe_execution(arn_or_eid)
            if record.status in TERMINAL:
                return record
            if warn_at is not None and time.monotonic() > warn_at:
                warn_at = None
                self._warn_if_waiting(record)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{record.arn} is still {record.status} after {timeout}s")
            time.sleep(poll)

    def _warn_if_waiting(self, record: ExecutionRecord) -> None:
        """Once per `wait`: a NoWorkerWarning for each reason the execution is not moving
        (no live worker at all, or Tasks waiting for a handler no live worker serves)."""
        if self.fleet is not None:
            self.fleet.warn_stalled(record.eid, record.arn)

    def list_executions(
        self,
        state_machine: str | None = None,
        *,
        status: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[ExecutionRecord]:
        name = arns.state_machine_name(state_machine) if state_machine else None
        if name is not None:
            self.describe_state_machine(name)
        if status is None:
            return self.store.list_executions(name, offset, limit)
        found: list[ExecutionRecord] = []
        start = 0
        while len(found) < offset + limit:
            page = self.store.list_executions(name, start, 500)
            if not page:
                break
            found.extend(r for r in page if r.status == status)
            start += len(page)
        return found[offset : offset + limit]

    def list_executions_page(
        self,
        state_machine: str | None,
        *,
        status: str | None = None,
        limit: int = 100,
        after: tuple[float, str] | None = None,
        started_through: str | None = None,
        redriven: bool | None = None,
    ) -> tuple[list[ExecutionRecord], tuple[float, str] | None]:
        """One page of executions, most recent first as AWS lists them (a running one by
        its start, a finished one by its stop), and the cursor of the next page (None on
        the last). `after` is the cursor a previous page returned; cursors stay valid while
        new executions start, unlike offsets (an execution that finishes meanwhile moves
        up: AWS calls the listing eventually consistent, best effort). `started_through`: only
        the executions started through that version or alias ARN (engine/versions.py).
        `redriven`: only those redriven at least once (True) or never (False)."""
        name = arns.state_machine_name(state_machine) if state_machine else None
        if name is not None:
            self.describe_state_machine(name)
        found: list[ExecutionRecord] = []
        cursor = after
        scan = max(limit + 1, 100)
        while len(found) <= limit:
            page = self.store.list_executions_after(name, cursor, scan, by_recency=True)
            found.extend(
                r for r in page
                if (status is None or r.status == status)
                and (started_through is None or started_through in (r.version_arn, r.alias_arn))
                and (redriven is None or (r.redrive_count > 0) == redriven)
            )
            if len(page) < scan:
                break
            cursor = (page[-1].recency, page[-1].eid)
        if len(found) <= limit:
            return found, None
        last = found[limit - 1]
        return found[:limit], (last.recency, last.eid)

    def get_history(self, arn_or_eid: str, start: int = 0, stop: int = -1) -> list[dict[str, Any]]:
        """The execution's events (0-based `start`..`stop` inclusive; -1: the last)."""
        record = self.describe_execution(arn_or_eid)
        return self.store.history(record.eid, start, stop)

    def describe_state_machine_for_execution(self, arn_or_eid: str) -> StateMachineRecord:
        """The state machine as the execution runs it: the definition it started with,
        even if the machine was updated or deleted since."""
        execution = self.describe_execution(arn_or_eid)
        current = self.store.get_state_machine(execution.state_machine_name)
        text = self.store.get_definition(execution.definition_sha) or (
            current.definition if current else ""
        )
        if current is not None:
            return replace(current, definition=text, definition_sha=execution.definition_sha)
        return StateMachineRecord(
            name=execution.state_machine_name,
            arn=execution.state_machine_arn,
            definition=text,
            definition_sha=execution.definition_sha,
            role_arn=execution.role_arn,
            type=execution.type,
            created=execution.start,
            updated=execution.start,
        )

    def stop_execution(
        self, arn_or_eid: str, *, error: str | None = None, cause: str | None = None
    ) -> ExecutionRecord:
        """Abort a running execution: nothing runs for it afterwards (every later commit
        of its runs is refused, its pending messages and timers are dropped)."""
        record = self.describe_execution(arn_or_eid)
        now = epoch_millis(self.clock())
        # Its `.sync` jobs (the stop commit leaves the runs' snapshots as they were): their
        # stop requests go in the same commit (engine/runtime/job_stops.py).
        jobs = job_stops.running_jobs(self.store, record.eid)
        stops = job_stops.stop_entries(record.eid, jobs, "aborted", now,
                                       self.redeliver_seconds)
        commit = Commit(
            events=[*map_runs.aborted_events(self.store, record.eid, iso_timestamp(now)),
                    h.execution_aborted(iso_timestamp(now), error, cause)],
            execution={"status": "ABORTED", "error": error, "cause": cause, "stop": now},
            clear_outbox=True,
            outbox_add=stops,
        )
        result = self.store.commit(record.eid, commit)
        if not result.ok:
            raise ExecutionNotRunning(f"Execution is not running: '{record.arn}' ({record.status})")
        execution_logs.committed(record, commit.events, result.last_event_id)
        job_stops.send(self.dispatcher, stops)
        job_stops.after_end(self.store, self.dispatcher, record.eid, jobs, "aborted", now,
                            self.redeliver_seconds)
        nested.stop_children(self, record.eid)
        map_runs.abort_all(self, record.eid)
        nested.wake_parent(self.store, self.dispatcher, record.eid)
        return self.describe_execution(record.eid)

    # --- redrive (engine/runtime/redrive.py) -----------------------------------------------

    def redrive_execution(
        self, arn_or_eid: str, *, client_token: str | None = None
    ) -> ExecutionRecord:
        """Restart a FAILED, TIMED_OUT or ABORTED Standard execution from the state that
        did not complete (RedriveExecution); the same `client_token` within 15 minutes
        answers the same redrive again. ExecutionNotRedrivable says why not."""
        record = self.describe_execution(arn_or_eid)
        if record.map_run_arn and self.redrive_status(record)[1] is None:
            # AWS: "To redrive a workflow that includes a Distributed Map state whose Map
            # Run failed, you must redrive the parent workflow" (RedriveExecution); the
            # child reports REDRIVABLE_BY_MAP_RUN. Redriving it alone would leave its Map
            # Run's counts and result files behind it. (Wording ours: AWS documents none.)
            raise ExecutionNotRedrivable(f"{redrive.BY_MAP_RUN}: '{record.arn}'")
        redrive.redrive_execution(
            self.store, self.dispatcher, record, now=self.clock(),
            rules=self.redrive_rules, client_token=client_token,
        )
        return self.describe_execution(record.eid)

    def redrive_status(self, record: ExecutionRecord) -> tuple[str, str | None]:
        """DescribeExecution's redriveStatus and redriveStatusReason of `record`."""
        reason = redrive.not_redrivable(self.store, record, self.clock(), self.redrive_rules)
        if reason == redrive.EXPRESS and record.map_run_arn:
            # AWS: a Map Run's failed EXPRESS child is re-run by its Map Run's redrive.
            return ("REDRIVABLE_BY_MAP_RUN", None)
        if reason is not None:
            return ("NOT_REDRIVABLE", reason)
        # AWS: a Map Run's child is redriven by its Map Run (a redrive of the parent).
        return ("REDRIVABLE_BY_MAP_RUN" if record.map_run_arn else "REDRIVABLE", None)

    # --- task tokens (callbacks) -----------------------------------------------------------

    def _task_tokens(self) -> TaskTokens:
        """Answering a token advances the waiting run here, as a worker would (the same
        driver: commit first, then send what comes next)."""
        if self._tokens is None:
            driver = Driver(
                self.store,
                self.dispatcher,
                self.registry or Registry(),
                settings=DriverSettings(
                    region=self.region,
                    account=self.account,
                    redeliver_seconds=self.redeliver_seconds,
                ),
                clock=self.clock,
                owner="client",
            )
            self._tokens = TaskTokens(driver)
        return self._tokens

    def send_task_success(
        self, token: str, output: Any = None, *, output_text: str | None = None
    ) -> None:
        """SendTaskSuccess: the task waiting for `token` succeeds with `output` (a JSON value,
        or its JSON text as `output_text`). InvalidOutput, InvalidToken, TaskDoesNotExist or
        TaskTimedOut as AWS answers (engine/runtime/callbacks.py)."""
        text = output_text if output_text is not None else json.dumps(output)
        self._task_tokens().send_success(token, text)

    def send_task_failure(
        self, token: str, *, error: str | None = None, cause: str | None = None
    ) -> None:
        """SendTaskFailure: the task waiting for `token` fails with `error` and `cause`,
        which go through the state's Retry and Catch."""
        self._task_tokens().send_failure(token, error, cause)

    def send_task_heartbeat(self, token: str) -> None:
        """SendTaskHeartbeat: the task waiting for `token` is alive (its HeartbeatSeconds
        start again)."""
        self._task_tokens().send_heartbeat(token)

    # --- activities (engine/runtime/activities.py) -------------------------------------------

    @property
    def activities(self) -> Activities:
        """CreateActivity, DescribeActivity, ListActivities, DeleteActivity and
        GetActivityTask (`create`, `describe`, `list`, `delete`, `get_task`)."""
        if self._activities is None:
            self._activities = Activities(
                activity_store(self.store), region=self.region, account=self.account,
                clock=self.clock,
            )
        return self._activities
