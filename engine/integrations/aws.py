"""AWS calls through boto3: the AWS SDK integrations (`aws-sdk:SERVICE:ACTION`), the
optimized integrations that are one API call (`sns:publish`, `dynamodb:putItem`, ...), and
Lambda (a function ARN, or `lambda:invoke`).

Endpoints, region and credentials are whatever boto3 resolves from the worker's
environment and configuration (`AWS_REGION`, `AWS_PROFILE`, `AWS_ENDPOINT_URL`,
`AWS_ENDPOINT_URL_<SERVICE>`, instance roles, ...); a definition never names them. Without
a region there, the engine's own region (SFN_REGION) is used.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from engine.asl.resources import ResourceRef, sdk_service
from engine.handlers import Invocation
from engine.integrations import api_shapes, shapes


class AwsCaller:
    """One boto3 session per process (a forked pool child makes its own), clients cached
    per service."""

    def __init__(self, region: str) -> None:
        self.region = region
        self._pid = -1
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._session: Any = None

    def client(self, service: str) -> Any:
        with self._lock:
            if self._pid != os.getpid():
                import boto3  # only workers that call AWS need boto3

                self._session = boto3.session.Session()
                self._clients = {}
                self._pid = os.getpid()
            found = self._clients.get(service)
            if found is None:
                from botocore.config import Config

                region = self._session.region_name or self.region
                found = self._session.client(
                    service, region_name=region, config=Config(retries={"mode": "standard"})
                )
                self._clients[service] = found
            return found

    def input_shape(self, service: str, operation: str) -> Any:
        """The botocore model of an operation's request (None: no such operation)."""
        return self._operation(service, operation, "input_shape")

    def output_shape(self, service: str, operation: str) -> Any:
        return self._operation(service, operation, "output_shape")

    def _operation(self, service: str, operation: str, which: str) -> Any:
        from botocore.exceptions import BotoCoreError

        try:
            model = self.client(service).meta.service_model.operation_model(operation)
        except (BotoCoreError, KeyError, ValueError):
            return None
        return getattr(model, which, None)

    def request(
        self, service: str, operation: str, params: dict[str, Any], seed: str | None
    ) -> dict[str, Any]:
        """The state's parameters as the API names them, with a deterministic idempotency
        token (from `seed`) where the API takes one and the state gives none: otherwise
        botocore would draw a random one, and a call re-run after a worker died would do
        its work twice."""
        shape = self.input_shape(service, operation)
        out = api_shapes.to_api(shape, params)
        if seed is not None and isinstance(out, dict):
            for name in api_shapes.token_members(shape):
                if not api_shapes.given(out, name):
                    out[name] = api_shapes.token_for(seed)
        return dict(out) if isinstance(out, dict) else params

    # --- the families ------------------------------------------------------------------

    def sdk(self, ref: ResourceRef, parameters: Any, seed: str | None = None) -> Invocation:
        """`arn:aws:states:::aws-sdk:SERVICE:ACTION`: the API's response, without metadata;
        errors named `Service.ErrorNameException`."""
        service = sdk_service(ref.service)
        if service is None:  # validation refuses these; a definition from an older catalog
            return Invocation(False, error="States.Runtime", cause=f"Unknown AWS SDK service "
                              f"'{ref.service}'")
        params = parameters if isinstance(parameters, dict) else {}
        operation = shapes.operation_name(ref.action)
        params = self.request(service.botocore, operation, params, seed)
        outcome = self._call(service.botocore, operation, params)
        if isinstance(outcome, _Failed):
            error, cause = shapes.sdk_error(
                service.error_prefix, outcome.code, outcome.message, outcome.status,
                outcome.request_id,
            )
            return Invocation(False, error=error, cause=cause)
        if isinstance(outcome, Invocation):
            return outcome
        return Invocation(True, result=shapes.sdk_response(outcome))

    def optimized(
        self, ref: ResourceRef, parameters: Any, seed: str | None = None
    ) -> Invocation | None:
        """An optimized integration that is one API call; None when it is not one."""
        if (ref.service, ref.action) in shapes.NOT_A_BOTO3_CALL:
            return None
        boto_service = shapes.OPTIMIZED_BOTO3_SERVICE.get(ref.service, ref.service)
        params = shapes.request_parameters(ref.service, ref.action, parameters)
        operation = shapes.operation_name(ref.action)
        params = self.request(boto_service, operation, params, seed)
        outcome = self._call(boto_service, operation, params)
        if isinstance(outcome, _Failed):
            error, cause = shapes.optimized_error(
                ref.service, outcome.code, outcome.message, outcome.status, outcome.request_id
            )
            return Invocation(False, error=error, cause=cause)
        if isinstance(outcome, Invocation):
            return outcome
        if (ref.service, ref.action) == ("lambda", "invoke"):
            return _lambda_outcome(outcome, whole=True)
        if (ref.service, ref.action) == ("bedrock", "invokeModel"):
            outcome["Body"] = _parsed(shapes.to_json(outcome.get("Body")))
        return Invocation(True, result=shapes.optimized_response(outcome), response=True)

    def lambda_function(self, function_arn: str, payload: Any) -> Invocation:
        """A Lambda function ARN as the resource: the function's result is the state's."""
        params = {"FunctionName": function_arn, "Payload": json.dumps(payload)}
        outcome = self._call("lambda", "Invoke", params)
        if isinstance(outcome, _Failed):
            error, cause = shapes.optimized_error(
                "lambda", outcome.code, outcome.message, outcome.status, outcome.request_id
            )
            return Invocation(False, error=error, cause=cause)
        if isinstance(outcome, Invocation):
            return outcome
        return _lambda_outcome(outcome, whole=False)

    def raw(
        self, boto3_service: str, operation: str, params: dict[str, Any], service: str
    ) -> dict[str, Any] | Invocation:
        """One call's raw response, or its failure named as the optimized integration of
        `service` names it (the `.sync` job cycle: engine/integrations/jobs.py)."""
        outcome = self._call(boto3_service, operation, params)
        if isinstance(outcome, _Failed):
            error, cause = shapes.optimized_error(
                service, outcome.code, outcome.message, outcome.status, outcome.request_id
            )
            return Invocation(False, error=error, cause=cause)
        if isinstance(outcome, Invocation):
            return outcome
        return dict(outcome)

    # --- one call ----------------------------------------------------------------------

    def _call(self, service: str, operation: str, params: dict[str, Any]) -> Any:
        from botocore import xform_name
        from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

        try:
            client = self.client(service)
            method = getattr(client, xform_name(operation), None)
            if method is None:
                return Invocation(False, error="States.Runtime",
                                  cause=f"boto3's {service} client has no {operation}")
            return method(**params)
        except ClientError as exc:
            err = exc.response.get("Error") or {}
            meta = exc.response.get("ResponseMetadata") or {}
            return _Failed(
                str(err.get("Code") or "Unknown"),
                str(err.get("Message") or exc),
                int(meta.get("HTTPStatusCode") or 400),
                str(meta.get("RequestId") or ""),
            )
        except ParamValidationError as exc:
            # Caught before any request: the parameters do not fit the API.
            return Invocation(False, error="States.TaskFailed", cause=str(exc))
        except BotoCoreError as exc:  # no credentials, endpoint unreachable, ...
            return Invocation(False, error="States.TaskFailed",
                              cause=f"{type(exc).__name__}: {exc}")


class _Failed:
    """A service's error answer."""

    def __init__(self, code: str, message: str, status: int, request_id: str) -> None:
        self.code, self.message, self.status, self.request_id = code, message, status, request_id


def _parsed(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _lambda_outcome(response: dict[str, Any], *, whole: bool) -> Invocation:
    """A function's error (FunctionError set) is the state's error, named after its
    errorType as AWS does; otherwise its parsed Payload (or the whole response)."""
    payload = _parsed(shapes.to_json(response.get("Payload")))
    if response.get("FunctionError"):
        error = payload.get("errorType") if isinstance(payload, dict) else None
        text = payload if isinstance(payload, str) else json.dumps(payload)
        return Invocation(False, error=str(error or "Lambda.Unknown"), cause=text)
    if not whole:
        return Invocation(True, result=payload)
    response = dict(response)
    response["Payload"] = payload
    return Invocation(True, result=shapes.optimized_response(response), response=True)
