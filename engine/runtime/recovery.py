"""The recovery sweep: send what is due and was not consumed.

Each execution's outbox holds every message committed but not yet consumed, with a
deadline: a timer's due time; a sent message's re-delivery time; a claimed Task's lease end.
The sweep pops executions whose next look is due from the global index, sends their due
entries (pushing each deadline on, so concurrent sweeps don't all send it) and re-indexes the
execution at its next deadline. Any number of workers may sweep at once: the store's atomic
claim makes them take turns per execution, and a duplicate send is dropped by the version
check where it lands.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from engine.runtime.driver import Dispatcher
from engine.store.base import TERMINAL, Store

log = logging.getLogger(__name__)

#: How soon a running execution with nothing due is looked at again.
IDLE_LOOK_SECONDS = 60.0
#: Executions the retention cleaning takes per store call (see RedisStore.prune_closed).
PRUNE_BATCH = 20


class Sweeper:
    def __init__(
        self,
        store: Store,
        dispatcher: Dispatcher,
        *,
        redeliver_seconds: float = 30.0,
        interval: float = 0.2,
        batch: int = 100,
        clock: Callable[[], float] = time.time,
        prune_interval: float = 1.0,
    ) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.redeliver_seconds = redeliver_seconds
        self.interval = interval
        self.batch = batch
        self.clock = clock
        self.sent = 0
        self.last_looked = 0
        self.prune_interval = prune_interval
        self._next_prune = 0.0

    def sweep_once(self) -> int:
        """One pass; returns how many messages it sent."""
        now = self.clock()
        sent = 0
        due = self.store.due_executions(now, self.batch, self.redeliver_seconds)
        self.last_looked = len(due)
        for eid in due:
            entries, next_deadline, status = self.store.due_entries(
                eid, now, self.redeliver_seconds
            )
            for entry in entries:
                # `n` marks a re-send: its delivery is counted before it runs, so a step
                # that never completes ends its execution (engine/runtime/poison.py). A long
                # timer's first send is marked too: one count more, never a loop.
                self.dispatcher.send({**entry.message, "n": 1})
                sent += 1
            if status in TERMINAL and next_deadline is None:
                self.store.reschedule_execution(eid, None)
            elif status == "":
                self.store.reschedule_execution(eid, None)  # the execution is gone
            else:
                look = now + IDLE_LOOK_SECONDS
                self.store.reschedule_execution(
                    eid, look if next_deadline is None else min(look, next_deadline)
                )
        self.sent += sent
        self._prune(now)
        return sent

    def _prune(self, now: float) -> None:
        """Retention (a store that keeps closed executions for a time): clean a few ended
        executions, at most once per `prune_interval`."""
        prune = getattr(self.store, "prune_closed", None)
        if prune is None or now < self._next_prune:
            return
        self._next_prune = now + self.prune_interval
        for _ in range(10):  # a backlog: a few small batches per pass, not all at once
            if prune(now) < PRUNE_BATCH:
                break

    def run_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                busy = self.sweep_once() > 0
            except Exception:  # noqa: BLE001 - Redis may be restarting; try again shortly
                log.warning("recovery sweep failed; retrying", exc_info=True)
                busy = False
            if not busy:
                stop.wait(self.interval)
