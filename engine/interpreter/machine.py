"""`advance`: one step of one run of a state machine, as a pure function.

    advance(machine, doc, occurrence, ctx) -> Transition

It reads no clock, does no I/O and draws randomness only from `ctx.random`. ASL failures
(a handler's error, `States.Runtime`, ...) are data: they flow through Retry and Catch and,
when nothing handles them, end the run with an `Outcome` of FAILED. A Python exception out
of here is a bug of the engine.

States that need no outside work (Pass, Choice, Succeed, Fail, a Wait of 0 s) run one after
another inside a single call, up to `ctx.max_steps`; a Task, a Wait, a Parallel or a Map
parks the run and returns commands for the shell. The states themselves live in `flow`
(Pass, Choice, Succeed, Fail, Wait), `tasks` (Task) and `children` (Parallel, Map).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.asl import budget, errors, resources
from engine.asl.failure import StatesFailure
from engine.asl.model import (
    ChoiceState,
    FailState,
    MapState,
    ParallelState,
    PassState,
    StateMachine,
    SucceedState,
    TaskState,
    WaitState,
)
from engine.interpreter import history as h
from engine.interpreter.dataflow import value_bytes
from engine.interpreter.flow import FlowStates
from engine.interpreter.map_runs import MapRunStates
from engine.interpreter.step import ABORTABLE, Next
from engine.interpreter.types import (
    ROOT_RUN,
    ChildrenFailed,
    ChildrenSucceeded,
    Continue,
    Ctx,
    JobRunning,
    Occurrence,
    Resumed,
    RunDoc,
    RunStarted,
    StartChildren,
    TaskFailed,
    TaskSubmitted,
    TaskSucceeded,
    TimerFired,
    Transition,
)


def advance(machine: StateMachine, doc: RunDoc, occurrence: Occurrence, ctx: Ctx) -> Transition:
    states, start_at = scope_states(machine, doc["scope"])
    with budget.applying(ctx.budget):
        return _Step(machine, doc, ctx, states, start_at).run(occurrence)


def new_root_doc() -> RunDoc:
    return {"run": ROOT_RUN, "scope": [], "phase": "new", "vars": {}, "outer": {}, "parent": None}


def new_child_doc(template: dict[str, Any], join: str, index: int) -> RunDoc:
    """The snapshot of a branch or iteration before it starts. `template` is what the
    join keeps for its children: scope, readable outer variables, kind and state."""
    scope = [list(segment) for segment in template["scope"]]
    if template["kind"] == "parallel":
        scope[-1][1] = index  # branch i of the Parallel
    doc: RunDoc = {
        "run": f"{join}/{index}",
        "scope": scope,
        "phase": "new",
        "vars": {},
        "outer": template["outer"],
        "outer_bytes": template.get("outer_bytes", 0),
        "parent": {
            "join": join,
            "index": index,
            "kind": template["kind"],
            "state": template["state"],
            "run": template["parent_run"],
        },
    }
    if template.get("quiet"):
        doc["quiet"] = True
    for key in ("rc", "rt"):  # a redriven execution's count and time (Context Object)
        if key in template:
            doc[key] = template[key]
    return doc


def child_template(parent: RunDoc, cmd: StartChildren) -> dict[str, Any]:
    scope = list(parent["scope"])
    # A Map's children all run its ItemProcessor (branch 0); a Parallel's child i runs
    # branch i, which the driver fills in per index.
    scope.append([cmd.state, 0])
    if cmd.isolated:
        outer: dict[str, Any] = {}
        outer_bytes = 0
    else:
        outer = {**parent.get("outer", {}), **parent.get("vars", {})}
        # What those outer variables weigh, for the execution's 10 MiB variables limit.
        outer_bytes = int(parent.get("outer_bytes") or 0) + _own_bytes(parent)
    template = {
        "scope": scope,
        "outer": outer,
        "outer_bytes": outer_bytes,
        "kind": cmd.kind,
        "state": cmd.state,
        "parent_run": parent["run"],
    }
    if cmd.quiet:
        template["quiet"] = True
    for key in ("rc", "rt"):  # a redriven execution's count and time (Context Object)
        if key in parent:
            template[key] = parent[key]
    return template


def _own_bytes(doc: RunDoc) -> int:
    known = doc.get("vars_bytes")
    if isinstance(known, int):
        return known
    return sum(value_bytes(v) for v in (doc.get("vars") or {}).values())


def task_started_event(doc: RunDoc, timestamp: str) -> dict[str, Any]:
    """The event the shell appends when a worker picks up a scheduled Task."""
    ref = resources.parse_resource(doc["task"]["resource"])
    if ref is not None and ref.family == "lambda":
        return h.plain(timestamp, "LambdaFunctionStarted")
    rtype, res = (ref.resource_type, ref.resource) if ref else ("", doc["task"]["resource"])
    return h.event(
        timestamp, "TaskStarted", "taskStartedEventDetails", resourceType=rtype, resource=res
    )


def abort_child(
    machine: StateMachine, doc: RunDoc, timestamp: str
) -> tuple[RunDoc, list[dict[str, Any]]] | None:
    """A branch or iteration still running when a sibling failed its Parallel or Map:
    the events AWS logs as it stops it (the state it is in closes as `<Type>StateAborted`
    for a Task, Wait, Parallel or Map; a Map iteration adds MapIterationAborted) and its
    snapshot, done. None when there is nothing to stop (it has finished, or it is a
    DISTRIBUTED Map's iteration, whose events stay out of the history)."""
    if doc.get("phase") in ("new", "done") or doc.get("quiet"):
        return None
    events: list[dict[str, Any]] = []
    states, _ = scope_states(machine, doc["scope"])
    state = states.get(doc.get("state") or "")
    if state is not None and state.type in ABORTABLE:
        events.append(h.plain(timestamp, f"{state.type}StateAborted"))
    parent = doc["parent"]
    if parent["kind"] == "map":
        events.append(h.map_iteration(timestamp, "Aborted", parent["state"], parent["index"]))
    # `failed`: the state it stopped in, where RedriveExecution starts it again.
    stopped = {
        **doc, "phase": "done", "state": None, "aborted": True, "outbox": [],
        "failed": doc.get("state"),
    }
    return stopped, events


def scope_states(machine: StateMachine, scope: list[list[Any]]) -> tuple[Any, str]:
    """The States mapping (and StartAt) a run of this scope walks (a few dict lookups)."""
    states: Any = machine.states
    start_at = machine.start_at
    for state_name, branch_index in scope:
        state = states[state_name]
        branch = (
            state.branches[branch_index] if isinstance(state, ParallelState) else state.processor
        )
        states, start_at = branch.states, branch.start_at
    return states, start_at


class _Step(FlowStates, MapRunStates):
    def __init__(
        self, machine: StateMachine, doc: RunDoc, ctx: Ctx, states: Any, start_at: str
    ) -> None:
        super().__init__(machine, doc, ctx, states)
        self.start_at = start_at
        if ctx.inspect:
            self.tr.inspection = {}

    # --- entry point ------------------------------------------------------------------

    def run(self, occ: Occurrence) -> Transition:
        phase = self.doc.get("phase")
        attempt = self.doc.get("attempt", 0)
        if isinstance(occ, RunStarted):
            if phase != "new":
                return self.not_applied()
            parent = self.doc.get("parent")
            if parent and parent["kind"] == "map":
                self.emit(h.map_iteration(self.ts, "Started", parent["state"], parent["index"]))
            self.drive(Next(self.start_at, occ.input))
        elif isinstance(occ, Resumed):
            if phase != "ready":
                return self.not_applied()
            self.drive(Next(self.doc["state"], self.doc["input"]))
        elif isinstance(occ, TaskSucceeded | TaskFailed):
            if phase != "task" or occ.attempt != attempt:
                return self.not_applied()
            self.drive(self.guard(lambda: self.task_outcome(occ)))
        elif isinstance(occ, TaskSubmitted):
            task = self.doc.get("task") or {}
            if phase != "task" or occ.attempt != attempt or task.get("submitted"):
                return self.not_applied()
            self.drive(self.guard(lambda: self.task_submitted(occ)))
        elif isinstance(occ, JobRunning):
            if phase != "task" or occ.attempt != attempt:
                return self.not_applied()
            self.drive(self.guard(lambda: self.job_running(occ)))
        elif isinstance(occ, TimerFired):
            expected = {
                "wait": "wait", "retry": "retry", "task_timeout": "task", "heartbeat": "task",
                "job_poll": "task",
            }.get(occ.kind)
            if phase != expected or occ.attempt != attempt:
                return self.not_applied()
            self.drive(self.guard(lambda: self.timer_fired(occ)))
        elif isinstance(occ, ChildrenSucceeded | ChildrenFailed):
            if phase != "children":
                return self.not_applied()
            self.drive(self.guard(lambda: self.children_done(occ)))
        return self.tr

    def drive(self, nxt: Next | None) -> None:
        """Run states one after another until one parks the run or the run ends."""
        while nxt is not None:
            if nxt.state is None:
                self.succeed_run(nxt.value)
                return
            # Past the step cap, or past the time budget between two states (each of which
            # was within it): yield, and carry on from a `resume` message.
            spent = self.ctx.budget is not None and self.ctx.budget.expired()
            if self.steps >= self.ctx.max_steps or (spent and self.steps > 0):
                self.doc.update(state=nxt.state, input=nxt.value, phase="ready")
                self.tr.commands.append(Continue())
                return
            self.steps += 1
            nxt = self.enter(nxt.state, nxt.value)

    def guard(self, body: Callable[[], Next | None]) -> Next | None:
        """Run a state's code; an ASL failure it raises goes to Retry/Catch, with AWS's
        "An error occurred while executing the state ..." sentence for runtime errors."""
        try:
            return body()
        except MemoryError:
            # Past the step's memory budget (the shell limits a step's address space): what
            # the state allocated is freed as the stack unwinds, and it fails like any error.
            failure: StatesFailure = budget.MemoryBudgetExceeded()
        except StatesFailure as raised:
            failure = raised
        # A state that ran out of time is still caught: its error handling (a Catch's
        # Output and Assign) gets the budget again from now.
        spent = self.ctx.budget
        grace = spent.renewed() if spent is not None and spent.expired() else None
        with budget.applying(grace):
            self.evaluation_failed(failure)
            # AWS: a Map whose JSONata fields fail to evaluate fails as a Map
            # (MapStateFailed).
            failed: tuple[str, ...] = ()
            if failure.error == errors.QUERY_EVALUATION_ERROR and isinstance(
                self.current(), MapState
            ):
                failed = ("MapStateFailed",)
            cause = self.with_prefix(failure.error, failure.cause)
            return self.handle_error(failure.error, cause, failed_events=failed)

    # --- entering a state -------------------------------------------------------------

    def enter(self, name: str, raw: Any) -> Next | None:
        state = self.states[name]
        self.doc.update(
            state=name,
            input=raw,
            entered=self.ts,
            phase="ready",
            retries=[],
            attempt=0,
        )
        for key in ("task", "join", "effective", "token"):
            self.doc.pop(key, None)
        self.doc["entered_id"] = self.emit(
            h.state_entered(self.ts, state.type, name, h.to_json_text(raw))
        )
        self.inspect("input", raw)
        handler = _ENTER[type(state)]
        return self.guard(lambda: handler(self, state, raw))

    # --- timers -----------------------------------------------------------------------

    def timer_fired(self, occ: TimerFired) -> Next | None:
        state = self.current()
        if occ.kind == "wait":
            return self.leave_wait(state)
        if occ.kind in ("task_timeout", "heartbeat"):
            # AWS reports a missed heartbeat as States.Timeout too (reference, 15.3).
            return self.task_timed_out(state)
        if occ.kind == "job_poll":
            return self.poll_job(state)
        # A retry: do the state's work again. AWS re-emits the scheduling event but never a
        # second *StateEntered, and evaluates a Task's fields again: its Parameters see the
        # new $$.State.RetryCount (recorded), and an error in them (an intrinsic failing, a
        # JSONata expression undefined) goes through Retry and Catch again rather than
        # leaving a task that was never built.
        self.doc["attempt"] += 1
        if isinstance(state, TaskState):
            self.doc.pop("task", None)
            self.doc.pop("token", None)  # the new attempt gets a token of its own
            return self.enter_task(state, self.doc["input"])
        if isinstance(state, ParallelState):
            return self.start_parallel(state, self.doc["input"])
        return self.enter_map(state, self.doc["input"])  # an ItemReader reads again


_ENTER: dict[type, Any] = {
    PassState: _Step.enter_pass,
    ChoiceState: _Step.enter_choice,
    SucceedState: _Step.enter_succeed,
    FailState: _Step.enter_fail,
    WaitState: _Step.enter_wait,
    TaskState: _Step.enter_task,
    ParallelState: _Step.enter_parallel,
    MapState: _Step.enter_map,
}


__all__ = [
    "abort_child",
    "advance",
    "child_template",
    "new_child_doc",
    "new_root_doc",
    "scope_states",
    "task_started_event",
]
