"""The execution view's vocabulary (pure): the statuses a state can show, the definition's
states seen statically, and the visits, attempts and iterations that engine/ui/status.py
derives from a history. Kept apart from the derivation so the pages and the tests can name
these types without the attribution rules."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final

NOT_REACHED: Final = "not_reached"
RUNNING: Final = "running"
SUCCEEDED: Final = "succeeded"
RETRIED: Final = "retried"
CAUGHT: Final = "caught"
FAILED: Final = "failed"
ABORTED: Final = "aborted"

#: Most telling first: a state's status is the first of these any of its visits has.
PRECEDENCE: Final = (RUNNING, FAILED, CAUGHT, RETRIED, SUCCEEDED, ABORTED, NOT_REACHED)
STATUSES: Final = PRECEDENCE


def merge(statuses: Iterable[str]) -> str:
    """The most telling of several statuses (see PRECEDENCE)."""
    found = set(statuses)
    for status in PRECEDENCE:
        if status in found:
            return status
    return NOT_REACHED


# --- the definition, statically --------------------------------------------------------------


@dataclass(frozen=True)
class StaticState:
    name: str
    type: str
    path: str
    #: The Parallel/Map state this one runs inside (None: the top level).
    container: str | None
    #: Which branch of that Parallel (None inside a Map or at the top level).
    branch: int | None
    successors: frozenset[str]
    resource: str | None


def static_states(definition: Mapping[str, Any]) -> dict[str, StaticState]:
    """Every state of the definition, nested ones included, by name (ASL state names are
    unique across the whole machine)."""
    found: dict[str, StaticState] = {}

    def walk(machine: Any, path: str, container: str | None, branch: int | None) -> None:
        states = machine.get("States") if isinstance(machine, Mapping) else None
        if not isinstance(states, Mapping):
            return
        for name, state in states.items():
            if not isinstance(state, Mapping):
                continue
            here = f"{path}/States/{name}"
            nexts: set[str] = set()
            for key in ("Next", "Default"):
                if isinstance(state.get(key), str):
                    nexts.add(state[key])
            for key in ("Choices", "Catch"):
                rules = state.get(key)
                for rule in rules if isinstance(rules, list) else []:
                    if isinstance(rule, Mapping) and isinstance(rule.get("Next"), str):
                        nexts.add(rule["Next"])
            resource = state.get("Resource")
            params = state.get("Parameters") or state.get("Arguments")
            if isinstance(params, Mapping) and isinstance(params.get("FunctionName"), str):
                resource = params["FunctionName"]
            found[str(name)] = StaticState(
                str(name), str(state.get("Type", "")), here, container, branch,
                frozenset(nexts), resource if isinstance(resource, str) else None,
            )
            kind = state.get("Type")
            if kind == "Parallel" and isinstance(state.get("Branches"), list):
                for i, sub in enumerate(state["Branches"]):
                    walk(sub, f"{here}/Branches[{i}]", str(name), i)
            elif kind == "Map":
                key = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
                walk(state.get(key), f"{here}/{key}", str(name), None)

    walk(definition, "", None, None)
    return found


# --- what the history says ---------------------------------------------------------------------


@dataclass
class Attempt:
    """One run of a Task's resource (or one start of a Parallel/Map's children)."""

    number: int
    scheduled_id: int
    scheduled: str | None = None
    resource: str | None = None
    input: str | None = None
    started_id: int | None = None
    started: str | None = None
    finished_id: int | None = None
    finished: str | None = None
    #: succeeded | failed | timed_out (None: still running)
    outcome: str | None = None
    output: str | None = None
    error: str | None = None
    cause: str | None = None

    @property
    def in_flight(self) -> bool:
        return self.outcome is None

    @property
    def failed(self) -> bool:
        return self.outcome in ("failed", "timed_out")


@dataclass
class Iteration:
    """One iteration of a Map visit, by index."""

    index: int
    started_id: int
    status: str = RUNNING
    #: Event ids (`entered_id`) of the visits of inner states known to belong to it.
    visits: list[int] = field(default_factory=list)
    #: Inner state name -> status within this iteration.
    states: dict[str, str] = field(default_factory=dict)


@dataclass
class Visit:
    """One entry into a state: from its *StateEntered to its *StateExited (if any)."""

    state: str
    type: str
    entered_id: int
    entered: str | None
    input: str | None
    exited_id: int | None = None
    exited: str | None = None
    output: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    #: A Parallel/Map reported *StateFailed (its branches/iterations failed).
    children_failed: bool = False
    error: str | None = None
    cause: str | None = None
    status: str = RUNNING
    #: (Map visit's entered_id, index) when this visit runs inside a known Map iteration.
    iteration: tuple[int, int] | None = None
    #: Map visits: iterations by index.
    iterations: dict[int, Iteration] = field(default_factory=dict)
    #: Ids of every event attributed to this visit.
    events: list[int] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return self.exited_id is None

    @property
    def retries(self) -> int:
        return max(0, len(self.attempts) - 1)

    @property
    def last_attempt(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None


@dataclass
class StateView:
    name: str
    type: str
    path: str | None
    status: str = NOT_REACHED
    visits: list[Visit] = field(default_factory=list)

    @property
    def retries(self) -> int:
        return sum(v.retries for v in self.visits)

    @property
    def telling_visit(self) -> int | None:
        """The visit the state's panel opens on (index in `visits`; None: never visited).

        The one that gave the state its colour, the latest of those: a Task visited in a
        loop that failed, was caught or was retried once opens on that visit, not on a
        plain success after it, since that visit is why someone clicks the state. A running
        visit still comes first (the live one). See `telling_index`."""
        return telling_index([v.status for v in self.visits])


def telling_index(statuses: list[str]) -> int | None:
    """Of visits with these statuses, the latest with the most telling one (PRECEDENCE).
    static/ui.js applies the same rule to the visits of one Map iteration."""
    if not statuses:
        return None
    best = merge(statuses)
    return max(i for i, status in enumerate(statuses) if status == best)


@dataclass
class ExecutionView:
    status: str
    states: dict[str, StateView]
    #: Event id -> the state it is attributed to (for the event table's "Step" column).
    event_state: dict[int, str]
    #: Parallel state -> branch index -> status (from the states of each branch).
    branches: dict[str, dict[int, str]]
    #: Map state -> its visits' iterations (index -> Iteration), one dict per visit.
    maps: dict[str, list[dict[int, Iteration]]]
    #: Event id -> the index of the Map iteration it belongs to (the innermost Map's), for
    #: the events of an iteration's states and the MapIteration* events themselves.
    event_iteration: dict[int, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON for the page's script (see engine/ui/static/ui.js)."""
        states: dict[str, Any] = {}
        for name, view in self.states.items():
            states[name] = {
                "status": view.status,
                "type": view.type,
                "path": view.path,
                "retries": view.retries,
                "openVisit": view.telling_visit,
                "visits": [_visit_dict(v) for v in view.visits],
            }
        return {
            "status": self.status,
            "states": states,
            "eventState": {str(k): v for k, v in self.event_state.items()},
            "eventIteration": {str(k): v for k, v in self.event_iteration.items()},
            "branches": {k: {str(i): s for i, s in v.items()} for k, v in self.branches.items()},
            "maps": {
                name: [
                    [asdict(it) for _, it in sorted(iterations.items())]
                    for iterations in visits
                ]
                for name, visits in self.maps.items()
            },
        }


def _visit_dict(v: Visit) -> dict[str, Any]:
    return {
        "enteredId": v.entered_id, "entered": v.entered, "input": v.input,
        "exitedId": v.exited_id, "exited": v.exited, "output": v.output,
        "status": v.status, "error": v.error, "cause": v.cause, "retries": v.retries,
        "iteration": list(v.iteration) if v.iteration else None,
        "attempts": [asdict(a) for a in v.attempts],
        "events": v.events,
    }
