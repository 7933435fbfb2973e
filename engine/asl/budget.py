"""The step budget: how long one engine step (one `advance` call) may compute.

A state machine's expressions run on shared workers; one expression that never ends (a
regular expression that backtracks, a JSONata CPU bomb) must fail *its* state, not occupy a
worker. The budget is an input like the time and the random seed: the shell builds a
`StepBudget` from its settings and a clock it chooses (this module reads no clock itself)
and the interpreter makes it current for the duration of `advance`; the evaluators ask it:

    budget.check()        raises `BudgetExceeded` once the deadline has passed
    budget.remaining()    seconds left (a regular expression's timeout)

`BudgetExceeded` is an ASL failure (a `StatesFailure`), reported the way AWS reports an
expression that cannot be evaluated: a JSONata expression turns it into its
`States.QueryEvaluationError` (engine/asl/jsonata.py); anywhere else (a path, an intrinsic
function, a JSONPath filter's regular expression) it is `States.Runtime`. Either way it
flows through the state's Retry and Catch like any other error of the state.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

from engine.asl import errors
from engine.asl.failure import StatesFailure

#: The setting that changes the budget, named in every cause so an operator knows the knob.
SETTING: Final = "SFN_STEP_BUDGET_SECONDS"


class BudgetExceeded(StatesFailure):
    """The current step ran past its budget: `States.Runtime` unless JSONata rewords it."""

    def __init__(self, seconds: float, where: str = "") -> None:
        super().__init__(errors.RUNTIME, budget_message(seconds, where))
        self.seconds = seconds
        self.where = where


#: The setting of the memory half of the budget (engine/runtime/watchdog.py enforces it).
MEMORY_SETTING: Final = "SFN_STEP_MEMORY_MB"


class MemoryBudgetExceeded(StatesFailure):
    """The current step asked for more memory than its budget allows (the shell limits a
    step's address space; Python reports the refusal as MemoryError): `States.Runtime`."""

    def __init__(self) -> None:
        super().__init__(
            errors.RUNTIME,
            "The evaluation exceeded the step memory budget and was stopped "
            f"({MEMORY_SETTING}).",
        )


def budget_message(seconds: float, where: str = "") -> str:
    """The cause text: what was stopped, which budget, and the setting that changes it."""
    shown = f"{seconds:g}"
    what = f" ({where})" if where else ""
    return (
        f"The evaluation exceeded the step time budget of {shown} seconds{what} and was "
        f"stopped ({SETTING})."
    )


@dataclass(frozen=True)
class StepBudget:
    """A deadline on an injected clock. `seconds` is the whole budget (for messages)."""

    seconds: float
    deadline: float
    clock: Callable[[], float]

    @classmethod
    def starting_now(cls, seconds: float, clock: Callable[[], float]) -> StepBudget:
        return cls(seconds, clock() + seconds, clock)

    def remaining(self) -> float:
        return self.deadline - self.clock()

    def expired(self) -> bool:
        return self.clock() >= self.deadline

    def check(self, where: str = "") -> None:
        if self.expired():
            raise BudgetExceeded(self.seconds, where)

    def renewed(self) -> StepBudget:
        """The same budget again from now: a state's error handling (its Catch's Output and
        Assign) gets a budget of its own after its evaluation spent the first."""
        return StepBudget.starting_now(self.seconds, self.clock)


_CURRENT: Final[contextvars.ContextVar[StepBudget | None]] = contextvars.ContextVar(
    "sfn_step_budget", default=None
)


def current() -> StepBudget | None:
    """The budget of the step being evaluated (None: unbounded, e.g. validation)."""
    return _CURRENT.get()


def check(where: str = "") -> None:
    """Raise `BudgetExceeded` if the current step's budget is spent (no-op without one)."""
    found = _CURRENT.get()
    if found is not None:
        found.check(where)


@contextmanager
def applying(found: StepBudget | None) -> Iterator[None]:
    """Make `found` the current budget inside the block (None leaves the outer one)."""
    if found is None:
        yield
        return
    token = _CURRENT.set(found)
    try:
        yield
    finally:
        _CURRENT.reset(token)
