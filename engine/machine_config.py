"""A state machine's logging, tracing and encryption configurations, checked as AWS checks
them (botocore's `LoggingConfiguration`, `TracingConfiguration`, `EncryptionConfiguration`
shapes and the CreateStateMachine reference) and kept in the form DescribeStateMachine
answers them.

What each one does here: logging writes the execution log records AWS would send to
CloudWatch Logs as JSON lines on our side (engine/execution_logs.py); tracing is stored and
answered (no X-Ray here); encryption is stored and answered (Redis holds the data as it is:
no KMS here). docs/api.md says so.
"""

from __future__ import annotations

import re
from typing import Any, Final

from engine.errors import EngineError, ValidationException

LEVELS: Final = ("ALL", "ERROR", "FATAL", "OFF")
ENCRYPTION_TYPES: Final = ("AWS_OWNED_KEY", "CUSTOMER_MANAGED_KMS_KEY")

#: What AWS answers for a machine created without the member.
LOGGING_DEFAULT: Final[dict[str, Any]] = {"level": "OFF", "includeExecutionData": False}
TRACING_DEFAULT: Final[dict[str, Any]] = {"enabled": False}
ENCRYPTION_DEFAULT: Final[dict[str, Any]] = {"type": "AWS_OWNED_KEY"}

#: A CloudWatch Logs log group ARN as Step Functions wants it: ending with `:*`.
_LOG_GROUP_ARN: Final = re.compile(r"^arn:aws[\w-]*:logs:[a-z0-9-]+:\d{12}:log-group:[\w./#-]+:\*$")
_KMS_PERIOD: Final = (60, 900)


class InvalidLoggingConfiguration(EngineError):
    code = "InvalidLoggingConfiguration"


class InvalidTracingConfiguration(EngineError):
    code = "InvalidTracingConfiguration"


class InvalidEncryptionConfiguration(EngineError):
    code = "InvalidEncryptionConfiguration"


def logging(value: Any) -> dict[str, Any]:
    """A LoggingConfiguration as stored and answered: `level` (default OFF),
    `includeExecutionData` (default false), `destinations` (exactly one CloudWatch Logs
    log group ARN ending with `:*` unless the level is OFF; at most one in any case)."""
    if not isinstance(value, dict):
        raise InvalidLoggingConfiguration("Invalid Logging Configuration: must be an object")
    level = value.get("level", "OFF")
    if level not in LEVELS:
        raise ValidationException(
            f"1 validation error detected: Value '{level}' at 'loggingConfiguration.level' "
            "failed to satisfy constraint: Member must satisfy enum value set: "
            f"[{', '.join(LEVELS)}]"
        )
    include = value.get("includeExecutionData", False)
    if not isinstance(include, bool):
        raise InvalidLoggingConfiguration(
            "Invalid Logging Configuration: includeExecutionData must be a boolean"
        )
    destinations = value.get("destinations") or []
    if not isinstance(destinations, list):
        raise InvalidLoggingConfiguration(
            "Invalid Logging Configuration: destinations must be a list"
        )
    if len(destinations) > 1:
        raise InvalidLoggingConfiguration(
            "Invalid Logging Configuration: Must specify exactly one Log Destination."
        )
    if level != "OFF" and not destinations:
        raise InvalidLoggingConfiguration(
            "Invalid Logging Configuration: Must specify exactly one Log Destination."
        )
    out: dict[str, Any] = {"level": level, "includeExecutionData": include}
    if destinations:
        group = destinations[0].get("cloudWatchLogsLogGroup") if isinstance(
            destinations[0], dict
        ) else None
        arn = group.get("logGroupArn") if isinstance(group, dict) else None
        if not isinstance(arn, str) or not _LOG_GROUP_ARN.match(arn):
            raise InvalidLoggingConfiguration(
                f"Invalid Logging Configuration: Log Destination not valid ARN: '{arn}' "
                "(a CloudWatch Logs log group ARN ending with ':*')"
            )
        out["destinations"] = [{"cloudWatchLogsLogGroup": {"logGroupArn": arn}}]
    return out


def tracing(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidTracingConfiguration("Invalid Tracing Configuration: must be an object")
    enabled = value.get("enabled", False)
    if not isinstance(enabled, bool):
        raise InvalidTracingConfiguration(
            "Invalid Tracing Configuration: enabled must be a boolean"
        )
    return {"enabled": enabled}


def encryption(value: Any) -> dict[str, Any]:
    """`type` (required), `kmsKeyId` (1-2048 characters; required with, and only with,
    CUSTOMER_MANAGED_KMS_KEY), `kmsDataKeyReusePeriodSeconds` (60-900; customer keys only,
    default 300)."""
    if not isinstance(value, dict):
        raise InvalidEncryptionConfiguration("Invalid Encryption Configuration: must be an object")
    kind = value.get("type")
    if kind is None:
        raise ValidationException(
            "1 validation error detected: Value null at 'encryptionConfiguration.type' failed "
            "to satisfy constraint: Member must not be null"
        )
    if kind not in ENCRYPTION_TYPES:
        raise ValidationException(
            f"1 validation error detected: Value '{kind}' at 'encryptionConfiguration.type' "
            "failed to satisfy constraint: Member must satisfy enum value set: "
            f"[{', '.join(ENCRYPTION_TYPES)}]"
        )
    key = value.get("kmsKeyId")
    period = value.get("kmsDataKeyReusePeriodSeconds")
    if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= 2048):
        raise ValidationException(
            "1 validation error detected: Value at 'encryptionConfiguration.kmsKeyId' failed "
            "to satisfy constraint: Member must have length between 1 and 2048"
        )
    if period is not None and (
        not isinstance(period, int) or isinstance(period, bool)
        or not _KMS_PERIOD[0] <= period <= _KMS_PERIOD[1]
    ):
        raise ValidationException(
            f"1 validation error detected: Value '{period}' at "
            "'encryptionConfiguration.kmsDataKeyReusePeriodSeconds' failed to satisfy "
            "constraint: Member must have value between 60 and 900"
        )
    if kind == "AWS_OWNED_KEY":
        if key is not None or period is not None:
            raise InvalidEncryptionConfiguration(
                "Invalid Encryption Configuration: kmsKeyId and kmsDataKeyReusePeriodSeconds "
                "apply to the CUSTOMER_MANAGED_KMS_KEY type only"
            )
        return {"type": kind}
    if key is None:
        raise InvalidEncryptionConfiguration(
            "Invalid Encryption Configuration: kmsKeyId is required for the "
            "CUSTOMER_MANAGED_KMS_KEY type"
        )
    return {
        "type": kind,
        "kmsKeyId": key,
        "kmsDataKeyReusePeriodSeconds": period if period is not None else 300,
    }


def from_request(params: dict[str, Any]) -> dict[str, dict[str, Any] | None]:
    """The three configurations a Create/UpdateStateMachine request carries, checked
    (absent ones None: unchanged by an update, AWS's defaults on a creation)."""
    raw = {
        "logging": params.get("loggingConfiguration"),
        "tracing": params.get("tracingConfiguration"),
        "encryption": params.get("encryptionConfiguration"),
    }
    checks = {"logging": logging, "tracing": tracing, "encryption": encryption}
    return {k: (checks[k](v) if v is not None else None) for k, v in raw.items()}
