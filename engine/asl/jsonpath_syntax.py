"""The syntax of Step Functions' JSONPath: the compiled form of a path and its parser.

`compile_path` parses a path string once (cached) into `_Compiled` segments that
`engine.asl.jsonpath` evaluates. Jayway's grammar, the subset state machines use (see the
table in `engine.asl.jsonpath`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, TypeAlias

from engine.asl import regexes


class PathNotFound(Exception):
    """A definite path selected nothing. Internal: callers turn it into `States.Runtime`
    with the cause their field calls for. `detail` is Jayway's message (AWS quotes it)."""

    def __init__(self, path: str, detail: str = "") -> None:
        super().__init__(detail or f"No results for path: {path}")
        self.path = path
        self.detail = detail or f"No results for path: {path}"


class JsonPathSyntaxError(ValueError):
    """The string is not a path Step Functions accepts."""


# --------------------------------------------------------------------------------------
# Compiled form
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Names:
    """`.a`, `['a']` or `['a','b']`."""

    names: tuple[str, ...]
    quote: str = "'"

    def fragment(self) -> str:
        q = self.quote
        return "[" + ",".join(f"{q}{n}{q}" for n in self.names) + "]"


@dataclass(frozen=True, slots=True)
class _Indexes:
    """`[0]`, `[-1]` or `[0,2]`."""

    indexes: tuple[int, ...]

    def fragment(self) -> str:
        return "[" + ",".join(str(i) for i in self.indexes) + "]"


@dataclass(frozen=True, slots=True)
class _Slice:
    start: int | None
    end: int | None
    step: int | None

    def fragment(self) -> str:
        def part(v: int | None) -> str:
            return "" if v is None else str(v)

        tail = "" if self.step is None else f":{self.step}"
        return f"[{part(self.start)}:{part(self.end)}{tail}]"


@dataclass(frozen=True, slots=True)
class _Wildcard:
    def fragment(self) -> str:
        return "[*]"


@dataclass(frozen=True, slots=True)
class _Filter:
    predicate: _Expr

    def fragment(self) -> str:
        return "[?]"


@dataclass(frozen=True, slots=True)
class _Descent:
    inner: _Names | _Indexes | _Slice | _Wildcard | _Filter

    def fragment(self) -> str:
        return ".." + self.inner.fragment()


@dataclass(frozen=True, slots=True)
class _Length:
    def fragment(self) -> str:
        return ".length()"


_Segment: TypeAlias = _Names | _Indexes | _Slice | _Wildcard | _Filter | _Descent | _Length


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A parsed path. `root` is "$" (state data), "$$" (Context Object) or a variable name."""

    text: str
    root: str
    variable: str | None
    segments: tuple[_Segment, ...]
    definite: bool
    reference: bool

    def fragment(self, upto: int | None = None) -> str:
        """Jayway's normalized form, as quoted in its messages: `$['a'][0]`."""
        segs = self.segments if upto is None else self.segments[:upto]
        return "$" + "".join(s.fragment() for s in segs)


# Filter expressions -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Operand:
    """`@...` (current node), `$...` (document root) or a literal."""

    kind: str  # "@", "$" or "literal"
    path: _Compiled | None = None
    value: Any = None


@dataclass(frozen=True, slots=True)
class _Compare:
    left: _Operand
    op: str | None  # None: existence test of `left`
    right: _Operand | None


@dataclass(frozen=True, slots=True)
class _Not:
    inner: _Expr


@dataclass(frozen=True, slots=True)
class _Bool:
    op: str  # "&&" or "||"
    parts: tuple[_Expr, ...]


_Expr: TypeAlias = _Compare | _Not | _Bool

#: Marks "no value" in filter operands (a missing member is not JSON null).
_UNDEFINED: Final = object()

# --------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------

