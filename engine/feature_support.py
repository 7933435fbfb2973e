"""What `sfn create` (CreateStateMachine, UpdateStateMachine) refuses as valid ASL that this
engine cannot run yet (UnsupportedFeature), reported by `sfn validate` and
ValidateStateMachineDefinition as warnings with their location, so that the two never
disagree: both ask the same function, `find_unsupported` below.

A warning, not an error: the definition is valid ASL (AWS accepts it); it is this engine
that would refuse to create it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from engine.asl import resources
from engine.asl.model import MapState, ParallelState, TaskState
from engine.asl.validation.diagnostics import Diagnostic
from engine.errors import EngineError
from engine.integrations.jobs import SYNC_JOBS
from engine.runtime import nested

CODE: Final = "UNSUPPORTED_FEATURE"


def unsupported_warnings(text: str, state_machine_type: str = "STANDARD") -> list[Diagnostic]:
    """One WARNING per feature `sfn create` would refuse in the definition `text` (none
    when the definition does not load: its errors are reported instead)."""
    from engine.asl.loader import load

    try:
        machine = load(text, state_machine_type=state_machine_type)
        document = json.loads(text)
    except (EngineError, ValueError):
        return []
    found = []
    for problem in find_unsupported(machine.states, "/States"):
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


def find_unsupported(states: Mapping[str, Any], pointer: str) -> list[str]:
    """Valid ASL that this engine would not run as AWS does, with its location: `.sync`
    on an AWS job it cannot poll (engine/integrations/jobs.py knows which it can). Every
    `.sync` AWS accepts today is polled, so this finds nothing in a valid definition; it
    stays so that an integration added to engine/asl/resources.py before its job kind is
    refused at creation rather than run wrongly."""
    found: list[str] = []
    for name, state in states.items():
        here = f"{pointer}/{name}"
        if isinstance(state, TaskState):
            ref = resources.parse_resource(state.resource)
            if (
                ref is not None
                and ref.pattern == "sync"
                and not nested.is_nested(state.resource)
                and (ref.service, ref.action) not in SYNC_JOBS
            ):
                found.append(f"{here}/Resource: the .sync integration pattern")
        elif isinstance(state, ParallelState):
            for i, branch in enumerate(state.branches):
                found.extend(find_unsupported(branch.states, f"{here}/Branches/{i}/States"))
        elif isinstance(state, MapState):
            found.extend(find_unsupported(state.processor.states, f"{here}/ItemProcessor/States"))
    return found
