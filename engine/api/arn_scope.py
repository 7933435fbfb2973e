"""ARNs of another partition, region or account than the server's name nothing here.

A Step Functions endpoint serves one region of one account: a well-formed ARN whose
partition (`aws`), region or account differs names a resource that does not exist at this
endpoint, whatever follows. `check` answers so before the action runs, with the error the
action gives for any resource it cannot find (StateMachineDoesNotExist,
ExecutionDoesNotExist, ResourceNotFound, ...); the deletions, idempotent on AWS, answer
success, as they do for any resource that does not exist. Malformed ARNs are left to the
action (InvalidArn). `roleArn` is IAM's, of any account, and never checked here.
"""

from __future__ import annotations

import re
from typing import Any, Final, Protocol

from engine.api.protocol import ApiError

#: The request members that name a Step Functions resource.
MEMBERS: Final = (
    "stateMachineArn",
    "executionArn",
    "resourceArn",
    "stateMachineVersionArn",
    "stateMachineAliasArn",
    "mapRunArn",
    "activityArn",
)
_ARN: Final = re.compile(r"^arn:([^:]*):states:([^:]*):([^:]*):([^:]+):")
#: Deleting what does not exist succeeds on AWS (an empty answer).
_IDEMPOTENT: Final = frozenset(
    {"DeleteStateMachine", "DeleteStateMachineVersion", "DeleteStateMachineAlias",
     "DeleteActivity"}
)
_ALIAS_ACTIONS: Final = frozenset(
    {"DescribeStateMachineAlias", "UpdateStateMachineAlias", "DeleteStateMachineAlias"}
)
_TAGGING: Final = frozenset({"TagResource", "UntagResource", "ListTagsForResource"})


class _Server(Protocol):
    region: str
    account: str


def foreign(server: _Server, arn: str) -> bool:
    """Whether `arn` is a Step Functions ARN of another partition, region or account."""
    m = _ARN.match(arn)
    if m is None:
        return False
    partition, region, account = m.group(1), m.group(2), m.group(3)
    return partition != "aws" or region != server.region or account != server.account


def check(server: _Server, action: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """None when every ARN of the request is the server's; otherwise the answer to give
    instead (an empty success for an idempotent deletion), or the not-found error raised."""
    for member in MEMBERS:
        arn = params.get(member)
        if not isinstance(arn, str) or not foreign(server, arn):
            continue
        if action in _IDEMPOTENT:
            return {}
        raise _not_found(action, member, arn)
    return None


def _not_found(action: str, member: str, arn: str) -> ApiError:
    m = _ARN.match(arn)
    kind = m.group(4) if m else ""
    if action in _TAGGING or member == "mapRunArn" or action in _ALIAS_ACTIONS:
        return ApiError("ResourceNotFound", f"Resource not found: '{arn}'", resourceName=arn)
    if kind in ("execution", "express"):
        return ApiError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
    if kind == "activity":
        return ApiError("ActivityDoesNotExist", f"Activity Does Not Exist: '{arn}'")
    if kind == "stateMachine":
        return ApiError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
    return ApiError("ResourceNotFound", f"Resource not found: '{arn}'", resourceName=arn)
