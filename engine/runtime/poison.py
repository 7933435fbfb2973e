"""Poison messages: a step that fails the engine again and again ends its execution.

A step that raises an engine exception (a bug, a UnicodeEncodeError at the commit, a
RecursionError in a parser) is not consumed: its outbox entry stays, the recovery sweep
sends it again, and it raises again, forever. Likewise a step that kills its worker process
(the step watchdog's hard limit, the kernel's OOM killer) comes back from the broker. So
each *redelivery* of a message (one the sweep re-sent, marked `n`, or one the broker
redelivered) is counted durably before its step runs (engine/store/deliveries.py), and the
count is taken back when the step returns; a first delivery costs nothing. So the count is
of deliveries that raised or whose process died. After `max_deliveries` of those, the
execution fails with `States.Runtime` and a cause saying what happened; the worker log has
each delivery's traceback (Celery logs a task's exception).

    guard = PoisonGuard(store, RedisDeliveries(client), max_deliveries=5)
    outcome = guard.deliver(message, redelivered=..., step=lambda: driver.handle(message))

The execution is failed as a whole, whichever run the message belonged to (a Map
iteration's poison step fails the execution, not only its iteration): the engine, not the
state machine, is at fault, so nothing in the definition could handle it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final, Protocol

from engine.asl import errors
from engine.interpreter import history as h
from engine.interpreter.types import epoch_millis, iso_timestamp
from engine.runtime import job_stops, messages
from engine.runtime.messages import Message
from engine.store.base import Commit, Store

log = logging.getLogger(__name__)

#: How much of an exception's text a cause keeps.
MAX_FAULT_CHARS: Final = 2000


class DeliveryLog(Protocol):
    def count(self, eid: str, entry: str) -> int: ...
    def uncount(self, eid: str, entry: str) -> None: ...
    def record_fault(self, eid: str, entry: str, text: str) -> None: ...
    def last_fault(self, eid: str, entry: str) -> str | None: ...
    def pending(self, eid: str, entry: str) -> bool: ...


def fault_text(exc: BaseException) -> str:
    """`Type: message`, cut, and safe to store: an exception about a lone surrogate quotes
    it, and the text must encode as UTF-8 to be committed (backslash escapes instead)."""
    text = f"{type(exc).__name__}: {exc}"
    if len(text) > MAX_FAULT_CHARS:
        text = text[:MAX_FAULT_CHARS] + "..."
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class PoisonGuard:
    def __init__(
        self,
        store: Store,
        deliveries: DeliveryLog,
        *,
        max_deliveries: int = 5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_deliveries < 1:
            raise ValueError("max_deliveries must be at least 1")
        self.store = store
        self.deliveries = deliveries
        self.max_deliveries = max_deliveries
        self.clock = clock

    def deliver(self, message: Message, *, redelivered: bool, step: Callable[[], str]) -> str:
        """Run `step` (this message's delivery) unless the message is poison; an engine
        exception out of it is recorded, then raised again (Celery logs its traceback)."""
        number = self.admit(message, redelivered=redelivered)
        if number is None:
            return "execution failed (poison message)"
        try:
            outcome = step()
        except Exception as exc:
            self.failed(message, number, exc)
            raise
        if redelivered:
            self._completed(message)
        return outcome

    def _completed(self, message: Message) -> None:
        """A redelivery whose step returned is no failed delivery: take its count back.
        What counts toward `max_deliveries` is only deliveries that raised or whose process
        died. Without this, copies that arrive together (the sweep's re-sends and the
        broker's requeued messages after a broker outage), each dropped at once as a
        duplicate while the first copy still runs its handler, were counted as failures
        and failed a healthy execution (seen in a chaos run with RabbitMQ restarts)."""
        eid = message.get("x")
        if not isinstance(eid, str):
            return
        try:
            self.deliveries.uncount(eid, messages.entry_id(message))
        except Exception:  # noqa: BLE001 - Redis down: the count stays, erring to caution
            log.warning("could not take back the delivery count of %s", message, exc_info=True)

    def admit(self, message: Message, *, redelivered: bool) -> int | None:
        """This delivery's number (1 for a first delivery). None when the message was
        delivered `max_deliveries` times already without completing: the execution has
        been failed instead, and the step must not run."""
        eid = message.get("x")
        if not redelivered or not isinstance(eid, str):
            return 1
        entry = messages.entry_id(message)
        number = 1 + self.deliveries.count(eid, entry)
        if number <= self.max_deliveries:
            return number
        # A late duplicate of an entry that was consumed meanwhile is only stale: the
        # driver drops it. Only a step still waiting to complete is poison.
        if not self.deliveries.pending(eid, entry):
            return number
        fault = self.deliveries.last_fault(eid, entry) or (
            "no exception was recorded: the worker process running it was lost (ended by "
            "the step watchdog's hard limit, out of memory, or killed)"
        )
        self.fail_execution(message, number - 1, fault)
        return None

    def failed(self, message: Message, number: int, exc: BaseException) -> None:
        """The step of this delivery raised `exc` (an engine fault): keep it for the cause
        and, at the last allowed delivery, fail the execution now rather than wait for the
        sweep to send it once more."""
        eid = message.get("x")
        if not isinstance(eid, str):
            return
        entry = messages.entry_id(message)
        text = fault_text(exc)
        try:
            self.deliveries.record_fault(eid, entry, text)
            if number >= self.max_deliveries:
                self.fail_execution(message, number, text)
        except Exception:  # noqa: BLE001 - Redis down: the next delivery counts again
            log.warning("could not record the fault of %s", entry, exc_info=True)

    def fail_execution(self, message: Message, deliveries: int, fault: str) -> bool:
        eid = message["x"]
        state = message.get("s") or "?"
        cause = (
            f"The engine failed to process the state '{state}' ({message.get('k')} step) "
            f"{deliveries} times in a row and gave up (at most {self.max_deliveries} "
            f"deliveries, SFN_MAX_DELIVERIES). Last failure: {fault}. The worker log has "
            "the traceback."
        )
        now = self.clock()
        # Its `.sync` jobs are abandoned: their stop requests go in the same commit, due at
        # once (no dispatcher here: the recovery sweep sends them; engine/runtime/job_stops.py).
        jobs = job_stops.running_jobs(self.store, eid)
        commit = Commit(
            events=[h.execution_failed(iso_timestamp(now), errors.RUNTIME, cause)],
            execution={
                "status": "FAILED", "error": errors.RUNTIME, "cause": cause,
                "stop": epoch_millis(now),
            },
            clear_outbox=True,
            outbox_add=job_stops.stop_entries(eid, jobs, "aborted", now, 0.0),
        )
        ok = self.store.commit(eid, commit).ok
        if ok:
            log.error("poison message: failed execution %s: %s", eid, cause)
        return ok
