"""JSONata as AWS Step Functions evaluates it, on top of the jsonata-python package.

    is_expression("{% $x + 1 %}")                       -> True
    Scope(states=..., variables=..., rng=..., now=..., state_name=...).evaluate(text, field)
    Scope(...).template(value, field)                    -> every "{% %}" inside evaluated

What Step Functions adds to plain JSONata 2.0.6 (AWS Developer Guide, "Transforming data
with JSONata"; ASL spec, "JSONata Concepts"):

* a JSONata string is exactly ``"{% <expr> %}"``; anything else is a literal;
* ``$states`` = ``{input, result?, errorOutput?, context}`` and the state machine variables
  are the only bindings; the top-level ``$`` (the context item) is undefined;
* an *undefined* result is an error (JSON has no undefined), as is a function value;
* functions ``$partition``, ``$range``, ``$hash``, ``$random([seed])``, ``$uuid``,
  ``$parse``; their integer parameters are rounded down; ``$eval`` is not available
  (engine/asl/jsonata_functions.py);
* every failure is ``States.QueryEvaluationError`` with AWS's cause texts (recorded):

    The JSONata expression '<expr>' specified for the field '<field>' returned nothing (undefined).
    The JSONata expression '<expr>' specified for the field '<field>' returned an unexpected
        result type. Expected '<type>', but was '<type>' for value: <json>
    The JSONata expression '<expr>' specified for the field '<field>' returned an unsupported
        result type.
    The JSONata expression '<expr>' specified for the field '<field>' threw an error during
        evaluation. <code>: <message>

Cause prefix: AWS starts every such cause with "An error occurred while executing the state
'<name>' (entered at the event id #<n>). ". The `Scope` is given the state name and the id
of the state's *Entered event and builds the whole cause itself, so a `StatesFailure` out of
here is final; `QueryEvaluationFailure.detail` keeps the text after the prefix and
`.location` the field path AWS reports in the `EvaluationFailed` event.

Purity: no I/O and no clock. ``$now()``/``$millis()`` read the `now` the caller passes (the
library would read the wall clock); ``$random()``, ``$uuid()`` and ``$shuffle()`` draw from the
caller's `random.Random` (the library would use the global one). A runaway expression is
stopped by a step budget, not a timer, so the outcome is deterministic.

Cost (jsonata-python 0.7.1, CPython 3.11; docs/jsonata.md): parsing an expression takes
30-190 µs, so parsed programs are cached per expression text; evaluating
``$states.input.orderId`` costs ~26 µs and ``$sum($states.input.values) + $v`` ~60 µs, each
with a fresh `Scope` (the conversion of ``$states`` for the library included).

Error texts: jsonata-python words its messages like jsonata-java (substitutions unquoted,
"Object" for "function"); AWS reports jsonata-js's wording, which `_message` rebuilds.
"""

from __future__ import annotations

import functools
import json
import math
import random
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from jsonata import JException, Jsonata, Utils

from engine.asl import budget, errors, jsonpath, regexes
from engine.asl.failure import StatesFailure
from engine.asl.jsonata_functions import (
    FUNCTIONS_FRAME,
    RUNTIME,
    FunctionError,
    Runtime,
    to_jsonata,
)

__all__ = [
    "MISSING",
    "QueryEvaluationFailure",
    "Scope",
    "cause_prefix",
    "evaluate",
    "evaluate_template",
    "expression_body",
    "is_expression",
    "parse_message",
    "parse_tree",
    "states_object",
    "syntax_error",
    "type_name",
]

#: Marks an absent `$states.result` / `$states.errorOutput` (None is JSON null).
MISSING: Final[Any] = type("_Missing", (), {"__repr__": lambda self: "MISSING"})()

#: JSONata null inside the library (Python None is JSONata *undefined* there).
_NULL: Final = Utils.NULL_VALUE
_NONE: Final = Utils.NONE

#: Evaluation steps one expression may take before it is stopped (a runaway guard; a
#: legitimate expression over a 256 KiB payload stays far below it).
MAX_STEPS: Final = 1_000_000



