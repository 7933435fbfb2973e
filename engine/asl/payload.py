"""Payload templates: Parameters, ItemSelector, ResultSelector and JSONPath Assign.

A template is any JSON value. Objects and arrays are walked at any depth; a member whose
name ends in `.$` is renamed without the suffix and its value, a string, is evaluated:

    "$$..."          a path on the Context Object
    "$..."           a path on the state data
    "$name..."       a path on a workflow variable
    "States.X(...)"  an intrinsic function call

Every other member is copied as written, so `"k": "$.x"` stays the literal text "$.x".
A definite path that selects nothing fails `States.Runtime` (AWS, not the spec's
`States.ParameterPathFailure`), worded as AWS words it:

    The JSONPath '$.x' specified for the field 'k.$' could not be found in the input '{...}'
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.asl import errors, intrinsics, jsonpath
from engine.asl.failure import StatesFailure

__all__ = ["render"]


@dataclass(frozen=True, slots=True)
class _Scope:
    data: Any
    context: Any
    variables: Mapping[str, Any] | None
    rng: random.Random | None
    field: str


def render(
    template: Any,
    data: Any,
    *,
    context: Any,
    variables: Mapping[str, Any] | None = None,
    rng: random.Random | None = None,
    field: str = "Parameters",
) -> Any:
    """Build the value a payload template describes from `data`, `$$` and variables.

    Returns new objects and arrays (the template is never mutated); values selected by
    paths are shared with `data`, as everywhere in the engine JSON values are not mutated.
    `field` names the template ("Parameters", "ResultSelector", ...) in failure causes.
    """
    return _render(template, _Scope(data, context, variables, rng, field))


def _render(template: Any, scope: _Scope) -> Any:
    if isinstance(template, dict):
        rendered: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                rendered[key[:-2]] = _evaluate(key, value, scope)
            else:
                rendered[key] = _render(value, scope)
        return rendered
    if isinstance(template, list):
        return [_render(item, scope) for item in template]
    return template


def _evaluate(key: str, expr: Any, scope: _Scope) -> Any:
    """The value of one `key.$` member."""
    if not isinstance(expr, str):
        raise _invalid(key, scope)
    if expr.strip().startswith("$"):  # a path, maybe with spaces around (trimmed, as AWS)
        try:
            return jsonpath.get_path(
                expr, scope.data, context=scope.context, variables=scope.variables
            )
        except jsonpath.PathNotFound:
            raise StatesFailure(
                errors.RUNTIME,
                f"The JSONPath '{expr}' specified for the field '{key}' could not be found "
                f"in the input '{jsonpath.compact_json(scope.data)}'",
            ) from None
        except jsonpath.JsonPathSyntaxError:
            raise _invalid(key, scope) from None
    if intrinsics.is_intrinsic(expr):
        return intrinsics.evaluate(
            expr,
            scope.data,
            context=scope.context,
            variables=scope.variables,
            rng=scope.rng,
            field=key,
        )
    raise _invalid(key, scope)


def _invalid(key: str, scope: _Scope) -> StatesFailure:
    # Validation rejects such templates before a run; this guards hand-built machines.
    return StatesFailure(
        errors.RUNTIME,
        f"The value for the field '{key}' must be a valid JSONPath or a valid intrinsic "
        f"function call (in {scope.field})",
    )
