"""What a state machine must pass before it is stored (CreateStateMachine,
UpdateStateMachine): its definition's text, the features and Task resources this engine can
run, its tags and configurations by AWS's rules. The client (engine/client.py) calls these;
they read the store only to learn which handlers running workers announced.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.asl import resources
from engine.asl.jsonvalues import has_lone_surrogate
from engine.asl.loader import parse_definition
from engine.asl.model import MapState, ParallelState, StateMachine, TaskState
from engine.errors import (
    InvalidDefinition,
    TooManyTags,
    UnknownResource,
    UnsupportedFeature,
    ValidationException,
)
from engine.feature_support import find_unsupported
from engine.handlers import Registry
from engine.runtime import nested
from engine.store.base import StateMachineRecord


def check_resources(machine: StateMachine, registry: Registry | None, store: Any) -> None:
    """Refuse what this engine cannot run yet, and report a Task resource no handler
    answers when the handlers are known here (this process registered some, or running
    workers announced theirs)."""
    unsupported = find_unsupported(machine.states, "/States")
    if unsupported:
        raise UnsupportedFeature("Not supported by this engine yet: " + "; ".join(unsupported))
    known: set[str] = set(registry.names()) if registry else set()
    announced = getattr(store, "announced_handlers", None)
    if announced is not None:
        known |= set(announced())
    if not known:
        return
    missing = [
        (pointer, resource, name)
        for pointer, resource, name in task_handlers(machine.states, "/States")
        if name is not None and name not in known and resource not in known
    ]
    if missing:
        error = UnknownResource("Unknown Task resource: " + "; ".join(
            f"{pointer}/Resource: no handler is registered for '{name}' ({resource})"
            for pointer, resource, name in missing
        ))
        error.names = tuple(dict.fromkeys(name for _, _, name in missing))
        raise error


MAX_TAGS = 50


def check_tags(tags: Mapping[str, str], *, limit: bool = False) -> dict[str, str]:
    """AWS's rules for tags (and, with `limit`, their number)."""
    if limit and len(tags) > MAX_TAGS:
        raise TooManyTags(f"Too many tags: {len(tags)} (at most {MAX_TAGS})")
    for key, value in tags.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 128 or key.startswith("aws:"):
            raise ValidationException(
                f"Invalid tag key: '{key}' (1 to 128 characters, not starting with 'aws:')"
            )
        if not isinstance(value, str) or len(value) > 256:
            raise ValidationException(f"Invalid value for tag '{key}' (at most 256 characters)")
        if has_lone_surrogate(key) or has_lone_surrogate(value):
            raise ValidationException(f"Invalid tag {key!r}: a lone surrogate is not valid Unicode")
    return dict(tags)


def configured(
    record: StateMachineRecord, configuration: Mapping[str, dict[str, Any] | None] | None
) -> StateMachineRecord:
    """`record` with the configurations given (logging, tracing, encryption); the others
    as they were."""
    given = configuration or {}
    return replace(
        record,
        logging=given.get("logging") or record.logging,
        tracing=given.get("tracing") or record.tracing,
        encryption=given.get("encryption") or record.encryption,
    )


def definition_text(definition: str | Mapping[str, Any] | Path) -> str:
    if isinstance(definition, Path):
        return definition.read_text()
    if isinstance(definition, str):
        parse_definition(definition)  # a clear error for text that is not JSON
        if has_lone_surrogate(definition):
            raise InvalidDefinition(
                "Invalid State Machine Definition: the text holds a lone surrogate "
                "(not valid Unicode)"
            )
        return definition
    return json.dumps(definition)


def task_handlers(states: Mapping[str, Any], pointer: str) -> list[tuple[str, str, str | None]]:
    """(JSON pointer, resource, handler name) of every Task whose handler is static."""
    found: list[tuple[str, str, str | None]] = []
    for name, state in states.items():
        here = f"{pointer}/{name}"
        if isinstance(state, TaskState):
            ref = resources.parse_resource(state.resource)
            # Activities are served by pollers, child executions by the engine itself; of the
            # rest only Lambda has no built-in integration (the others may be served by boto3
            # or HTTP at run time, engine/integrations), so only an unknown Lambda is refused.
            if (
                ref is not None and ref.family != "activity"
                and not nested.is_nested(state.resource) and ref.service == "lambda"
            ):
                params = state.parameters if isinstance(state.parameters, dict) else {}
                found.append((here, state.resource, resources.handler_name(ref, params)))
        elif isinstance(state, ParallelState):
            for i, branch in enumerate(state.branches):
                found.extend(task_handlers(branch.states, f"{here}/Branches/{i}/States"))
        elif isinstance(state, MapState):
            found.extend(task_handlers(state.processor.states, f"{here}/ItemProcessor/States"))
    return found
