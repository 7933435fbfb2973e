"""DescribeStateMachine's `variableReferences`: for each state of a JSONata state machine
that reads workflow variables, the names it reads (AWS: "a map of state name to a list of
variables referenced by that state; states that do not use variable references will not
be shown").

A reference is a `$name` in a `{% ... %}` expression of the state's evaluated fields
(Arguments, Output, Assign, Items, ItemSelector, conditions, ...): not `$states`, not a
function called by name (`$sum(...)`: variables hold JSON, never functions), not a name
the expression binds itself (`$x := ...`, a lambda's parameters). Pure: no I/O.
"""

from __future__ import annotations

from typing import Any, Final

from engine.asl import jsonata
from engine.asl.validation import syntax

#: Fields that hold nested states (walked as states of their own) or are never evaluated.
_SKIPPED: Final = frozenset(
    {"Type", "Comment", "QueryLanguage", "Next", "End", "Default", "Resource", "ErrorEquals",
     "ItemProcessor", "Iterator", "Branches"}
)
#: The parse tree's members that hold sub-expressions.
_CHILDREN: Final = (
    "steps", "procedure", "arguments", "body", "lhs", "rhs", "expression", "expressions",
    "condition", "then", "_else", "predicate", "stages", "group", "terms", "update",
    "delete", "lhs_object", "expr",
)


def variable_references(definition: dict[str, Any]) -> dict[str, list[str]]:
    """State name -> the variables it reads, in order of first appearance, for the JSONata
    states of `definition` (a parsed state machine), nested states included."""
    found: dict[str, list[str]] = {}
    _states(definition, definition.get("QueryLanguage", "JSONPath"), found)
    return found


def _states(machine: Any, language: str, found: dict[str, list[str]]) -> None:
    states = machine.get("States") if isinstance(machine, dict) else None
    if not isinstance(states, dict):
        return
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        own = state.get("QueryLanguage", language)
        if own == "JSONata":
            names: dict[str, None] = {}
            for key, value in state.items():
                if key not in _SKIPPED:
                    _strings(value, names)
            if names:
                found[name] = list(names)
        for branch in state.get("Branches") or []:
            _states(branch, own, found)
        for key in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(key), dict):
                _states(state[key], own, found)


def _strings(value: Any, names: dict[str, None]) -> None:
    if isinstance(value, dict):
        for inner in value.values():
            _strings(inner, names)
    elif isinstance(value, list):
        for inner in value:
            _strings(inner, names)
    elif syntax.is_jsonata_expression(value):
        for name in expression_references(value[2:-2]):
            names[name] = None


def expression_references(expression: str) -> list[str]:
    """The workflow variables one JSONata expression reads (none if it does not parse)."""
    try:
        tree = jsonata.parse_tree(expression)
    except Exception:  # noqa: BLE001 - an expression that does not parse reads nothing
        return []
    if tree is None:
        return []
    bound: set[str] = set()
    _bound(tree, bound, 0)
    read: dict[str, None] = {}
    _read(tree, bound, read, 0)
    return list(read)


def _kids(node: Any) -> list[Any]:
    out: list[Any] = []
    for member in _CHILDREN:
        value = getattr(node, member, None)
        if value is None:
            continue
        if isinstance(value, list | tuple):
            for element in value:
                out.extend(element if isinstance(element, list | tuple) else [element])
        else:
            out.append(value)
    return [n for n in out if hasattr(n, "type")]


def _bound(node: Any, bound: set[str], depth: int) -> None:
    if depth > 200:
        return
    kind = getattr(node, "type", None)
    if kind == "bind" and getattr(node.lhs, "type", None) == "variable":
        bound.add(str(node.lhs.value))
    elif kind == "lambda":
        for parameter in node.arguments or []:
            bound.add(str(getattr(parameter, "value", "")))
    for kid in _kids(node):
        _bound(kid, bound, depth + 1)


def _read(node: Any, bound: set[str], read: dict[str, None], depth: int) -> None:
    if depth > 200:
        return
    kind = getattr(node, "type", None)
    if kind == "variable":
        name = str(node.value)
        if name not in ("", "$", "states") and name not in bound:
            read[name] = None
        # no return: a variable step may carry predicates (`$items[$i > 2]`)
    if kind in ("function", "partial"):
        # The procedure of a call is a function's name, not a variable's.
        for argument in node.arguments or []:
            _read(argument, bound, read, depth + 1)
        if getattr(node.procedure, "type", None) != "variable":
            _read(node.procedure, bound, read, depth + 1)
        return
    if kind == "lambda":
        _read(node.body, bound, read, depth + 1)
        return
    for kid in _kids(node):
        _read(kid, bound, read, depth + 1)
