"""What goes into the interpreter and what comes out of it.

Inputs are an `Occurrence` (something that happened: the run started, a task succeeded, a
timer fired, the children of a Parallel/Map finished) and a `Ctx` (the time, a seeded random
source and the execution's identity). The output is a `Transition`: the run's next snapshot,
the history events it produced, the `Command`s the shell must carry out, and the run's
`Outcome` if it has finished. Everything here is plain data that serialises to JSON.

A run is the unit that advances: the execution's root run, or one Parallel branch or one Map
iteration (a child run). Its snapshot is a JSON object (`RunDoc`):

    run        run id: "0" for the root; "<join>/<index>" for a child
    scope      [[state, branch index], ...] from the top-level States to this run's States
    state      current state name (None once the run has finished)
    phase      "ready" | "task" | "retry" | "wait" | "children" | "done"
    input      the current state's raw input
    entered    EnteredTime of the current state (ISO-8601)
    entered_id the id of its *StateEntered event (for AWS's error causes)
    retries    per-retrier attempt counts for the current state visit
    attempt    how many times the current state's work has been scheduled (State.RetryCount)
    vars       variables assigned in this run's scope
    vars_bytes the size of `vars` as JSON (for the variables' size limits)
    outer      variables readable from enclosing scopes (copied when the child started)
    outer_bytes the size of `outer` as JSON
    parent     None for the root; {"join", "index", "kind", "state"} for a child
    task       while phase == "task": {"resource", "input", "timeout", "heartbeat"}; a
               callback Task's also "token", "deadline" and, once its handler returned,
               "submitted" (engine/interpreter/callbacks.py)
    token      the current Task attempt's task token ($$.Task.Token), callback Tasks only
    join       while phase == "children": the join id
    outcome    once phase == "done": {"status", "output" | "error", "cause"}
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from engine.asl.budget import StepBudget

RunDoc = dict[str, Any]
Event = dict[str, Any]

ROOT_RUN = "0"


@dataclass(frozen=True)
class ExecutionInfo:
    """The execution's identity, as the Context Object shows it."""

    arn: str
    name: str
    state_machine_arn: str
    state_machine_name: str
    start_time: str
    input: Any
    role_arn: str | None = "arn:aws:iam::000000000000:role/StatesExecutionRole"
    region: str = "us-east-1"
    account: str = "000000000000"
    #: Execution.RedriveCount in the Context Object (None: the field is absent).
    redrive_count: int | None = 0


@dataclass
class Ctx:
    """The inputs that would otherwise be ambient: time, randomness, identity.

    `now` is seconds since the epoch. `random` is seeded by the shell from the execution,
    run and version, so replaying the same transition gives the same jitter and UUIDs.
    `next_event_id` is the id the first event of this transition will get when committed
    (exact for a sequential run; an estimate while Parallel branches interleave).
    """

    now: float
    random: random.Random
    execution: ExecutionInfo
    next_event_id: int = 1
    #: TestState: the Context Object the caller gave (replaces the execution's), and
    #: whether to record the data flow's intermediate values (`Transition.inspection`).
    context: dict[str, Any] | None = None
    inspect: bool = False
    #: TestState: the State.Name its Context Object shows. AWS shows "StateName" even
    #: when the state was picked from a whole definition by another name [obs].
    context_state_name: str | None = None
    #: TestState: what a Map's ItemReader reads (`stateConfiguration.mapItemReaderData`).
    #: The engine reads no S3 objects itself, so without it an ItemReader fails.
    reader_items: list[Any] | None = None
    #: The shell reads ItemReader sources itself (engine/integrations/readers.py): a Map
    #: with an ItemReader (and no `reader_items`) first schedules the read as a task.
    read_items: bool = False
    #: The shell runs a Distributed Map (items from an ItemReader or the input) as a Map
    #: Run of child executions that streams its items (engine/runtime/map_runs.py).
    map_runs: bool = False
    #: Causes name the event id a state was entered at (False under TestState).
    event_ids: bool = True
    #: A cap on inline transitions (Pass, Choice, ...) in one advance call, so a loop of
    #: Pass states yields to other executions and a runaway loop is visible in the history.
    max_steps: int = 1000
    #: The time this call may compute (engine/asl/budget.py; the shell gives it a deadline on
    #: a clock of its choosing): an expression past it fails its state, and the run yields
    #: between states once it is spent. None: unbounded (tools, tests).
    budget: StepBudget | None = None
    #: The task token a callback Task entered in this advance receives ($$.Task.Token).
    #: Tokens must be unguessable, so the shell draws them from a secure source
    #: (engine/runtime/callbacks.py); None: derived from `random` (TestState only).
    task_token: str | None = None

    @property
    def timestamp(self) -> str:
        return iso_timestamp(self.now)


def epoch_millis(epoch_seconds: float) -> float:
    """A time cut to whole milliseconds, as AWS keeps an execution's startDate and stopDate
    (and as its events show them: the API's dates then equal the events' timestamps)."""
    return math.floor(epoch_seconds * 1000) / 1000


