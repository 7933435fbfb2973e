"""Intrinsic functions of JSONPath states: `States.Format(...)` and the 17 others.

An intrinsic is written as the value of a `.$` field (Parameters, ItemSelector,
ResultSelector, Assign, Fail ErrorPath/CausePath, ...). Arguments are
'single-quoted strings' (escapes `\\'` `\\{` `\\}` `\\\\` only), numbers, `true`/`false`/`null`,
paths (`$.x`, `$$.x`, `$var.x`) and nested calls, at most 10 calls deep.

Rules follow what AWS does where it differs from the spec (reference §5, §15): integer
arguments are rounded like Java's `Math.round` (half toward positive infinity),
`ArrayRange` includes its end and makes at most 1000 items, `StringSplit` splits on each
delimiter character and drops empty strings, `StringToJson("")` is null, `Format` writes
objects as Java does (`{a=1, b=[]}`), `JsonMerge` refuses a deep merge.

Every failure is `States.IntrinsicFailure`, except a path argument that selects nothing:
that is `States.Runtime`, the error AWS raises for any path miss in a payload template.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from engine.asl import budget, errors, jsonpath
from engine.asl.failure import StatesFailure
from engine.asl.intrinsic_syntax import (
    FUNCTIONS,
    Arg,
    Call,
    IntrinsicSyntaxError,
    LiteralArg,
    PathArg,
    StringArg,
    is_intrinsic,
    parse,
    validate_intrinsic,
)
from engine.asl.jsonvalues import NotJson, loads_strict, storable

# The syntax lives in engine/asl/intrinsic_syntax.py; its names stay importable from here.
__all__ = [
    "FUNCTIONS",
    "Call",
    "IntrinsicSyntaxError",
    "LiteralArg",
    "PathArg",
    "StringArg",
    "evaluate",
    "is_intrinsic",
    "parse",
    "validate_intrinsic",
]


# --------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Env:
    data: Any
    context: Any
    variables: Mapping[str, Any] | None
    rng: random.Random | None
    field: str | None


def evaluate(
    expr: str,
    data: Any,
    *,
    context: Any,
    variables: Mapping[str, Any] | None,
    rng: random.Random | None,
    field: str | None = None,
) -> Any:
    """Evaluate an intrinsic call against the state data, `$$` and variables.

    `rng` is the random source of `States.UUID` and unseeded `States.MathRandom`.
    `field` (e.g. "id.$" or "CausePath") only words the cause of a path miss.
    Raises `StatesFailure`: `States.IntrinsicFailure`, or `States.Runtime` when a path
    argument selects nothing.
    """
    try:
        call = parse(expr)
    except IntrinsicSyntaxError as exc:
        raise StatesFailure(errors.INTRINSIC_FAILURE, str(exc)) from None
    return _call(call, _Env(data, context, variables, rng, field))


def _call(call: Call, env: _Env) -> Any:
    values = [_argument(arg, env) for arg in call.args]
    # Under the step budget (engine/asl/budget.py): the interpreter reports an exceeded
    # budget as States.Runtime. Each call is bounded by the payload size; looking before and
    # after each one bounds a nest of them.
    budget.check(f"the intrinsic function {call.name}")
    result = _IMPLEMENTATIONS[call.name](call, values, env)
    budget.check(f"the intrinsic function {call.name}")
    return result


def _argument(arg: Arg, env: _Env) -> Any:
    if isinstance(arg, StringArg):
        return arg.value
    if isinstance(arg, LiteralArg):
        return arg.value
    if isinstance(arg, Call):
        return _call(arg, env)
    try:
        return jsonpath.get_path(arg.path, env.data, context=env.context, variables=env.variables)
    except jsonpath.PathNotFound:
        where = f" specified for the field '{env.field}'" if env.field else ""
        raise StatesFailure(
            errors.RUNTIME,
            f"The JSONPath '{arg.path}'{where} could not be found in the input "
            f"'{jsonpath.compact_json(env.data)}'",
        ) from None


# Argument checks ----------------------------------------------------------------------

_INT_MIN: Final = -(2**31)
_INT_MAX: Final = 2**31 - 1
_MAX_STRING: Final = 10_000
_MAX_RANGE: Final = 1000


def _fail(call: Call, message: str) -> StatesFailure:
    return StatesFailure(errors.INTRINSIC_FAILURE, f"Invalid arguments in {call.name}: {message}")


def _show(value: Any) -> str:
    return jsonpath.compact_json(value)


def _java_round(value: int | float) -> int:
    """Java's `Math.round`: nearest integer, halves toward positive infinity."""
    if isinstance(value, int):
        return value
    floor = math.floor(value)
    return floor + 1 if value - floor >= 0.5 else floor


