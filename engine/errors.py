"""Python exceptions of the engine.

ASL failures (`States.TaskFailed`, a handler's own error, ...) are *data* that flow through
Retry and Catch; they are never raised out of the interpreter. The exceptions here are for
the caller: bad input to the engine's API, and faults of the engine itself. The names of the
API errors are AWS's, so the HTTP layer can map them one to one.

    EngineError
    ├── InvalidDefinition          the ASL document is rejected (every problem listed)
    ├── InvalidExecutionInput      the input is not JSON, or too large
    ├── InvalidName                a state machine or execution name breaks AWS's rules
    ├── InvalidArn                 an ARN that does not parse
    ├── StateMachineDoesNotExist
    ├── StateMachineAlreadyExists
    ├── ExecutionDoesNotExist
    ├── ExecutionAlreadyExists     same name, different input (or already closed)
    ├── ExecutionNotRunning        e.g. stopping an execution that has ended
    ├── ExecutionNotRedrivable     RedriveExecution of one that cannot be redriven
    ├── UnknownResource            a Task names a resource no handler answers
    ├── UnsupportedFeature         valid ASL the engine cannot run yet (e.g. S3 item readers)
    ├── MissingRequiredParameter   e.g. UpdateStateMachine with nothing to update
    ├── ResourceNotFound           e.g. tagging something that does not exist
    ├── TooManyTags                more than 50 tags on a resource
    ├── StateMachineTypeNotSupported  e.g. StartSyncExecution of a STANDARD machine
    ├── InvalidToken               a task token the engine did not issue
    ├── TaskDoesNotExist           no task is waiting for that token (any more)
    ├── TaskTimedOut               the task waiting for that token has timed out
    ├── InvalidOutput              SendTaskSuccess output that is not JSON
    ├── ConflictException          e.g. deleting a version an alias routes to
    ├── ServiceQuotaExceededException  e.g. a 1,001st version of a state machine
    ├── ActivityDoesNotExist       DescribeActivity/GetActivityTask of an unknown activity
    ├── ValidationException        any other malformed request
    ├── StoreConflict              a commit lost its compare-and-set (internal, retried)
    └── EngineFault                a bug or a broken invariant of the engine itself
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.asl.validation import Diagnostic


class EngineError(Exception):
    """Root of every exception the engine raises on purpose."""

    #: The AWS error code (`__type` in the JSON protocol).
    code: str = "EngineError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidDefinition(EngineError):
    code = "InvalidDefinition"

    def __init__(self, message: str, diagnostics: Sequence[Diagnostic] = ()) -> None:
        super().__init__(message)
        self.diagnostics = list(diagnostics)


class InvalidExecutionInput(EngineError):
    code = "InvalidExecutionInput"


class InvalidName(EngineError):
    code = "InvalidName"


class InvalidArn(EngineError):
    code = "InvalidArn"


class StateMachineDoesNotExist(EngineError):
    code = "StateMachineDoesNotExist"


class StateMachineAlreadyExists(EngineError):
    code = "StateMachineAlreadyExists"


class ExecutionDoesNotExist(EngineError):
    code = "ExecutionDoesNotExist"


class ExecutionAlreadyExists(EngineError):
    code = "ExecutionAlreadyExists"


class ExecutionNotRunning(EngineError):
    code = "ValidationException"


class ExecutionNotRedrivable(EngineError):
    """RedriveExecution of an execution that cannot be redriven (the message says why,
    in the words of DescribeExecution's redriveStatusReason)."""

    code = "ExecutionNotRedrivable"


class UnknownResource(EngineError):
    code = "InvalidDefinition"
    #: The handler names no handler answers (for a hint on where to register them).
    names: tuple[str, ...] = ()


class MissingRequiredParameter(EngineError):
    code = "MissingRequiredParameter"


class ResourceNotFound(EngineError):
    code = "ResourceNotFound"


class TooManyTags(EngineError):
    code = "TooManyTags"


class StateMachineTypeNotSupported(EngineError):
    code = "StateMachineTypeNotSupported"


class InvalidToken(EngineError):
    code = "InvalidToken"


class TaskDoesNotExist(EngineError):
    code = "TaskDoesNotExist"


class TaskTimedOut(EngineError):
    code = "TaskTimedOut"


class InvalidOutput(EngineError):
    code = "InvalidOutput"


class ActivityDoesNotExist(EngineError):
    code = "ActivityDoesNotExist"


class UnsupportedFeature(EngineError):
    """A valid ASL feature this engine cannot run yet (a Map's S3 ItemReader/ResultWriter):
    refused at creation rather than run with the wrong semantics."""

    code = "InvalidDefinition"


class ValidationException(EngineError):
    code = "ValidationException"


class ConflictException(EngineError):
    """AWS answers it with HTTP 409."""

    code = "ConflictException"


class ServiceQuotaExceededException(EngineError):
    code = "ServiceQuotaExceededException"


class StoreConflict(EngineError):
    code = "StoreConflict"


class EngineFault(EngineError):
    code = "InternalFailure"
