"""The execution store's contract: what every backend (Redis, in-memory) provides.

The store is the source of truth. A run's snapshot carries a version; a `Commit` is one
atomic step that compares the versions of the documents it writes, writes them, appends the
history events (numbering them), records outbox entries (messages still to deliver, each with
a deadline after which the recovery sweep re-sends it) and removes the ones consumed, stores
child results, and updates the execution record. Either all of it happens or none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from engine.store.redrive import RedrivePlan, RedriveResult

TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


@dataclass
class ExecutionRecord:
    """One execution, as DescribeExecution shows it."""

    eid: str
    arn: str
    name: str
    state_machine_arn: str
    state_machine_name: str
    definition_sha: str
    status: str
    input: str
    start: float
    role_arn: str = ""
    output: str | None = None
    error: str | None = None
    cause: str | None = None
    stop: float | None = None
    type: str = "STANDARD"
    #: The version it runs when started through a version or an alias (AWS's
    #: stateMachineVersionArn), and the alias it was started through.
    version_arn: str | None = None
    alias_arn: str | None = None
    #: The machine's loggingConfiguration (JSON text) when it logs (level not OFF): the
    #: workers write its execution log records from this copy (engine/execution_logs.py).
    logging: str | None = None
    #: RedriveExecution (engine/runtime/redrive.py): how many times it was redriven, when
    #: last, and the client tokens of the last redrives (JSON [[token, first use, date]]).
    redrive_count: int = 0
    redrive_date: float | None = None
    redrive_tokens: str | None = None
    #: The Map Run that started it (a Distributed Map's child execution: DescribeExecution's
    #: mapRunArn; engine/runtime/map_runs.py).
    map_run_arn: str | None = None

    @property
    def recency(self) -> float:
        """What ListExecutions orders by (newest first): the start of a running execution,
        the stop of a finished one."""
        return self.stop if self.stop is not None else self.start

    def to_fields(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in self.__dict__.items():
            if value is not None:
                out[key] = str(value)
        return out

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> ExecutionRecord:
        def opt(key: str) -> str | None:
            return fields.get(key)

        stop = opt("stop")
        return cls(
            eid=fields["eid"],
            arn=fields["arn"],
            name=fields["name"],
            state_machine_arn=fields["state_machine_arn"],
            state_machine_name=fields["state_machine_name"],
            definition_sha=fields["definition_sha"],
            status=fields["status"],
            input=fields["input"],
            start=float(fields["start"]),
            role_arn=fields.get("role_arn", ""),
            output=opt("output"),
            error=opt("error"),
            cause=opt("cause"),
            stop=float(stop) if stop is not None else None,
            type=fields.get("type", "STANDARD"),
            version_arn=opt("version_arn"),
            alias_arn=opt("alias_arn"),
            logging=opt("logging"),
            redrive_count=int(fields.get("redrive_count") or 0),
            redrive_date=float(fields["redrive_date"]) if fields.get("redrive_date") else None,
            redrive_tokens=opt("redrive_tokens"),
            map_run_arn=opt("map_run_arn"),
        )


@dataclass
class StateMachineRecord:
    name: str
    arn: str
    definition: str
    definition_sha: str
    role_arn: str
    type: str
    created: float
    updated: float
    revision: int = 1
    tags: dict[str, str] = field(default_factory=dict)
    #: loggingConfiguration, tracingConfiguration, encryptionConfiguration as answered
    #: (engine/machine_config.py); None: never set (AWS's defaults are answered).
    logging: dict[str, Any] | None = None
    tracing: dict[str, Any] | None = None
    encryption: dict[str, Any] | None = None
    #: ACTIVE, or DELETING from DeleteStateMachine until its last execution has ended
    #: (engine/deletion.py).
    status: str = "ACTIVE"


@dataclass(frozen=True)
class OutboxEntry:
    """A message to deliver at `due` (epoch s). Until it is consumed the sweep re-sends it
    once `deadline` passes; `immediate` ones are sent by the committer right away."""

    id: str
    message: dict[str, Any]
    due: float
    deadline: float
    immediate: bool


@dataclass(frozen=True)
class DocWrite:
    """Write a run or join document if its stored version is `expected` (0: absent)."""

    kind: Literal["run", "join"]
    id: str
    expected: int
    doc: dict[str, Any]
    #: Phase and attempt of a run, kept beside the doc for the claim check; a join's
    #: status ("running", "succeeded", "failed") for the commits of its children.
    phase: str = ""
    attempt: int = 0


@dataclass(frozen=True)
class HistoryLimit:
    """AWS's cap on an execution's history: the event that would be number `events` is
    this ExecutionFailed (`failure`) instead, the events before it are kept up to number
    `events - 1`, and the execution closes with `execution`'s fields (status FAILED,
    error, cause, stop). A commit that reaches it applies nothing else."""

    events: int
    failure: dict[str, Any]
    execution: dict[str, Any]


@dataclass(frozen=True)
class NewExecution:
    """One execution to create (`Store.create_executions`): its record, its root run's
    document, its first events and outbox entries."""

    record: ExecutionRecord
    root: DocWrite
    events: list[dict[str, Any]]
    outbox: list[OutboxEntry]


@dataclass(frozen=True)
class ClaimNext:
    """Claim, in the commit's own atomic step, the Task that the commit schedules for run
    `run` (the run it writes): what `Store.claim_task` would do right after it (lease,
    the outbox entry's deadline pushed to the lease's end, TaskStarted logged unless it
    would reach `history_limit`, `task_id` against its event), without a second round
    trip. Nothing can hold a lease on a version this very commit creates, so nothing is
    checked beyond the commit's own compare-and-set."""

    run: str
    entry_id: str
    owner: str
    lease_until: float
    started_event: dict[str, Any] | None
    task_id: str | None = None
    history_limit: int | None = None


