"""The syntax of intrinsic functions: `States.Format('{}', $.x)` parsed into a `Call`, with
the checks AWS makes when a state machine is created (known name, number of arguments, at
most 10 calls deep, quoting and escapes). Evaluation: engine/asl/intrinsics.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, TypeAlias

from engine.asl import jsonpath

__all__ = [
    "FUNCTIONS",
    "Arg",
    "Call",
    "IntrinsicSyntaxError",
    "LiteralArg",
    "PathArg",
    "StringArg",
    "is_intrinsic",
    "parse",
    "validate_intrinsic",
]


class IntrinsicSyntaxError(ValueError):
    """The string is not a valid intrinsic function call."""


# --------------------------------------------------------------------------------------
# AST
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StringArg:
    """A 'quoted string'. `pieces` is the text split at each unescaped `{}` (None marks a
    placeholder), which only `States.Format` uses: an escaped `\\{\\}` is not one."""

    value: str
    pieces: tuple[str | None, ...]


@dataclass(frozen=True, slots=True)
class LiteralArg:
    """A number, `true`, `false` or `null`."""

    value: Any


@dataclass(frozen=True, slots=True)
class PathArg:
    """`$.x` (state data), `$$.x` (Context Object) or `$var.x` (variable)."""

    path: str


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Arg, ...]


Arg: TypeAlias = StringArg | LiteralArg | PathArg | Call

#: Name -> (fewest, most) arguments; None: no upper bound.
FUNCTIONS: Final[Mapping[str, tuple[int, int | None]]] = {
    "States.Format": (1, None),
    "States.StringToJson": (1, 1),
    "States.JsonToString": (1, 1),
    "States.Array": (0, None),
    "States.ArrayPartition": (2, 2),
    "States.ArrayContains": (2, 2),
    "States.ArrayRange": (3, 3),
    "States.ArrayGetItem": (2, 2),
    "States.ArrayLength": (1, 1),
    "States.ArrayUnique": (1, 1),
    "States.Base64Encode": (1, 1),
    "States.Base64Decode": (1, 1),
    "States.Hash": (2, 2),
    "States.JsonMerge": (3, 3),
    "States.MathRandom": (2, 3),
    "States.MathAdd": (2, 2),
    "States.StringSplit": (2, 2),
    "States.UUID": (0, 0),
}

#: "You can nest up to 10 intrinsic functions within a field" (AWS developer guide).
MAX_NESTING: Final = 10

_ESCAPABLE: Final = frozenset("'{}\\")
_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_NUMBER: Final = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_KEYWORDS: Final = {"true": True, "false": False, "null": None}
_LOOKS_LIKE_CALL: Final = re.compile(r"\s*States\.[A-Za-z0-9_.]*\s*\(")

# --------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, message: str) -> IntrinsicSyntaxError:
        return IntrinsicSyntaxError(f"Invalid intrinsic function call '{self.text}': {message}")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def expect(self, char: str) -> None:
        self.skip_ws()
        if self.peek() != char:
            found = repr(self.peek()) if self.peek() else "the end"
            raise self.fail(f"expected '{char}' at position {self.pos}, found {found}")
        self.pos += 1

    def call(self, depth: int) -> Call:
        if depth > MAX_NESTING:
            raise self.fail(f"intrinsic functions can be nested at most {MAX_NESTING} deep")
        self.skip_ws()
        found = _NAME.match(self.text, self.pos)
        if found is None:
            raise self.fail(f"expected a function name at position {self.pos}")
        name = found.group(0)
        if name not in FUNCTIONS:
            raise self.fail(f"unknown intrinsic function '{name}'")
        self.pos = found.end()
        self.expect("(")
        args = self.arguments(depth)
        fewest, most = FUNCTIONS[name]
        if len(args) < fewest or (most is not None and len(args) > most):
            raise self.fail(f"{name} takes {_arity_text(fewest, most)}, got {len(args)}")
        if name == "States.Format" and isinstance(args[0], LiteralArg):
            raise self.fail("the first argument of States.Format must be a string")
        return Call(name, tuple(args))

    def arguments(self, depth: int) -> list[Arg]:
        args: list[Arg] = []
        self.skip_ws()
        if self.peek() == ")":
            self.pos += 1
            return args
        while True:
            args.append(self.argument(depth))
            self.skip_ws()
            if self.peek() == ",":
                self.pos += 1
                continue
            self.expect(")")
            return args

    def argument(self, depth: int) -> Arg:
        self.skip_ws()
        char = self.peek()
        if char == "'":
            return self.string()
        if char == "$":
            return self.path()
        if char == "-" or "0" <= char <= "9":
            return self.number()
        word = _NAME.match(self.text, self.pos)
        if word is not None and word.group(0) in _KEYWORDS:
            self.pos = word.end()
            return LiteralArg(_KEYWORDS[word.group(0)])
        if word is not None and word.group(0).startswith("States."):
            return self.call(depth + 1)
        raise self.fail(f"invalid argument at position {self.pos}")

    def string(self) -> StringArg:
        """'...' with the four escapes AWS defines; any other backslash is an error."""
        self.pos += 1
        chars: list[tuple[str, bool]] = []  # (character, escaped)
        while True:
            if self.pos >= len(self.text):
                raise self.fail("unterminated string literal")
            char = self.text[self.pos]
            if char == "'":
                self.pos += 1
                break
            if char == "\\":
                following = self.text[self.pos + 1 : self.pos + 2]
                if following not in _ESCAPABLE or not following:
                    shown = following or "end of input"
                    raise self.fail(f"invalid escape sequence '\\{shown}' in a string literal")
                chars.append((following, True))
                self.pos += 2
                continue
            chars.append((char, False))
            self.pos += 1
        return StringArg("".join(c for c, _ in chars), _pieces(chars))

    def number(self) -> LiteralArg:
        found = _NUMBER.match(self.text, self.pos)
        if found is None:
            raise self.fail(f"invalid number at position {self.pos}")
        self.pos = found.end()
        text = found.group(0)
        return LiteralArg(float(text) if found.group(1) or found.group(2) else int(text))

    def path(self) -> PathArg:
        """A path runs to the first `,`, `)` or blank outside brackets and quotes."""
        start = self.pos
        depth = 0
        quote = ""
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if quote:
                if char == "\\":
                    self.pos += 1
                elif char == quote:
                    quote = ""
            elif char in ("'", '"') and depth:
                quote = char
            elif char == "[":
                depth += 1
            elif char == "]":
                depth -= 1
            elif depth == 0 and (char in ",)" or char.isspace()):
                break
            self.pos += 1
        text = self.text[start : self.pos]
        if not jsonpath.is_valid_path(text):
            raise self.fail(f"invalid path '{text}'")
        return PathArg(text)


def _pieces(chars: list[tuple[str, bool]]) -> tuple[str | None, ...]:
    pieces: list[str | None] = []
    text: list[str] = []
    i = 0
    while i < len(chars):
        char, escaped = chars[i]
        if char == "{" and not escaped and i + 1 < len(chars) and chars[i + 1] == ("}", False):
            pieces.extend(["".join(text), None])
            text = []
            i += 2
            continue
        text.append(char)
        i += 1
    pieces.append("".join(text))
    return tuple(pieces)


def _arity_text(fewest: int, most: int | None) -> str:
    if most is None:
        return f"at least {fewest} argument{'s' if fewest != 1 else ''}"
    if fewest == most:
        return f"{fewest} argument{'s' if fewest != 1 else ''}"
    return f"{fewest} to {most} arguments"


@lru_cache(maxsize=2048)
def parse(expr: str) -> Call:
    """Parse an intrinsic call once (cached). Raises `IntrinsicSyntaxError` (a ValueError)
    for bad syntax, an unknown function or a wrong number of arguments."""
    parser = _Parser(expr)
    call = parser.call(depth=1)
    parser.skip_ws()
    if parser.pos != len(expr):
        raise parser.fail(f"unexpected text after the call at position {parser.pos}")
    return call


def is_intrinsic(expr: str) -> bool:
    """Whether a `.$` value is meant as an intrinsic call ("States.Something(...")."""
    return isinstance(expr, str) and _LOOKS_LIKE_CALL.match(expr) is not None


def validate_intrinsic(expr: str) -> str | None:
    """The reason `expr` is not a valid intrinsic call, or None when it is."""
    try:
        parse(expr)
    except IntrinsicSyntaxError as exc:
        return str(exc)
    return None
