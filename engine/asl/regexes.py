"""Regular expressions that come from definitions, run under the step budget.

A pattern written in a definition (a JSONata ``/.../`` literal used by ``$match``,
``$contains``, ``$replace``, ``$split``; a JSONPath filter's ``=~``) is matched against
execution data, so a pattern that backtracks catastrophically (``(a|aa)+$`` on a long run of
``a``) must not hold a worker. Patterns are compiled with the `regex` package rather than
`re`: it accepts `re`'s syntax (its VERSION0 mode is `re`-compatible, so no definition
changes meaning), defuses many classic catastrophic shapes outright (``(a+)+$`` fails fast)
and takes a ``timeout=`` on every match call, which is set to what is left of the current
step's budget (engine/asl/budget.py). A match that times out raises `BudgetExceeded`.
(google-re2 would guarantee linear time but refuses backreferences and lookarounds, which
JSONata's JavaScript regular expressions allow; see docs/reliability.md.)

`BoundedPattern` offers the methods jsonata-python's regex-engine protocol calls (search,
finditer, sub, split) and `fullmatch` for JSONPath.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Final, TypeVar

import regex
from jsonata.regex_engine import RegexFlags

from engine.asl import budget

#: A match with no step budget current (validation, tools) still stops after this long.
UNBUDGETED_TIMEOUT: Final = 5.0

_WHERE: Final = "a regular expression"

_T = TypeVar("_T")


class BoundedPattern:
    """A compiled pattern whose every match is bounded by the current step budget."""

    __slots__ = ("compiled", "pattern")

    def __init__(self, source: str, flags: int = 0) -> None:
        self.compiled: regex.Pattern[str] = regex.compile(source, flags | regex.VERSION0)
        self.pattern = source

    def __repr__(self) -> str:
        return f"BoundedPattern({self.pattern!r})"

    def search(self, string: str) -> regex.Match[str] | None:
        return _bounded(lambda t: self.compiled.search(string, timeout=t))

    def fullmatch(self, string: str) -> regex.Match[str] | None:
        return _bounded(lambda t: self.compiled.fullmatch(string, timeout=t))

    def finditer(self, string: str) -> Iterator[regex.Match[str]]:
        # The library consumes the iterator lazily: the timeout runs from this call, and a
        # timeout while it iterates is turned into BudgetExceeded all the same.
        found = _bounded(lambda t: self.compiled.finditer(string, timeout=t))
        try:
            yield from found
        except TimeoutError:
            raise _exceeded() from None

    def sub(self, repl: Any, string: str, count: int = 0) -> str:
        return _bounded(lambda t: self.compiled.sub(repl, string, count=count, timeout=t))

    def split(self, string: str, maxsplit: int = 0) -> list[str | Any]:
        return _bounded(lambda t: self.compiled.split(string, maxsplit=maxsplit, timeout=t))


def _exceeded() -> budget.BudgetExceeded:
    current = budget.current()
    return budget.BudgetExceeded(
        current.seconds if current is not None else UNBUDGETED_TIMEOUT, _WHERE
    )


def _bounded(call: Callable[[float], _T]) -> _T:
    current = budget.current()
    timeout = UNBUDGETED_TIMEOUT if current is None else current.remaining()
    if timeout <= 0:
        raise _exceeded()
    try:
        return call(timeout)
    except TimeoutError:
        raise _exceeded() from None


def compile_pattern(source: str, flags: int = 0) -> BoundedPattern:
    """`source` compiled as `re` would (raises `regex.error`, a subclass of ValueError...
    not of `re.error`: callers catch `regex.error`)."""
    return BoundedPattern(source, flags)


def jsonata_engine(pattern: str, flags: RegexFlags) -> BoundedPattern:
    """jsonata-python's `regex_engine` hook: a JSONata regex literal, flags translated."""
    native = 0
    if flags.case_insensitive:
        native |= regex.IGNORECASE
    if flags.multiline:
        native |= regex.MULTILINE
    return BoundedPattern(pattern, native)


IGNORECASE: Final = regex.IGNORECASE
MULTILINE: Final = regex.MULTILINE
DOTALL: Final = regex.DOTALL
error: Final = regex.error