_NUMBER: Final = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_INTEGER: Final = re.compile(r"\s*-?[0-9]+\s*")
#: Characters that end a dot-notation member name (Jayway: space, '.', '[', '(').
_NAME_END: Final = frozenset(" \t\r\n.[(")
#: Inside filters a name also ends at an operator or a closing parenthesis.
_FILTER_NAME_END: Final = _NAME_END | frozenset("=!<>&|),]")
#: What ends a path operand inside a filter (outside brackets).
_OPERAND_END: Final = frozenset(" \t\r\n=!<>&|),(")


class _Parser:
    """Recursive-descent parser over one path string (or the path inside a filter)."""

    def __init__(self, text: str, in_filter: bool = False) -> None:
        self.text = text
        self.pos = 0
        self.name_end = _FILTER_NAME_END if in_filter else _NAME_END

    # -- helpers ---------------------------------------------------------------------

    def fail(self, message: str) -> JsonPathSyntaxError:
        return JsonPathSyntaxError(f"Invalid JSONPath '{self.text}': {message}")

    def peek(self, offset: int = 0) -> str:
        i = self.pos + offset
        return self.text[i] if i < len(self.text) else ""

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1

    def expect(self, char: str) -> None:
        self.skip_ws()
        if self.peek() != char:
            found = self.peek() or "end of path"
            raise self.fail(f"expected '{char}' at position {self.pos}, found {found!r}")
        self.pos += 1

    # -- segments --------------------------------------------------------------------

    def segments(self) -> list[_Segment]:
        segs: list[_Segment] = []
        while self.pos < len(self.text):
            char = self.peek()
            if char == ".":
                segs.append(self.dot_segment())
            elif char == "[":
                segs.append(self.bracket())
            elif segs and not isinstance(segs[-1], _Length) and char not in self.name_end:
                # Jayway reads a name right after `]` as a member (`$.a[0]b` is
                # `$.a[0].b`); definitions deployed on AWS rely on it.
                segs.append(self.dot_member())
            else:
                raise self.fail(f"unexpected character {char!r} at position {self.pos}")
            if isinstance(segs[-1], _Length) and self.pos < len(self.text):
                raise self.fail("length() must be the last segment")
        return segs

    def dot_segment(self) -> _Segment:
        if self.peek(1) == ".":
            self.pos += 2
            if not self.peek():
                raise self.fail("a path must not end with '..'")
            inner = self.bracket() if self.peek() == "[" else self.dot_member()
            if isinstance(inner, _Length | _Descent):
                raise self.fail("'..' must be followed by a member, index or wildcard")
            return _Descent(inner)
        self.pos += 1
        char = self.peek()
        if not char:
            raise self.fail("a path must not end with '.'")
        if char == "[":  # Jayway accepts `$.['a b']`
            return self.bracket()
        return self.dot_member()

    def dot_member(self) -> _Segment:
        if self.peek() == "*":
            self.pos += 1
            return _Wildcard()
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in self.name_end:
            self.pos += 1
        name = self.text[start : self.pos]
        if not name:
            raise self.fail(f"empty member name at position {start}")
        if self.peek() == "(":
            return self.function(name)
        return _Names((name,))

    def function(self, name: str) -> _Length:
        self.pos += 1
        self.expect(")")
        if name != "length":
            raise self.fail(f"unsupported function '{name}()'")
        return _Length()

    def bracket(self) -> _Segment:
        self.pos += 1  # '['
        self.skip_ws()
        char = self.peek()
        if char == "?":
            return self.filter()
        if char == "*":
            self.pos += 1
            self.expect("]")
            return _Wildcard()
        if char in ("'", '"'):
            return self.quoted_names()
        return self.indexes_or_slice()

    def quoted_names(self) -> _Names:
        names: list[str] = []
        quote = self.peek()
        while True:
            self.skip_ws()
            delimiter = self.peek()
            if delimiter not in ("'", '"'):
                raise self.fail(f"expected a quoted member name at position {self.pos}")
            names.append(self.quoted(delimiter))
            self.skip_ws()
            if self.peek() == ",":
                self.pos += 1
                continue
            self.expect("]")
            return _Names(tuple(names), quote)

    def quoted(self, delimiter: str) -> str:
        """A bracket member name. A backslash only stops the next character from ending
        the name and stays in it: AWS resolves `$['a\\"b']` to the member `a\\"b`."""
        start = self.pos + 1
        i = start
        while i < len(self.text):
            char = self.text[i]
            if char == "\\":
                i += 2
                continue
            if char == delimiter:
                self.pos = i + 1
                return self.text[start:i]
            i += 1
        raise self.fail("unterminated quoted member name")

    def indexes_or_slice(self) -> _Indexes | _Slice:
        end = self.text.find("]", self.pos)
        if end < 0:
            raise self.fail("missing ']'")
        body = self.text[self.pos : end]
        self.pos = end + 1
        if ":" in body:
            return self.slice(body)
        parts = body.split(",")
        if not all(_INTEGER.fullmatch(part) for part in parts):
            raise self.fail(f"invalid array index '[{body}]'")
        return _Indexes(tuple(int(part) for part in parts))

    def slice(self, body: str) -> _Slice:
        parts = [p.strip() for p in body.split(":")]
        if len(parts) > 3 or not all(not p or _INTEGER.fullmatch(p) for p in parts):
            raise self.fail(f"invalid slice '[{body}]'")
        values = [int(p) if p else None for p in parts]
        step = values[2] if len(values) == 3 else None
        if step == 0:
            raise self.fail("slice step cannot be zero")
        return _Slice(values[0], values[1], step)

    # -- filters ---------------------------------------------------------------------

    def filter(self) -> _Filter:
        self.pos += 1  # '?'
        self.expect("(")
        expr = self.or_expr()
        self.expect(")")
        self.expect("]")
        return _Filter(expr)

    def or_expr(self) -> _Expr:
        parts = [self.and_expr()]
        while self.match("||"):
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else _Bool("||", tuple(parts))

    def and_expr(self) -> _Expr:
        parts = [self.unary()]
        while self.match("&&"):
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else _Bool("&&", tuple(parts))

    def unary(self) -> _Expr:
        self.skip_ws()
        if self.peek() == "!" and self.peek(1) != "=":
            self.pos += 1
            return _Not(self.unary())
        if self.peek() == "(":
            self.pos += 1
            expr = self.or_expr()
            self.expect(")")
            return expr
        return self.comparison()

    def match(self, token: str) -> bool:
        self.skip_ws()
        if self.text.startswith(token, self.pos):
            self.pos += len(token)
            return True
        return False

    def comparison(self) -> _Compare:
        left = self.operand()
        self.skip_ws()
        for op in ("==", "!=", "<=", ">=", "=~", "<", ">", "nin ", "in "):
            if self.text.startswith(op, self.pos):
                self.pos += len(op)
                return _Compare(left, op.strip(), self.operand())
        if left.kind == "literal" and not isinstance(left.value, bool):
            raise self.fail("a filter needs a comparison or an @/$ path")
        return _Compare(left, None, None)

    def operand(self) -> _Operand:
        self.skip_ws()
        char = self.peek()
        if char in ("@", "$"):
            return self.path_operand(char)
        if char in ("'", '"'):
            text = self.quoted(char)
            return _Operand("literal", value=text.replace("\\" + char, char))
        if char == "/":
            return _Operand("literal", value=self.regex())
        if char == "[":
            return _Operand("literal", value=self.array_literal())
        for word, value in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return _Operand("literal", value=value)
        found = _NUMBER.match(self.text, self.pos)
        if found is None:
            raise self.fail(f"invalid filter operand at position {self.pos}")
        self.pos = found.end()
        number = found.group(0)
        is_float = found.group(1) or found.group(2)
        return _Operand("literal", value=float(number) if is_float else int(number))

    def path_operand(self, root: str) -> _Operand:
        """`@.a[0]` or `$.b` inside a filter: runs to the first operator at bracket depth 0."""
        start = self.pos
        self.pos += 1
        depth = 0
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in ("'", '"') and depth:
                self.quoted(char)
                continue
            if char == "(" and self.peek(1) == ")":  # `.length()`
                self.pos += 2
                continue
            if char == "[":
                depth += 1
            elif char == "]":
                if not depth:
                    break
                depth -= 1
            elif not depth and char in _OPERAND_END:
                break
            self.pos += 1
        text = self.text[start : self.pos]
        sub = _Parser(text, in_filter=True)
        sub.pos = 1
        segs = tuple(sub.segments())
        compiled = _Compiled(text, root, None, segs, _definite(segs), False)
        return _Operand(root, path=compiled)

    def regex(self) -> regexes.BoundedPattern:
        end = self.pos + 1
        while end < len(self.text) and self.text[end] != "/":
            end += 2 if self.text[end] == "\\" else 1
        if end >= len(self.text):
            raise self.fail("unterminated regular expression")
        source = self.text[self.pos + 1 : end]
        self.pos = end + 1
        flags = 0
        while self.peek() in ("i", "m", "s") and self.peek():
            flags |= {
                "i": regexes.IGNORECASE, "m": regexes.MULTILINE, "s": regexes.DOTALL
            }[self.peek()]
            self.pos += 1
        try:
            # Matched against execution data under the step budget (engine/asl/regexes.py).
            return regexes.compile_pattern(source, flags)
        except regexes.error as exc:
            raise self.fail(f"invalid regular expression: {exc}") from None

    def array_literal(self) -> list[Any]:
        depth, end = 0, self.pos
        while end < len(self.text):
            depth += {"[": 1, "]": -1}.get(self.text[end], 0)
            end += 1
            if depth == 0:
                break
        source = self.text[self.pos : end].replace("'", '"')
        self.pos = end
        try:
            value = json.loads(source)
        except ValueError:
            raise self.fail(f"invalid array literal {source}") from None
        assert isinstance(value, list)
        return value


