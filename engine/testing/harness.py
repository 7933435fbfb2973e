"""Run a state machine in-process for a test: the production driver and interpreter over the
in-memory store (`engine.runtime.inline.InlineRunner`), a virtual clock, and handlers that
are real functions, `unittest.mock` objects, fixed values, or answers from a mock
configuration file or a recording.

    wf = Workflow("workflows/order_processing.asl.json",
                  handlers={"SendEmailLambda": Mock(return_value={"sent": True})})
    run = wf.run({"orderId": "1"})
    run.assert_succeeded()
    run.assert_path(["ProcessOrder", "SendEmail"])

Waits and retry intervals take no real time (the clock jumps to the next due timer). A
Task's answer can also come from a `Responder` (mock files, replay): it is asked first for
every Task invocation and answers with the outcome, or None to run the registered handler.
Tasks that wait for an answer from outside (callbacks, activities, child executions) are
answered the same way: engine/testing/waiting.py.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from engine.handlers import Handler, Invocation, Registry, default_registry
from engine.runtime.driver import Driver
from engine.runtime.inline import DEFAULT_EPOCH, InlineRunner
from engine.runtime.messages import Message, entry_id
from engine.store.base import LoadedRun
from engine.testing import events as ev
from engine.testing.waiting import answer_waiting


@dataclass(frozen=True)
class Answer:
    """A Task's outcome given by a responder; `at` (epoch seconds) moves the virtual clock
    there first, so the outcome is stamped when the recording says it happened."""

    invocation: Invocation
    at: float | None = None
    #: Leave the task unanswered (a recorded timeout): its TimeoutSeconds timer decides.
    unanswered: bool = False
    #: A waiting Task (callback, activity, child execution) only: what was submitted
    #: before the answer (a recorded TaskSubmitted), at `submitted_at`; None: nothing was
    #: (a mocked Task calls nothing: its answer is the outcome). engine/testing/waiting.py
    submission: Invocation | None = None
    submitted_at: float | None = None
    #: An activity's ActivityStarted `workerName` (a recorded one).
    worker_name: str | None = None


class _Unanswered(Exception):
    pass


class Responder(Protocol):
    def __call__(self, state: str, invocation: int, task: Mapping[str, Any]) -> Answer | None:
        """`invocation` counts this state's Task invocations in this execution from 0
        (retries and Map iterations included); `task` is the scheduled task (resource,
        handler, input, parameters)."""
        ...


class _TestDriver(Driver):
    """The production driver, asking a responder before it calls a handler."""

    responder: Responder | None = None
    runner: InlineRunner | None = None
    #: Tokens to issue instead of fresh ones, per run, in order (replay: the recorded ones).
    tokens: dict[str, list[str]] | None = None

    def issue_token(self, eid: str, run: str) -> str:
        queued = (self.tokens or {}).get(run)
        return queued[0] if queued else super().issue_token(eid, run)

    def step(self, eid: str, run: str, loaded: LoadedRun, occurrence: Any, *, consumed: str,
             **options: Any) -> str:
        outcome = super().step(eid, run, loaded, occurrence, consumed=consumed, **options)
        queued = (self.tokens or {}).get(run)
        if queued:
            # A recorded token is used up once a Task of this run holds it.
            after = self.store.load_run(eid, run)
            if after is not None and (after.doc.get("task") or {}).get("token") == queued[0]:
                queued.pop(0)
        return outcome

    def run_task(self, message: Message) -> str:
        # A callback, an activity or a child execution: answered here, or run as in
        # production when the responder has no answer (engine/testing/waiting.py).
        declined = self.__dict__.setdefault("_declined", set())
        asked: list[bool] = []

        def ask(eid: str, loaded: LoadedRun) -> Answer | None:
            asked.append(True)
            return self._ask(eid, loaded)

        done = answer_waiting(self, message, ask)
        if done is not None:
            return done
        if asked:  # a callback the responder left to its handler: not asked twice
            declined.add(entry_id(message))
        try:
            return super().run_task(message)
        except _Unanswered:
            return "left unanswered"

    def _ask(self, eid: str, loaded: LoadedRun) -> Answer | None:
        """The responder's answer to this invocation of the state (each counted once)."""
        state = str(loaded.doc.get("state"))
        counts = self.__dict__.setdefault("_counts", defaultdict(int))
        n = counts[(eid, state)]
        counts[(eid, state)] += 1
        if self.responder is None:
            return None
        return self.responder(state, n, loaded.doc["task"])

    def move_clock(self, at: float | None) -> None:
        if at is not None and self.runner is not None:
            self.runner.now = max(self.runner.now, at)

    def invoke(self, eid: str, loaded: LoadedRun, message: Message) -> Invocation:
        declined = self.__dict__.setdefault("_declined", set())
        if entry_id(message) in declined:  # asked already (a callback without an answer)
            declined.discard(entry_id(message))
            return super().invoke(eid, loaded, message)
        answer = self._ask(eid, loaded)
        if answer is not None:
            if answer.unanswered:
                raise _Unanswered
            self.move_clock(answer.at)
            return answer.invocation
        return super().invoke(eid, loaded, message)


