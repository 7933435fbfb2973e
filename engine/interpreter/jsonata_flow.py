"""The JSONata data flow of each state type, as pure functions (the JSONata twin of
`dataflow.py`; ASL spec, "Input and Output Processing with JSONata").

    Task, Parallel   input -> Arguments -> (work) -> result -> Assign || Output
    Map              input -> Items -> ItemSelector (each item) -> (iterations) -> result
                     -> Assign || Output
    Pass, Wait       input -> Assign || Output          (Wait: Seconds / Timestamp first)
    Succeed          input -> Output
    Choice           input -> first rule whose Condition is true
                     -> that rule's Assign || Output, or the state's when Default is taken
    Catcher          Error Output -> Assign || Output
    Fail             input -> Error, Cause

`$states` is ``{input, context}`` everywhere, plus ``result`` in the top-level Assign/Output
of Task/Parallel/Map and ``errorOutput`` in a Catcher's. Defaults when a field is absent:
Arguments = the state input; Output = the result (Task/Parallel/Map), the Error Output
(Catcher) or the state input (others).

Assign || Output: both read the same `$states` and the variables as of state entry, so a
value assigned here is invisible to this state's Output (AWS: "Assign and Output steps occur
in parallel"). Assign is evaluated first, so when both fail the Assign error is reported,
as LocalStack does (AWS's order when both fail is not recorded).

Every failure is a `jsonata.QueryEvaluationFailure` (a StatesFailure with the complete
cause and the `location` for the `EvaluationFailed` event), except the few AWS reports as
States.Runtime (a Wait too long).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.asl import errors
from engine.asl.failure import StatesFailure
from engine.asl.jsonata import (
    MISSING,
    Scope,
    is_expression,
    states_object,
)
from engine.asl.jsonpath import compact_json
from engine.asl.model import (
    Catcher,
    ChoiceRule,
    ChoiceState,
    FailState,
    MapState,
    ParallelState,
    TaskState,
    WaitState,
    is_set,
)
from engine.asl.timestamps import parse_timestamp
from engine.interpreter import dataflow as df
from engine.interpreter import maps
from engine.interpreter.maps import MapPlan
from engine.interpreter.waits import MAX_DELAY_SECONDS

__all__ = [
    "JsonataEnv",
    "arguments",
    "assign",
    "catch",
    "choice_output",
    "choose",
    "credentials",
    "fail_error_cause",
    "finish",
    "map_batches",
    "map_items",
    "map_iteration_inputs",
    "map_max_concurrency",
    "map_plan",
    "map_tolerance",
    "task_timeouts",
    "wait_delay",
]

#: Largest TimeoutSeconds / HeartbeatSeconds / Wait Seconds AWS accepts.
MAX_SECONDS = 99999999


@dataclass(frozen=True)
class JsonataEnv:
    """What the JSONata strings of one state may read, and what their causes name.

    `context` is the Context Object (`$states.context`), `variables` the values as of state
    entry, `now` epoch seconds (`$now()`, Wait Timestamp), `entered_event_id` the id of the
    state's *Entered event (AWS's cause prefix; None: no prefix, e.g. TestState)."""

    context: Mapping[str, Any]
    variables: Mapping[str, Any]
    rng: random.Random
    now: float
    state_name: str
    entered_event_id: int | None = None
    #: What a Map's ItemReader yields (see `Ctx.reader_items`).
    reader_items: list[Any] | None = None

    @classmethod
    def from_env(
        cls, env: df.Env, *, now: float, state_name: str, entered_event_id: int | None
    ) -> JsonataEnv:
        return cls(
            env.context,
            env.variables,
            env.rng,
            now,
            state_name,
            entered_event_id,
            env.reader_items,
        )

    def scope(
        self,
        state_input: Any,
        *,
        result: Any = MISSING,
        error_output: Any = MISSING,
        context: Mapping[str, Any] | None = None,
    ) -> Scope:
        return Scope(
            states=states_object(
                state_input,
                self.context if context is None else context,
                result=result,
                error_output=error_output,
            ),
            variables=self.variables,
            rng=self.rng,
            now=self.now,
            state_name=self.state_name,
            entered_event_id=self.entered_event_id,
        )


def _field(model: Any, alias: str) -> Any:
    """The value of a field the document wrote (even null), else MISSING."""
    try:
        written = is_set(model, alias)
    except KeyError:  # the model has no such field (e.g. Succeed has no Assign)
        return MISSING
    if not written:
        return MISSING
    name = next(n for n, info in type(model).model_fields.items() if info.alias == alias)
    return getattr(model, name)


# --- Arguments, Assign, Output ------------------------------------------------------------


def arguments(state: TaskState | ParallelState, state_input: Any, env: JsonataEnv) -> Any:
    """What the task (or every branch) receives: Arguments evaluated, else the input."""
    template = _field(state, "Arguments")
    if template is MISSING:
        return state_input
    return env.scope(state_input).template(template, "Arguments")


def credentials(state: TaskState, state_input: Any, env: JsonataEnv) -> Any:
    """Task Credentials (``{"RoleArn": "{% ... %}"}``), or None when absent."""
    template = _field(state, "Credentials")
    if template is MISSING:
        return None
    return env.scope(state_input).template(template, "Credentials")


def assign(template: Any, scope: Scope) -> dict[str, Any]:
    """An Assign block: every value computed first (variables as of state entry), the
    caller assigns them after the state. AWS locates failures as 'Assign/<name>'."""
    if template is MISSING or template is None:
        return {}
    if is_expression(template):
        # Validation wants an object; an expression yielding one is accepted all the same.
        evaluated = scope.evaluate(template, "Assign")
        if not isinstance(evaluated, dict):
            raise scope.unexpected_type(template, "Assign", "object", evaluated)
        return evaluated
    if not isinstance(template, dict):
        raise scope.failure("The Assign field must be a JSON object.", "Assign")
    return {name: scope.template(v, f"Assign/{name}") for name, v in template.items()}


def _assign_and_output(
    scope: Scope, assign_template: Any, output_template: Any, default: Any
) -> tuple[Any, dict[str, Any]]:
    assigned = assign(assign_template, scope)
    if output_template is MISSING:
        return default, assigned
    return scope.template(output_template, "Output"), assigned


def finish(
    state: Any, state_input: Any, env: JsonataEnv, result: Any = MISSING
) -> tuple[Any, dict[str, Any]]:
    """(state output, variables to assign) of a Pass, Wait, Succeed, Task, Parallel or Map
    state. `result` is the Task/Parallel/Map result (`$states.result`, the default
    output); leave it MISSING for the other states, whose default output is the input."""
    scope = env.scope(state_input, result=result)
    default = state_input if result is MISSING else result
    return _assign_and_output(scope, _field(state, "Assign"), _field(state, "Output"), default)


def catch(
    catcher: Catcher, state_input: Any, error_output: Any, env: JsonataEnv
) -> tuple[Any, dict[str, Any]]:
    """(state output, variables to assign) when `catcher` handles an error. `error_output`
    is ``{"Error": ..., "Cause": ...}`` (`$states.errorOutput`, the default output)."""
    scope = env.scope(state_input, error_output=error_output)
    return _assign_and_output(
        scope, _field(catcher, "Assign"), _field(catcher, "Output"), error_output
    )


# --- Choice -------------------------------------------------------------------------------


def choose(state: ChoiceState, state_input: Any, env: JsonataEnv) -> ChoiceRule | None:
    """The first rule whose Condition is true (rules after it are not evaluated), or None
    (the caller then takes Default or fails with States.NoChoiceMatched)."""
    scope = env.scope(state_input)
    for rule in state.choices:
        condition = rule.condition
        if isinstance(condition, str) and is_expression(condition):
            value = scope.evaluate(condition, "Condition")
            if not isinstance(value, bool):
                raise scope.unexpected_type(condition, "Condition", "boolean", value)
        elif isinstance(condition, bool):
            value = condition
        else:  # the validator rejects this; never let it pass as "true"
            raise scope.failure(
                f"The Condition field must be a boolean or a JSONata string but was: "
                f"{compact_json(condition)}",
                "Condition",
            )
        if value:
            return rule
    return None


def choice_output(
    state: ChoiceState, rule: ChoiceRule | None, state_input: Any, env: JsonataEnv
) -> tuple[Any, dict[str, Any]]:
    """(state output, variables to assign) of a Choice: the chosen rule's Output and Assign
    (the state's top-level ones are then ignored), or the state's when Default is taken;
    without Output the input passes through (ASL spec, "JSONata Choice Rules")."""
    owner: Any = state if rule is None else rule
    return _assign_and_output(
        env.scope(state_input), _field(owner, "Assign"), _field(owner, "Output"), state_input
    )


# --- Wait ---------------------------------------------------------------------------------


def wait_delay(state: WaitState, state_input: Any, env: JsonataEnv) -> float:
    """Seconds to wait (<= 0: go on at once). Seconds is a non-negative integer; Timestamp
    an RFC 3339 date-time, truncated to whole seconds as AWS does."""
    scope = env.scope(state_input)
    if state.seconds is not None:
        return float(_integer(scope, state.seconds, "Seconds", minimum=0, maximum=MAX_SECONDS))
    if state.timestamp is not None:
        stamp: Any = state.timestamp
        if is_expression(stamp):
            text = stamp
            stamp = scope.evaluate(text, "Timestamp")
            if not isinstance(stamp, str):
                raise scope.unexpected_type(text, "Timestamp", "string", stamp)
        when = parse_timestamp(stamp)
        if when is None:
            raise scope.failure(
                "The Timestamp field cannot be parsed as an ISO-8601 extended offset "
                f"date-time format string: {stamp}",
                "Timestamp",
            )
        delay = float(int(when.timestamp())) - env.now
        if delay > MAX_DELAY_SECONDS:
            raise StatesFailure(errors.RUNTIME, "Wait state delay is too long")
        return delay
    return 0.0


# --- Fail ---------------------------------------------------------------------------------


def fail_error_cause(
    state: FailState, state_input: Any, env: JsonataEnv
) -> tuple[str | None, str | None]:
    """The Fail state's Error and Cause (None when absent); a JSONata string must yield a
    string."""
    scope = env.scope(state_input)
    return _string(scope, state.error, "Error"), _string(scope, state.cause, "Cause")


def _string(scope: Scope, value: str | None, field: str) -> str | None:
    if value is None or not is_expression(value):
        return value
    result = scope.evaluate(value, field)
    if not isinstance(result, str):
        raise scope.unexpected_type(value, field, "string", result)
    return result


# --- Task ---------------------------------------------------------------------------------


def task_timeouts(
    state: TaskState, state_input: Any, env: JsonataEnv
) -> tuple[int | None, int | None]:
    """(TimeoutSeconds, HeartbeatSeconds), each a positive integer or None when absent.
    Evaluated against the state input, like Arguments."""
    scope = env.scope(state_input)
    timeout = heartbeat = None
    if state.timeout_seconds is not None:
        timeout = _integer(
            scope, state.timeout_seconds, "TimeoutSeconds", minimum=1, maximum=MAX_SECONDS
        )
    if state.heartbeat_seconds is not None:
        heartbeat = _integer(
            scope, state.heartbeat_seconds, "HeartbeatSeconds", minimum=1, maximum=MAX_SECONDS
        )
    return timeout, heartbeat


# --- Map ----------------------------------------------------------------------------------
# One function per step, as `maps.py` splits the JSONPath side, because AWS reads Items and
# MaxConcurrency before MapStateStarted and a Map Run's tolerance after it.


def map_plan(state: MapState, state_input: Any, env: JsonataEnv) -> MapPlan:
    """All of a Map's start in one go: Items, each iteration's input (batched),
    MaxConcurrency and the tolerated failure thresholds (see the `map_*` steps)."""
    found = map_items(state, state_input, env)
    maps.check_items(found, env.state_name)
    inputs = map_iteration_inputs(state, state_input, found, env)
    if state.item_batcher is not None:
        inputs = map_batches(state, state_input, inputs, env)
    maps.check_inputs(inputs, env.state_name)
    count, percentage = map_tolerance(state, state_input, env)
    return MapPlan(
        inputs=inputs,
        max_concurrency=map_max_concurrency(state, state_input, env),
        tolerated_failure_count=count,
        tolerated_failure_percentage=percentage,
    )


def map_items(state: MapState, state_input: Any, env: JsonataEnv) -> list[Any]:
    """Items evaluated (must be an array), or what the ItemReader read, or the state input
    (must be an array)."""
    scope = env.scope(state_input)
    if state.item_reader is not None:
        return _reader_items(state, scope, env)
    template = _field(state, "Items")
    if template is MISSING:
        if not isinstance(state_input, list):
            # AWS reports no location for this one [obs].
            raise scope.failure(
                f"Map state input must be an array but was: {compact_json(state_input)}", None
            )
        return state_input
    if is_expression(template):
        items = scope.evaluate(template, "Items")
        # AWS's recordings reject an object here ("Expected 'array', but was 'object'"),
        # though the current guide says objects are accepted.
        if not isinstance(items, list):
            raise scope.unexpected_type(template, "Items", "array", items)
        return items
    items = scope.template(template, "Items")
    if not isinstance(items, list):
        raise scope.failure(
            f"The Items field must be an array but was: {compact_json(items)}", "Items"
        )
    return items


def _reader_items(state: MapState, scope: Scope, env: JsonataEnv) -> list[Any]:
    """ItemReader: its Arguments are evaluated (their failures are the state's), then
    ReaderConfig.MaxItems (an integer or a JSONata string) caps what was read."""
    reader, config = maps.reader_parts(state)
    if "Arguments" in reader:
        scope.template(reader["Arguments"], "ItemReader/Arguments")
    limit = None
    if config.get("MaxItems") is not None:
        limit = _integer(scope, config["MaxItems"], "ItemReader/ReaderConfig/MaxItems", minimum=0)
    return maps.read(reader, env.reader_items, limit)


def map_iteration_inputs(
    state: MapState, state_input: Any, items: list[Any], env: JsonataEnv
) -> list[Any]:
    """Each iteration's input: ItemSelector evaluated per item, with `$states.input` the
    Map's input and `$states.context.Map.Item.{Index,Value}` the item; else the item."""
    selector = _field(state, "ItemSelector")
    if selector is MISSING:
        return list(items)
    scope = env.scope(state_input)
    inputs: list[Any] = []
    for index, item in enumerate(items):
        context = {**env.context, "Map": {"Item": {"Index": index, "Value": item}}}
        inputs.append(scope.replace(context=context).template(selector, "ItemSelector"))
    return inputs


def map_max_concurrency(state: MapState, state_input: Any, env: JsonataEnv) -> int:
    """MaxConcurrency: a non-negative integer; 0 (or absent) means no limit."""
    scope = env.scope(state_input)
    found = _optional_integer(scope, state.max_concurrency, "MaxConcurrency")
    if found is not None and found < 0:
        raise scope.failure("MaxConcurrency cannot be negative.", "MaxConcurrency")
    return found or 0


def map_tolerance(
    state: MapState, state_input: Any, env: JsonataEnv
) -> tuple[int | None, float | None]:
    """(ToleratedFailureCount, ToleratedFailurePercentage), None when absent. The
    messages are those AWS gives for the Path forms [obs]."""
    scope = env.scope(state_input)
    count = _optional_integer(scope, state.tolerated_failure_count, "ToleratedFailureCount")
    if count is not None and count < 0:
        raise scope.failure("ToleratedFailureCount cannot be negative.", "ToleratedFailureCount")
    return count, _percentage(scope, state.tolerated_failure_percentage)


def map_batches(state: MapState, state_input: Any, inputs: list[Any], env: JsonataEnv) -> list[Any]:
    """ItemBatcher as on the JSONPath side: a batch closes at MaxItemsPerBatch items or
    before MaxInputBytesPerBatch would be exceeded; each is ``{"BatchInput"?, "Items"}``."""
    batcher = state.item_batcher
    assert batcher is not None
    scope = env.scope(state_input)
    size = _optional_integer(scope, batcher.max_items_per_batch, "ItemBatcher/MaxItemsPerBatch")
    max_bytes = _optional_integer(
        scope, batcher.max_input_bytes_per_batch, "ItemBatcher/MaxInputBytesPerBatch"
    )
    if size is None or size <= 0:
        size = len(inputs) or 1
    batch_input = MISSING
    if batcher.batch_input is not None:
        batch_input = scope.template(batcher.batch_input, "ItemBatcher/BatchInput")

    def batch(items: list[Any]) -> dict[str, Any]:
        made: dict[str, Any] = {}
        if batch_input is not MISSING:
            made["BatchInput"] = batch_input
        made["Items"] = items
        return made

    return [batch(group) for group in maps.batch_groups(inputs, size, max_bytes, batch)]


def _percentage(scope: Scope, value: int | float | str | None) -> float | None:
    if value is None:
        return None
    found: Any = value
    if isinstance(value, str):
        if not is_expression(value):
            raise scope.failure(
                f"The ToleratedFailurePercentage field must be a number but was: {value}",
                "ToleratedFailurePercentage",
            )
        found = scope.evaluate(value, "ToleratedFailurePercentage")
        if isinstance(found, bool) or not isinstance(found, int | float):
            raise scope.unexpected_type(value, "ToleratedFailurePercentage", "number", found)
    if not 0 <= found <= 100:
        raise scope.failure(
            "ToleratedFailurePercentage must be between 0 and 100.", "ToleratedFailurePercentage"
        )
    return float(found)


# --- integer fields -----------------------------------------------------------------------


def _optional_integer(scope: Scope, value: int | str | None, field: str) -> int | None:
    if value is None:
        return None
    return _integer(scope, value, field)


def _integer(
    scope: Scope,
    value: int | str,
    field: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    """An integer field given as a literal or a JSONata string. The type and range are
    checked for expression results (literals were checked by the validator; checked here
    too, so a bad literal cannot reach the shell). An integral float (``2.0``) counts.

    Causes beyond the type one are guesses in AWS's style (none is recorded)."""
    name = field.rsplit("/", 1)[-1]
    found: Any = value
    if isinstance(value, str):
        if not is_expression(value):
            raise scope.failure(f"The {name} field must be an integer but was: {value}", field)
        found = scope.evaluate(value, field)
        if isinstance(found, bool) or not isinstance(found, int | float):
            raise scope.unexpected_type(value, field, "number", found)
    if isinstance(found, bool) or not isinstance(found, int | float):
        raise scope.failure(f"The {name} field must be an integer but was: {found}", field)
    if isinstance(found, float):
        if not math.isfinite(found) or not found.is_integer():
            raise scope.failure(
                f"The {name} field cannot be parsed as an integer: {compact_json(found)}", field
            )
        found = int(found)
    if minimum is not None and found < minimum:
        adjective = "negative" if minimum == 0 else "less than " + str(minimum)
        raise scope.failure(f"The {name} field must not be {adjective}: {found}", field)
    if maximum is not None and found > maximum:
        raise scope.failure(f"The {name} field must be at most {maximum}: {found}", field)
    return int(found)