def iso_timestamp(epoch_seconds: float) -> str:
    dt = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


# --- occurrences: what happened ------------------------------------------------------


@dataclass(frozen=True)
class RunStarted:
    """A run begins: the root with the execution input, a child with its own input."""

    input: Any


@dataclass(frozen=True)
class Resumed:
    """Keep going from a `Continue` command (the step cap was reached)."""


@dataclass(frozen=True)
class TaskSucceeded:
    """`response`: the result is already the integration's whole response (a TestState
    mock), so it is not wrapped again (e.g. in lambda:invoke's Payload/StatusCode)."""

    attempt: int
    result: Any
    response: bool = False


@dataclass(frozen=True)
class TaskFailed:
    attempt: int
    error: str | None  # None: SendTaskFailure without an error
    cause: str | None
    #: The task could not even be scheduled (an activity that does not exist):
    #: `*ScheduleFailed` rather than `*Failed` in the history.
    scheduling: bool = False


@dataclass(frozen=True)
class TaskSubmitted:
    """A callback Task's handler returned: the task is submitted and now waits for its
    token to be answered (`result` is what the handler returned, shown in TaskSubmitted).
    `response`: the result is already the integration's whole response (a replayed
    submission: `lambda:invoke` is not wrapped again)."""

    attempt: int
    result: Any
    response: bool = False


#: "poll": look at a `.sync` job (a child execution) again; handled by the shell, which
#: turns a finished job into TaskSucceeded/TaskFailed (engine/runtime/nested.py).
TimerKind = Literal["wait", "retry", "task_timeout", "heartbeat", "poll", "job_poll"]


@dataclass(frozen=True)
class TimerFired:
    kind: TimerKind
    attempt: int


@dataclass(frozen=True)
class JobRunning:
    """A `.sync` job was started, or is still running: poll it again after `delay` seconds.
    `job` is the integration's handle (JSON), kept in the snapshot; `submitted` is the start
    call's response (TaskSubmitted's output) the first time."""

    attempt: int
    job: Any
    delay: float
    submitted: Any = None


@dataclass(frozen=True)
class ChildrenSucceeded:
    """Every branch or iteration finished; results in index order."""

    results: list[Any]


@dataclass(frozen=True)
class ChildrenFailed:
    error: str | None
    cause: str | None


Occurrence = (
    RunStarted
    | Resumed
    | TaskSucceeded
    | TaskFailed
    | TaskSubmitted
    | TimerFired
    | JobRunning
    | ChildrenSucceeded
    | ChildrenFailed
)


# --- commands: what the shell must do -----------------------------------------------


@dataclass(frozen=True)
class ScheduleTask:
    """Invoke the Task state's resource (input in the snapshot's `task`)."""

    attempt: int
    resource: str


@dataclass(frozen=True)
class StartTimer:
    """Deliver `TimerFired(kind, attempt)` after `delay` seconds (durable)."""

    kind: TimerKind
    attempt: int
    delay: float


@dataclass(frozen=True)
class Continue:
    """Deliver `Resumed()` as soon as possible (a new hop after the step cap)."""


@dataclass(frozen=True)
class StartChildren:
    """Start the branches of a Parallel or the iterations of a Map.

    `inputs` holds one input per child. `join` names the join; each child's run id is
    `<join>/<index>`. At most `max_concurrency` run at once (0 = no limit).
    """

    join: str
    kind: Literal["parallel", "map"]
    state: str
    inputs: list[Any]
    max_concurrency: int = 0
    tolerated_failure_count: int | None = None
    tolerated_failure_percentage: float | None = None
    #: The children are a DISTRIBUTED Map's: their events stay out of the history.
    quiet: bool = False
    #: The children are a DISTRIBUTED Map's child executions, which cannot read the
    #: variables of outer scopes (AWS Developer Guide, "Variable scope").
    isolated: bool = False


Command = ScheduleTask | StartTimer | Continue | StartChildren


@dataclass(frozen=True)
class Outcome:
    """How a run ended."""

    status: Literal["SUCCEEDED", "FAILED"]
    output: Any = None
    error: str | None = None
    cause: str | None = None

    def to_json(self) -> dict[str, Any]:
        if self.status == "SUCCEEDED":
            return {"status": self.status, "output": self.output}
        return {"status": self.status, "error": self.error, "cause": self.cause}


@dataclass
class Transition:
    """The result of one `advance`: a new snapshot, events, commands, maybe an outcome."""

    doc: RunDoc
    events: list[Event] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    outcome: Outcome | None = None
    #: False when the occurrence did not apply to the snapshot (a late or duplicate
    #: message): the shell then commits nothing and drops the message.
    applied: bool = True
    #: TestState's inspectionData (only when `Ctx.inspect`).
    inspection: dict[str, Any] | None = None
    #: The state's error was given to a Retrier: (error, cause) (TestState: RETRIABLE).
    retried: tuple[str | None, str | None] | None = None
    #: The state's error was caught: (error, cause) (TestState: CAUGHT_ERROR).
    caught: tuple[str | None, str | None] | None = None
