"""Step Functions' PascalCase on one side, an AWS API's own member names on the other, by
the API's model (botocore's shapes, duck-typed here: no boto3 import).

- Requests: a state's parameters are PascalCase even where the API is camelCase
  (`batch:submitJob` takes `JobName`, the API `jobName`); each structure member is matched
  to the model's member of the same name ignoring case. Map keys (tags, environment
  variables) and unknown members are left as written (boto3 then names the mistake).
- Responses of the `.sync` jobs: AWS hands the job's description to the state as the AWS
  SDK for Java 1.x serialised it: every structure member in PascalCase, map keys as they
  are, timestamps as epoch milliseconds.
- Idempotency tokens: the members the model marks `idempotencyToken` (ECS `clientToken`,
  EMR Serverless `clientToken`, Athena `ClientRequestToken`, ...).
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from typing import Any


def to_api(shape: Any, value: Any) -> Any:
    """`value` (PascalCase where the model has camelCase) with the model's member names."""
    kind = getattr(shape, "type_name", None)
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        by_lower: dict[str, str] = {str(name).lower(): str(name) for name in members}
        out: dict[str, Any] = {}
        for key, item in value.items():
            written = str(key)
            name = written if written in members else by_lower.get(written.lower(), written)
            out[name] = to_api(members[name], item) if name in members else item
        return out
    if kind == "list" and isinstance(value, list):
        return [to_api(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {k: to_api(shape.value, v) for k, v in value.items()}
    return value


def from_api(shape: Any, value: Any) -> Any:
    """A response member as Step Functions hands a job's description to the state."""
    kind = getattr(shape, "type_name", None)
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {
            _pascal(key): from_api(members.get(key), item)
            for key, item in value.items() if key != "ResponseMetadata"
        }
    if kind == "list" and isinstance(value, list | tuple):
        return [from_api(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {k: from_api(shape.value, v) for k, v in value.items()}
    return _scalar(value)


def token_members(shape: Any) -> list[str]:
    """The input members the model marks as idempotency tokens."""
    members = getattr(shape, "members", None) or {}
    return [name for name, member in members.items()
            if getattr(member, "metadata", {}).get("idempotencyToken")]


def token_for(seed: str) -> str:
    """A deterministic idempotency token (32 hex digits: within every API's limits)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, seed).hex


def given(params: dict[str, Any], name: str) -> bool:
    """Whether the state's parameters already hold `name` (in any case)."""
    return any(key.lower() == name.lower() for key in params)


def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def _scalar(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return int(round(value.timestamp() * 1000))
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    return value
