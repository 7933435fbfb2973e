"""Task handlers: plain Python functions registered under a resource name.

    from engine import handler

    @handler("ProcessOrderLambda")
    def process_order(event, context):
        return {"status": "Order Processed", "orderId": event["orderId"]}

A definition names `arn:aws:lambda:REGION:ACCOUNT:function:ProcessOrderLambda` (or
`arn:aws:states:::lambda:invoke` with `FunctionName: ProcessOrderLambda`); it never names
Python code. A handler looks like a Lambda handler: `(event, context)`, returns JSON. What it
raises becomes the state's error, named after the exception type, with a Cause shaped like
AWS Lambda's (`{"errorMessage", "errorType", "requestId", "stackTrace"}`).
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.asl.jsonvalues import NotJson, check_json_value, loads_strict, storable

HandlerFunc = Callable[[Any, "TaskContext"], Any]

DEFAULT_QUEUE = "sfn"


class TaskFailure(Exception):
    """Raise from a handler to fail the state with an exact Error and Cause."""

    def __init__(self, error: str, cause: str | None = None) -> None:
        super().__init__(cause or error)
        self.error = error
        self.cause = cause


@dataclass(frozen=True)
class TaskContext:
    """What a handler gets besides its event (Lambda-like, plus the idempotency key).

    `idempotency_key` is stable for one attempt of one state of one execution: a handler
    run twice for the same attempt (after a worker died) sees the same key.
    """

    function_name: str
    execution_arn: str
    state_name: str
    attempt: int
    idempotency_key: str
    deadline: float | None = None

    @property
    def aws_request_id(self) -> str:
        return self.idempotency_key


@dataclass(frozen=True)
class Handler:
    name: str
    func: HandlerFunc
    queue: str = DEFAULT_QUEUE


@dataclass
class Registry:
    handlers: dict[str, Handler] = field(default_factory=dict)

    def register(self, name: str, func: HandlerFunc, *, queue: str = DEFAULT_QUEUE) -> None:
        existing = self.handlers.get(name)
        if existing is not None and existing.func is not func:
            raise ValueError(f"a handler named {name!r} is already registered ({existing.func})")
        self.handlers[name] = Handler(name, func, queue)

    def get(self, name: str | None) -> Handler | None:
        return None if name is None else self.handlers.get(name)

    def names(self) -> dict[str, str]:
        return {name: h.queue for name, h in self.handlers.items()}


#: The process-wide registry `@handler` writes to. Workers import the modules named in
#: their settings; those modules' decorators fill this registry.
default_registry = Registry()


def handler(
    name: str, *, queue: str = DEFAULT_QUEUE, registry: Registry | None = None
) -> Callable[[HandlerFunc], HandlerFunc]:
    """Register the decorated function as the handler of the Task resource `name`."""
    def register(func: HandlerFunc) -> HandlerFunc:
        (registry or default_registry).register(name, func, queue=queue)
        return func

    return register


@dataclass(frozen=True)
class Invocation:
    """What came of calling a handler: a JSON-ready result, or an error and a cause."""

    ok: bool
    result: Any = None
    error: str = ""
    cause: str | None = None
    #: The result is already the integration's whole response (a mocked or recorded one:
    #: engine/testing), so `lambda:invoke` does not wrap it in Payload/StatusCode again.
    response: bool = False
    #: A `.sync` job is running (engine/integrations/jobs.py): its handle, to poll again
    #: after `poll_seconds`; `result` is then the start call's response.
    job: Any = None
    poll_seconds: float = 0.0


def invoke(h: Handler, event: Any, context: TaskContext) -> Invocation:
    try:
        value = h.func(event, context)
    except TaskFailure as failure:
        return Invocation(False, error=failure.error, cause=failure.cause)
    except Exception as exc:  # noqa: BLE001 - any error of user code is the state's error
        return _lambda_error(type(exc).__name__, str(exc), context, exc)
    return _marshal(value, context)


def _marshal(value: Any, context: TaskContext) -> Invocation:
    """Serialise a handler's return value the way the Lambda Python runtime does: what
    JSON cannot carry (NaN, Infinity, a number too big for a double, a lone surrogate,
    nesting past MAX_JSON_DEPTH, another type) is Runtime.MarshalError."""
    if isinstance(value, bytes | bytearray):
        text = bytes(value).decode("utf-8", errors="replace")
        try:
            return Invocation(True, result=loads_strict(text))
        except NotJson:
            return Invocation(True, result=text)
    try:
        # json.dumps first: its words for an object it cannot serialise are the runtime's.
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
        check_json_value(value)
    except RecursionError:
        return _lambda_error(
            "Runtime.MarshalError", "Unable to marshal response: nested too deep", context, None
        )
    except (TypeError, ValueError) as exc:
        return _lambda_error(
            "Runtime.MarshalError", f"Unable to marshal response: {storable(str(exc))}",
            context, None,
        )
    return Invocation(True, result=json.loads(text))


def _lambda_error(
    error_type: str, message: str, context: TaskContext, exc: BaseException | None
) -> Invocation:
    stack = traceback.format_tb(exc.__traceback__) if exc is not None else []
    cause = json.dumps(
        {
            "errorMessage": message,
            "errorType": error_type,
            "requestId": context.idempotency_key,
            "stackTrace": [line.rstrip("\n") for line in stack],
        }
    )
    return Invocation(False, error=error_type, cause=cause)