def _integer(call: Call, value: Any, what: str) -> int:
    """A number argument used as a Java int: rounded, and within the int range."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(call, f"{what} must be a number, got {_show(value)}")
    rounded = _java_round(value)
    if not _INT_MIN <= rounded <= _INT_MAX:
        raise _fail(call, f"{what} must be between {_INT_MIN} and {_INT_MAX}, got {_show(value)}")
    return rounded


def _array(call: Call, value: Any, what: str = "the first argument") -> list[Any]:
    if not isinstance(value, list):
        raise _fail(call, f"{what} must be an array, got {_show(value)}")
    return value


def _string(call: Call, value: Any, what: str, limit: int | None = None) -> str:
    if not isinstance(value, str):
        raise _fail(call, f"{what} must be a string, got {_show(value)}")
    if limit is not None and len(value) > limit:
        raise _fail(call, f"{what} must be at most {limit} characters long, got {len(value)}")
    return value


def _need_rng(call: Call, env: _Env) -> random.Random:
    if env.rng is None:
        # An engine fault, not a state machine failure: the caller must supply the source.
        raise ValueError(f"{call.name} needs a random.Random source (rng)")
    return env.rng


# Implementations ----------------------------------------------------------------------


def _java_text(value: Any) -> str:
    """How AWS writes a value into `States.Format`: Java's `toString` of the value."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_java_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_java_text(v) for v in value) + "]"
    return jsonpath.compact_json(value)


def _format(call: Call, args: list[Any], env: _Env) -> Any:
    template = call.args[0]
    if isinstance(template, StringArg):
        pieces: tuple[str | None, ...] = template.pieces
    else:
        text = _string(call, args[0], "the template")
        parts = text.split("{}")
        pieces = tuple(p for part in parts for p in (part, None))[:-1]
    values = args[1:]
    placeholders = pieces.count(None)
    if placeholders != len(values):
        raise _fail(
            call,
            f"the template has {placeholders} placeholder(s) but {len(values)} value(s) follow",
        )
    rendered = iter(values)
    return "".join(_java_text(next(rendered)) if p is None else p for p in pieces)


def _string_to_json(call: Call, args: list[Any], env: _Env) -> Any:
    text = _string(call, args[0], "the argument")
    if not text.strip():
        return None  # AWS: an empty or blank string parses to null
    try:
        return loads_strict(text)
    except NotJson as exc:
        shown = storable(text if len(text) <= 200 else text[:200] + "...")
        raise _fail(call, f"the argument is not valid JSON ({exc}): {shown}") from None


def _json_to_string(call: Call, args: list[Any], env: _Env) -> Any:
    return jsonpath.compact_json(args[0])


def _array_fn(call: Call, args: list[Any], env: _Env) -> Any:
    return list(args)


def _array_partition(call: Call, args: list[Any], env: _Env) -> Any:
    items = _array(call, args[0])
    size = _integer(call, args[1], "the chunk size")
    if size <= 0:
        raise _fail(call, f"the chunk size must be greater than 0, got {_show(args[1])}")
    return [items[i : i + size] for i in range(0, len(items), size)]


def _array_contains(call: Call, args: list[Any], env: _Env) -> Any:
    items = _array(call, args[0])
    return any(jsonpath.json_equal(item, args[1]) for item in items)


def _range_size(start: int, end: int, step: int) -> int:
    if step > 0:
        return (end - start) // step + 1 if end >= start else 0
    return (start - end) // -step + 1 if start >= end else 0


def _array_range(call: Call, args: list[Any], env: _Env) -> Any:
    start = _integer(call, args[0], "the start")
    end = _integer(call, args[1], "the end")
    step = _integer(call, args[2], "the step")
    if step == 0:
        raise _fail(call, "the step must not be 0")
    size = _range_size(start, end, step)
    if size > _MAX_RANGE:
        raise _fail(call, f"the range would hold {size} items, more than {_MAX_RANGE}")
    return list(range(start, end + (1 if step > 0 else -1), step))


def _array_get_item(call: Call, args: list[Any], env: _Env) -> Any:
    items = _array(call, args[0])
    index = _integer(call, args[1], "the index")
    if not 0 <= index < len(items):
        raise _fail(call, f"the index {index} is out of bounds for an array of {len(items)}")
    return items[index]