# --- the JSONata string form ------------------------------------------------------------


def is_expression(value: object) -> bool:
    """A JSONata string: exactly ``{% ... %}``, no whitespace outside the delimiters
    (``" {% $x %}"`` is a literal string, as AWS treats it)."""
    return (
        isinstance(value, str)
        and len(value) >= 4
        and value.startswith("{%")
        and value.endswith("%}")
    )


def expression_body(text: str) -> str:
    """The expression inside the delimiters, trimmed: AWS quotes it so in its causes
    (``"{% $fn := function($x){$x} %}"`` -> ``$fn := function($x){$x}``)."""
    return text[2:-2].strip()


@dataclass(frozen=True)
class _Program:
    """A parsed expression, or the error that parsing it raised."""

    program: Any  # jsonata.Jsonata
    error: JException | None


@functools.lru_cache(maxsize=4096)
def _compile(body: str) -> _Program:
    """Parse once per expression text: parsing costs several evaluations, and the
    interpreter evaluates the same few expressions on every transition."""
    try:
        # Regex literals are compiled by engine/asl/regexes.py: every match runs under the
        # step budget (the library's default, `re`, would backtrack without bound).
        return _Program(Jsonata(body, regexes.jsonata_engine), None)
    except JException as exc:
        return _Program(None, exc)
    except RecursionError:
        return _Program(None, JException("S0100", 0))


def syntax_error(expression_text: str) -> str | None:
    """Why a JSONata string does not parse (``"S0201: Syntax error: ..."``), or None.
    For the definition validator; the text may include the ``{% %}`` delimiters."""
    body = expression_body(expression_text) if is_expression(expression_text) else expression_text
    compiled = _compile(body)
    if compiled.error is None:
        return None
    return _error_text(compiled.error)


# --- failures -----------------------------------------------------------------------------


def cause_prefix(state_name: str, entered_event_id: int | None) -> str:
    """AWS's opening sentence of a runtime/evaluation cause ("" when there is no event id,
    as in the TestState API where no history exists)."""
    if entered_event_id is None:
        return ""
    return (
        f"An error occurred while executing the state '{state_name}' "
        f"(entered at the event id #{entered_event_id}). "
    )


class QueryEvaluationFailure(StatesFailure):
    """``States.QueryEvaluationError``. `cause` is complete (prefix included); `detail` is
    the part after the prefix; `location` is the field path for the `EvaluationFailed`
    event (None when AWS reports none, e.g. "Map state input must be an array ...")."""

    def __init__(
        self, detail: str, *, location: str | None, state_name: str, entered_event_id: int | None
    ) -> None:
        super().__init__(
            errors.QUERY_EVALUATION_ERROR, cause_prefix(state_name, entered_event_id) + detail
        )
        self.detail = detail
        self.location = location
        self.state_name = state_name


class _Unsupported(Exception):
    """A result holds a value JSON cannot carry (a function, a regex)."""


# --- values across the library boundary -------------------------------------------------


