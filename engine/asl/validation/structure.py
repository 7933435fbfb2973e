"""The walk of a definition: the machine, its scopes, every state, and each scope's
transition graph.

Schema-like checks (unknown, missing and mistyped fields) are made on the raw JSON so
that one pass reports every problem, even where the document is too broken to become a
model. The fields a state may have come from the pydantic model, the single source of truth
for what the engine understands. After a scope's states, its graph is checked the way AWS
reports it: a `StartAt`/`Next`/`Default`/`Catch.Next` naming no state of the same scope,
states not reachable from `StartAt`, and, for the top level only, a workflow without any
terminal state (which then suppresses the reachability report, as AWS does).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any, Final

from pydantic import BaseModel

from engine.asl.model import (
    JSONATA,
    JSONPATH,
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
from engine.asl.validation import expressions, fields, rules, states
from engine.asl.validation.context import EXPRESS, Checker, Scope, StateInfo, state_language
from engine.asl.validation.diagnostics import (
    DUPLICATE_STATE_NAME,
    INVALID_STATE_NAME,
    MISSING_END_STATE,
    MISSING_TRANSITION_TARGET,
    ROOT,
    child,
    item,
)
from engine.asl.validation.model_errors import STATE_TYPE_LIST

MAX_STATE_NAME_LENGTH: Final = 80

STATE_MODELS: Final[dict[str, type[BaseModel]]] = {
    "Task": TaskState,
    "Wait": WaitState,
    "Pass": PassState,
    "Succeed": SucceedState,
    "Fail": FailState,
    "Choice": ChoiceState,
    "Parallel": ParallelState,
    "Map": MapState,
}


def aliases(model: type[BaseModel]) -> frozenset[str]:
    """The ASL field names a model accepts."""
    return frozenset(info.alias or name for name, info in model.model_fields.items())


ALLOWED_FIELDS: Final = {name: aliases(model) for name, model in STATE_MODELS.items()}
MACHINE_FIELDS: Final = aliases(StateMachine)
BRANCH_FIELDS: Final = frozenset({"StartAt", "States", "Comment"})
PROCESSOR_FIELDS: Final = BRANCH_FIELDS | {"ProcessorConfig"}
#: States that need exactly one of Next/End (Choice, Succeed and Fail have neither).
FLOW_TYPES: Final = frozenset({"Pass", "Task", "Wait", "Parallel", "Map"})
_REQUIRED: Final = {"Task": ("Resource",), "Choice": ("Choices",), "Parallel": ("Branches",)}

#: Fields that belong to one query language only (reference J6, T6); a state speaking the
#: other language may not have them.
JSONPATH_ONLY: Final = frozenset(
    {
        "InputPath",
        "OutputPath",
        "Parameters",
        "ResultSelector",
        "ResultPath",
        "Result",
        "ItemsPath",
        "TimeoutSecondsPath",
        "HeartbeatSecondsPath",
        "SecondsPath",
        "TimestampPath",
        "ErrorPath",
        "CausePath",
        "MaxConcurrencyPath",
        "ToleratedFailureCountPath",
        "ToleratedFailurePercentagePath",
    }
)
JSONATA_ONLY: Final = frozenset({"Arguments", "Output", "Items"})


# --- the machine ---------------------------------------------------------------------------


def check_machine(checker: Checker, document: dict[str, Any]) -> None:
    report_missing(checker, document, ("States", "StartAt"), ROOT)
    for key, value in document.items():
        if key not in MACHINE_FIELDS:
            checker.unsupported(key, ROOT)
        else:
            fields.check_field(checker, key, value, child(ROOT, key), JSONPATH)
    body = document.get("States")
    if isinstance(body, dict):
        check_scope(checker, document, Scope("", frozenset(body)), top=True)


def report_missing(
    checker: Checker, body: dict[str, Any], required: tuple[str, ...], location: str
) -> None:
    missing = [name for name in required if name not in body]
    if missing:
        checker.report(f"These fields are required: [{', '.join(missing)}]", location)


def belongs_to_other_language(name: str, language: str) -> bool:
    return name in (JSONPATH_ONLY if language == JSONATA else JSONATA_ONLY)


# --- scopes --------------------------------------------------------------------------------


def check_scope(checker: Checker, container: dict[str, Any], scope: Scope, *, top: bool) -> None:
    """The states of one scope, then its transition graph. `container` is the machine, a
    Parallel branch or a Map processor; its `States` is an object."""
    body: dict[str, Any] = container["States"]
    own_variables = rules.assigned_variables(body, checker.machine_language)
    for name, state in body.items():
        location = child(child(scope.location, "States"), name)
        _check_state_name(checker, name, location)
        check_state(checker, name, state, location, scope, scope.outer_variables | own_variables)
    _check_graph(checker, container, scope, top=top)


def check_branch(
    checker: Checker,
    branch: Any,
    location: str,
    outer_variables: frozenset[str],
    *,
    allowed: frozenset[str] = BRANCH_FIELDS,
) -> None:
    """A Parallel branch or a Map ItemProcessor/Iterator: `{StartAt, States}` and its scope."""
    if not isinstance(branch, dict):
        fields.expect_type(checker, "OBJECT", location)
        return
    report_missing(checker, branch, ("States", "StartAt"), location)
    for key, value in branch.items():
        if key not in allowed:
            checker.unsupported(key, location)
        elif key == "ProcessorConfig":
            states.check_processor_config(checker, value, child(location, key))
        else:
            fields.check_field(checker, key, value, child(location, key), JSONPATH)
    body = branch.get("States")
    if isinstance(body, dict):
        scope = Scope(location, frozenset(body), outer_variables)
        machine_type = checker.machine_type
        if _express_children(branch):
            # A Distributed Map's EXPRESS children may use only what an EXPRESS machine
            # may (no activities, `.sync`, `.waitForTaskToken`, Distributed Map).
            checker.machine_type = EXPRESS
        try:
            check_scope(checker, branch, scope, top=False)
        finally:
            checker.machine_type = machine_type


def _express_children(branch: dict[str, Any]) -> bool:
    config = branch.get("ProcessorConfig")
    return (isinstance(config, dict) and config.get("Mode") == "DISTRIBUTED"
            and config.get("ExecutionType") == EXPRESS)


def _check_state_name(checker: Checker, name: str, location: str) -> None:
    if not 0 < len(name) <= MAX_STATE_NAME_LENGTH:
        checker.report(
            f"State name '{name}' must be between 1 and {MAX_STATE_NAME_LENGTH} characters",
            location,
            INVALID_STATE_NAME,
        )
    if name in checker.state_names:
        checker.report(f"Duplicate State name: {name}", location, DUPLICATE_STATE_NAME)
    else:
        checker.state_names[name] = location


# --- states --------------------------------------------------------------------------------


def check_state(
    checker: Checker,
    name: str,
    body: Any,
    location: str,
    scope: Scope,
    inner_outer_variables: frozenset[str],
) -> None:
    if not isinstance(body, dict):
        fields.expect_type(checker, "OBJECT", location)
        return
    if "Type" not in body:
        report_missing(checker, body, ("Type",), location)
        return
    if not isinstance(body["Type"], str) or body["Type"] not in STATE_MODELS:
        checker.report(
            f"The field 'Type' should have one of these values: [{STATE_TYPE_LIST}]",
            child(location, "Type"),
        )
        return
    state = StateInfo(
        name,
        body,
        location,
        str(body["Type"]),
        state_language(body, checker),
        scope,
        inner_outer_variables,
    )
    _check_state_fields(checker, state)
    _check_next_or_end(checker, state)
    states.check_type_rules(checker, state)
    if state.language == JSONATA:
        expressions.check_state_expressions(checker, body, location)


def _check_state_fields(checker: Checker, state: StateInfo) -> None:
    body, location = state.body, state.location
    # A JSONata machine can not be switched back to JSONPath one state at a time (T6); AWS
    # then names only that, not the JSONPath fields the state goes on to use.
    downgraded = checker.machine_language == JSONATA and body.get("QueryLanguage") == JSONPATH
    if downgraded:
        checker.report(
            "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine",
            location,
        )
    report_missing(checker, body, _REQUIRED.get(state.type, ()), location)
    for key, value in body.items():
        if key not in ALLOWED_FIELDS[state.type]:
            checker.unsupported(key, location)
        elif belongs_to_other_language(key, state.language):
            if not downgraded:
                checker.wrong_language(key, state.language, location)
        else:
            fields.check_field(checker, key, value, child(location, key), state.language)
            states.check_nested_field(checker, state, key, value)


def _check_next_or_end(checker: Checker, state: StateInfo) -> None:
    if state.type not in FLOW_TYPES or not isinstance(state.body.get("End", False), bool):
        return  # a mistyped End is reported as such
    has_next = "Next" in state.body
    ends = state.body.get("End") is True
    if has_next and ends:
        checker.report("Only one of 'Next' or 'End' may be specified", state.location)
    elif not has_next and not ends:
        checker.report("Either 'Next' or 'End' must be specified", state.location)


# --- the transition graph ------------------------------------------------------------------


def _check_graph(checker: Checker, container: dict[str, Any], scope: Scope, *, top: bool) -> None:
    body: dict[str, Any] = container["States"]
    start_at = container.get("StartAt")
    if isinstance(start_at, str) and start_at not in scope.names:
        _report_missing_target(checker, start_at, child(scope.location, "StartAt"))
    edges: dict[str, list[str]] = {}
    for name, state in body.items():
        location = child(child(scope.location, "States"), name)
        edges[name] = []
        for target, target_location in transition_targets(state, location):
            edges[name].append(target)
            if target not in scope.names:
                _report_missing_target(checker, target, target_location)
    if not isinstance(start_at, str) or not all(map(_transitions_known, body.values())):
        # A missing StartAt or a state too broken to know where it leads is reported as
        # such; judging the graph as well would only add noise.
        return
    if top and not any(_is_terminal(state) for state in body.values()):
        checker.report("Workflow has no terminal state", "", MISSING_END_STATE)
        return
    reachable = _reachable(start_at, edges)
    for name in body:
        if name not in reachable:
            checker.report(
                f'State "{name}" is not reachable.',
                child(child(scope.location, "States"), name),
                MISSING_TRANSITION_TARGET,
            )


def _report_missing_target(checker: Checker, target: str, location: str) -> None:
    # AWS says 'Next' for every kind of transition: StartAt, Default, Choices and Catch too.
    checker.report(f"Missing 'Next' target: {target}", location, MISSING_TRANSITION_TARGET)


def transition_targets(state: Any, location: str) -> Iterator[tuple[str, str]]:
    """(target state, location) of every transition a state declares in a field its type
    allows: Next, Choice Default, Choices[].Next and Catch[].Next."""
    if not isinstance(state, dict) or not isinstance(state.get("Type"), str):
        return
    if state["Type"] not in STATE_MODELS:
        return
    allowed = ALLOWED_FIELDS[str(state["Type"])]
    for key in ("Next", "Default"):
        if key in allowed and isinstance(state.get(key), str):
            yield state[key], child(location, key)
    for key in ("Choices", "Catch"):
        entries = state.get(key) if key in allowed else None
        if not isinstance(entries, list):
            continue
        for index, entry in enumerate(entries):
            if isinstance(entry, dict) and isinstance(entry.get("Next"), str):
                yield entry["Next"], child(item(child(location, key), index), "Next")


def _transitions_known(state: Any) -> bool:
    """Whether a state is well-formed enough for its transitions to be known: an object of a
    known type whose Next, Default, End, Choices and Catch have the right JSON types."""
    if not isinstance(state, dict) or not isinstance(state.get("Type"), str):
        return False
    if state["Type"] not in STATE_MODELS:
        return False
    if not isinstance(state.get("End", False), bool):
        return False
    if any(key in state and not isinstance(state[key], str) for key in ("Next", "Default")):
        return False
    for key in ("Choices", "Catch"):
        entries = state.get(key, [])
        if not isinstance(entries, list):
            return False
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("Next", ""), str):
                return False
    return True


def _is_terminal(state: Any) -> bool:
    return isinstance(state, dict) and (
        state.get("End") is True or state.get("Type") in ("Succeed", "Fail")
    )


def _reachable(start: str, edges: dict[str, list[str]]) -> set[str]:
    seen = {start}
    pending = deque([start])
    while pending:
        for target in edges.get(pending.popleft(), ()):
            if target not in seen:
                seen.add(target)
                pending.append(target)
    return seen