def _array_length(call: Call, args: list[Any], env: _Env) -> Any:
    return len(_array(call, args[0], "the argument"))


def _canonical(value: Any) -> Any:
    """A hashable key equal for JSON-equal values (1 and 1.0 alike, true unlike 1)."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", value)
    if isinstance(value, dict):
        return ("o", frozenset((k, _canonical(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("a", tuple(_canonical(v) for v in value))
    return ("s", value)


def _array_unique(call: Call, args: list[Any], env: _Env) -> Any:
    seen: set[Any] = set()
    unique: list[Any] = []
    for item in _array(call, args[0], "the argument"):
        key = _canonical(item)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def _base64_encode(call: Call, args: list[Any], env: _Env) -> Any:
    text = _string(call, args[0], "the argument", _MAX_STRING)
    return base64.b64encode(text.encode()).decode("ascii")


def _base64_decode(call: Call, args: list[Any], env: _Env) -> Any:
    text = _string(call, args[0], "the argument", _MAX_STRING)
    try:
        return base64.b64decode(text, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _fail(call, f"the argument is not valid Base64 of UTF-8 text: {text}") from None


_HASHES: Final = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}


def _hash(call: Call, args: list[Any], env: _Env) -> Any:
    text = _string(call, args[0], "the data", _MAX_STRING)
    algorithm = _string(call, args[1], "the algorithm")
    if algorithm not in _HASHES:
        raise _fail(call, f"the algorithm must be one of {', '.join(_HASHES)}, got {algorithm}")
    return hashlib.new(_HASHES[algorithm], text.encode()).hexdigest()


def _json_merge(call: Call, args: list[Any], env: _Env) -> Any:
    first, second, deep = args
    if not isinstance(first, dict) or not isinstance(second, dict):
        raise _fail(call, "the first two arguments must be JSON objects")
    if not isinstance(deep, bool):
        raise _fail(call, f"the third argument must be a boolean, got {_show(deep)}")
    if deep:
        raise _fail(call, "deep merging is not supported: the third argument must be false")
    return {**first, **second}  # shallow: the second object's members win


def _math_random(call: Call, args: list[Any], env: _Env) -> Any:
    start = _integer(call, args[0], "the start")
    end = _integer(call, args[1], "the end")
    if end <= start:
        raise _fail(call, f"the end ({end}) must be greater than the start ({start})")
    if len(args) == 3:
        seed = _integer(call, args[2], "the seed")
        source = random.Random(seed)  # a seeded draw repeats: same seed, same number
    else:
        source = _need_rng(call, env)
    return source.randrange(start, end)  # start inclusive, end exclusive


def _math_add(call: Call, args: list[Any], env: _Env) -> Any:
    return _integer(call, args[0], "the first argument") + _integer(
        call, args[1], "the second argument"
    )


def _string_split(call: Call, args: list[Any], env: _Env) -> Any:
    text = _string(call, args[0], "the first argument")
    delimiters = frozenset(_string(call, args[1], "the delimiters"))
    tokens: list[str] = []
    current: list[str] = []
    for char in text:
        if char in delimiters:
            if current:
                tokens.append("".join(current))
            current = []
        else:
            current.append(char)
    if current:
        tokens.append("".join(current))
    return tokens


def _uuid(call: Call, args: list[Any], env: _Env) -> Any:
    bits = _need_rng(call, env).getrandbits(128)
    return str(uuid.UUID(int=bits, version=4))


_Implementation: TypeAlias = Callable[[Call, list[Any], _Env], Any]

_IMPLEMENTATIONS: Final[Mapping[str, _Implementation]] = {
    "States.Format": _format,
    "States.StringToJson": _string_to_json,
    "States.JsonToString": _json_to_string,
    "States.Array": _array_fn,
    "States.ArrayPartition": _array_partition,
    "States.ArrayContains": _array_contains,
    "States.ArrayRange": _array_range,
    "States.ArrayGetItem": _array_get_item,
    "States.ArrayLength": _array_length,
    "States.ArrayUnique": _array_unique,
    "States.Base64Encode": _base64_encode,
    "States.Base64Decode": _base64_decode,
    "States.Hash": _hash,
    "States.JsonMerge": _json_merge,
    "States.MathRandom": _math_random,
    "States.MathAdd": _math_add,
    "States.StringSplit": _string_split,
    "States.UUID": _uuid,
}
