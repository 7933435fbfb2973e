"""What every state's code shares within one `advance`: the snapshot being changed, the
events and commands produced, the Context Object, and error handling (Retry, Catch, the end
of a run). The state types add their own methods in `flow`, `tasks` and `children`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from engine.asl import errors
from engine.asl.failure import StatesFailure
from engine.asl.jsonata import QueryEvaluationFailure
from engine.asl.model import (
    JSONATA,
    Catcher,
    MapState,
    ParallelState,
    StateMachine,
    TaskState,
)
from engine.interpreter import dataflow as df
from engine.interpreter import history as h
from engine.interpreter import jsonata_flow as jf
from engine.interpreter.retry import find_catcher, find_retrier, retry_delay
from engine.interpreter.types import Ctx, Outcome, RunDoc, StartTimer, Transition

#: States whose run, stopped in them, closes them with a `<Type>StateAborted` event.
ABORTABLE: Final = frozenset({"Task", "Wait", "Parallel", "Map"})
#: Errors whose cause AWS prefixes with the state and the id of its *StateEntered event.
_PREFIXED: Final = frozenset({errors.RUNTIME, errors.QUERY_EVALUATION_ERROR})


@dataclass(frozen=True)
class Next:
    """Go on to `state` (None: the run ends) with `value` as its input."""

    state: str | None
    value: Any


#: Returned by a state that parked the run or ended it.
STOP = None


class StepBase:
    """One `advance` of one run. Subclasses add the states; see `machine._Step`."""

    def __init__(self, machine: StateMachine, doc: RunDoc, ctx: Ctx, states: Any) -> None:
        self.machine = machine
        self.ctx = ctx
        self.doc: RunDoc = dict(doc)
        self.doc["vars"] = dict(doc.get("vars") or {})
        self.states = states
        self.tr = Transition(doc=self.doc)
        self.next_id = ctx.next_event_id
        self.steps = 0
        #: Runs of a DISTRIBUTED Map are child executions on AWS: their events are not in
        #: the parent's history (only MapRunStarted/MapRunSucceeded are).
        self.quiet = bool(doc.get("quiet"))

    # --- plumbing ---------------------------------------------------------------------

    def emit(self, event: dict[str, Any]) -> int:
        """Record an event; returns the id it will have in the history."""
        if self.quiet:
            # A child execution's own numbering (its ExecutionStarted is #1).
            self.doc["quiet_events"] = self.doc.get("quiet_events", 1) + 1
            return int(self.doc["quiet_events"])
        self.tr.events.append(event)
        self.next_id += 1
        return self.next_id - 1

    @property
    def ts(self) -> str:
        return self.ctx.timestamp

    def inspect(self, key: str, value: Any) -> None:
        """TestState's inspectionData (recorded only when the caller asked for it)."""
        if self.tr.inspection is not None:
            self.tr.inspection[key] = value

    def jsonata(self, state: Any) -> bool:
        return self.machine.state_language(state) == JSONATA

    def entered_id(self) -> int | None:
        """The id of the current state's *StateEntered event, which AWS names in causes
        (None under TestState, which has no history)."""
        if not self.ctx.event_ids:
            return None
        found = self.doc.get("entered_id")
        return found if isinstance(found, int) else None

    def jenv(self, *, retry_count: bool = True) -> jf.JsonataEnv:
        """What a JSONata state's expressions may read (`retry_count`: as for `env`)."""
        return jf.JsonataEnv.from_env(
            self.env(retry_count=retry_count),
            now=self.ctx.now,
            state_name=self.doc.get("state") or "",
            entered_event_id=self.entered_id(),
        )

    def context_object(self, *, retry_count: bool = True) -> dict[str, Any]:
        if self.ctx.context is not None:
            return dict(self.ctx.context)  # TestState: the caller's Context Object, as given
        ex = self.ctx.execution
        state_ctx: dict[str, Any] = {
            "EnteredTime": self.doc.get("entered"),
            "Name": self.ctx.context_state_name or self.doc.get("state"),
        }
        # AWS: a Pass state's Context Object has no State.RetryCount.
        if retry_count:
            state_ctx["RetryCount"] = self.doc.get("attempt", 0)
        execution: dict[str, Any] = {
            "Id": ex.arn,
            "Input": ex.input,
            "Name": ex.name,
            "RoleArn": ex.role_arn,
            "StartTime": ex.start_time,
        }
        if ex.redrive_count is not None:
            # A redrive writes its count (and time) into the runs it starts again
            # (engine/runtime/redrive.py); a run never redriven has none.
            execution["RedriveCount"] = self.doc.get("rc", ex.redrive_count)
            if self.doc.get("rt") is not None:
                execution["RedriveTime"] = self.doc["rt"]
        context: dict[str, Any] = {
            "Execution": execution,
            "State": state_ctx,
            "StateMachine": {"Id": ex.state_machine_arn, "Name": ex.state_machine_name},
        }
        token = self.doc.get("token")
        if token is not None:  # a callback Task's attempt (engine/interpreter/callbacks.py)
            context["Task"] = {"Token": token}
        return context

    def env(self, *, retry_count: bool = True, extra: dict[str, Any] | None = None) -> df.Env:
        context = self.context_object(retry_count=retry_count)
        if extra:
            context.update(extra)
        variables = {**self.doc.get("outer", {}), **self.doc["vars"]}
        return df.Env(
            context=context,
            variables=variables,
            rng=self.ctx.random,
            reader_items=(
                self.ctx.reader_items
                if self.ctx.reader_items is not None
                else self.doc.get("reader_items")
            ),
        )

    def not_applied(self) -> Transition:
        self.tr.applied = False
        return self.tr

    def current(self) -> Any:
        return self.states.get(self.doc.get("state") or "")

    def exit(self, state: Any, output: Any, assigned: dict[str, Any]) -> None:
        text = h.to_json_text(output)
        df.check_state_output(text, self.doc["state"])
        texts = df.assigned_for_event(assigned)
        own_bytes = self.account_variables(texts) if texts else None
        self.emit(h.state_exited(self.ts, state.type, self.doc["state"], text, texts))
        if own_bytes is not None:
            self.doc["vars"].update(assigned)
            self.doc["vars_bytes"] = own_bytes

    def account_variables(self, texts: dict[str, str]) -> int:
        """Check the size limits of an assignment (`texts`: each value as JSON text) and
        return the size of this run's own variables after it. The sizes are kept in the
        snapshot (`vars_bytes`, `outer_bytes`) so that a state does not re-serialise every
        variable to know the execution's total."""
        own = self.doc["vars"]
        own_bytes = self.doc.get("vars_bytes")
        if not isinstance(own_bytes, int):  # a snapshot from before the sizes were kept
            own_bytes = sum(df.value_bytes(v) for v in own.values())
        sizes = {name: df.text_bytes(t) for name, t in texts.items()}
        replaced = sum(df.value_bytes(own[name]) for name in texts if name in own)
        own_bytes += sum(sizes.values()) - replaced
        total = own_bytes + int(self.doc.get("outer_bytes") or 0)
        df.check_variable_sizes(sizes, total, self.doc.get("state") or "")
        return own_bytes

    def next_of(self, state: Any, output: Any) -> Next:
        return Next(None if state.end else state.next, output)

    def with_prefix(self, error: str, cause: str | None) -> str | None:
        """AWS's wording of an evaluation failure: which state, entered at which event."""
        if error not in _PREFIXED or cause is None or cause.startswith("An error occurred"):
            return cause
        name, entered = self.doc.get("state"), self.entered_id()
        if name is None or entered is None:
            return cause
        return (
            f"An error occurred while executing the state '{name}' "
            f"(entered at the event id #{entered}). {cause}"
        )

    # --- errors -----------------------------------------------------------------------

    def evaluation_failed(self, failure: StatesFailure) -> None:
        """AWS records a JSONata evaluation failure as EvaluationFailed before the state
        fails (or its error is caught)."""
        if isinstance(failure, QueryEvaluationFailure):
            self.emit(
                h.evaluation_failed(
                    self.ts,
                    self.doc.get("state") or "",
                    failure.location,
                    failure.error,
                    failure.cause,
                )
            )

    def handle_error(
        self,
        error: str | None,
        cause: str | None,
        *,
        failed_events: tuple[str, ...] = (),
        output_cause: str | None = None,
    ) -> Next | None:
        """Retry, else Catch, else fail the run (ASL spec, "Error handling").

        `failed_events` are emitted when the error is not retried (a Map's MapStateFailed:
        AWS emits none before a retry). `output_cause` stands in for a missing cause in the
        Error Output (AWS gives a timeout's Error Output an empty Cause)."""
        state = self.current()
        name = error or ""
        if isinstance(state, TaskState | ParallelState | MapState):
            index = find_retrier(state.retry, name)
            if index is not None:
                retrier = state.retry[index]  # type: ignore[index]
                retries: list[int] = list(self.doc.get("retries") or [])
                retries.extend([0] * (index + 1 - len(retries)))
                if retries[index] < retrier.max_attempts:
                    delay = retry_delay(retrier, retries[index], self.ctx.random)
                    retries[index] += 1
                    self.doc.update(retries=retries, phase="retry")
                    self.inspect(
                        "errorDetails",
                        {"retryBackoffIntervalSeconds": int(delay), "retryIndex": index},
                    )
                    self.tr.commands.append(StartTimer("retry", self.doc["attempt"], delay))
                    self.tr.retried = (error, cause)
                    return None
                self.inspect("errorDetails", {"retryIndex": index})
            for event_type in failed_events:
                self.emit(h.plain(self.ts, event_type))
            found = find_catcher(state.catch, name)
            if found is not None:
                catch_index, catcher = found
                if self.tr.inspection is not None:
                    details = dict(self.tr.inspection.get("errorDetails") or {})
                    details["catchIndex"] = catch_index
                    self.inspect("errorDetails", details)
                return self.catch(state, catcher, error, cause, output_cause)
        else:
            for event_type in failed_events:
                self.emit(h.plain(self.ts, event_type))
        self.fail_run(error, cause)
        return None

    def catch(
        self,
        state: Any,
        catcher: Catcher,
        error: str | None,
        cause: str | None,
        output_cause: str | None,
    ) -> Next | None:
        # A branch's Fail without Error is caught as the empty name (States.ALL matches it).
        error_output: dict[str, Any] = {"Error": error if error is not None else ""}
        if cause is not None or output_cause is not None:
            error_output["Cause"] = cause if cause is not None else output_cause
        self.tr.caught = (error, cause)
        try:
            if self.jsonata(state):
                output, assigned = jf.catch(catcher, self.doc["input"], error_output, self.jenv())
            else:
                env = self.env()
                assigned = df.assign(catcher.assign, error_output, env)
                output = df.result_path(catcher.result_path, self.doc["input"], error_output)
            self.exit(state, output, assigned)
        except StatesFailure as failure:
            self.evaluation_failed(failure)
            self.fail_run(failure.error, self.with_prefix(failure.error, failure.cause))
            return None
        return Next(catcher.next, output)

    # --- the end of a run ------------------------------------------------------------------

    def succeed_run(self, output: Any) -> None:
        text = h.to_json_text(output)
        self.doc.update(phase="done", state=None)
        self.doc["outcome"] = {"status": "SUCCEEDED", "output": output}
        self.tr.outcome = Outcome("SUCCEEDED", output=output)
        parent = self.doc.get("parent")
        if parent is None:
            self.emit(h.execution_succeeded(self.ts, text))
        elif parent["kind"] == "map":
            self.emit(h.map_iteration(self.ts, "Succeeded", parent["state"], parent["index"]))

    def fail_run(self, error: str | None, cause: str | None) -> None:
        state = self.current()
        parent = self.doc.get("parent")
        if parent is not None and parent["kind"] == "parallel" and state is not None:
            # AWS closes the state a failed branch stopped in (e.g. TaskStateAborted).
            if state.type in ABORTABLE:
                self.emit(h.plain(self.ts, f"{state.type}StateAborted"))
        if self.doc.get("state") is not None:
            # The state the run failed in: where RedriveExecution starts it again
            # (engine/runtime/redrive.py).
            self.doc["failed"] = self.doc["state"]
        self.doc.update(phase="done", state=None)
        self.doc["outcome"] = {"status": "FAILED", "error": error, "cause": cause}
        self.tr.outcome = Outcome("FAILED", error=error, cause=cause)
        parent = self.doc.get("parent")
        if parent is None:
            self.emit(h.execution_failed(self.ts, error, cause))
        elif parent["kind"] == "map":
            self.emit(h.map_iteration(self.ts, "Failed", parent["state"], parent["index"]))
