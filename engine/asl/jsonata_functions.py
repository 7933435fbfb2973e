"""The functions Step Functions adds to JSONata ($partition, $range, $hash, $random,
$uuid, $parse) and the library builtins it changes ($now, $millis, $shuffle read the
caller's clock and seeded random instead of the process's; $number fails as jsonata-js
does; $eval is gone), bound in one frame that every evaluation starts from.

The clock and the random source of one evaluation come in through `RUNTIME`, set by the
`Scope` in engine/asl/jsonata.py around each evaluation: the functions stay pure.
"""

from __future__ import annotations

import contextvars
import hashlib
import inspect
import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from jsonata import JException, Jsonata, Signature, Utils
from jsonata import functions as _jsonata_functions

from engine.asl import jsonpath
from engine.asl.jsonvalues import NotJson, loads_strict, storable

#: JSONata null inside the library (Python None is JSONata *undefined* there).
_NULL: Final = Utils.NULL_VALUE

#: Items `$range` may produce (the limit of its intrinsic twin, States.ArrayRange).
MAX_RANGE_ITEMS: Final = 1000

_HASHES: Final = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}


class FunctionError(Exception):
    """Raised by the Step Functions functions; reported like a JSONata error."""


def to_jsonata(value: Any) -> Any:
    """A JSON value as the library wants it: JSON null is its NULL_VALUE (its None means
    undefined). Containers are copied, so nothing the library does reaches the caller."""
    if value is None:
        return _NULL
    if isinstance(value, dict):
        return {k: to_jsonata(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_jsonata(v) for v in value]
    return value


@dataclass(frozen=True)
class Runtime:
    """What the impure-looking functions read during one evaluation."""

    rng: random.Random
    now_millis: int


RUNTIME: Final[contextvars.ContextVar[Runtime]] = contextvars.ContextVar("sfn_jsonata_runtime")


def _floor(value: Any) -> int:
    """AWS: "functions that require integer values as parameters will automatically round
    down any non-integer numbers provided"."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FunctionError(f"Expected a number but was: {jsonpath.compact_json(value)}")
    return math.floor(value)


def _fn_partition(array: Any, size: Any) -> Any:
    if array is None or size is None:
        return None  # JSONata: undefined in, undefined out
    chunk = _floor(size)
    if chunk <= 0:
        raise FunctionError(f"The chunk size must be a positive integer but was: {chunk}")
    items = list(array)
    # A plain array, not a sequence: AWS keeps [[0]] for $partition([0], 1) [obs].
    return [items[i : i + chunk] for i in range(0, len(items), chunk)]


def _fn_range(start: Any, end: Any, step: Any) -> Any:
    if start is None or end is None or step is None:
        return None
    first, last, delta = _floor(start), _floor(end), _floor(step)
    if delta == 0:
        raise FunctionError("The step must not be zero")
    values = range(first, last + (1 if delta > 0 else -1), delta)  # the end is inclusive
    if len(values) > MAX_RANGE_ITEMS:
        raise FunctionError(
            f"The range must have at most {MAX_RANGE_ITEMS} elements but would have {len(values)}"
        )
    # A sequence: JSONata unwraps a singleton, and AWS returns 1 for $range(1, 9, 9) [obs].
    return Utils.create_sequence_from_iter(values)


def _fn_hash(data: Any, algorithm: Any) -> Any:
    if data is None or algorithm is None:
        return None
    name = _HASHES.get(algorithm)
    if name is None:
        raise FunctionError(
            f"The hash algorithm must be one of {', '.join(_HASHES)} but was: {algorithm}"
        )
    return hashlib.new(name, str(data).encode()).hexdigest()


def _java_random_double(seed: int) -> float:
    """`new java.util.Random(seed).nextDouble()`: AWS runs on the JVM, so a seeded
    ``$random`` most plausibly draws Java's sequence (the corpus masks the value)."""
    mask = (1 << 48) - 1
    state = (seed ^ 0x5DEECE66D) & mask

    def next_bits(bits: int) -> int:
        nonlocal state
        state = (state * 0x5DEECE66D + 0xB) & mask
        return state >> (48 - bits)

    return ((next_bits(26) << 27) + next_bits(27)) * (1.0 / (1 << 53))


def _fn_random(seed: Any) -> Any:
    if seed is None:
        return RUNTIME.get().rng.random()
    return _java_random_double(_floor(seed))


def _fn_uuid() -> Any:
    return str(uuid.UUID(int=RUNTIME.get().rng.getrandbits(128), version=4))


def _fn_parse(text: Any) -> Any:
    if text is None:
        return None
    try:
        parsed = loads_strict(text)
    except NotJson as exc:
        raise FunctionError(f"The string cannot be parsed as JSON: {storable(str(exc))}") from None
    return to_jsonata(parsed)


def _fn_now(picture: Any, timezone: Any) -> Any:
    millis = RUNTIME.get().now_millis
    return _jsonata_functions.Functions.datetime_from_millis(millis, picture, timezone)


def _fn_millis() -> Any:
    return RUNTIME.get().now_millis


def _fn_shuffle(array: Any) -> Any:
    if array is None:
        return None
    items = list(array)
    RUNTIME.get().rng.shuffle(items)
    return items


def _fn_number(value: Any) -> Any:
    """The library's ``$number``, with a string that is no number failing as JSONata fails
    (D3030 "Unable to cast value to a number") rather than with a Python ValueError."""
    if value is _NULL:
        raise JException("T0410", -1, 1, "number")
    try:
        found = _jsonata_functions.Functions.number(value)
    except (ValueError, OverflowError):
        raise JException("D3030", -1, value) from None
    # As the library does for its own natives: 12.0 -> 12, infinity -> D1001.
    return found if found is None else Utils.convert_number(found)


class _Function(Jsonata.JFunction):  # type: ignore[misc]
    """A function the library calls like its own natives (signature-checked first)."""

    def __init__(self, name: str, signature: str, implementation: Callable[..., Any]) -> None:
        super().__init__(None, None)
        self.function_name = name
        self.signature = Signature(signature, name)
        self._implementation = implementation
        self._arity = len(inspect.signature(implementation).parameters)

    def call(self, input: Any, args: Any) -> Any:  # noqa: A002 - the library's name
        supplied = list(args or [])[: self._arity]
        supplied += [None] * (self._arity - len(supplied))
        return self._implementation(*supplied)

    def get_number_of_args(self) -> int:
        return self._arity


def _functions_frame() -> Any:
    """Builtins as Step Functions offers them: the library's, plus AWS's six, with the
    clock and randomness redirected, and `$eval` gone (an undefined name: calling it
    fails like any non-function, "T1006: Attempted to invoke a non-function")."""
    frame = Jsonata.Frame(Jsonata.static_frame)
    for name, signature, implementation in (
        ("partition", "<an:a>", _fn_partition),
        ("range", "<nnn:a>", _fn_range),
        ("hash", "<ss:s>", _fn_hash),
        ("random", "<n?:n>", _fn_random),
        ("uuid", "<:s>", _fn_uuid),
        ("parse", "<s:x>", _fn_parse),
        ("now", "<s?s?:s>", _fn_now),
        ("millis", "<:n>", _fn_millis),
        ("shuffle", "<a:a>", _fn_shuffle),
        ("number", "<(nsb)-:n>", _fn_number),
    ):
        frame.bind(name, _Function(name, signature, implementation))
    frame.bind("eval", None)
    return frame


FUNCTIONS_FRAME: Final = _functions_frame()
