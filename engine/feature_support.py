"""What `sfn create` (CreateStateMachine, UpdateStateMachine) refuses as valid ASL that this
engine cannot run yet (UnsupportedFeature), reported by `sfn validate` and
ValidateStateMachineDefinition as warnings with their location, so that the two never
disagree: both ask the same function, `engine.client._unsupported`.

A warning, not an error: the definition is valid ASL (AWS accepts it); it is this engine
that would refuse to create it.
"""

from __future__ import annotations

import json
from typing import Any, Final

from engine.asl.validation.diagnostics import Diagnostic
from engine.errors import EngineError

CODE: Final = "UNSUPPORTED_FEATURE"


def unsupported_warnings(text: str, state_machine_type: str = "STANDARD") -> list[Diagnostic]:
    """One WARNING per feature `sfn create` would refuse in the definition `text` (none
    when the definition does not load: its errors are reported instead)."""
    from engine.asl.loader import load
    from engine.client import _unsupported

    try:
        machine = load(text, state_machine_type=state_machine_type)
        document = json.loads(text)
    except (EngineError, ValueError):
        return []
    found = []
    for problem in _unsupported(machine.states, "/States"):
        location, message = _split(problem, document)
        found.append(Diagnostic(
            CODE, f"Not supported by this engine yet: {message}", location, "WARNING"
        ))
    return found


def _split(problem: str, document: Any) -> tuple[str, str]:
    """`"<JSON pointer>: <what>"` as (pointer, what): the first `": "` whose prefix points
    into the definition (a state's name may itself hold `": "`)."""
    start = 0
    while True:
        at = problem.find(": ", start)
        if at < 0:
            return "", problem
        if _resolves(document, problem[:at]):
            return problem[:at], problem[at + 2:]
        start = at + 1


def _resolves(document: Any, pointer: str) -> bool:
    """Whether `pointer` names a member of `document`, state names taken whole (they are
    not escaped in these pointers: the longest name that matches wins)."""
    if not pointer.startswith("/"):
        return False
    return _walk(document, pointer[1:])


def _walk(node: Any, rest: str) -> bool:
    if rest == "":
        return True
    if isinstance(node, dict):
        # Longest key first: a state name may contain "/".
        for key in sorted(node, key=len, reverse=True):
            if rest == key:
                return True
            if rest.startswith(key + "/") and _walk(node[key], rest[len(key) + 1:]):
                return True
        return False
    if isinstance(node, list):
        head, sep, tail = rest.partition("/")
        if head.isdigit() and int(head) < len(node):
            return _walk(node[int(head)], tail) if sep else True
    return False
