"""TestState: evaluate one state on its own, as AWS's TestState API does.

    test_state(definition, input, mock=..., inspection_level="DEBUG") -> {
        "status": "SUCCEEDED" | "FAILED" | "CAUGHT_ERROR" | "RETRIABLE",
        "output", "error", "cause", "nextState", "inspectionData"}

Built on the pure interpreter: the state is the only state of a machine (named `StateName`,
or picked from a whole definition by `state_name`) and `advance` runs it with a step cap of
one, so the run parks on the state it would go to next (`nextState`). A Task's outcome is the
`mock` (`result` JSON text, or `errorOutput` {error, cause}) or what the registered handler
returns; a Parallel's or Map's result is the mock, or their branches/iterations run here to
their end. A retried error reports RETRIABLE (no waiting), a caught one CAUGHT_ERROR.

`inspection_level` DEBUG or TRACE adds `inspectionData`: the data flow's intermediate values
(afterInputPath, afterParameters, result, afterResultSelector, afterResultPath, ...), as JSON
text like AWS, plus `errorDetails` (retryIndex, retryBackoffIntervalSeconds, catchIndex).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

from engine.asl.budget import StepBudget
from engine.asl.model import Branch, MapState, ParallelState, StateMachine
from engine.errors import ValidationException
from engine.handlers import Registry, TaskContext, invoke
from engine.interpreter import advance, child_template, new_child_doc, new_root_doc
from engine.interpreter.join import exceeds_tolerance
from engine.interpreter.types import (
    ChildrenFailed,
    ChildrenSucceeded,
    Continue,
    Ctx,
    ExecutionInfo,
    Occurrence,
    Resumed,
    RunStarted,
    ScheduleTask,
    StartChildren,
    StartTimer,
    TaskFailed,
    TaskSucceeded,
    TimerFired,
    Transition,
    iso_timestamp,
)

DEFAULT_STATE_NAME: Final = "StateName"
#: 2025-01-01T12:00:00Z, as the inline runner.
DEFAULT_EPOCH: Final = 1735732800.0
#: inspectionData members AWS gives as JSON text.
_TEXT_FIELDS: Final = frozenset(
    {
        "input",
        "afterArguments",
        "afterInputPath",
        "afterParameters",
        "result",
        "afterResultSelector",
        "afterResultPath",
        "afterItemsPath",
        "variables",
    }
)
_MAX_HOPS: Final = 10_000


#: The CPU time the tested state's evaluation may take (a worker's default step budget).
DEFAULT_STEP_BUDGET_SECONDS: Final = 5.0


def test_state(
    definition: str | Mapping[str, Any],
    input: str | Any = None,  # noqa: A002 - the API's name
    *,
    mock: Mapping[str, Any] | None = None,
    variables: str | Mapping[str, Any] | None = None,
    context: str | Mapping[str, Any] | None = None,
    inspection_level: str = "INFO",
    state_name: str | None = None,
    state_configuration: Mapping[str, Any] | None = None,
    role_arn: str | None = None,
    registry: Registry | None = None,
    region: str = "us-east-1",
    account: str = "111111111111",
    now: float = DEFAULT_EPOCH,
    seed: int = 0,
    step_budget_seconds: float | None = DEFAULT_STEP_BUDGET_SECONDS,
) -> dict[str, Any]:
    """The TestState response for one state (see the module docstring). The state's own
    evaluation runs under `step_budget_seconds` of CPU time, as a worker's step does
    (engine/asl/budget.py): a hostile expression cannot hold the caller's thread."""
    machine, name = _machine(_parse(definition), state_name)
    data = _parse(input) if isinstance(input, str) else ({} if input is None else input)
    inspect = inspection_level.upper() in ("DEBUG", "TRACE")
    ctx = Ctx(
        now=now,
        random=random.Random(seed),
        execution=_execution(machine, data, role_arn, region, account, now),
        max_steps=1,
        context=_parse(context)
        if isinstance(context, str)
        else (dict(context) if context else None),
        inspect=inspect,
        event_ids=False,
        context_state_name=DEFAULT_STATE_NAME,
        reader_items=_reader_items(state_configuration),
        budget=None
        if step_budget_seconds is None
        else StepBudget.starting_now(step_budget_seconds, time.thread_time),
    )
    doc = new_root_doc()
    doc["vars"] = dict(_parse(variables) if isinstance(variables, str) else (variables or {}))
    machine = _single_start(machine, name)
    runner = _Runner(machine, ctx, mock or {}, dict(state_configuration or {}), registry)
    if inspect and doc["vars"]:
        runner.inspection["variables"] = doc["vars"]
    return runner.run(doc, data)


