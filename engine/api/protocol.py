"""The AWS JSON 1.0 protocol, as Step Functions speaks it.

A request is `POST /` with `X-Amz-Target: AWSStepFunctions.<Action>`, `Content-Type:
application/x-amz-json-1.0` and a JSON object as body. A success is HTTP 200 with a JSON
object; an error is HTTP 400 (500 for a fault of the server) with
`{"__type": "<Code>", "message": "..."}`, which SDKs turn into their usual exceptions
(boto3: `client.exceptions.ExecutionDoesNotExist`, `ClientError` with that code).

This module is pure: bytes and header values in, Python values or `ApiError` out. Field
checks follow botocore's service model (`stepfunctions/2016-11-23/service-2.json`), so a
request a real SDK would send is accepted and anything else is refused as AWS refuses it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final, Literal

from engine.errors import EngineError

CONTENT_TYPE: Final = "application/x-amz-json-1.0"
TARGET_PREFIX: Final = "AWSStepFunctions."


class ApiError(Exception):
    """An error answer: its AWS code (`__type`), message, HTTP status and extra members
    of the error shape (e.g. `resourceName` of ResourceNotFound)."""

    def __init__(self, code: str, message: str, status: int = 400, **fields: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.fields = fields

    @classmethod
    def from_engine(cls, exc: EngineError) -> ApiError:
        # Faults of the engine itself are the server's problem (5xx, which SDKs retry);
        # everything else the engine raises on purpose is the caller's (400).
        if exc.code in ("InternalFailure", "StoreConflict"):
            return cls("InternalFailure", exc.message, 500)
        return cls(exc.code, exc.message)

    def body(self) -> dict[str, Any]:
        return {"__type": self.code, "message": self.message, **self.fields}


@dataclass(frozen=True)
class Request:
    action: str
    params: dict[str, Any]


def parse(target: str | None, body: bytes) -> Request:
    """The action named by the `X-Amz-Target` header and the request's JSON object."""
    if not target or not target.startswith(TARGET_PREFIX) or target == TARGET_PREFIX:
        raise ApiError(
            "UnknownOperationException",
            f"Missing or unknown X-Amz-Target {target!r}: expected {TARGET_PREFIX}<Action>",
        )
    action = target[len(TARGET_PREFIX):]
    if not body.strip():
        return Request(action, {})  # AWS accepts an empty body as an empty request
    try:
        value = json.loads(body.decode("utf-8"), parse_constant=_not_json_constant,
                           parse_float=_finite_float)
    except UnicodeDecodeError:
        raise ApiError("SerializationException", "The request body is not UTF-8") from None
    except RecursionError:
        raise ApiError("SerializationException", "The request body is nested too deeply") from None
    except ValueError as exc:
        raise ApiError("SerializationException", f"The request body is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ApiError("SerializationException", "The request body must be a JSON object")
    return Request(action, value)


def _not_json_constant(name: str) -> Any:
    """NaN, Infinity and -Infinity: Python's json reads them, JSON (RFC 8259) has none."""
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    """A JSON number; one too large for a double (1e999) would become infinity."""
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise ValueError(f"number {text[:40]} is out of range")
    return number


def encode(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# --- request members -------------------------------------------------------------------

Kind = Literal["string", "integer", "number", "boolean", "list", "object"]
_PYTHON_TYPES: Final[dict[str, type | tuple[type, ...]]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "list": list,
    "object": dict,
}


@dataclass(frozen=True)
class Field:
    """One request member: JSON type, required, length (strings, lists) or value
    (integers) bounds, allowed values."""

    kind: Kind = "string"
    required: bool = False
    min: int | None = None
    max: int | None = None
    enum: tuple[str, ...] | None = None


def check(params: dict[str, Any], spec: dict[str, Field]) -> dict[str, Any]:
    """The members of `spec` found in `params` (null counts as absent; unknown members are
    ignored, as AWS ignores them). A value of the wrong JSON type is a
    SerializationException; a missing or out-of-bounds one a ValidationException listing
    every violation in AWS's words."""
    found: dict[str, Any] = {}
    problems: list[str] = []
    for name, field in spec.items():
        value = params.get(name)
        if value is None:
            if field.required:
                problems.append(
                    f"Value null at '{name}' failed to satisfy constraint: "
                    "Member must not be null"
                )
            continue
        expected = _PYTHON_TYPES[field.kind]
        # JSON true/false are Python ints too: never accept them as integers.
        if not isinstance(value, expected) or (
            field.kind in ("integer", "number") and isinstance(value, bool)
        ):
            raise ApiError(
                "SerializationException",
                f"Unexpected value for '{name}': expected a JSON {field.kind}",
            )
        problems.extend(_bounds(name, value, field))
        found[name] = value
    if problems:
        count = len(problems)
        raise ApiError(
            "ValidationException",
            f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(problems),
        )
    return found


def _bounds(name: str, value: Any, field: Field) -> list[str]:
    shown = _shown(value)
    at = f"Value {shown} at '{name}' failed to satisfy constraint: Member must"
    if field.enum is not None and value not in field.enum:
        return [f"{at} satisfy enum value set: [{', '.join(field.enum)}]"]
    if field.kind not in ("integer", "string", "list"):
        return []
    size = value if field.kind == "integer" else len(value)
    what = "have value" if field.kind == "integer" else "have length"
    if field.min is not None and size < field.min:
        return [f"{at} {what} greater than or equal to {field.min}"]
    if field.max is not None and size > field.max:
        return [f"{at} {what} less than or equal to {field.max}"]
    return []


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value if len(value) <= 100 else value[:100] + '...'}'"
    if isinstance(value, list):
        return f"[list of {len(value)}]"
    return str(value)
