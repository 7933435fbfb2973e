"""The states that need no outside work to decide: Pass, Choice, Succeed, Fail and Wait
(a Wait parks the run on a timer and finishes when it fires)."""

from __future__ import annotations

from typing import Any

from engine.asl import errors, jsonpath
from engine.asl.failure import StatesFailure
from engine.asl.model import ChoiceState, FailState, PassState, SucceedState, WaitState, is_set
from engine.interpreter import dataflow as df
from engine.interpreter import history as h
from engine.interpreter import jsonata_flow as jf
from engine.interpreter import waits
from engine.interpreter.step import STOP, Next, StepBase
from engine.interpreter.types import StartTimer


class FlowStates(StepBase):
    # --- Pass ------------------------------------------------------------------------

    def enter_pass(self, state: PassState, raw: Any) -> Next | None:
        if self.jsonata(state):
            # As in JSONPath mode, a Pass state's Context Object has no State.RetryCount.
            output, assigned = jf.finish(state, raw, self.jenv(retry_count=False))
            self.exit(state, output, assigned)
            return self.next_of(state, output)
        env = self.env(retry_count=False)
        if is_set(state, "Result"):
            result = state.result
            self.inspect("result", result)
        else:
            result = df.input_path(state, raw, env)
            self.inspect("afterInputPath", result)
            if is_set(state, "Parameters"):
                result = df.render(state.parameters, result, env, "Parameters")
            self.inspect("afterParameters", result)
        self.inspect("afterResultSelector", result)
        assigned = df.assign(state.assign, result, env)
        after_result_path = df.result_path(state.result_path, raw, result)
        self.inspect("afterResultPath", after_result_path)
        output = df.output_path(state, after_result_path, env)
        self.exit(state, output, assigned)
        return self.next_of(state, output)

    # --- Choice ----------------------------------------------------------------------

    def enter_choice(self, state: ChoiceState, raw: Any) -> Next | None:
        from engine.asl import choice

        if self.jsonata(state):
            return self.choose_jsonata(state, raw)
        env = self.env()
        value = df.input_path(state, raw, env)
        self.inspect("afterInputPath", value)
        rule = choice.choose(state, value, context=env.context, variables=env.variables)
        if rule is not None:
            target, template = rule.next, rule.assign
        elif state.default is not None:
            target, template = state.default, state.assign
        else:
            raise StatesFailure(errors.NO_CHOICE_MATCHED, "No Matches!")
        assigned = df.assign(template, value, env)
        output = df.output_path(state, value, env)
        self.exit(state, output, assigned)
        return Next(target, output)

    def choose_jsonata(self, state: ChoiceState, raw: Any) -> Next | None:
        jenv = self.jenv()
        rule = jf.choose(state, raw, jenv)
        if rule is None and state.default is None:
            raise StatesFailure(errors.NO_CHOICE_MATCHED, "No Matches!")
        # The chosen rule's Assign and Output replace the state's own.
        output, assigned = jf.choice_output(state, rule, raw, jenv)
        self.exit(state, output, assigned)
        return Next(rule.next if rule is not None else state.default, output)

    # --- Succeed and Fail -----------------------------------------------------------

    def enter_succeed(self, state: SucceedState, raw: Any) -> Next | None:
        if self.jsonata(state):
            output, _ = jf.finish(state, raw, self.jenv())
        else:
            env = self.env()
            value = df.input_path(state, raw, env)
            self.inspect("afterInputPath", value)
            output = df.output_path(state, value, env)
        self.exit(state, output, {})
        self.succeed_run(output)
        return STOP

    def enter_fail(self, state: FailState, raw: Any) -> Next | None:
        if self.jsonata(state):
            error, cause = jf.fail_error_cause(state, raw, self.jenv())
        else:
            env = self.env()
            # A Fail state has no InputPath; AWS's TestState still reports the input as
            # afterInputPath, as for Succeed.
            self.inspect("afterInputPath", raw)
            error, cause = state.error, state.cause
            if state.error_path is not None:
                error = _string_field(state.error_path, "ErrorPath", raw, env)
            if state.cause_path is not None:
                cause = _string_field(state.cause_path, "CausePath", raw, env)
        self.fail_run(error, cause)
        return STOP

    # --- Wait ------------------------------------------------------------------------

    def enter_wait(self, state: WaitState, raw: Any) -> Next | None:
        if self.jsonata(state):
            value = raw
            delay = jf.wait_delay(state, raw, self.jenv())
        else:
            env = self.env()
            value = df.input_path(state, raw, env)
            self.inspect("afterInputPath", value)
            delay = waits.delay_seconds(state, value, env, self.ctx.now)
        self.doc["effective"] = value
        if delay <= 0:
            return self.leave_wait(state)
        self.doc["phase"] = "wait"
        self.tr.commands.append(StartTimer("wait", self.doc["attempt"], delay))
        return STOP

    def leave_wait(self, state: WaitState) -> Next:
        value = self.doc.pop("effective")
        if self.jsonata(state):
            output, assigned = jf.finish(state, value, self.jenv())
        else:
            env = self.env()
            assigned = df.assign(state.assign, value, env)
            output = df.output_path(state, value, env)
        self.exit(state, output, assigned)
        return self.next_of(state, output)


def _string_field(path: str, field: str, raw: Any, env: df.Env) -> str | None:
    """ErrorPath/CausePath: a reference path or an intrinsic function. AWS documents that
    it must select a string; anything else becomes its JSON text here (a guess: nothing
    recorded shows what AWS does with one), never a Python repr."""
    from engine.asl import intrinsics

    if intrinsics.is_intrinsic(path):
        value = intrinsics.evaluate(
            path, raw, context=env.context, variables=env.variables, rng=env.rng, field=field
        )
    else:
        value = _path_value(path, field, raw, env)
    if value is None or isinstance(value, str):
        return value
    return h.to_json_text(value)


def _path_value(path: str, field: str, raw: Any, env: df.Env) -> Any:
    try:
        return jsonpath.get_path(path, raw, context=env.context, variables=env.variables)
    except jsonpath.PathNotFound:
        raise StatesFailure(
            errors.RUNTIME,
            f"The JSONPath '{path}' specified for the field '{field}' could not be found "
            f"in the input '{h.to_json_text(raw)}'",
        ) from None
