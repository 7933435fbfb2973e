"""Chaining: consecutive Tasks this worker serves run in one delivery (one Celery task).

Also the next Map iteration (or Parallel branch) that a finishing one launches: its start
runs in the same delivery rather than going through the broker; its message stays in the
committed outbox, and its step is idempotent (a second start of a run that exists is
stale).

A Task's commit that schedules another Task whose handler this process serves (on the
default queue) claims it in the same atomic step (`ClaimNext`) and the driver runs it right
away instead of sending its message through the broker. Nothing else changes: the message
is in the committed outbox, the claim takes the lease and logs TaskStarted, and if the
worker dies the sweep re-sends the message once the lease has run out. A budget per
delivery (a count and a wall-clock time) bounds the chain; past it the next Task goes
through the broker, behind whatever other executions have queued meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from engine.handlers import DEFAULT_QUEUE, Registry
from engine.runtime.activities import is_activity_task
from engine.runtime.messages import Message
from engine.store.base import LoadedRun, OutboxEntry


@dataclass
class Chain:
    """One delivery's budget, and the Task to run next (with its snapshot when the commit
    that scheduled it claimed it; None: claim it first)."""

    left: int
    until: float
    pending: tuple[Message, LoadedRun | None] | None = None

    @classmethod
    def starting_now(
        cls, max_tasks: int, max_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> Chain:
        return cls(left=max_tasks, until=clock() + max_seconds)

    def pick(
        self,
        entries: list[OutboxEntry],
        registry: Registry,
        clock: Callable[[], float] = time.monotonic,
    ) -> OutboxEntry | None:
        """The entry among `entries` to run here next, while the budget lasts: a Task whose
        handler this process serves, on the default queue (a handler routed to a queue of
        its own runs where that queue is consumed), or the start of a Map iteration or
        Parallel branch (an engine step, which then runs its own first Tasks here too)."""
        if self.pending is not None or self.left <= 0 or clock() >= self.until:
            return None
        for entry in entries:
            message = entry.message
            kind = message.get("k")
            if kind == "start" and "j" in message:
                return entry
            if kind != "task" or is_activity_task(message):
                continue
            found = registry.get(message.get("h"))
            if found is not None and found.queue == DEFAULT_QUEUE:
                return entry
        return None

    def push(self, message: Message, claimed: LoadedRun | None) -> None:
        self.left -= 1
        self.pending = (message, claimed)

    def pop(self) -> tuple[Message, LoadedRun | None] | None:
        pending, self.pending = self.pending, None
        return pending
