"""The interpreter, pure and deterministic: `advance(machine, doc, occurrence, ctx)`."""

from engine.interpreter.machine import (
    abort_child,
    advance,
    child_template,
    new_child_doc,
    new_root_doc,
    task_started_event,
)

__all__ = [
    "abort_child",
    "advance",
    "child_template",
    "new_child_doc",
    "new_root_doc",
    "task_started_event",
]