def _from_jsonata(value: Any) -> Any:
    """A result as a plain JSON value (fresh containers: the library's results share
    structure with the bindings, which later expressions of the same scope still read).

    None inside a container is taken as null: the library's transform operator clones
    through `json.loads`, which turns NULL_VALUE into None."""
    if value is None or value is _NULL:
        return None
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return value
    if isinstance(value, dict):
        return {str(k): _from_jsonata(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_jsonata(v) for v in value]
    raise _Unsupported(type(value).__name__)


def type_name(value: Any) -> str:
    """The JSON type name AWS uses in its causes ('null', 'boolean', 'number', 'string',
    'array', 'object')."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# --- error messages -------------------------------------------------------------------------

_RAW_PLACEHOLDER: Final = re.compile(r"\{\{\{(\w+)\}\}\}")
_PLACEHOLDER: Final = re.compile(r"\{\{(\w+)\}\}")
#: jsonata-js names the element type of T0412 by these words ("must be an array of
#: "numbers""); the port passes the signature letter.
_ARRAY_TYPES: Final = {
    "a": "arrays",
    "b": "booleans",
    "f": "functions",
    "n": "numbers",
    "o": "objects",
    "s": "strings",
}


def _message(exc: JException) -> str:
    """The message as jsonata-js words it, which is what AWS reports [obs]
    (``T0412: Argument 1 of function "sum" must be an array of "numbers"``).

    jsonata-python renders its catalogue like jsonata-java: substitutions unquoted, and
    "Object" where the reference says "function" ("Argument 1 of Object sum ..."). The
    message is rebuilt here from the template and the exception's arguments, which the
    port passes in the order the placeholders appear: ``{{x}}`` is JSON-encoded (as
    jsonata-js's ``JSON.stringify``), ``{{{x}}}`` inserted as it is."""
    code = str(exc.error)
    template: str | None = JException.error_codes.get(code)
    if template is None or template == "{{{message}}}":
        return str(exc)
    template = template.replace("Object", "function")
    if "{{" not in template:
        return template
    args = [exc.current, exc.expected, exc.extra]
    if code == "T0412" and isinstance(exc.extra, str):
        args[2] = _ARRAY_TYPES.get(exc.extra, exc.extra)
    supplied = iter(args)

    def substitute(match: re.Match[str], *, raw: bool) -> str:
        value = next(supplied, None)
        if raw:
            return str(value)
        if isinstance(value, float) and not math.isfinite(value):
            return "null"  # JSON.stringify(Infinity)
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)

    # One pass over both forms, so the arguments are consumed in the order they appear.
    pattern = re.compile(f"{_RAW_PLACEHOLDER.pattern}|{_PLACEHOLDER.pattern}")
    return pattern.sub(
        lambda m: substitute(m, raw=m.group(1) is not None),
        template,
    )


def _error_text(exc: JException) -> str:
    return f"{exc.error}: {_message(exc)}"


def parse_tree(expression_text: str) -> Any | None:
    """The library's syntax tree of a JSONata string (None when it does not parse), for
    the definition validator's static checks."""
    body = expression_body(expression_text) if is_expression(expression_text) else expression_text
    compiled = _compile(body)
    return None if compiled.error is not None else compiled.program.ast


def parse_message(expression_text: str) -> str | None:
    """Why a JSONata string does not parse, as AWS words it at validation: the parser's
    message without its code (``Expected "]", got ","``), or None when it parses."""
    body = expression_body(expression_text) if is_expression(expression_text) else expression_text
    compiled = _compile(body)
    return None if compiled.error is None else _message(compiled.error)


# --- evaluation -------------------------------------------------------------------------------


#: How many evaluation steps pass between two looks at the step's time budget (a look
#: reads the clock; a step costs a few microseconds).
BUDGET_CHECK_EVERY: Final = 64


class _Budget:
    """Counts evaluation steps (the library calls `__evaluate_entry` on each) and, every
    `BUDGET_CHECK_EVERY` steps, checks the current step's time budget (engine/asl/budget.py):
    a step count alone is no time limit (``$sort([1..1000000])`` is one step)."""

    __slots__ = ("steps", "time")

    def __init__(self) -> None:
        self.steps = 0
        self.time = budget.current()

    def __call__(self, expr: Any, input: Any, environment: Any) -> None:  # noqa: A002
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise FunctionError(
                f"Evaluation stopped after {MAX_STEPS} steps. Check for infinite loop"
            )
        if self.time is not None and not self.steps % BUDGET_CHECK_EVERY:
            self.time.check("a JSONata expression")


class _Frame(Jsonata.Frame):  # type: ignore[misc]
    """The bindings of one evaluation. `$states` and the variables are converted for the
    library on first use (by the `Scope`, once for all its expressions); assignments
    inside the expression (``$x := 1``) land in this frame only."""

    def __init__(self, scope: Scope) -> None:
        super().__init__(FUNCTIONS_FRAME)
        self._scope = scope
        self.bindings["$"] = None
        self.bindings["__evaluate_entry"] = _Budget()
        # Bound to None so that the library's per-node lookup stops here.
        self.bindings["__evaluate_exit"] = None

    def lookup(self, name: str) -> Any:
        value = self.bindings.get(name, _NONE)
        if value is not _NONE:
            return value
        value = self._scope._binding(name)
        if value is not _NONE:
            return value
        return self.parent.lookup(name)


def states_object(
    input: Any,  # noqa: A002 - AWS's name
    context: Mapping[str, Any],
    *,
    result: Any = MISSING,
    error_output: Any = MISSING,
) -> dict[str, Any]:
    """``$states``: input and context always; result / errorOutput only where the state
    has them (AWS's ``{% $states %}`` shows no key for what is absent [obs])."""
    states: dict[str, Any] = {"input": input}
    if result is not MISSING:
        states["result"] = result
    if error_output is not MISSING:
        states["errorOutput"] = error_output
    states["context"] = context
    return states


class Scope:
    """What the JSONata strings of one state read: ``$states``, the variables (values as
    of state entry), a random source and the time; plus the state's name and the id of its
    *Entered event for causes. Conversions for the library happen once per scope."""

    def __init__(
        self,
        *,
        states: Mapping[str, Any],
        variables: Mapping[str, Any],
        rng: random.Random,
        now: float,
        state_name: str,
        entered_event_id: int | None = None,
    ) -> None:
        self.states = states
        self.variables = variables
        self.rng = rng
        self.now = now
        self.state_name = state_name
        self.entered_event_id = entered_event_id
        #: Variables and `$states` members already converted for the library.
        self._variables_converted: dict[str, Any] = {}
        self._members_converted: dict[str, Any] = {}
        self._states_converted: Any = _NONE

    def replace(self, **members: Any) -> Scope:
        """The same scope with other `$states` members, by their AWS names
        (``context=...``, ``result=...``, ``errorOutput=...``). What was converted for the
        library already is shared, so a Map's ItemSelector converts its input once, not
        once per item."""
        merged = {**self.states, **members}
        other = Scope(
            states=states_object(
                merged["input"],
                merged["context"],
                result=merged.get("result", MISSING),
                error_output=merged.get("errorOutput", MISSING),
            ),
            variables=self.variables,
            rng=self.rng,
            now=self.now,
            state_name=self.state_name,
            entered_event_id=self.entered_event_id,
        )
        other._variables_converted = self._variables_converted
        other._members_converted = {
            k: v for k, v in self._members_converted.items() if k not in members
        }
        return other

    # --- failures ----------------------------------------------------------------------

    def failure(self, detail: str, location: str | None) -> QueryEvaluationFailure:
        return QueryEvaluationFailure(
            detail,
            location=location,
            state_name=self.state_name,
            entered_event_id=self.entered_event_id,
        )

    def unexpected_type(
        self, text: str, field: str, expected: str, value: Any
    ) -> QueryEvaluationFailure:
        """AWS's cause for a result of the wrong JSON type (`text`: the JSONata string)."""
        return self.failure(
            f"The JSONata expression '{expression_body(text)}' specified for the field "
            f"'{field}' returned an unexpected result type. Expected '{expected}', but was "
            f"'{type_name(value)}' for value: {jsonpath.compact_json(value)}",
            field,
        )

    # --- evaluation --------------------------------------------------------------------

    def evaluate(self, text: str, field: str) -> Any:
        """The JSON value of one JSONata string (with its delimiters). `field` is the
        location AWS names ('Output/result', 'Arguments/FunctionName', 'Items').
        Raises `QueryEvaluationFailure`."""
        body = expression_body(text)
        said = f"The JSONata expression '{body}' specified for the field '{field}'"
        compiled = _compile(body)
        if compiled.error is not None:
            raise self.failure(
                f"{said} threw an error during evaluation. {_error_text(compiled.error)}", field
            )
        token = RUNTIME.set(Runtime(self.rng, int(self.now * 1000)))
        try:
            budget.check("a JSONata expression")
            program = compiled.program
            raw = program.eval(program.ast, None, _Frame(self))
            # A single long library call (a sort, a big range) ends between two steps.
            budget.check("a JSONata expression")
        except budget.BudgetExceeded as exc:
            raise self.failure(
                f"{said} threw an error during evaluation. {exc.cause}", field
            ) from None
        except JException as exc:
            raise self.failure(
                f"{said} threw an error during evaluation. {_error_text(exc)}", field
            ) from None
        except FunctionError as exc:
            raise self.failure(f"{said} threw an error during evaluation. {exc}", field) from None
        except RecursionError:
            raise self.failure(
                f"{said} threw an error during evaluation. {_error_text(JException('D1011', -1))}",
                field,
            ) from None
        except Exception as exc:  # noqa: BLE001 - a library fault is the expression's failure
            raise self.failure(
                f"{said} threw an error during evaluation. {type(exc).__name__}: {exc}", field
            ) from None
        finally:
            RUNTIME.reset(token)
        if raw is None:
            raise self.failure(f"{said} returned nothing (undefined).", field)
        try:
            return _from_jsonata(raw)
        except _Unsupported:
            raise self.failure(f"{said} returned an unsupported result type.", field) from None

    def template(self, value: Any, field: str) -> Any:
        """Evaluate every JSONata string inside `value` (objects and arrays at any depth);
        other values are copied as they are. Nested locations are joined with '/':
        'Output/result', 'Arguments/Payload/id'; array items by index ('Items/1', a guess:
        AWS's recordings only show object members)."""
        if isinstance(value, str):
            return self.evaluate(value, field) if is_expression(value) else value
        if isinstance(value, dict):
            return {k: self.template(v, f"{field}/{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self.template(v, f"{field}/{i}") for i, v in enumerate(value)]
        return value

    def expressions(self, value: Any, field: str) -> Iterator[tuple[str, str]]:
        """(location, JSONata string) of each expression inside `value`, in order."""
        if is_expression(value):
            yield field, value
        elif isinstance(value, dict):
            for k, v in value.items():
                yield from self.expressions(v, f"{field}/{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                yield from self.expressions(v, f"{field}/{i}")

    def _binding(self, name: str) -> Any:
        """`$name` for the library: `$states` or a variable, converted once; else NONE."""
        if name == "states":
            if self._states_converted is _NONE:
                self._states_converted = {k: self._member(k) for k in self.states}
            return self._states_converted
        converted = self._variables_converted.get(name, _NONE)
        if converted is _NONE and name in self.variables:
            converted = to_jsonata(self.variables[name])
            self._variables_converted[name] = converted
        return converted

    def _member(self, key: str) -> Any:
        converted = self._members_converted.get(key, _NONE)
        if converted is _NONE:
            converted = to_jsonata(self.states[key])
            self._members_converted[key] = converted
        return converted


# --- one-shot conveniences ---------------------------------------------------------------------


def evaluate(
    expression_text: str,
    *,
    states: Mapping[str, Any],
    variables: Mapping[str, Any],
    rng: random.Random,
    field: str,
    state_name: str,
    now: float = 0.0,
    entered_event_id: int | None = None,
) -> Any:
    """Evaluate one JSONata string. `states` is the whole ``$states`` object (see
    `states_object`); `now` (epoch seconds) feeds ``$now()``/``$millis()``. With
    `entered_event_id` the cause carries AWS's "An error occurred while executing the state
    ..." prefix. Raises `QueryEvaluationFailure` (a `StatesFailure`)."""
    scope = Scope(
        states=states,
        variables=variables,
        rng=rng,
        now=now,
        state_name=state_name,
        entered_event_id=entered_event_id,
    )
    return scope.evaluate(expression_text, field)


def evaluate_template(
    value: Any,
    *,
    states: Mapping[str, Any],
    variables: Mapping[str, Any],
    rng: random.Random,
    field: str,
    state_name: str,
    now: float = 0.0,
    entered_event_id: int | None = None,
) -> Any:
    """`value` with every JSONata string inside it evaluated (see `Scope.template`)."""
    scope = Scope(
        states=states,
        variables=variables,
        rng=rng,
        now=now,
        state_name=state_name,
        entered_event_id=entered_event_id,
    )
    return scope.template(value, field)