def _as_handler(name: str, value: Any) -> Handler:
    if callable(value):
        return Handler(name, value)

    def constant(event: Any, context: Any) -> Any:
        return json.loads(json.dumps(value))

    return Handler(name, constant)


def definition_text(definition: str | Path | Mapping[str, Any]) -> str:
    """The definition's JSON text: given as text, a parsed value, or a file path."""
    if isinstance(definition, Path):
        return definition.read_text()
    if isinstance(definition, str):
        if definition.lstrip().startswith("{"):
            return definition
        return Path(definition).read_text()
    return json.dumps(definition)


def machine_name_of(definition: str | Path | Mapping[str, Any]) -> str:
    """`workflows/order_processing.asl.json` -> `order_processing`; `StateMachine` else."""
    if isinstance(definition, Path) or (
        isinstance(definition, str) and not definition.lstrip().startswith("{")
    ):
        name = Path(definition).name
        for suffix in (".json", ".asl"):
            name = name.removesuffix(suffix)
        return name
    return "StateMachine"


class Workflow:
    """A state machine ready to run in-process, any number of times.

    `handlers` (resource name -> function `(event, context)`, a `unittest.mock.Mock`, or a
    JSON value to return) are laid over `registry` (default: every handler registered with
    `@handler` in this process). `observers` are called with each finished `Execution`
    (the pytest plugin's coverage is one)."""

    def __init__(
        self,
        definition: str | Path | Mapping[str, Any],
        *,
        handlers: Mapping[str, Any] | None = None,
        registry: Registry | None = None,
        responder: Responder | None = None,
        name: str | None = None,
        type: str = "STANDARD",
        role_arn: str | None = None,
        start: float = DEFAULT_EPOCH,
        region: str = "us-east-1",
        account: str = "000000000000",
        observers: Sequence[Callable[[Execution], None]] = (),
        task_tokens: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.text = definition_text(definition)
        self.task_tokens = {run: list(t) for run, t in (task_tokens or {}).items()}
        self.name = name or machine_name_of(definition)
        self.type = type
        self.role_arn = role_arn
        self.start = start
        self.region = region
        self.account = account
        self.responder = responder
        self.observers = list(observers)
        base = registry if registry is not None else default_registry
        merged = Registry(dict(base.handlers))
        for key, value in (handlers or {}).items():
            merged.handlers[key] = _as_handler(key, value)
        self.registry = merged

    def run(
        self,
        input: Any = None,
        *,
        input_text: str | None = None,
        name: str = "test",
        responder: Responder | None = None,
    ) -> Execution:
        """Start an execution and run it to its end in virtual time. The same `name` gives
        the same execution ARN, hence the same States.UUID/MathRandom values and jitter."""
        runner = InlineRunner(self.registry, start=self.start, region=self.region,
                              account=self.account)
        driver = _TestDriver(runner.store, runner.queue, self.registry,
                             settings=runner.driver.settings, clock=runner.clock, owner="inline")
        driver.responder = responder or self.responder
        driver.tokens = {run: list(t) for run, t in self.task_tokens.items()}
        driver.runner = runner
        runner.driver = driver
        runner.create_state_machine(self.name, self.text, type=self.type, role_arn=self.role_arn)
        record = runner.run(self.name, input_text=input_text, input=input, name=name)
        execution = Execution(
            arn=record.arn,
            status=record.status,
            output=json.loads(record.output) if record.output is not None else None,
            error=record.error,
            cause=record.cause,
            history=runner.client.get_history(record.eid),
            definition=self.text,
            state_machine=self.name,
        )
        for observe in self.observers:
            observe(execution)
        return execution


@dataclass
class Execution:
    """A finished (or stuck) execution, with assertion helpers whose failures show the
    path of states and the history readably."""

    arn: str
    status: str
    output: Any
    error: str | None
    cause: str | None
    history: list[dict[str, Any]]
    definition: str = ""
    state_machine: str = ""

    @property
    def path(self) -> list[str]:
        """The states entered, in order."""
        return ev.path(self.history)

    # --- reading -----------------------------------------------------------------------

    def events(self, type_: str | None = None, *, state: str | None = None) -> list[ev.Event]:
        """The history's events, optionally of one type and/or of one state."""
        return [e for s, e in ev.with_states(self.history)
                if (type_ is None or e.get("type") == type_) and (state is None or s == state)]

    def state_output(self, state: str, occurrence: int = -1) -> Any:
        """The output of `state` when it exited (the last time, by default)."""
        found = [ev.details(e) for e in self.history
                 if ev.is_state_exited(e) and ev.details(e).get("name") == state]
        if not found:
            raise AssertionError(f"state {state!r} never exited\n{self.describe()}")
        return json.loads(found[occurrence]["output"])

    def state_input(self, state: str, occurrence: int = -1) -> Any:
        found = [ev.details(e) for e in self.history
                 if ev.is_state_entered(e) and ev.details(e).get("name") == state]
        if not found:
            raise AssertionError(f"state {state!r} was never entered\n{self.describe()}")
        return json.loads(found[occurrence]["input"])

    def task_attempts(self, state: str) -> int:
        """How many times `state`'s Task was scheduled (1 + its retries, per entry)."""
        return sum(1 for e in self.events(state=state)
                   if str(e.get("type")).endswith("Scheduled"))

    def describe(self, *, last: int = 12) -> str:
        """Status, path and the last events: what a failing assertion prints."""
        lines = [f"execution {self.arn}: {self.status}"]
        if self.error is not None or self.cause is not None:
            lines.append(f"  error={self.error!r} cause={_short(self.cause)}")
        if self.status == "SUCCEEDED":
            lines.append(f"  output={_short(json.dumps(self.output))}")
        lines.append("path: " + (" -> ".join(self.path) or "(no state entered)"))
        shown = self.history[-last:]
        skipped = len(self.history) - len(shown)
        lines.append(f"history ({len(self.history)} events"
                     + (f", last {len(shown)}" if skipped else "") + "):")
        lines.extend("  " + ev.summary(e) for e in shown)
        return "\n".join(lines)

    # --- assertions --------------------------------------------------------------------

    def assert_status(self, status: str) -> Execution:
        __tracebackhide__ = True
        if self.status != status:
            raise AssertionError(f"expected status {status}, got {self.status}\n"
                                 + self.describe())
        return self

    def assert_succeeded(self, output: Any = ...) -> Execution:
        """SUCCEEDED, and (when given) with exactly this output."""
        __tracebackhide__ = True
        self.assert_status("SUCCEEDED")
        if output is not ...:
            self.assert_output(output)
        return self

    def assert_failed(self, error: str | None = None, cause: str | None = None) -> Execution:
        """FAILED, and (when given) with this error and cause."""
        __tracebackhide__ = True
        self.assert_status("FAILED")
        if error is not None and self.error != error:
            raise AssertionError(f"expected error {error!r}, got {self.error!r}\n"
                                 + self.describe())
        if cause is not None and self.cause != cause:
            raise AssertionError(f"expected cause {cause!r}, got {self.cause!r}\n"
                                 + self.describe())
        return self

    def assert_output(self, expected: Any) -> Execution:
        __tracebackhide__ = True
        if self.output != expected:
            raise AssertionError(
                f"output differs\n  expected: {json.dumps(expected, sort_keys=True)}\n"
                f"  actual:   {json.dumps(self.output, sort_keys=True)}\n" + self.describe())
        return self

    def assert_path(self, expected: Sequence[str]) -> Execution:
        """Exactly these states were entered, in this order."""
        __tracebackhide__ = True
        actual = self.path
        if list(expected) != actual:
            at = next((i for i, (a, b) in enumerate(zip(expected, actual, strict=False))
                       if a != b), min(len(expected), len(actual)))
            want = expected[at] if at < len(expected) else "(end)"
            got = actual[at] if at < len(actual) else "(end)"
            raise AssertionError(
                f"path differs at step {at + 1}: expected {want}, got {got}\n"
                f"  expected path: {' -> '.join(expected)}\n"
                f"  actual path:   {' -> '.join(actual)}\n" + self.describe())
        return self

    def assert_visited(self, *states: str) -> Execution:
        __tracebackhide__ = True
        missing = [s for s in states if s not in self.path]
        if missing:
            raise AssertionError(f"never entered: {', '.join(missing)}\n" + self.describe())
        return self

    def assert_not_visited(self, *states: str) -> Execution:
        __tracebackhide__ = True
        seen = [s for s in states if s in self.path]
        if seen:
            raise AssertionError(f"entered, but should not have been: {', '.join(seen)}\n"
                                 + self.describe())
        return self

    def assert_history(self, expected: Sequence[str | Mapping[str, Any]]) -> Execution:
        """The history matches `expected` event by event: event types (strings), or whole
        events (compared without ids and timestamps). A failure names the first diverging
        event, expected vs actual."""
        __tracebackhide__ = True
        types_only = all(isinstance(e, str) for e in expected)
        wanted = [{"type": e} if isinstance(e, str) else dict(e) for e in expected]
        divergence = ev.first_divergence(wanted, self.history, types_only=types_only)
        if divergence is not None:
            raise AssertionError(divergence.describe() + "\n" + self.describe())
        return self


def _short(text: str | None, limit: int = 200) -> str:
    if text is None:
        return "None"
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")
