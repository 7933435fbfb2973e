"""AWS Step Functions Local's mock configuration file (`MockConfigFile.json`), read as AWS
documents it, run on the inline runner.

    {"StateMachines": {MACHINE: {"TestCases": {CASE: {STATE: MOCKED_RESPONSE, ...}}}},
     "MockedResponses": {MOCKED_RESPONSE: {"0": {"Return": ...},
                                           "1-2": {"Throw": {"Error": ..., "Cause": ...}}}}}

Semantics (AWS's, where it documents them):
- a test case names, per Task state, the mocked response that answers it; the keys of a
  mocked response count that state's invocations in the execution from 0 (retries and Map
  iterations included): "0" the first, "1-2" the second and third. They must be
  consecutive from 0, each with exactly one of `Return` (the service's whole response, used
  as the Task's result unchanged: for `lambda:invoke` the `{"StatusCode", "Payload"}`
  object) and `Throw` (`Error`, and `Cause`), failing the Task with that error;
- a Task state the test case does not name is not mocked: it calls the real integration,
  here the handler registered for its resource (AWS's "hybrid" test cases);
- a mocked state invoked more times than its mocked response covers fails its Task with
  `MockConfig.ResponsesExhausted` and the test case is reported as an error (Step Functions
  Local leaves this undocumented: a loud failure beats a silently reused answer);
- a test case naming a state that is not a Task state of the definition is an error too
  (a typo would otherwise quietly call the real handler).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.asl.loader import load
from engine.asl.model import MapState, ParallelState, TaskState
from engine.errors import ValidationException
from engine.handlers import Invocation
from engine.testing.harness import Answer, Execution, Workflow, definition_text, machine_name_of

_KEY = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")

#: The error of a mocked Task invoked more times than its mocked response covers.
EXHAUSTED = "MockConfig.ResponsesExhausted"


class MockConfigError(ValidationException):
    """The mock configuration file is malformed (the message names the location)."""


@dataclass(frozen=True)
class Step:
    """Invocations `first`..`last` (inclusive) answer `Return` value or `Throw` error."""

    first: int
    last: int
    returns: Any = None
    error: str | None = None
    cause: str | None = None

    def invocation(self) -> Invocation:
        if self.error is not None:
            return Invocation(False, error=self.error, cause=self.cause)
        return Invocation(True, result=json.loads(json.dumps(self.returns)), response=True)


@dataclass(frozen=True)
class MockedResponse:
    name: str
    steps: tuple[Step, ...]

    @property
    def covers(self) -> int:
        return self.steps[-1].last + 1 if self.steps else 0

    def answer(self, invocation: int) -> Invocation | None:
        for step in self.steps:
            if step.first <= invocation <= step.last:
                return step.invocation()
        return None


@dataclass(frozen=True)
class TestCase:
    state_machine: str
    name: str
    states: dict[str, MockedResponse]


@dataclass
class CaseResult:
    """One test case's execution, and what went wrong with the mocks themselves."""

    test_case: str
    execution: Execution
    problems: list[str] = field(default_factory=list)
    expected_status: str = "SUCCEEDED"

    @property
    def passed(self) -> bool:
        return not self.problems and self.execution.status == self.expected_status