def _definite(segments: tuple[_Segment, ...]) -> bool:
    """Jayway's rule: single members, single indexes, and a member merge at the very end."""
    last = len(segments) - 1
    for i, seg in enumerate(segments):
        if isinstance(seg, _Names):
            if len(seg.names) > 1 and i != last:
                return False
        elif isinstance(seg, _Indexes):
            if len(seg.indexes) > 1:
                return False
        elif not isinstance(seg, _Length):
            return False
    return True


def _is_reference(segments: tuple[_Segment, ...]) -> bool:
    return all(
        (isinstance(s, _Names) and len(s.names) == 1)
        or (isinstance(s, _Indexes) and len(s.indexes) == 1)
        for s in segments
    )


_VARIABLE: Final = re.compile(r"\$([^\W\d][\w]*)")


@lru_cache(maxsize=4096)
def compile_path(path: str) -> _Compiled:
    if isinstance(path, str):
        # Jayway's compiler (Step Functions' JSONPath) trims the path first: a definition
        # written with "$$.Execution.Name " runs on AWS, the space ignored.
        path = path.strip()
    if not isinstance(path, str) or not path.startswith("$"):
        raise JsonPathSyntaxError(f"Invalid JSONPath '{path}': a path must start with '$'")
    variable: str | None = None
    if path.startswith("$$"):
        root, start = "$$", 2
    else:
        found = _VARIABLE.match(path)
        if found is not None:
            variable = found.group(1)
            root, start = variable, found.end()
        else:
            root, start = "$", 1
    parser = _Parser(path)
    parser.pos = start
    segments = tuple(parser.segments())
    return _Compiled(path, root, variable, segments, _definite(segments), _is_reference(segments))
