"""JSONPath as Step Functions evaluates it (ASL spec "Paths"; AWS runs Jayway JsonPath).

Supported syntax (the subset of Jayway that state machines use):

    $  $$  $var                    root: state data, Context Object, workflow variable
    .name  ['name']  ["name"]      child member (bracket names may hold any character)
    ['a','b']                      several members (at the end of a path: one merged object)
    [n]  [-n]  [n,m]               array index(es); negative counts from the end
    [start:end]  [start:end:step]  array slice
    .*  [*]                        every member / element
    ..name  ..*  ..[n]             recursive descent
    [?(@.x > 1 && @.y == 'a')]     filter: == != < <= > >= =~ in nin, && || !, @ and $ operands
    .length()                      length of an array or object (last segment only)

A *definite* path (only single members and single indexes) selects one node or fails; an
*indefinite* path selects a list of nodes, possibly empty. Failures of definite paths carry
Jayway's own wording ("No results for path: $['x']", "Missing property in path $['a']")
because AWS quotes it verbatim in `States.Runtime` causes.

Every path string is compiled once (`functools.lru_cache`): the interpreter evaluates the
same few paths on every state transition.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from engine.asl import errors, regexes
from engine.asl.failure import StatesFailure
from engine.asl.jsonpath_syntax import (
    _UNDEFINED,
    JsonPathSyntaxError,
    PathNotFound,
    _Bool,
    _Compiled,
    _Descent,
    _Expr,
    _Filter,
    _Indexes,
    _Length,
    _Names,
    _Not,
    _Operand,
    _Segment,
    _Slice,
    _Wildcard,
)
from engine.asl.jsonpath_syntax import compile_path as _compile
from engine.asl.jsonvalues import _is_number, compact_json, copy_json, java_double, json_equal

__all__ = [
    "JsonPathSyntaxError",
    "PathNotFound",
    "apply_input_path",
    "apply_output_path",
    "apply_result_path",
    "compact_json",
    "copy_json",
    "get_path",
    "is_definite",
    "is_reference_path",
    "is_valid_path",
    "java_double",
    "json_equal",
    "normalized_path",
]


# --------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------

# Jayway's default provider. The corpus records no message naming AWS's provider, so the
# class names in "Expected to find an object ..." are Jayway defaults, not verified text.
_PROVIDER: Final = "com.jayway.jsonpath.spi.json.JsonSmartJsonProvider"


def _java_class(value: Any) -> str:
    """The class Jayway names in "Expected to find an object ..." messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "java.lang.Boolean"
    if isinstance(value, int):
        return "java.lang.Integer" if -(2**31) <= value < 2**31 else "java.lang.Long"
    if isinstance(value, float):
        return "java.lang.Double"
    if isinstance(value, str):
        return "java.lang.String"
    if isinstance(value, list):
        return "net.minidev.json.JSONArray"
    return "net.minidev.json.JSONObject"


def _java_text(value: Any) -> str:
    return value if isinstance(value, str) else compact_json(value)


def _length(value: Any) -> Any:
    # Jayway's length() counts arrays and objects; anything else has no length.
    return len(value) if isinstance(value, list | dict) else None


def _select_definite(cp: _Compiled, node: Any) -> Any:
    """Walk a definite path, failing the way Jayway does at the first miss."""
    current = "$"
    last = len(cp.segments) - 1
    for i, seg in enumerate(cp.segments):
        if isinstance(seg, _Names):
            if not isinstance(node, dict):
                raise PathNotFound(
                    cp.text,
                    f"Expected to find an object with property {seg.fragment()} in path "
                    f"{current} but found '{_java_class(node)}'. This is not a json object "
                    f"according to the JsonProvider: '{_PROVIDER}'.",
                )
            if len(seg.names) > 1:  # Jayway merges a final multi-member selection
                return {name: node[name] for name in seg.names if name in node}
            name = seg.names[0]
            if name not in node:
                if i == last:
                    raise PathNotFound(cp.text, f"No results for path: {cp.fragment()}")
                raise PathNotFound(cp.text, f"Missing property in path {current}['{name}']")
            node = node[name]
            current = f"{current}['{name}']"
        elif isinstance(seg, _Indexes):
            if node is None:
                raise PathNotFound(cp.text, f"The path {current} is null")
            if not isinstance(node, list):
                rest = "".join(s.fragment() for s in cp.segments[i:])
                raise PathNotFound(
                    cp.text,
                    f"Filter: {rest} can only be applied to arrays. "
                    f"Current context is: {_java_text(node)}",
                )
            index = seg.indexes[0]
            effective = index + len(node) if index < 0 else index
            if not 0 <= effective < len(node):
                raise PathNotFound(cp.text, f"No results for path: {cp.fragment()}")
            node = node[effective]
            current = f"{current}[{index}]"
        else:  # _Length: the only other segment a definite path holds
            return _length(node)
    return node


