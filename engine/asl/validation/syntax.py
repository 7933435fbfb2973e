"""Syntax predicates the validator needs: JSONPath paths, intrinsic calls, timestamps,
JSONata expressions, variable names.

The path, intrinsic and timestamp grammars belong to `engine.asl.jsonpath`,
`engine.asl.intrinsics` and `engine.asl.timestamps`; they are imported lazily, and a minimal
local grammar stands in for a module that is not there (yet), so validation never depends on
import order. Context paths (``$$...``) and variable paths (``$name...``) are reduced to a
plain ``$...`` path before they are handed over, so the path grammar only has to know one form.
"""

from __future__ import annotations

import re
from typing import Any, Final

MAX_INTRINSIC_NESTING: Final = 10
MAX_VARIABLE_NAME_LENGTH: Final = 80
RESERVED_VARIABLE: Final = "states"

INTRINSIC_FUNCTIONS: Final = frozenset(
    {
        "States.Format",
        "States.StringToJson",
        "States.JsonToString",
        "States.Array",
        "States.ArrayPartition",
        "States.ArrayContains",
        "States.ArrayRange",
        "States.ArrayGetItem",
        "States.ArrayLength",
        "States.ArrayUnique",
        "States.Base64Encode",
        "States.Base64Decode",
        "States.Hash",
        "States.JsonMerge",
        "States.MathRandom",
        "States.MathAdd",
        "States.StringSplit",
        "States.UUID",
    }
)

_VARIABLE_HEAD: Final = re.compile(r"\$([^\W\d]\w*)")


# --- JSONata -------------------------------------------------------------------------------


def is_jsonata_expression(value: Any) -> bool:
    """``"{% expr %}"`` exactly: no whitespace outside the delimiters (reference J1)."""
    if not isinstance(value, str) or len(value) < 4:
        return False
    return value.startswith("{%") and value.endswith("%}")


# --- paths ---------------------------------------------------------------------------------


def is_path(value: Any, *, context: bool = True, variables: bool = True) -> bool:
    """A JSONPath Path (may select several nodes): ``$...``, or a context path ``$$...``,
    or a variable path ``$name...`` where those are allowed."""
    plain = _plain_path(value, context=context, variables=variables)
    return plain is not None and _valid_path(plain)


def is_reference_path(value: Any, *, context: bool = True, variables: bool = True) -> bool:
    """A Reference Path: a path that can only select a single node (reference P2)."""
    plain = _plain_path(value, context=context, variables=variables)
    return plain is not None and _valid_reference_path(plain)