class MockConfig:
    def __init__(self, cases: dict[str, dict[str, TestCase]], source: str = "") -> None:
        self.cases = cases
        self.source = source
        self.observers: list[Callable[[Execution], None]] = []

    # --- reading ---------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path) -> MockConfig:
        text = Path(path).read_text()
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise MockConfigError(f"{path}: not JSON: {exc}") from None
        return cls.parse(data, source=str(path))

    @classmethod
    def parse(cls, data: Any, *, source: str = "MockConfigFile.json") -> MockConfig:
        def fail(where: str, problem: str) -> MockConfigError:
            return MockConfigError(f"{source}: {where}: {problem}")

        if not isinstance(data, dict):
            raise fail("/", "the mock configuration must be a JSON object")
        for key in ("StateMachines", "MockedResponses"):
            if not isinstance(data.get(key), dict):
                raise fail(f"/{key}", "missing, or not an object")
        responses: dict[str, MockedResponse] = {}
        for name, steps in data["MockedResponses"].items():
            responses[name] = _mocked_response(name, steps, lambda w, p: fail(w, p))
        cases: dict[str, dict[str, TestCase]] = {}
        for machine, body in data["StateMachines"].items():
            where = f"/StateMachines/{machine}"
            if not isinstance(body, dict) or not isinstance(body.get("TestCases"), dict):
                raise fail(f"{where}/TestCases", "missing, or not an object")
            cases[machine] = {}
            for case, states in body["TestCases"].items():
                here = f"{where}/TestCases/{case}"
                if not isinstance(states, dict):
                    raise fail(here, "a test case maps state names to mocked response names")
                mocked: dict[str, MockedResponse] = {}
                for state, response in states.items():
                    if not isinstance(response, str):
                        raise fail(f"{here}/{state}", "must name a mocked response (a string)")
                    if response not in responses:
                        raise fail(f"{here}/{state}",
                                   f"no mocked response named {response!r} in /MockedResponses")
                    mocked[state] = responses[response]
                cases[machine][case] = TestCase(machine, case, mocked)
        return cls(cases, source)

    def machine_for(self, definition: Any, state_machine: str | None = None) -> str:
        """The StateMachines entry to use: the one named, else the definition file's name,
        else the only one there is."""
        if state_machine is not None:
            if state_machine not in self.cases:
                raise MockConfigError(
                    f"{self.source}: no state machine named {state_machine!r} in /StateMachines "
                    f"(there are: {', '.join(sorted(self.cases)) or 'none'})")
            return state_machine
        guess = machine_name_of(definition)
        if guess in self.cases:
            return guess
        if len(self.cases) == 1:
            return next(iter(self.cases))
        raise MockConfigError(
            f"{self.source}: which state machine? Pass one of "
            f"{', '.join(sorted(self.cases))} (the definition is named {guess!r})")

    # --- running ---------------------------------------------------------------------

    def run(
        self,
        definition: str | Path | Mapping[str, Any],
        test_case: str,
        *,
        state_machine: str | None = None,
        input: Any = None,
        input_text: str | None = None,
        expected_status: str = "SUCCEEDED",
        **workflow: Any,
    ) -> CaseResult:
        """Run one test case: its mocked states answered from the file, the others by
        their registered handlers (`handlers=`/`registry=` as for `Workflow`)."""
        machine = self.machine_for(definition, state_machine)
        case = self.cases[machine].get(test_case)
        if case is None:
            raise MockConfigError(
                f"{self.source}: no test case {test_case!r} for state machine {machine!r} "
                f"(there are: {', '.join(self.cases[machine]) or 'none'})")
        text = definition_text(definition)
        problems = _unknown_states(text, case)

        def respond(state: str, invocation: int, task: Mapping[str, Any]) -> Answer | None:
            mocked = case.states.get(state)
            if mocked is None:
                return None
            found = mocked.answer(invocation)
            if found is None:
                message = (f"state {state!r} was invoked {invocation + 1} times, but mocked "
                           f"response {mocked.name!r} covers {mocked.covers}")
                problems.append(message)
                return Answer(Invocation(False, error=EXHAUSTED, cause=message))
            return Answer(found)

        flow = Workflow(text, name=machine, responder=respond,
                        observers=[*self.observers, *workflow.pop("observers", ())], **workflow)
        execution = flow.run(input, input_text=input_text, name=_execution_name(test_case))
        return CaseResult(test_case, execution, problems, expected_status)

    def run_all(
        self,
        definition: str | Path | Mapping[str, Any],
        *,
        state_machine: str | None = None,
        test_case: str | None = None,
        expected: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> list[CaseResult]:
        """Every test case of the state machine (or the one named), in file order."""
        machine = self.machine_for(definition, state_machine)
        names = [test_case] if test_case is not None else list(self.cases[machine])
        return [
            self.run(definition, name, state_machine=machine,
                     expected_status=(expected or {}).get(name, "SUCCEEDED"), **kwargs)
            for name in names
        ]


def _mocked_response(
    name: str, steps: Any, fail: Callable[[str, str], MockConfigError]
) -> MockedResponse:
    where = f"/MockedResponses/{name}"
    if not isinstance(steps, dict) or not steps:
        raise fail(where, "must be an object of invocation numbers (\"0\", \"1-2\", ...)")
    parsed: list[Step] = []
    for key, body in steps.items():
        here = f"{where}/{key}"
        m = _KEY.match(key)
        if m is None:
            raise fail(here, "the key must be an invocation number (\"0\") or a range (\"1-2\")")
        first, last = int(m.group(1)), int(m.group(2) or m.group(1))
        if last < first:
            raise fail(here, f"the range ends ({last}) before it starts ({first})")
        if not isinstance(body, dict) or len({"Return", "Throw"} & set(body)) != 1:
            raise fail(here, "must hold exactly one of \"Return\" and \"Throw\"")
        extra = set(body) - {"Return", "Throw"}
        if extra:
            raise fail(here, f"unknown field(s) {', '.join(sorted(extra))}")
        if "Throw" in body:
            throw = body["Throw"]
            if not isinstance(throw, dict) or not isinstance(throw.get("Error"), str):
                raise fail(f"{here}/Throw", "must be an object with an \"Error\" string")
            cause = throw.get("Cause")
            if cause is not None and not isinstance(cause, str):
                raise fail(f"{here}/Throw/Cause", "must be a string")
            parsed.append(Step(first, last, error=throw["Error"], cause=cause))
        else:
            parsed.append(Step(first, last, returns=body["Return"]))
    parsed.sort(key=lambda s: s.first)
    expected_next = 0
    for step in parsed:
        if step.first != expected_next:
            raise fail(where, f"invocation numbers must be consecutive from 0: expected "
                              f"{expected_next}, found {step.first}")
        expected_next = step.last + 1
    return MockedResponse(name, tuple(parsed))


def _task_names(states: Mapping[str, Any]) -> set[str]:
    found: set[str] = set()
    for name, state in states.items():
        if isinstance(state, TaskState):
            found.add(name)
        elif isinstance(state, ParallelState):
            for branch in state.branches:
                found |= _task_names(branch.states)
        elif isinstance(state, MapState):
            found |= _task_names(state.processor.states)
    return found


def _unknown_states(definition: str, case: TestCase) -> list[str]:
    tasks = _task_names(load(definition).states)
    return [f"test case {case.name!r} mocks {state!r}, which is not a Task state of the "
            f"definition" for state in case.states if state not in tasks]


def _execution_name(test_case: str) -> str:
    """A valid execution name from the test case's name (AWS: 1-80 characters, no spaces
    or brackets)."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", test_case)[:80]
    return cleaned or "test"
