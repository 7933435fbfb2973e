"""Run executions in-process: the real driver and interpreter over the in-memory store, with
a virtual clock and a queue instead of Celery.

Used by `sfn conformance run --mode inline`, by TestState-style evaluation and by tests of
the driver. Waits and retry intervals take no real time: when nothing is ready the clock
jumps to the next due message. A handler may declare `simulated_seconds` (how long it
"runs" in virtual time), so Task timeouts can be exercised without sleeping.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.client import Client
from engine.handlers import Registry
from engine.integrations import Integrations
from engine.runtime.commits import started_event
from engine.runtime.driver import Driver, DriverSettings
from engine.runtime.messages import Message, entry_id
from engine.runtime.recovery import Sweeper
from engine.store.base import TERMINAL, ExecutionRecord
from engine.store.memory import MemoryStore

#: 2025-01-01T12:00:00Z, the frozen clock of the recorded clock-dependent cases.
DEFAULT_EPOCH = 1735732800.0


class _Queue:
    def __init__(self, runner: InlineRunner) -> None:
        self.runner = runner
        self.heap: list[tuple[float, int, Message]] = []
        self.seq = itertools.count()

    def send(self, message: Message, *, countdown: float = 0.0) -> None:
        due = self.runner.now + countdown
        heapq.heappush(self.heap, (due, next(self.seq), message))


class InlineRunner:
    def __init__(
        self,
        registry: Registry,
        *,
        start: float = DEFAULT_EPOCH,
        region: str = "us-east-1",
        account: str = "000000000000",
        simulated_seconds: Mapping[str, float] | None = None,
        max_messages: int = 200_000,
        integrations: Integrations | None = None,
    ) -> None:
        self.now = start
        self.store = MemoryStore()
        self.queue = _Queue(self)
        self.simulated = dict(simulated_seconds or {})
        self.max_messages = max_messages
        settings = DriverSettings(region=region, account=account, redeliver_seconds=3600.0)
        self.driver = Driver(
            self.store, self.queue, registry, settings=settings, clock=self.clock, owner="inline",
            integrations=integrations,
        )
        self.client = Client(
            self.store, self.queue, region=region, account=account, clock=self.clock,
            redeliver_seconds=3600.0,
        )
        self.sweeper = Sweeper(self.store, self.queue, redeliver_seconds=3600.0, clock=self.clock)
        self._pending_results: dict[int, tuple[Message, Any]] = {}

    def clock(self) -> float:
        return self.now

    def create_state_machine(
        self, name: str, definition: str | Mapping[str, Any] | Path, **kwargs: Any
    ) -> Any:
        return self.client.create_state_machine(name, definition, **kwargs)

    def run(
        self, state_machine: str, input_text: str | None = None, *, name: str | None = None,
        input: Any = None,
    ) -> ExecutionRecord:
        """Start an execution and run it to its end; returns the final record."""
        record = self.client.start_execution(
            state_machine, input, name=name, input_text=input_text
        )
        self.drain(record.eid)
        return self.client.describe_execution(record.eid)

    def drain(self, eid: str) -> None:
        handled = 0
        while handled < self.max_messages:
            record = self.store.get_execution(eid)
            if record is None or record.status in TERMINAL:
                return
            if not self.queue.heap:
                if not self._wake_timers():
                    return  # nothing can move: the caller sees it still RUNNING
                continue
            durable = self.store.next_due()
            if durable is not None and durable < self.queue.heap[0][0]:
                # A durable timer (the execution's TimeoutSeconds, a long Wait) falls due
                # before the next queued message: send it first, as the sweep would.
                self.now = max(self.now, durable)
                self.sweeper.sweep_once()
                handled += 1
                continue
            due, _, message = heapq.heappop(self.queue.heap)
            self.now = max(self.now, due)
            self._deliver(message)
            handled += 1
        raise RuntimeError(f"{eid} did not finish within {self.max_messages} messages")

    def _wake_timers(self) -> bool:
        """Jump the clock to the next due outbox entry (durable timers) and send it. The
        sweep may only look again later (nothing was due yet): keep jumping until it sends."""
        for _ in range(self.max_messages):
            nxt = self.store.next_due()
            if nxt is None:
                return False
            self.now = max(self.now, nxt)
            self.sweeper.sweep_once()
            if self.queue.heap:
                return True
        return False

    def _deliver(self, message: Message) -> None:
        if message.get("k") == "_complete":
            original, outcome = self._pending_results.pop(message["n"])
            self.driver.complete_task(
                original["x"], original["r"], original["a"], outcome, entry_id(original)
            )
            return
        seconds = self.simulated.get(message.get("h") or "")
        if message.get("k") != "task" or not seconds:
            self.driver.handle(message)
            return
        # A handler that "takes" time: claim and invoke now, deliver its result later,
        # so a TimeoutSeconds shorter than the handler fires first.
        claim = self.store.claim_task(
            message["x"], message["r"], message["v"], message["a"], now=self.now,
            lease_until=self.now + 10**9, owner="inline", entry_id=entry_id(message),
            started_event=started_event(message, self.now),
        )
        if not claim.ok or claim.loaded is None:
            return
        outcome = self.driver.invoke(message["x"], claim.loaded, message)
        n = len(self._pending_results) + next(self.queue.seq)
        self._pending_results[n] = (message, outcome)
        self.queue.send({"k": "_complete", "n": n}, countdown=seconds)