def _plain_path(value: Any, *, context: bool, variables: bool) -> str | None:
    """`value` rewritten as a ``$...`` path, or None when it is not a path of an allowed kind.
    Whitespace around the path is ignored, as Jayway's compiler (AWS's JSONPath) trims it."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text.startswith("$"):
        return None
    if text.startswith("$$"):
        return "$" + text[2:] if context else None
    head = _VARIABLE_HEAD.match(text)
    if head is not None:
        return "$" + text[head.end() :] if variables else None
    return text


def _valid_path(path: str) -> bool:
    try:
        from engine.asl.jsonpath import is_valid_path
    except ImportError:
        return _local_path_ok(path, reference=False)
    return bool(is_valid_path(path))


def _valid_reference_path(path: str) -> bool:
    try:
        from engine.asl.jsonpath import is_reference_path as reference
    except ImportError:
        return _local_path_ok(path, reference=True)
    return bool(reference(path))


# The stand-in grammar (Jayway-like): `.name`, `..name`, `.*`, `[n]`, `['a b']`, `[*]`,
# `[n,m]`, `[a:b]`, `[?(...)]`. A Reference Path keeps only `.name`, `[n]` and `['name']`.
_NAME: Final = re.compile(r"[^.\[\]\s'\"()]+")
_INDEX: Final = re.compile(r"-?[0-9]+")
_INDEX_LIST: Final = re.compile(r"-?[0-9]+(\s*,\s*-?[0-9]+)*")
_SLICE: Final = re.compile(r"(-?[0-9]+)?:(-?[0-9]+)?(:-?[0-9]+)?")
_QUOTED: Final = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


def _local_path_ok(path: str, *, reference: bool) -> bool:
    if not path.startswith("$"):
        return False
    position = 1
    while position < len(path):
        end = _segment_end(path, position, reference=reference)
        if end is None:
            return False
        position = end
    return True


def _segment_end(path: str, start: int, *, reference: bool) -> int | None:
    """Where the path segment that begins at `start` ends, or None if it is not valid."""
    if path.startswith("..", start):
        if reference:
            return None
        return _dotted_end(path, start + 2, reference=reference)
    if path[start] == ".":
        return _dotted_end(path, start + 1, reference=reference)
    if path[start] == "[":
        return _bracket_end(path, start + 1, reference=reference)
    return None


def _dotted_end(path: str, start: int, *, reference: bool) -> int | None:
    if start < len(path) and path[start] == "[":  # `$.abc.['def ghi']` is accepted (IF)
        return _bracket_end(path, start + 1, reference=reference)
    if start < len(path) and path[start] == "*":
        return None if reference else start + 1
    name = _NAME.match(path, start)
    return None if name is None else name.end()


def _bracket_end(path: str, start: int, *, reference: bool) -> int | None:
    inner_end = _bracket_inner_end(path, start)
    if inner_end is None:
        return None
    inner = path[start:inner_end].strip()
    if _QUOTED.fullmatch(inner) or _INDEX.fullmatch(inner):
        return inner_end + 1
    if reference:
        return None
    lists = inner == "*" or _INDEX_LIST.fullmatch(inner) or _SLICE.fullmatch(inner)
    quoted_list = all(_QUOTED.fullmatch(part.strip()) for part in inner.split(","))
    is_filter = inner.startswith("?(") and inner.endswith(")")
    return inner_end + 1 if lists or quoted_list or is_filter else None


def _bracket_inner_end(path: str, start: int) -> int | None:
    """Index of the `]` closing the bracket opened just before `start` (quotes and nested
    brackets of a filter respected)."""
    depth, quote, position = 1, "", start
    while position < len(path):
        char = path[position]
        if quote:
            if char == "\\":
                position += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return position
        position += 1
    return None


# --- intrinsic functions -------------------------------------------------------------------


def is_intrinsic_call(value: Any) -> bool:
    """Looks like an intrinsic call (``States.Xxx(...)``), valid or not."""
    if not isinstance(value, str):
        return False
    try:
        from engine.asl.intrinsics import is_intrinsic
    except ImportError:
        return re.match(r"\s*States\.[A-Za-z0-9]+\s*\(", value) is not None
    return bool(is_intrinsic(value))


def intrinsic_error(value: str) -> str | None:
    """Why `value` is not a valid intrinsic call, or None when it is."""
    try:
        from engine.asl.intrinsics import validate_intrinsic
    except ImportError:
        return _local_intrinsic_error(value)
    result = validate_intrinsic(value)
    return None if result is None else str(result)


class _Malformed(Exception):
    pass


def _local_intrinsic_error(value: str) -> str | None:
    try:
        end = _call_end(value, _skip_spaces(value, 0), depth=1)
        if _skip_spaces(value, end) != len(value):
            raise _Malformed("unexpected text after the call")
    except _Malformed as error:
        return str(error) or "malformed intrinsic function call"
    return None


def _skip_spaces(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def _call_end(text: str, start: int, *, depth: int) -> int:
    if depth > MAX_INTRINSIC_NESTING:
        raise _Malformed(f"intrinsic functions nest at most {MAX_INTRINSIC_NESTING} levels")
    name = re.compile(r"States\.[A-Za-z0-9]+").match(text, start)
    if name is None or name.group() not in INTRINSIC_FUNCTIONS:
        raise _Malformed("unknown intrinsic function")
    position = _skip_spaces(text, name.end())
    if position >= len(text) or text[position] != "(":
        raise _Malformed("expected '('")
    position = _skip_spaces(text, position + 1)
    if position < len(text) and text[position] == ")":
        return position + 1
    while True:
        position = _skip_spaces(text, _argument_end(text, position, depth=depth))
        if position < len(text) and text[position] == ",":
            position = _skip_spaces(text, position + 1)
            continue
        if position < len(text) and text[position] == ")":
            return position + 1
        raise _Malformed("expected ',' or ')'")


_NUMBER: Final = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_LITERAL: Final = re.compile(r"(null|true|false)\b")


def _argument_end(text: str, start: int, *, depth: int) -> int:
    if start >= len(text):
        raise _Malformed("missing argument")
    char = text[start]
    if char == "'":
        return _string_end(text, start + 1)
    if char == "$":
        return _path_argument_end(text, start)
    if text.startswith("States.", start):
        return _call_end(text, start, depth=depth + 1)
    for pattern in (_NUMBER, _LITERAL):
        match = pattern.match(text, start)
        if match is not None:
            return match.end()
    raise _Malformed("invalid argument")


def _string_end(text: str, start: int) -> int:
    """End of a single-quoted literal; only ``\\'``, ``\\{``, ``\\}`` and ``\\\\`` escape."""
    position = start
    while position < len(text):
        char = text[position]
        if char == "\\":
            if position + 1 >= len(text) or text[position + 1] not in "'{}\\":
                raise _Malformed("illegal escape sequence in a string argument")
            position += 2
        elif char == "'":
            return position + 1
        else:
            position += 1
    raise _Malformed("unterminated string argument")


def _path_argument_end(text: str, start: int) -> int:
    depth, quote, position = 0, "", start
    while position < len(text):
        char = text[position]
        if quote:
            if char == "\\":
                position += 1
            elif char == quote:
                quote = ""
        elif char in "'\"" and depth > 0:
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif depth == 0 and (char in ",)" or char.isspace()):
            break
        position += 1
    if not is_path(text[start:position]):
        raise _Malformed("invalid path argument")
    return position


def is_payload_value(value: Any) -> bool:
    """What a ``"key.$"`` of a payload template may hold: a path, a context path, a variable
    path, or a valid intrinsic call."""
    if not isinstance(value, str):
        return False
    if value.strip().startswith("$"):
        return is_path(value)
    return is_intrinsic_call(value) and intrinsic_error(value) is None


# --- timestamps and names ------------------------------------------------------------------

_RFC3339: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})"
)


def is_timestamp(value: Any) -> bool:
    """An RFC 3339 timestamp as AWS accepts it (uppercase T, Z or a numeric offset)."""
    if not isinstance(value, str):
        return False
    try:
        from engine.asl.timestamps import parse_timestamp
    except ImportError:
        return _RFC3339.fullmatch(value) is not None
    return parse_timestamp(value) is not None


def is_variable_name(name: str) -> bool:
    """Unicode identifier characters, at most 80 of them, and not the reserved ``states``
    (reference V2). A part of a variable (``x.y``, ``x[2]``) cannot be assigned."""
    return (
        name.isidentifier() and len(name) <= MAX_VARIABLE_NAME_LENGTH and name != RESERVED_VARIABLE
    )
