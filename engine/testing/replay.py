"""Replay a recorded execution in-process, against its own definition or a new one, and say
whether it reaches the same outcome through the same history, or where it first diverges.

    recording = export_execution(client, arn)          # `sfn export ARN > execution.json`
    report = replay(recording, definition=new_text)     # `sfn replay execution.json --definition`
    report.assert_same()

What comes from the recording:
- every Task's outcome: the result of its `...Succeeded` event (used as the integration's
  whole response, so `lambda:invoke` is not wrapped twice), the error and cause of its
  `...Failed` event, and a `...TimedOut` (the task is left unanswered until its timeout
  fires). The n-th invocation of a state gets the n-th recorded outcome of that state with
  the same input, else the next unused one of that state;
- time: the virtual clock starts at the recorded start and moves to each recorded Task
  outcome's timestamp, and Waits and retry intervals take their virtual time;
- random values (States.UUID, States.MathRandom, retry jitter): the interpreter seeds them
  from the execution's id and the run's version, and the replay runs under the recorded
  state machine and execution names, account and region, so they come out the same.

The histories are compared event by event without ids and timestamps. Known limits: the
Tasks of Parallel branches that ran at the same time on different workers interleave in the
recording in an order the inline runner may not reproduce (reported as a divergence), and
an EXPRESS execution's id carries a fresh unique id (its random values differ).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.handlers import Invocation, Registry
from engine.runtime.callbacks import token_address
from engine.testing import events as ev
from engine.testing.harness import Answer, Execution, Workflow, definition_text

FORMAT = "sfn-execution/1"

#: A state invoked more often in the replay than in the recording.
NO_RECORDED_RESULT = "Replay.NoRecordedResult"


def export_execution(client: Any, arn: str) -> dict[str, Any]:
    """An execution's definition (the one it ran), input, outcome and history, as JSON."""
    record = client.describe_execution(arn)
    machine = client.describe_state_machine_for_execution(arn)
    return {
        "format": FORMAT,
        "executionArn": record.arn,
        "name": record.name,
        "stateMachineArn": record.state_machine_arn,
        "stateMachineName": record.state_machine_name,
        "type": record.type,
        "roleArn": record.role_arn,
        "startDate": record.start / 1000.0,
        "status": record.status,
        "output": record.output,
        "error": record.error,
        "cause": record.cause,
        "input": record.input,
        "definition": machine.definition,
        "history": client.get_history(arn),
    }


