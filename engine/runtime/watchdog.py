"""The step watchdog: ends an engine step that its budget's own checks cannot reach.

The step budget (engine/asl/budget.py) is checked cooperatively: between JSONata steps,
around intrinsic calls, as a regular expression's timeout. A single call that runs long
between two checks (a library's sort of a huge array, a parse) would still hold the worker,
so a Celery pool process runs each `advance` inside this watchdog:

* soft: a CPU-time timer (ITIMER_VIRTUAL, SIGVTALRM) at `soft_seconds` whose handler
  raises `BudgetExceeded` in the step's own code: the state fails as for any exceeded budget
  (Python's `re` and the `regex` package check for signals while they match: verified);
* hard: a CPU-time timer (ITIMER_PROF, SIGPROF) at `hard_seconds` left at its default
  action, which terminates the process: a C loop that never returns to Python cannot
  ignore it. Celery's pool replaces the process, the broker redelivers the message, and
  the poison count (engine/runtime/poison.py) bounds how often that can happen.

Celery's own `soft_time_limit`/`time_limit` are per task, not per engine step: the same
Celery task may run a Task handler (user code, bounded by the state's TimeoutSeconds, not by
the step budget) right after the step (Driver.handle's inline fusion). The watchdog is armed
around `advance` only, never around a handler, a Redis call or a commit.

Both count CPU time, like the budget (the step is pure computation: it never waits), so a
busy machine stretches a step in wall time but does not make it fail. Signals reach only the
main thread: elsewhere (a threads pool, tests calling the driver from
a thread) the watchdog does nothing and the budget's cooperative checks remain.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from engine.asl.budget import BudgetExceeded


class StepWatchdog:
    def __init__(self, budget_seconds: float, soft_seconds: float, hard_seconds: float) -> None:
        self.budget_seconds = budget_seconds
        self.soft_seconds = soft_seconds
        self.hard_seconds = hard_seconds
        self._armed = False
        self._installed_in: int | None = None

    @contextmanager
    def __call__(self) -> Iterator[None]:
        if self._armed or threading.current_thread() is not threading.main_thread():
            yield
            return
        self._install()
        self._armed = True
        signal.setitimer(signal.ITIMER_VIRTUAL, self.soft_seconds)
        signal.setitimer(signal.ITIMER_PROF, self.hard_seconds)
        try:
            yield
        finally:
            # Disarmed first: a SIGVTALRM already pending when the step ends is ignored by
            # the handler rather than raised into the commit that follows.
            self._armed = False
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)

    def _install(self) -> None:
        if self._installed_in == os.getpid():
            return
        signal.signal(signal.SIGVTALRM, self._on_alarm)
        signal.signal(signal.SIGPROF, signal.SIG_DFL)
        self._installed_in = os.getpid()

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        if self._armed:
            self._armed = False
            raise BudgetExceeded(self.budget_seconds, "stopped by the step watchdog")
