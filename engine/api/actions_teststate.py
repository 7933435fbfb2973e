"""TestState over HTTP: the action onto the in-process `engine.teststate.test_state`.

SDKs send TestState to the `sync-` prefixed host, as StartSyncExecution (docs/api.md says
how to keep the endpoint as configured). `revealSecrets: true` is refused with AWS's
access-denied error unless the server allows it (`sfn serve --allow-reveal-secrets`):
on AWS it needs the states:RevealSecrets permission. Nothing this engine runs holds a
secret (no EventBridge connections), so an allowed request returns the same data.

Imported by `actions.py` (its last lines), so that `dispatch` knows the action.
"""

from __future__ import annotations

import json
from typing import Any, Final

import pydantic

from engine.api.actions import ARN, Context, _role, action
from engine.api.protocol import ApiError, Field
from engine.errors import (
    InvalidDefinition,
    InvalidExecutionInput,
    ValidationException,
)

SENSITIVE: Final = Field(max=262_144)


def _json(text: str | None, member: str, error: type[Exception]) -> None:
    """A JSON member checked before the state runs, naming the member at fault."""
    if text is None:
        return
    try:
        json.loads(text)
    except ValueError as exc:
        raise error(f"Invalid JSON in '{member}': {exc}") from None


def _mock(mock: dict[str, Any] | None) -> dict[str, Any] | None:
    """MockInput: `result` (JSON text) or `errorOutput` ({error, cause}), not both."""
    if mock is None:
        return None
    if ("result" in mock) == ("errorOutput" in mock):
        raise ValidationException("A mock must have either 'result' or 'errorOutput'")
    if "result" in mock:
        if not isinstance(mock["result"], str):
            raise ValidationException("mock.result must be JSON text")
        _json(mock["result"], "mock.result", ValidationException)
    elif not isinstance(mock["errorOutput"], dict):
        raise ValidationException("mock.errorOutput must be an object with error and cause")
    return mock


@action(
    "TestState",
    definition=Field(required=True, min=1, max=1_048_576),
    roleArn=ARN,
    input=SENSITIVE,
    inspectionLevel=Field(enum=("INFO", "DEBUG", "TRACE")),
    revealSecrets=Field("boolean"),
    variables=SENSITIVE,
    stateName=Field(min=1, max=80),
    mock=Field("object"),
    context=SENSITIVE,
    stateConfiguration=Field("object"),
)
def test_state(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    from engine import teststate

    if p.get("revealSecrets") and not ctx.reveal_secrets:
        raise ApiError(
            "AccessDeniedException",
            "Not authorized to perform states:RevealSecrets (start the server with "
            "--allow-reveal-secrets)",
        )
    try:
        definition = json.loads(p["definition"])
    except ValueError as exc:
        raise InvalidDefinition(f"Invalid State Machine Definition: '{exc}'") from None
    if not isinstance(definition, dict):
        raise InvalidDefinition("Invalid State Machine Definition: not a JSON object")
    _json(p.get("input"), "input", InvalidExecutionInput)
    _json(p.get("variables"), "variables", ValidationException)
    _json(p.get("context"), "context", ValidationException)
    client = ctx.client
    try:
        return teststate.test_state(
            definition,
            p.get("input", "{}"),
            mock=_mock(p.get("mock")),
            variables=p.get("variables"),
            context=p.get("context"),
            inspection_level=p.get("inspectionLevel", "INFO"),
            state_name=p.get("stateName"),
            state_configuration=p.get("stateConfiguration"),
            role_arn=_role(p.get("roleArn")),
            registry=client.registry,
            region=client.region,
            account=client.account,
            now=client.clock(),
        )
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'/'.join(str(x) for x in e['loc']) or '(root)'}: {e['msg']}"
            for e in exc.errors()
        )
        raise InvalidDefinition(f"Invalid State Machine Definition: {problems}") from None
