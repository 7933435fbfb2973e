"""Wake-up messages: small JSON objects naming what to advance, never carrying the truth.

Every message carries the execution id (`x`), the run (`r`) and the snapshot version it was
sent for (`v`); a message that does not match the stored snapshot is dropped. Kinds (`k`):

    start         start a run: the root (v=1), or child `i` of join `j` (v=0, created then)
    task          run the Task handler of attempt `a` (resource `res`)
    timer         a timer of kind `t` for attempt `a` fired (wait, retry, task_timeout)
    resume        continue a run parked by the step cap
    join          the join `j` of a Parallel/Map completed
    exec_timeout  the execution's own TimeoutSeconds elapsed

`s` (state) and `m` (state machine) only make the task readable in Flower and logs; `d` on
a timer is its due time (for the timer-lag metric); `q` on a task marks a DISTRIBUTED Map
iteration, whose TaskStarted stays out of the history; `h` names the handler (its queue);
`n` marks a copy the recovery sweep sent (its delivery is counted: engine/runtime/poison.py).
"""

from __future__ import annotations

from typing import Any

Message = dict[str, Any]


def entry_id(message: Message) -> str:
    """The outbox id of a message: the same message always gets the same id, so re-adding it
    is idempotent and the consumer knows which entry it consumed."""
    return "|".join(
        str(message.get(k, ""))
        for k in ("k", "r", "v", "a", "t", "i")
    )


def make(kind: str, eid: str, run: str, version: int, **extra: Any) -> Message:
    message: Message = {"k": kind, "x": eid, "r": run, "v": version}
    message.update({k: v for k, v in extra.items() if v is not None})
    return message


def display_name(message: Message) -> str:
    """`StateMachine.State` for Flower's task list."""
    machine = message.get("m") or message.get("x", "").split(":", 1)[0]
    state = message.get("s") or message.get("k", "")
    return f"{machine}.{state}"