def _children(seg: _Segment, node: Any, root: Any, last: bool) -> Iterator[Any]:
    """The nodes one segment selects from one node, skipping what is missing."""
    if isinstance(seg, _Names):
        if isinstance(node, dict):
            if last and len(seg.names) > 1:
                yield {name: node[name] for name in seg.names if name in node}
            else:
                yield from (node[name] for name in seg.names if name in node)
    elif isinstance(seg, _Indexes):
        if isinstance(node, list):
            size = len(node)
            for index in seg.indexes:
                effective = index + size if index < 0 else index
                if 0 <= effective < size:
                    yield node[effective]
    elif isinstance(seg, _Slice):
        if isinstance(node, list):
            yield from node[seg.start : seg.end : seg.step]
    elif isinstance(seg, _Wildcard):
        if isinstance(node, dict):
            yield from node.values()
        elif isinstance(node, list):
            yield from node
    elif isinstance(seg, _Filter):
        if isinstance(node, list):
            yield from (item for item in node if _accept(seg.predicate, item, root))
        elif isinstance(node, dict) and _accept(seg.predicate, node, root):
            yield node  # Jayway tests an object itself
    elif isinstance(seg, _Descent):
        yield from _descend(seg.inner, node, root)


def _descend(inner: _Segment, node: Any, root: Any) -> Iterator[Any]:
    """`..`: apply `inner` at this node, then at every descendant (pre-order, as Jayway)."""
    if isinstance(node, dict):
        yield from _children(inner, node, root, last=False)
        for value in node.values():
            if isinstance(value, dict | list):
                yield from _descend(inner, value, root)
    elif isinstance(node, list):
        if not isinstance(inner, _Filter):  # a filter tests objects, met as descendants
            yield from _children(inner, node, root, last=False)
        for value in node:
            if isinstance(value, dict | list):
                yield from _descend(inner, value, root)


def _select_all(segments: tuple[_Segment, ...], node: Any, root: Any) -> list[Any]:
    nodes = [node]
    last = len(segments) - 1
    for i, seg in enumerate(segments):
        nodes = [child for n in nodes for child in _children(seg, n, root, i == last)]
    return nodes


def _evaluate(cp: _Compiled, node: Any, root: Any) -> Any:
    if cp.definite:
        return _select_definite(cp, node)
    if isinstance(cp.segments[-1], _Length):
        # Jayway applies a function after an indefinite path to the list of matches.
        return len(_select_all(cp.segments[:-1], node, root))
    return _select_all(cp.segments, node, root)


# Filters ------------------------------------------------------------------------------


def _operand_value(operand: _Operand, item: Any, root: Any) -> Any:
    if operand.kind == "literal":
        return operand.value
    assert operand.path is not None
    target = item if operand.kind == "@" else root
    try:
        return _evaluate(operand.path, target, root)
    except PathNotFound:
        return _UNDEFINED


_ORDERINGS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _ordered(op: str, left: Any, right: Any) -> bool:
    # Numbers order with numbers and strings with strings; any other pair is just false.
    comparable = (_is_number(left) and _is_number(right)) or (
        isinstance(left, str) and isinstance(right, str)
    )
    return comparable and _ORDERINGS[op](left, right)


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "!=":
        return not _compare("==", left, right)
    if left is _UNDEFINED or right is _UNDEFINED:
        return False
    if op == "==":
        return json_equal(left, right)
    if op == "=~":
        return (
            isinstance(left, str)
            and isinstance(right, regexes.BoundedPattern)
            and right.fullmatch(left) is not None
        )
    if op in ("in", "nin"):
        found = isinstance(right, list) and any(json_equal(left, v) for v in right)
        return found if op == "in" else isinstance(right, list) and not found
    return _ordered(op, left, right)


