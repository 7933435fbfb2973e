"""JSON values as Jayway JsonPath (and so AWS) prints and compares them: numbers in Java's
`Double.toString` form, compact text, deep copies, equality where 1 == 1.0 but true != 1."""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any

# --------------------------------------------------------------------------------------
# JSON helpers shared by the path, template and intrinsic layers
# --------------------------------------------------------------------------------------


def java_double(value: float) -> str:
    """`Double.toString`: AWS's JSON writer (Jackson) prints doubles this way, e.g. `1.0E20`."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    magnitude = abs(value)
    if 1e-3 <= magnitude < 1e7:
        return repr(value)  # Python's shortest repr is plain decimal in this range
    # Same shortest round-trip digits, laid out as Java's d.dddE<exp>.
    _, digit_tuple, exponent = Decimal(repr(magnitude)).as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    scientific = exponent + len(digits) - 1
    digits = digits.rstrip("0") or "0"
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{scientific}"


def _json_string(text: str) -> str:
    # Jackson escapes strings as Python's json module does with ensure_ascii=False.
    return json.dumps(text, ensure_ascii=False)


def compact_json(value: Any) -> str:
    """JSON text as AWS writes it in payloads and causes: no spaces, non-ASCII kept,
    doubles in Java form."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(f"{_json_string(str(k))}:{compact_json(v)}" for k, v in value.items())
            + "}"
        )
    if isinstance(value, list | tuple):
        return "[" + ",".join(compact_json(v) for v in value) + "]"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def copy_json(value: Any) -> Any:
    """Deep copy of a JSON value; several times faster than `copy.deepcopy`."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: numbers by value (1 == 1.0), booleans never equal numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if _is_number(a) or _is_number(b):
        return _is_number(a) and _is_number(b) and a == b
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(json_equal(v, b[k]) for k, v in a.items())
        )
    if isinstance(a, list):
        return (
            isinstance(b, list)
            and len(a) == len(b)
            and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
        )
    return type(a) is type(b) and bool(a == b)


# --------------------------------------------------------------------------------------
# JSON from outside: strict parsing and text that can always be stored
# --------------------------------------------------------------------------------------

#: How deep an input, a handler's result or a parsed string may nest. Jackson (AWS's JSON
#: library) refuses documents nested deeper than 1,000 levels by default; the engine walks
#: values recursively (paths, templates, JSONata), so it keeps well under Python's own
#: recursion limit, which also counts the frames already on the stack.
MAX_JSON_DEPTH = 250

_SURROGATE = re.compile("[\ud800-\udfff]")


class NotJson(ValueError):
    """Text or a value that is not JSON as AWS takes it; `str()` says why."""


def has_lone_surrogate(text: str) -> bool:
    """A UTF-16 surrogate code point on its own: `json.loads` joins an escaped pair into
    one character, so any surrogate left in a Python string is unpaired (not Unicode)."""
    return not text.isascii() and _SURROGATE.search(text) is not None


def check_json_value(value: Any, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise NotJson for what JSON cannot carry: NaN, an infinite number (or one too big
    for a double, e.g. 1e999), a string or key with a lone surrogate, nesting deeper than
    `max_depth`, or a value of another type. Iterative: a deep value cannot exhaust the
    stack here."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if has_lone_surrogate(item):
                raise NotJson(f"a string holds a lone surrogate (not valid Unicode): {item!r}")
        elif isinstance(item, bool) or item is None or isinstance(item, int):
            continue
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise NotJson(f"{java_double(item)} is not a JSON number")
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise NotJson(f"nested deeper than {max_depth} levels")
            if isinstance(item, dict):
                for key, child in item.items():
                    if not isinstance(key, str):
                        raise NotJson(f"an object key is not a string: {key!r}")
                    if has_lone_surrogate(key):
                        raise NotJson(
                            f"an object key holds a lone surrogate (not valid Unicode): {key!r}"
                        )
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
        else:
            raise NotJson(f"not a JSON value: {type(item).__name__}")


def _reject_constant(token: str) -> Any:
    raise NotJson(f"{token} is not JSON")


def loads_strict(text: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`json.loads` for text from outside (execution input, a handler's result, a string a
    state parses): NotJson instead of accepting NaN/Infinity, numbers that overflow a
    double, lone surrogates or nesting past `max_depth`, and never a RecursionError."""
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise NotJson(f"nested deeper than {max_depth} levels") from None
    except NotJson:
        raise
    except ValueError as exc:
        raise NotJson(str(exc)) from None
    check_json_value(value, max_depth)
    return value


def _escape_surrogate(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def storable(text: str) -> str:
    """JSON text that can be encoded as UTF-8: a lone surrogate (which UTF-8 cannot carry)
    becomes its `\\uXXXX` escape, which reads back as the same string. JSON text written
    by `json.dumps` holds such a character only inside a string literal, where the escape
    means exactly that character."""
    if text.isascii():
        return text
    return _SURROGATE.sub(_escape_surrogate, text)