class _Runner:
    def __init__(
        self,
        machine: StateMachine,
        ctx: Ctx,
        mock: Mapping[str, Any],
        config: dict[str, Any],
        registry: Registry | None,
    ) -> None:
        self.machine, self.ctx, self.mock, self.config = machine, ctx, mock, config
        self.registry = registry
        self.inspection: dict[str, Any] = {}
        self.last_error: tuple[str | None, str | None] = (None, None)

    def run(self, doc: dict[str, Any], data: Any) -> dict[str, Any]:
        tr = self.step(doc, RunStarted(data))
        for _ in range(_MAX_HOPS):
            response = self.settled(tr)
            if response is not None:
                return response
            tr = self.step(tr.doc, self.next_occurrence(tr))
        raise RuntimeError("TestState did not settle")

    def step(self, doc: dict[str, Any], occurrence: Occurrence) -> Transition:
        # Only the state under test runs: once it is entered, any transition parks the run.
        ctx = self.ctx if isinstance(occurrence, RunStarted) else replace(self.ctx, max_steps=0)
        tr = advance(self.machine, doc, occurrence, ctx)
        if tr.inspection:
            self.inspection.update(tr.inspection)
        return tr

    def settled(self, tr: Transition) -> dict[str, Any] | None:
        """The response once the state is done with; None while it still needs input."""
        response: dict[str, Any]
        if tr.retried is not None:
            # The handler's or the mock's own error as it reported it; else (the state's
            # input could not be built) the error the interpreter raised.
            error, cause = self.last_error if self.last_error != (None, None) else tr.retried
            response = {"status": "RETRIABLE", "error": error, "cause": cause}
        elif tr.outcome is not None and tr.outcome.status == "FAILED":
            response = {"status": "FAILED", "error": tr.outcome.error, "cause": tr.outcome.cause}
        elif tr.outcome is not None:
            response = {"status": "SUCCEEDED", "output": _text(tr.outcome.output)}
        elif any(isinstance(c, Continue) for c in tr.commands):
            response = {"status": "SUCCEEDED", "output": _text(tr.doc["input"])}
            if tr.caught is not None:
                response.update(status="CAUGHT_ERROR", error=tr.caught[0], cause=tr.caught[1])
            response["nextState"] = tr.doc["state"]
        else:
            return None
        if tr.caught is not None and response["status"] == "SUCCEEDED":
            response.update(status="CAUGHT_ERROR", error=tr.caught[0], cause=tr.caught[1])
        response = {k: v for k, v in response.items() if v is not None}
        if self.ctx.inspect:
            response["inspectionData"] = {
                k: _text(v) if k in _TEXT_FIELDS else v for k, v in self.inspection.items()
            }
        return response

    def next_occurrence(self, tr: Transition) -> Occurrence:
        doc = tr.doc
        for command in tr.commands:
            if isinstance(command, ScheduleTask):
                if "retrierRetryCount" in self.config:
                    state = self.machine.states[doc["state"]]
                    count = int(self.config.pop("retrierRetryCount"))
                    doc["retries"] = [count] * len(getattr(state, "retry", None) or [])
                return self.task_outcome(doc, command)
            if isinstance(command, StartChildren):
                return self.children_outcome(doc, command)
            if isinstance(command, StartTimer) and command.kind == "wait":
                return TimerFired("wait", command.attempt)
        raise RuntimeError(f"TestState cannot continue from {tr.commands!r}")

    # --- a Task's outcome --------------------------------------------------------------

    def task_outcome(self, doc: dict[str, Any], command: ScheduleTask) -> Occurrence:
        if "result" in self.mock:
            return TaskSucceeded(command.attempt, _parse(self.mock["result"]), response=True)
        if "errorOutput" in self.mock:
            failure = self.mock["errorOutput"]
            self.last_error = (failure.get("error"), failure.get("cause"))
            return TaskFailed(command.attempt, failure.get("error") or "", failure.get("cause"))
        task = doc["task"]
        found = self.registry.get(task.get("handler")) if self.registry else None
        if found is None:
            name = task.get("handler") or task["resource"]
            error = (
                "Lambda.ResourceNotFoundException"
                if "lambda" in task["resource"]
                else "States.TaskFailed"
            )
            cause = f"Function not found: {name}"
            self.last_error = (error, cause)
            return TaskFailed(command.attempt, error, cause)
        context = TaskContext(
            function_name=found.name,
            execution_arn=self.ctx.execution.arn,
            state_name=doc["state"],
            attempt=command.attempt,
            idempotency_key=str(uuid.UUID(int=self.ctx.random.getrandbits(128), version=4)),
        )
        outcome = invoke(found, task["input"], context)
        if outcome.ok:
            return TaskSucceeded(command.attempt, outcome.result)
        self.last_error = (outcome.error, outcome.cause)
        return TaskFailed(command.attempt, outcome.error, outcome.cause)

    # --- a Parallel's or Map's outcome -------------------------------------------------

    def children_outcome(self, doc: dict[str, Any], command: StartChildren) -> Occurrence:
        if "result" in self.mock:
            result = _parse(self.mock["result"])
            failures = self.config.get("mapIterationFailureCount")
            if isinstance(failures, int) and exceeds_tolerance(
                command.tolerated_failure_count,
                command.tolerated_failure_percentage,
                failures,
                len(command.inputs),
            ):
                return ChildrenFailed(
                    "States.ExceedToleratedFailureThreshold",
                    "The specified tolerated failure threshold was exceeded",
                )
            return ChildrenSucceeded(result if isinstance(result, list) else [result])
        if "errorOutput" in self.mock:
            failure = self.mock["errorOutput"]
            return ChildrenFailed(failure.get("error"), failure.get("cause"))
        return self.run_children(doc, command)

    def run_children(self, doc: dict[str, Any], command: StartChildren) -> Occurrence:
        """No mock: run each branch or iteration to its end, in order."""
        template = child_template(doc, command)
        ctx = Ctx(
            now=self.ctx.now,
            random=self.ctx.random,
            execution=self.ctx.execution,
            max_steps=1000,
            context=self.ctx.context,
            event_ids=False,
        )
        results: list[Any] = []
        for index, item in enumerate(command.inputs):
            child = new_child_doc(template, command.join, index)
            sub = _Runner(self.machine, ctx, {}, {}, self.registry)
            tr = advance(self.machine, child, RunStarted(item), ctx)
            for _ in range(_MAX_HOPS):
                if tr.outcome is not None:
                    break
                if any(isinstance(c, Continue) for c in tr.commands):
                    tr = advance(self.machine, tr.doc, Resumed(), ctx)
                    continue
                timers = [
                    c for c in tr.commands if isinstance(c, StartTimer) and c.kind != "task_timeout"
                ]
                if timers:
                    tr = advance(
                        self.machine, tr.doc, TimerFired(timers[0].kind, timers[0].attempt), ctx
                    )
                    continue
                tr = advance(self.machine, tr.doc, sub.next_occurrence(tr), ctx)
            if tr.outcome is None or tr.outcome.status == "FAILED":
                outcome = tr.outcome
                return ChildrenFailed(
                    outcome.error if outcome else None, outcome.cause if outcome else None
                )
            results.append(tr.outcome.output)
        return ChildrenSucceeded(results)


