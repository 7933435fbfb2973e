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

* memory: with `memory_bytes`, the process's address space (RLIMIT_AS) is limited to its
  size when the step starts plus that many bytes, and restored when it ends; an allocation
  past it raises MemoryError in the step, which fails the state (engine/interpreter/
  machine.py: `MemoryBudgetExceeded`, States.Runtime) instead of growing the pool process
  until the kernel's OOM killer ends it, or another process.

Both timers count CPU time, like the budget (the step is pure computation: it never waits), so a
busy machine stretches a step in wall time but does not make it fail. Signals reach only the
main thread: elsewhere (a threads pool, tests calling the driver from
a thread) the watchdog does nothing and the budget's cooperative checks remain.
"""

from __future__ import annotations

import os
import resource
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from engine.asl.budget import BudgetExceeded


def address_space_bytes() -> int | None:
    """This process's virtual size now (Linux /proc); None where it cannot be read."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return None


class StepWatchdog:
    def __init__(
        self,
        budget_seconds: float,
        soft_seconds: float,
        hard_seconds: float,
        memory_bytes: int | None = None,
    ) -> None:
        self.budget_seconds = budget_seconds
        self.soft_seconds = soft_seconds
        self.hard_seconds = hard_seconds
        self.memory_bytes = memory_bytes or None
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
        previous = self._limit_memory()
        try:
            yield
        finally:
            # Disarmed first: a SIGVTALRM already pending when the step ends is ignored by
            # the handler rather than raised into the commit that follows.
            self._armed = False
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)
            if previous is not None:
                resource.setrlimit(resource.RLIMIT_AS, previous)

    def _limit_memory(self) -> tuple[int, int] | None:
        """Limit the address space to its current size plus the memory budget; returns the
        limits to restore (None: no budget, or the size could not be read)."""
        if self.memory_bytes is None:
            return None
        size = address_space_bytes()
        if size is None:
            return None
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = size + self.memory_bytes
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        if soft != resource.RLIM_INFINITY and soft <= limit:
            return None  # an operator's own, tighter limit stays as it is
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
        return soft, hard

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
