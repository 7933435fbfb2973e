"""What happened to each state of an execution, derived from its history (pure).

    view = derive(definition, events, execution_status="FAILED", cause=record.cause)
    view.states["SendEmail"].status      # "failed"; .visits[0].attempts (each retry)
    view.maps["ProcessItems"]            # per Map visit: each iteration's status by index

A state's status, as the execution view colours it:

    not_reached  no event names it
    running      entered and not exited while the execution (and its branch) runs
    succeeded    exited normally
    retried      exited normally after its Task (or Parallel/Map) was started more than once
    caught       exited through a Catch: a failure (*Failed, *TimedOut, *StateFailed) then
                 *StateExited
    failed       the execution, branch or iteration failed in it: a failure not followed by
                 *StateExited, a Fail state, or the state named by the execution's failure
    aborted      it was running when the execution was stopped, or its branch/iteration was
                 cancelled because a sibling failed

A state visited more than once (a loop, the inner states of a Map) gets the most telling of
its visits' statuses, in this order: running, failed, caught, retried, succeeded, aborted.

How events are attributed. The history names the state on *StateEntered/*StateExited only;
Task events (LambdaFunction*, Task*, Activity*) and Parallel/Map progress events do not,
and `previousEventId` is sequential (id - 1), not causal. The store appends each commit's
events contiguously, so: a Task's first *Scheduled follows its *StateEntered; a *Succeeded
or *Failed that leaves the state is followed by its *StateExited; an iteration's first
*StateEntered follows its MapIterationStarted; and a *StateEntered right after the
*StateExited of a state that can go to it continues the same branch or iteration. Where
that leaves a choice (two Task states running at once in parallel branches, many Map
iterations at the same state), the event goes to the oldest waiting visit, preferring one
whose definition names the event's resource. State-level statuses do not depend on that
choice (visits of one state are merged); per-visit and per-iteration details may, in
those concurrent cases, swap between visits of the same state.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from engine.ui.visits import (
    ABORTED,
    CAUGHT,
    FAILED,
    NOT_REACHED,
    PRECEDENCE,
    RETRIED,
    RUNNING,
    STATUSES,
    SUCCEEDED,
    Attempt,
    ExecutionView,
    Iteration,
    StateView,
    StaticState,
    Visit,
    merge,
    static_states,
    telling_index,
)

# The pages and tests name the vocabulary through this module (status.RUNNING, ...).
__all__ = [
    "ABORTED", "CAUGHT", "FAILED", "NOT_REACHED", "PRECEDENCE", "RETRIED", "RUNNING",
    "STATUSES", "SUCCEEDED", "Attempt", "ExecutionView", "Iteration", "StateView",
    "StaticState", "Visit", "derive", "merge", "static_states", "telling_index",
]

_TASK_PREFIXES: Final = ("LambdaFunction", "Activity", "Task")
_TASK_SUFFIXES: Final = (
    "ScheduleFailed", "StartFailed", "SubmitFailed", "Scheduled", "Started", "Submitted",
    "Succeeded", "Failed", "TimedOut",
)
_CONTAINER_PHASES: Final = ("Started", "Succeeded", "Failed", "Aborted")
_STATE_EVENT: Final = re.compile(r"^(?P<type>[A-Za-z]+)State(?P<what>Entered|Exited)$")
_TERMINAL: Final = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


def derive(
    definition: Mapping[str, Any],
    events: Iterable[Mapping[str, Any]],
    *,
    execution_status: str = "RUNNING",
    cause: str | None = None,
) -> ExecutionView:
    """The status of every state (see the module docstring)."""
    statics = static_states(definition)
    d = _Deriver(statics, list(events))
    d.run()
    d.close(execution_status, cause)
    return d.view(execution_status)


class _Deriver:
    def __init__(self, statics: dict[str, StaticState], events: list[Mapping[str, Any]]) -> None:
        self.statics = statics
        self.events = events
        self.by_id = {int(e.get("id", i + 1)): e for i, e in enumerate(events)}
        self.visits: list[Visit] = []
        self.visit_at: dict[int, Visit] = {}  # entered id -> visit
        self.event_visit: dict[int, Visit] = {}
        self.iteration_events: dict[int, int] = {}  # MapIteration* event id -> its index

    # --- helpers ----------------------------------------------------------------------

    def _static(self, name: str) -> StaticState | None:
        return self.statics.get(name)

    def _open(self, name: str | None = None, type_: str | None = None) -> list[Visit]:
        return [
            v for v in self.visits
            if v.open and (name is None or v.state == name) and (type_ is None or v.type == type_)
        ]

    def _attach(self, event_id: int, visit: Visit) -> None:
        visit.events.append(event_id)
        self.event_visit[event_id] = visit

    def _neighbour(self, event_id: int, offset: int) -> Mapping[str, Any] | None:
        return self.by_id.get(event_id + offset)

    # --- the pass over the events -----------------------------------------------------

    def run(self) -> None:
        for index, event in enumerate(self.events):
            eid = int(event.get("id", index + 1))
            kind = str(event.get("type", ""))
            ts = event.get("timestamp")
            ts = str(ts) if ts is not None else None
            m = _STATE_EVENT.match(kind)
            if m:
                if m["what"] == "Entered":
                    self._entered(eid, m["type"], event, ts)
                else:
                    self._exited(eid, event, ts)
                continue
            task = _task_event(kind)
            if task is not None:
                self._task(eid, task, event, ts)
                continue
            container = _container_event(kind)
            if container is not None:
                self._container(eid, *container, event, ts)
                continue
            if kind.startswith("MapIteration"):
                self._iteration(eid, kind.removeprefix("MapIteration"), event)
            elif kind.startswith("MapRun"):
                found = self._open(type_="Map")
                if found:
                    self._attach(eid, found[-1])
            elif kind == "EvaluationFailed":
                details = event.get("evaluationFailedEventDetails") or {}
                found = self._open(str(details.get("state")))
                if found:
                    visit = found[-1]
                    visit.error, visit.cause = details.get("error"), details.get("cause")
                    visit.children_failed = True
                    self._attach(eid, visit)

    def _entered(self, eid: int, type_: str, event: Mapping[str, Any], ts: str | None) -> None:
        details = event.get("stateEnteredEventDetails") or {}
        name = str(details.get("name", ""))
        static = self._static(name)
        visit = Visit(
            state=name, type=static.type if static else type_, entered_id=eid, entered=ts,
            input=details.get("input"),
        )
        # Which Map iteration it belongs to: the one whose start is in the same commit, or
        # the one of the state it came from in the same commit.
        before = self._neighbour(eid, -1)
        if before is not None:
            kind = str(before.get("type", ""))
            prev_visit = self.event_visit.get(eid - 1)
            if kind == "MapIterationStarted" and prev_visit is not None:
                index = (before.get("mapIterationStartedEventDetails") or {}).get("index")
                if isinstance(index, int) and index in prev_visit.iterations:
                    visit.iteration = (prev_visit.entered_id, index)
            elif kind.endswith("StateExited") and prev_visit is not None:
                came_from = self._static(prev_visit.state)
                if came_from is not None and name in came_from.successors:
                    visit.iteration = prev_visit.iteration
        if visit.iteration is not None:
            parent = self.visit_at.get(visit.iteration[0])
            if parent is not None:
                parent.iterations[visit.iteration[1]].visits.append(eid)
        self.visits.append(visit)
        self.visit_at[eid] = visit
        self._attach(eid, visit)

    def _exited(self, eid: int, event: Mapping[str, Any], ts: str | None) -> None:
        details = event.get("stateExitedEventDetails") or {}
        name = str(details.get("name", ""))
        candidates = self._open(name)
        if not candidates:
            return
        # The event just before, in the same commit, says which visit is leaving.
        prev_visit = self.event_visit.get(eid - 1)
        visit = prev_visit if prev_visit in candidates else candidates[0]
        visit.exited_id, visit.exited, visit.output = eid, ts, details.get("output")
        self._attach(eid, visit)

    def _task(self, eid: int, what: str, event: Mapping[str, Any], ts: str | None) -> None:
        details = _details(event)
        if what == "Scheduled":
            visit = self._for_schedule(eid, details.get("resource"))
            if visit is None:
                return
            visit.attempts.append(Attempt(
                number=len(visit.attempts) + 1, scheduled_id=eid, scheduled=ts,
                resource=details.get("resource"), input=details.get("input"),
            ))
        elif what in ("Started", "Submitted"):
            visit = self._in_flight(eid, prefer_unstarted=True)
            if visit is None:
                return
            attempt = visit.attempts[-1]
            if what == "Started" or attempt.started_id is None:
                attempt.started_id, attempt.started = eid, ts
        else:  # an outcome
            visit = self._in_flight(eid, prefer_unstarted=False)
            if visit is None:
                # ScheduleFailed with nothing in flight: a failure of the state itself.
                found = self._open(type_="Task")
                if not found:
                    return
                visit = found[0]
                visit.attempts.append(Attempt(number=len(visit.attempts) + 1, scheduled_id=eid))
            attempt = visit.attempts[-1]
            attempt.finished_id, attempt.finished = eid, ts
            if what == "Succeeded":
                attempt.outcome, attempt.output = "succeeded", details.get("output")
            else:
                attempt.outcome = "timed_out" if what == "TimedOut" else "failed"
                attempt.error, attempt.cause = details.get("error"), details.get("cause")
                visit.error, visit.cause = attempt.error, attempt.cause
        self._attach(eid, visit)

    def _for_schedule(self, eid: int, resource: Any) -> Visit | None:
        prev_visit = self.event_visit.get(eid - 1)
        if (prev_visit is not None and prev_visit.open and prev_visit.type == "Task"
                and not prev_visit.attempts):
            return prev_visit  # the first attempt: in the commit that entered the state
        waiting = [
            v for v in self._open(type_="Task")
            if not v.attempts or (v.attempts[-1].failed and not v.children_failed)
        ]
        if not waiting:
            return None
        matching = [v for v in waiting if _resource_matches(self._static(v.state), resource)]
        pool = matching or waiting
        # A retry: the oldest failure waiting for it.
        return min(pool, key=lambda v: v.attempts[-1].finished_id or 0 if v.attempts else 0)

    def _in_flight(self, eid: int, *, prefer_unstarted: bool) -> Visit | None:
        flying = [v for v in self._open(type_="Task") if v.attempts and v.attempts[-1].in_flight]
        if not flying:
            return None
        if prefer_unstarted:
            unstarted = [v for v in flying if v.attempts[-1].started_id is None]
            pool = unstarted or flying
            return min(pool, key=lambda v: v.attempts[-1].scheduled_id)
        after = self._neighbour(eid, 1)
        if after is not None and str(after.get("type", "")).endswith("StateExited"):
            name = (after.get("stateExitedEventDetails") or {}).get("name")
            named = [v for v in flying if v.state == name]
            if named:
                return named[0]
        started = [v for v in flying if v.attempts[-1].started_id is not None]
        pool = started or flying
        return min(pool, key=lambda v: v.attempts[-1].started_id or v.attempts[-1].scheduled_id)

    def _container(
        self, eid: int, type_: str, what: str, event: Mapping[str, Any], ts: str | None
    ) -> None:
        candidates = self._open(type_=type_)
        if not candidates:
            return
        prev_visit = self.event_visit.get(eid - 1)
        visit = prev_visit if prev_visit in candidates else None
        if visit is None:
            after = self._neighbour(eid, 1)
            if after is not None and str(after.get("type", "")) == f"{type_}StateExited":
                name = (after.get("stateExitedEventDetails") or {}).get("name")
                visit = next((v for v in candidates if v.state == name), None)
        if visit is None:
            if what == "Started":
                visit = candidates[-1]
            else:
                running = [v for v in candidates if v.attempts and v.attempts[-1].in_flight]
                visit = (running or candidates)[0]
        if what == "Started":
            visit.attempts.append(Attempt(number=len(visit.attempts) + 1, scheduled_id=eid,
                                          scheduled=ts, started_id=eid, started=ts))
            visit.iterations = {}
        elif visit.attempts and visit.attempts[-1].in_flight:
            attempt = visit.attempts[-1]
            attempt.finished_id, attempt.finished = eid, ts
            attempt.outcome = {"Succeeded": "succeeded", "Failed": "failed"}.get(what, "failed")
        if what in ("Failed", "Aborted"):
            visit.children_failed = True
        self._attach(eid, visit)

    def _iteration(self, eid: int, what: str, event: Mapping[str, Any]) -> None:
        details = _details(event)
        name, index = details.get("name"), details.get("index")
        if not isinstance(index, int):
            return
        self.iteration_events[eid] = index
        maps = self._open(str(name))
        if what == "Started":
            fresh = [v for v in maps if index not in v.iterations]
            if not fresh:
                return
            visit = fresh[0]
            visit.iterations[index] = Iteration(index=index, started_id=eid)
        else:
            running = [v for v in maps if v.iterations.get(index, None) is not None
                       and v.iterations[index].status == RUNNING]
            if not running:
                return
            visit = running[0]
            visit.iterations[index].status = {
                "Succeeded": SUCCEEDED, "Failed": FAILED, "Aborted": ABORTED,
            }.get(what, FAILED)
        self._attach(eid, visit)

    # --- after the last event -------------------------------------------------------

    def close(self, execution_status: str, cause: str | None) -> None:
        ended = execution_status in _TERMINAL
        named = _state_named_in(cause)
        for visit in self.visits:
            visit.status = self._status(visit, ended, execution_status, named)

    def _container_visit(self, visit: Visit) -> Visit | None:
        """The visit of the Parallel/Map this visit ran inside (the latest one entered
        before it)."""
        static = self._static(visit.state)
        if static is None or static.container is None:
            return None
        owners = [v for v in self.visits
                  if v.state == static.container and v.entered_id < visit.entered_id]
        return owners[-1] if owners else None

    def _status(self, visit: Visit, ended: bool, execution_status: str, named: str | None) -> str:
        last = visit.last_attempt
        failed_here = visit.children_failed or (last is not None and last.failed)
        if not visit.open:
            if failed_here:
                return CAUGHT
            return RETRIED if visit.retries else SUCCEEDED
        if visit.type == "Fail":
            return FAILED
        closed = ended
        owner = self._container_visit(visit)
        in_failed_iteration = False
        if owner is not None:
            restarted = owner.last_attempt is not None and (
                owner.last_attempt.scheduled_id > visit.entered_id)  # the Parallel/Map retried
            if not owner.open or owner.children_failed or restarted:
                closed = True
            if visit.iteration is not None:
                it = owner.iterations.get(visit.iteration[1])
                if it is not None and it.status != RUNNING:
                    closed = True
                    in_failed_iteration = it.status == FAILED
        if not closed:
            return RUNNING
        if failed_here or named == visit.state:
            return FAILED
        if owner is None:
            return ABORTED if execution_status == "ABORTED" else FAILED
        # Inside a branch or iteration that ended while this visit was open: it failed
        # there only if its iteration failed and nothing else in it did.
        if in_failed_iteration and visit.iteration is not None and not any(
            v is not visit and v.iteration == visit.iteration and v.status == FAILED
            for v in self.visits
        ):
            return FAILED
        return ABORTED

    def view(self, execution_status: str) -> ExecutionView:
        states: dict[str, StateView] = {
            name: StateView(name, s.type, s.path) for name, s in self.statics.items()
        }
        for visit in self.visits:
            if visit.state not in states:
                states[visit.state] = StateView(visit.state, visit.type, None)
            states[visit.state].visits.append(visit)
        for view in states.values():
            view.status = merge(v.status for v in view.visits)
        # Per-iteration statuses of the inner states of each Map.
        maps: dict[str, list[dict[int, Iteration]]] = {}
        for visit in self.visits:
            if visit.type != "Map":
                continue
            for it in visit.iterations.values():
                inner: dict[str, list[str]] = {}
                for entered in it.visits:
                    v = self.visit_at[entered]
                    inner.setdefault(v.state, []).append(v.status)
                it.states = {name: merge(sts) for name, sts in inner.items()}
            maps.setdefault(visit.state, []).append(visit.iterations)
        branches: dict[str, dict[int, str]] = {}
        for name, static in self.statics.items():
            if static.branch is not None and static.container is not None:
                per = branches.setdefault(static.container, {})
                per.setdefault(static.branch, NOT_REACHED)
                per[static.branch] = merge([per[static.branch], states[name].status])
        event_state = {eid: v.state for eid, v in self.event_visit.items()}
        event_iteration = {eid: v.iteration[1] for eid, v in self.event_visit.items()
                           if v.iteration is not None}
        event_iteration.update(self.iteration_events)
        return ExecutionView(execution_status, states, event_state, branches, maps,
                             event_iteration)


def _details(event: Mapping[str, Any]) -> Mapping[str, Any]:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, Mapping):
            return value
    return {}


def _task_event(kind: str) -> str | None:
    for prefix in _TASK_PREFIXES:
        if kind.startswith(prefix):
            rest = kind[len(prefix):]
            if rest in _TASK_SUFFIXES:
                return rest
    return None


def _container_event(kind: str) -> tuple[str, str] | None:
    for type_ in ("Parallel", "Map"):
        for what in _CONTAINER_PHASES:
            if kind == f"{type_}State{what}":
                return type_, what
    return None


def _resource_matches(static: StaticState | None, resource: Any) -> bool:
    if static is None or static.resource is None or not isinstance(resource, str):
        return False
    return resource == static.resource or resource.endswith(":" + static.resource.split(":")[-1])


_NAMED_STATE: Final = re.compile(r"executing the state '(?P<name>[^']+)'")


def _state_named_in(cause: str | None) -> str | None:
    """The state an engine error names (`An error occurred while executing the state 'M'
    (entered at the event id #13) ...`, States.Runtime and friends)."""
    if not cause:
        return None
    m = _NAMED_STATE.search(cause)
    return m["name"] if m else None
