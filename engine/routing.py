"""Which queue carries a message, and which queues a worker consumes: the one place that
knows queue names (docs/fleets.md).

    sfn               the control queue: the engine's own steps (start, timers, resume, joins,
                      the execution timeout). Every worker consumes it; any worker can run any
                      of these steps.
    sfn.h.<Handler>   the Task messages of one handler. Only a worker that registered
                      `<Handler>` consumes it, so a worker never receives a Task it lacks the
                      handler for. A handler no live worker serves leaves its messages here:
                      they wait (the execution stays RUNNING, the state's TimeoutSeconds
                      still runs) until a worker with the handler starts consuming.
                      A handler nobody ever announced (not in `sfn:handlers`, not known to
                      the sending process) goes to the control queue instead and fails as a
                      missing Lambda function does on AWS.
    <group>           a handler registered with `@handler(..., queue="gpu")` has its Task
                      messages sent to the queue `gpu` instead, so one pool of workers serves
                      the group and scales on its own (every worker on `gpu` is expected to
                      serve every handler of the group; one that does not hands the message
                      on to `sfn.h.<Handler>`, see `hand_back_queue`).

A worker consumes the queues it was started with (`-Q sfn`, `-Q gpu`, ...) and, for each
handler it serves whose group is among them, that handler's `sfn.h.<Handler>` queue. Queue
names are derived from the registrations only: nothing to configure, and a worker that
adds or removes a handler (a rolling deploy) changes only which queues it consumes. Pure:
no Celery, no Redis here.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping
from typing import Any

from engine.handlers import DEFAULT_QUEUE

#: The queue every worker consumes: the engine's own steps.
CONTROL_QUEUE = DEFAULT_QUEUE
#: Prefix of a handler's own queue.
HANDLER_QUEUE_PREFIX = f"{CONTROL_QUEUE}.h."


def handler_queue(handler: str) -> str:
    """The queue only workers serving `handler` consume."""
    return HANDLER_QUEUE_PREFIX + handler


def task_queue(handler: str | None, group: str | None) -> str:
    """Where a Task message of `handler` goes: its group's queue when the handler asked for
    one, else its own queue. A handler nobody knows (`group` None: neither this process
    nor any worker ever announced it) goes to the control queue, where the worker that
    takes it fails the state as AWS does for a missing function, unless by then some
    worker has announced it (see `needs_hand_back`)."""
    if handler is None or group is None:
        return CONTROL_QUEUE
    if group != CONTROL_QUEUE:
        return group
    return handler_queue(handler)


def message_queue(message: Mapping[str, Any], group_of: Mapping[str, str]) -> str:
    """The queue of an engine message: a Task's by its handler, everything else control."""
    if message.get("k") != "task":
        return CONTROL_QUEUE
    handler = message.get("h")
    if not isinstance(handler, str):
        return CONTROL_QUEUE
    return task_queue(handler, group_of.get(handler))


def worker_queues(handlers: Mapping[str, str], selected: Iterable[str]) -> list[str]:
    """The handler queues a worker adds to the queues it was started with (`selected`):
    `sfn.h.<Handler>` of every handler it serves whose group it consumes."""
    chosen = set(selected)
    return sorted(
        handler_queue(name) for name, group in handlers.items() if (group or CONTROL_QUEUE)
        in chosen
    )


def needs_hand_back(
    message: Mapping[str, Any],
    served: Container[str],
    came_from: str | None,
    known: Callable[[str], bool],
) -> str | None:
    """The handler of a Task message this worker must hand back (None: run it here). A
    Task whose handler this worker lacks is handed back when it came from a handler or
    group queue, or when some worker has ever announced the handler (`known`): an old
    message on the control queue from before routing by handler, a group queue whose
    workers differ, a handler removed from this worker while its messages waited. One on
    the control queue whose handler no worker ever announced (a typo, a dynamic
    FunctionName naming nothing) is run, and fails as AWS Lambda does for a missing
    function."""
    if message.get("k") != "task":
        return None
    handler = message.get("h")
    if not isinstance(handler, str) or handler in served:
        return None
    if came_from in (None, CONTROL_QUEUE) and not known(handler):
        return None
    return handler


def hand_back_queue(handler: str) -> str:
    """Where a worker that lacks `handler` puts its message back: the handler's own queue,
    which only workers serving it consume (so a hand-back never comes back to this one)."""
    return handler_queue(handler)