@dataclass
class Commit:
    writes: list[DocWrite] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    outbox_add: list[OutboxEntry] = field(default_factory=list)
    outbox_remove: list[str] = field(default_factory=list)
    #: join id -> {index: result}
    results: dict[str, dict[int, Any]] = field(default_factory=dict)
    #: join id -> child inputs, by index
    items: dict[str, list[Any]] = field(default_factory=dict)
    #: fields of the execution record to set (status, output, error, cause, stop)
    execution: dict[str, Any] = field(default_factory=dict)
    #: when the execution ends: drop every outbox entry so nothing more runs for it; the
    #: commit's own `outbox_add` still go in (the stop requests of the `.sync` jobs it
    #: abandons, engine/runtime/job_stops.py)
    clear_outbox: bool = False
    #: joins that must still be "running" (their phase) for the commit to apply: a branch
    #: or iteration of a Parallel/Map that has failed is aborted at its next step
    joins_running: list[str] = field(default_factory=list)
    #: the history cap, checked after the compare-and-set (None: no cap)
    history_limit: HistoryLimit | None = None
    #: claim the Task this commit schedules, in the same step (a chained Task: the driver)
    claim: ClaimNext | None = None


@dataclass
class CommitResult:
    ok: bool
    reason: str = ""
    last_event_id: int = 0
    #: the commit met the history cap: the execution failed instead (see HistoryLimit)
    capped: bool = False
    #: the claimed snapshot when the commit carried a `ClaimNext` and applied (not capped)
    claimed: LoadedRun | None = None


@dataclass
class LoadedRun:
    version: int
    doc: dict[str, Any]
    history_length: int
    status: str
    #: Its state machine is being deleted: the execution stops at this transition
    #: (DeleteStateMachine, engine/deletion.py).
    stopping: bool = False
    #: A claim's snapshot: this version had been claimed before (the delivery re-runs a
    #: Task whose first run may have made its call: a worker died, a lease ran out).
    reclaimed: bool = False


@dataclass
class ChildStart:
    """What starting a branch or iteration needs, read in one go: whether its run exists
    already (a duplicate start), its join document, its input, the history's length."""

    exists: bool
    join: dict[str, Any] | None
    item: Any
    history_length: int


@dataclass
class Claim:
    """The outcome of claiming a scheduled Task for one worker."""

    ok: bool
    reason: str = ""
    loaded: LoadedRun | None = None