def load_recording(recording: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(recording, Mapping):
        data = dict(recording)
    else:
        data = json.loads(Path(recording).read_text())
    missing = [k for k in ("executionArn", "definition", "input", "history") if k not in data]
    if data.get("format") != FORMAT or missing:
        raise ValueError(
            f"not an `sfn export` recording (format {FORMAT!r}"
            + (f"; missing {', '.join(missing)})" if missing else ")"))
    return data


@dataclass
class _Recorded:
    invocation: Invocation
    at: float | None
    input_key: str | None
    timed_out: bool = False
    used: bool = False
    #: A callback's or a child's recorded TaskSubmitted (output, time); an activity's
    #: recorded workerName.
    submission: Invocation | None = None
    submitted_at: float | None = None
    worker_name: str | None = None


@dataclass
class _Pending:
    state: str
    input_key: str | None
    resource: Any
    submission: Invocation | None = None
    submitted_at: float | None = None
    worker_name: str | None = None


_SCHEDULED = ("LambdaFunctionScheduled", "TaskScheduled", "ActivityScheduled")


@dataclass
class RecordedOutcomes:
    """The recorded Task outcomes of each state, in order."""

    by_state: dict[str, list[_Recorded]] = field(default_factory=dict)

    @classmethod
    def read(cls, history: Sequence[ev.Event]) -> RecordedOutcomes:
        found = cls()
        pending: list[_Pending] = []
        for state, event in ev.with_states(history):
            kind = str(event.get("type", ""))
            info = ev.details(event)
            if kind in _SCHEDULED and state is not None:
                text = info.get("parameters", info.get("input"))
                pending.append(_Pending(state, _key(text), info.get("resource")))
                continue
            if kind in ("TaskSubmitted", "ActivityStarted") and pending:
                owner = _owner(pending, info.get("resource"))
                if kind == "ActivityStarted":
                    owner.worker_name = info.get("workerName")
                else:
                    owner.submission = _invocation("Succeeded", info)
                    owner.submitted_at = _seconds(event)
                continue
            outcome = ev.task_outcome_kind(event)
            if outcome is None or not pending:
                continue
            done = _owner(pending, info.get("resource"))
            pending.remove(done)
            found.by_state.setdefault(done.state, []).append(
                _Recorded(_invocation(outcome, info), _seconds(event), done.input_key,
                          timed_out=outcome == "TimedOut", submission=done.submission,
                          submitted_at=done.submitted_at, worker_name=done.worker_name))
        return found

    def answer(self, state: str, task: Mapping[str, Any]) -> _Recorded | None:
        candidates = [r for r in self.by_state.get(state, []) if not r.used]
        key = _key(task.get("parameters", task.get("input")))
        chosen = next((r for r in candidates if r.input_key == key), None)
        if chosen is None and candidates:
            chosen = candidates[0]
        if chosen is not None:
            chosen.used = True
        return chosen


def _owner(pending: list[_Pending], resource: Any) -> _Pending:
    """The scheduled Task an event of this resource belongs to (the oldest such; an
    activity's events name no resource: the oldest of all)."""
    return next((p for p in pending if resource and p.resource == resource), pending[0])


#: A task token of this engine (engine/runtime/callbacks.py: `T1.<address>.<secret>`).
_TOKEN = re.compile(r"T1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{16,}")


def recorded_tokens(history: Sequence[ev.Event]) -> dict[str, list[str]]:
    """The task tokens the recording shows (where definitions put `$$.Task.Token`), per
    run, in the order they were issued: the replay issues the same ones."""
    found: dict[str, list[str]] = {}
    for event in history:
        if not str(event.get("type", "")).endswith("Scheduled"):
            continue
        for token in _TOKEN.findall(json.dumps(ev.details(event))):
            address = token_address(token)
            if address is not None and token not in found.setdefault(address[1], []):
                found[address[1]].append(token)
    return found


def _invocation(outcome: str, info: Mapping[str, Any]) -> Invocation:
    if outcome == "Succeeded":
        text = info.get("output")
        result = json.loads(text) if isinstance(text, str) else text
        return Invocation(True, result=result, response=True)
    if outcome == "TimedOut":
        return Invocation(False, error=str(info.get("error") or "States.Timeout"))
    return Invocation(False, error=str(info.get("error") or ""), cause=info.get("cause"))


def _key(text: Any) -> str | None:
    if text is None:
        return None
    try:
        value = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return str(text)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _seconds(event: ev.Event) -> float | None:
    from datetime import datetime

    stamp = event.get("timestamp")
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass
class ReplayReport:
    recording: dict[str, Any]
    execution: Execution
    divergence: ev.Divergence | None

    @property
    def same(self) -> bool:
        """Same history event for event (hence the same outcome)."""
        return self.divergence is None

    @property
    def same_outcome(self) -> bool:
        r, e = self.recording, self.execution
        if r.get("status") != e.status:
            return False
        if e.status == "SUCCEEDED":
            return _key(r.get("output")) == _key(json.dumps(e.output))
        return (r.get("error"), r.get("cause")) == (e.error, e.cause)

    def describe(self) -> str:
        r, e = self.recording, self.execution
        verdict = "SAME history and outcome" if self.same else "DIVERGED"
        lines = [f"replay of {r['executionArn']}: {verdict}"]
        output = json.dumps(e.output) if e.status == "SUCCEEDED" else None
        lines.append("  recorded: " + _outcome(
            r.get("status"), r.get("output"), r.get("error"), r.get("cause")))
        lines.append("  replayed: " + _outcome(e.status, output, e.error, e.cause))
        if self.divergence is not None:
            lines.append(self.divergence.describe())
            lines.append("replayed path: " + " -> ".join(e.path))
            lines.append("recorded path: " + " -> ".join(ev.path(r["history"])))
        return "\n".join(lines)

    def assert_same(self) -> ReplayReport:
        __tracebackhide__ = True
        if not self.same:
            raise AssertionError(self.describe())
        return self


def _outcome(status: Any, output: Any, error: Any, cause: Any) -> str:
    if status == "SUCCEEDED":
        text = str(output)
        return f"SUCCEEDED {text if len(text) <= 120 else text[:117] + '...'}"
    detail = f" error={error!r}" if error else ""
    if cause:
        detail += f" cause={str(cause)[:100]!r}"
    return f"{status}{detail}"


def replay(
    recording: str | Path | Mapping[str, Any],
    *,
    definition: str | Path | Mapping[str, Any] | None = None,
    observers: Sequence[Callable[[Execution], None]] = (),
) -> ReplayReport:
    """Re-run a recorded execution in-process (see the module docstring)."""
    data = load_recording(recording)
    parts = str(data["executionArn"]).split(":")
    region, account = (parts[3], parts[4]) if len(parts) > 5 else ("us-east-1", "000000000000")
    outcomes = RecordedOutcomes.read(data["history"])

    def respond(state: str, invocation: int, task: Mapping[str, Any]) -> Answer:
        found = outcomes.answer(state, task)
        if found is None:
            return Answer(Invocation(
                False, error=NO_RECORDED_RESULT,
                cause=f"the recording has no result for invocation {invocation + 1} of "
                      f"state {state!r}"))
        return Answer(found.invocation, at=None if found.timed_out else found.at,
                      unanswered=found.timed_out, submission=found.submission,
                      submitted_at=found.submitted_at, worker_name=found.worker_name)

    text = definition_text(definition) if definition is not None else data["definition"]
    flow = Workflow(
        text,
        registry=Registry(),  # nothing runs for real: every answer comes from the recording
        responder=respond,
        name=str(data.get("stateMachineName") or "StateMachine"),
        type=str(data.get("type") or "STANDARD"),
        role_arn=data.get("roleArn") or None,
        start=float(data.get("startDate") or 0.0) or _seconds(data["history"][0]) or 0.0,
        region=region,
        account=account,
        observers=observers,
        task_tokens=recorded_tokens(data["history"]),
    )
    execution = flow.run(input_text=data["input"], name=str(data.get("name") or "replay"))
    divergence = ev.first_divergence(data["history"], execution.history)
    return ReplayReport(data, execution, divergence)