def _reader_items(config: Mapping[str, Any] | None) -> list[Any] | None:
    """`stateConfiguration.mapItemReaderData`: what the Map's ItemReader reads, as JSON
    text (an array, or one value standing for itself)."""
    data = (config or {}).get("mapItemReaderData")
    if data is None:
        return None
    parsed = _parse(data)
    return parsed if isinstance(parsed, list) else [parsed]


def _parse(value: Any) -> Any:
    if isinstance(value, str):
        return json.loads(value) if value.strip() else None
    return value


def _text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _machine(document: Any, state_name: str | None) -> tuple[StateMachine, str]:
    if state_name is not None:
        return StateMachine.model_validate(document), state_name
    return (
        StateMachine.model_validate(
            {"StartAt": DEFAULT_STATE_NAME, "States": {DEFAULT_STATE_NAME: document}}
        ),
        DEFAULT_STATE_NAME,
    )


def _single_start(machine: StateMachine, name: str) -> StateMachine:
    """The machine run from `name` (TestState evaluates that state, whatever StartAt says).
    A state nested in a Parallel branch or a Map's ItemProcessor is run among the states of
    its own branch (AWS accepts nested names; names are unique across a definition), in
    the machine's query language."""
    if machine.start_at == name:
        return machine
    if name in machine.states:
        return machine.model_copy(update={"start_at": name})
    branch = _branch_of(machine.states, name)
    if branch is None:
        raise ValidationException(f"State '{name}' is not in the definition (stateName)")
    return machine.model_copy(update={"start_at": name, "states": branch.states})


def _branch_of(states: Mapping[str, Any], name: str) -> Branch | None:
    """The Parallel branch or Map ItemProcessor (at any depth) whose States hold `name`."""
    for state in states.values():
        if isinstance(state, ParallelState):
            branches = list(state.branches)
        elif isinstance(state, MapState):
            branches = [state.processor]
        else:
            continue
        for branch in branches:
            if name in branch.states:
                return branch
            found = _branch_of(branch.states, name)
            if found is not None:
                return found
    return None


def _execution(
    machine: StateMachine, data: Any, role_arn: str | None, region: str, account: str, now: float
) -> ExecutionInfo:
    rng = random.Random(json.dumps(data, sort_keys=True, default=str))
    sm_name = "TestStateMachine-" + uuid.UUID(int=rng.getrandbits(128), version=4).hex[:12]
    name = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return ExecutionInfo(
        # TestState runs as an express execution.
        arn=f"arn:aws:states:{region}:{account}:express:{sm_name}:{name}",
        name=name,
        state_machine_arn=f"arn:aws:states:{region}:{account}:stateMachine:{sm_name}",
        state_machine_name=sm_name,
        start_time=iso_timestamp(now),
        input=data,
        role_arn=role_arn,
        region=region,
        account=account,
        redrive_count=None,  # AWS: TestState's Context Object has no Execution.RedriveCount
    )


__all__ = ["DEFAULT_STATE_NAME", "test_state"]