def _accept(expr: _Expr, item: Any, root: Any) -> bool:
    if isinstance(expr, _Bool):
        if expr.op == "&&":
            return all(_accept(p, item, root) for p in expr.parts)
        return any(_accept(p, item, root) for p in expr.parts)
    if isinstance(expr, _Not):
        return not _accept(expr.inner, item, root)
    left = _operand_value(expr.left, item, root)
    if expr.op is None:
        if expr.left.kind == "literal":
            return left is True
        # `[?(@.x)]` tests existence; an indefinite operand must select something.
        if left is _UNDEFINED:
            return False
        return expr.left.path is None or expr.left.path.definite or bool(left)
    assert expr.right is not None
    return _compare(expr.op, left, _operand_value(expr.right, item, root))


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def get_path(
    path: str,
    data: Any,
    *,
    context: Any = None,
    variables: Mapping[str, Any] | None = None,
) -> Any:
    """Evaluate `path` ("$...", "$$..." or "$var...").

    A definite path returns the node it selects or raises `PathNotFound`; an indefinite
    path returns the list of matches (`[]` when nothing matches: AWS reports no error).
    Selected values are shared with `data`, not copied: treat them as immutable.
    Raises `JsonPathSyntaxError` (a `ValueError`) for a malformed path.
    """
    cp = _compile(path)
    if cp.root == "$":
        document = data
    elif cp.root == "$$":
        document = context
    else:
        if variables is None or cp.root not in variables:
            raise PathNotFound(path, f"Variable '{cp.root}' is not defined")
        document = variables[cp.root]
    if not cp.segments:
        return document
    return _evaluate(cp, document, document)


def is_valid_path(path: str) -> bool:
    """Whether `path` is a syntactically valid Path (data, context or variable)."""
    try:
        _compile(path)
    except JsonPathSyntaxError:
        return False
    return True


def is_definite(path: str) -> bool:
    """Whether `path` selects at most one node (no wildcard, slice, filter, union or `..`).
    An invalid path is not definite."""
    try:
        return _compile(path).definite
    except JsonPathSyntaxError:
        return False


def is_reference_path(path: str) -> bool:
    """ASL Reference Path: only single-member `.`/`[]` access and single indexes."""
    try:
        return _compile(path).reference
    except JsonPathSyntaxError:
        return False


def normalized_path(path: str) -> str:
    """Jayway's bracket form of a path's selectors, e.g. `$.a.b[0]` -> `$['a']['b'][0]`
    (the root of a context or variable path is written `$`, as Jayway sees it)."""
    return _compile(path).fragment()


def _apply_path(
    path: str | None, data: Any, context: Any, variables: Mapping[str, Any] | None
) -> Any:
    if path is None:  # JSON null: the state sees (or emits) an empty object
        return {}
    try:
        return get_path(path, data, context=context, variables=variables)
    except PathNotFound as exc:
        raise StatesFailure(errors.RUNTIME, f"Invalid path '{path}' : {exc.detail}") from None


def apply_input_path(
    input_path: str | None,
    data: Any,
    *,
    context: Any = None,
    variables: Mapping[str, Any] | None = None,
) -> Any:
    """InputPath: `None` (JSON null) gives `{}`; a definite path that finds nothing fails
    with `States.Runtime` "Invalid path '$.x' : No results for path: $['x']"."""
    return _apply_path(input_path, data, context, variables)


def apply_output_path(
    output_path: str | None,
    data: Any,
    *,
    context: Any = None,
    variables: Mapping[str, Any] | None = None,
) -> Any:
    """OutputPath: same rules as InputPath."""
    return _apply_path(output_path, data, context, variables)


def _result_path_failure(result_path: str, raw_input: Any) -> StatesFailure:
    return StatesFailure(
        errors.RESULT_PATH_MATCH_FAILURE,
        f"Unable to apply ReferencePath {result_path} to input {compact_json(raw_input)}",
    )


def apply_result_path(result_path: str | None, raw_input: Any, result: Any) -> Any:
    """ResultPath: `None` keeps `raw_input`; "$" gives `result`; otherwise a deep copy of
    `raw_input` with `result` written at the reference path, intermediate objects created.

    A path that cannot be written (input or an intermediate node not an object, an index
    outside its array, a context or variable path) fails `States.ResultPathMatchFailure`.
    """
    if result_path is None:
        return raw_input
    try:
        cp = _compile(result_path)
    except JsonPathSyntaxError:
        raise _result_path_failure(result_path, raw_input) from None
    if cp.root != "$" or not cp.reference:
        raise _result_path_failure(result_path, raw_input)
    if not cp.segments:
        return result
    output = copy_json(raw_input)
    node = output
    last = len(cp.segments) - 1
    for i, seg in enumerate(cp.segments):
        value = result if i == last else None
        if isinstance(seg, _Names):
            if not isinstance(node, dict):
                raise _result_path_failure(result_path, raw_input)
            name = seg.names[0]
            if i == last:
                node[name] = value
            else:
                child = node.setdefault(name, {})
                node = child
        else:
            assert isinstance(seg, _Indexes)
            index = seg.indexes[0]
            if not isinstance(node, list) or not -len(node) <= index < len(node):
                raise _result_path_failure(result_path, raw_input)
            if i == last:
                node[index] = value
            else:
                node = node[index]
    return output