class Store(Protocol):
    # --- state machines ----------------------------------------------------------------
    def put_definition(self, text: str) -> str: ...
    def get_definition(self, sha: str) -> str | None: ...
    def put_state_machine(self, record: StateMachineRecord, *, create: bool) -> bool: ...
    def get_state_machine(self, name: str) -> StateMachineRecord | None: ...
    def list_state_machines(self) -> list[StateMachineRecord]: ...
    def delete_state_machine(self, name: str) -> bool: ...

    # --- versions and aliases (JSON documents; engine/versions.py reads them) ------------
    def publish_version(
        self, name: str, revision: int, version: dict[str, Any], limit: int
    ) -> tuple[int, bool]:
        """(number, created): the version published from `revision` if it still exists,
        else a new one numbered after every version the machine ever had; (0, False) when
        the machine has `limit` versions already."""
        ...
    def get_version(self, name: str, number: int) -> dict[str, Any] | None: ...
    def list_versions(self, name: str) -> list[tuple[int, dict[str, Any]]]:
        """Newest first."""
        ...
    def delete_version(self, name: str, number: int) -> bool:
        """False (and nothing deleted) while an alias routes to it."""
        ...
    def put_alias(
        self, name: str, alias: str, doc: dict[str, Any], *, create: bool, limit: int
    ) -> str:
        """Write an alias whose `doc["routing"]` is [[version, weight], ...]: 'ok', or why
        not: 'exists' (create), 'not_found' (update), 'quota' (create, `limit` reached),
        'missing_version:<n>'. The versions' existence is checked in the same step."""
        ...
    def get_alias(self, name: str, alias: str) -> dict[str, Any] | None: ...
    def list_aliases(self, name: str) -> list[tuple[str, dict[str, Any]]]: ...
    def delete_alias(self, name: str, alias: str) -> bool: ...

    # --- executions ------------------------------------------------------------------
    def create_execution(
        self, record: ExecutionRecord, root: DocWrite, events: list[dict[str, Any]],
        outbox: list[OutboxEntry],
    ) -> tuple[bool, ExecutionRecord]: ...
    def create_executions(
        self, batch: list[NewExecution]
    ) -> list[tuple[bool, ExecutionRecord]]:
        """`create_execution` for each, in order, in one round trip (one atomic step per
        execution, not one for the batch)."""
        ...
    def get_execution(self, eid: str) -> ExecutionRecord | None: ...
    def list_executions(
        self, state_machine: str | None, offset: int, limit: int
    ) -> list[ExecutionRecord]:
        """Most recent first (`ExecutionRecord.recency`), as ListExecutions lists them."""
        ...
    def list_executions_after(
        self,
        state_machine: str | None,
        after: tuple[float, str] | None,
        limit: int,
        *,
        by_recency: bool = False,
    ) -> list[ExecutionRecord]: ...
    def history(self, eid: str, start: int = 0, stop: int = -1) -> list[dict[str, Any]]: ...
    def history_length(self, eid: str) -> int: ...
    def mark_stopping(self, eid: str) -> bool:
        """Flag a RUNNING execution to stop at its next transition (its machine is being
        deleted); `load_run` reports the flag. False when it is not running."""
        ...
    def count_executions(self, state_machine: str | None) -> int: ...

    # --- runs ------------------------------------------------------------------------
    def load_run(self, eid: str, run: str) -> LoadedRun | None: ...
    def load_join(self, eid: str, join: str) -> tuple[int, dict[str, Any]] | None: ...
    def load_item(self, eid: str, join: str, index: int) -> Any: ...
    def load_child_start(self, eid: str, run: str, join: str, index: int) -> ChildStart: ...
    def load_results(self, eid: str, join: str, count: int) -> list[Any]: ...
    def load_unfinished_children(
        self, eid: str, join: str, launched: int
    ) -> list[tuple[int, int, dict[str, Any]]]:
        """The children among the first `launched` of `join` that have started and have no
        result yet: (index, version, doc), by index (a failed Parallel/Map aborts them)."""
        ...
    def claim_task(
        self, eid: str, run: str, version: int, attempt: int, *, now: float,
        lease_until: float, owner: str, entry_id: str, started_event: dict[str, Any] | None,
        task_id: str | None = None, history_limit: int | None = None,
    ) -> Claim:
        """Check the snapshot still waits for this attempt, take the lease, log TaskStarted
        once per version (not when it would reach `history_limit`: the Task's completion
        then meets the cap and fails the execution). `task_id` (the Celery task's id;
        None: none) is recorded against that TaskStarted event's id in the same atomic
        step that appends the event (see `task_ids`); a claim that appends no event
        records nothing."""
        ...
    def task_ids(self, eid: str) -> dict[int, str]:
        """TaskStarted event id -> the id of the Celery task that claimed it."""
        ...
    def extend_lease(
        self, eid: str, run: str, version: int, *, owner: str, lease_until: float, entry_id: str
    ) -> bool: ...
    def commit(self, eid: str, commit: Commit) -> CommitResult: ...

    def redrive(self, eid: str, plan: RedrivePlan) -> RedriveResult:
        """Reopen an ended execution as `plan` says, in one atomic step (RedriveExecution;
        engine/store/redrive.py), unless its record changed since the plan was made."""
        ...

    # --- recovery --------------------------------------------------------------------
    def due_executions(self, now: float, limit: int, claim_for: float) -> list[str]: ...
    def due_entries(
        self, eid: str, now: float, redeliver_after: float
    ) -> tuple[list[OutboxEntry], float | None, str]: ...
    def reschedule_execution(self, eid: str, when: float | None) -> None: ...
    def settle_outbox(
        self, eid: str, *, add: list[OutboxEntry], remove: list[str]
    ) -> None:
        """Remove and add outbox entries of an execution in one atomic step, whatever its
        status (a job's stop request outlives its execution: engine/runtime/job_stops.py)."""
        ...
