"""The value of one field, checked on its own: its JSON type, its range, its path syntax.

The rules are keyed by ASL field name because a name means the same thing in every state
that has it (``TimeoutSeconds`` is a positive integer wherever it appears). Whether a field
is allowed at all in a given object is decided elsewhere (`structure`, from the model).
Messages follow AWS's wording where it is known: ``Expected value of type [STRING]``,
``String does not match RFC3339 timestamp``, ``The value for the field 'X' must be ...``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeGuard

from engine.asl.model import JSONATA
from engine.asl.validation import syntax
from engine.asl.validation.context import Checker

#: AWS's ceiling for second counts (Task TimeoutSeconds, Wait Seconds, retry intervals).
MAX_SECONDS: Final = 99_999_999
#: Retrier MaxDelaySeconds is below 31622401 (one leap year of seconds).
MAX_DELAY_SECONDS: Final = 31_622_400
#: ItemBatcher MaxInputBytesPerBatch is at most the 256 KiB payload limit.
MAX_BATCH_BYTES: Final = 262_144

QUERY_LANGUAGES: Final = ("JSONPath", "JSONata")

FieldCheck = Callable[[Checker, str, Any, str, str], None]
"""(checker, field name, value, location of the value, the state's query language)."""


def check_field(checker: Checker, name: str, value: Any, location: str, language: str) -> None:
    rule = _RULES.get(name)
    if rule is not None:
        rule(checker, name, value, location, language)


# --- JSON types ----------------------------------------------------------------------------


def is_integer(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def expect_type(checker: Checker, type_name: str, location: str) -> None:
    checker.report(f"Expected value of type [{type_name}]", location)


def _string(checker: Checker, name: str, value: Any, location: str, language: str) -> None:
    if not isinstance(value, str):
        expect_type(checker, "STRING", location)


def _boolean(checker: Checker, name: str, value: Any, location: str, language: str) -> None:
    if not isinstance(value, bool):
        expect_type(checker, "BOOLEAN", location)


def _object(checker: Checker, name: str, value: Any, location: str, language: str) -> None:
    if not isinstance(value, dict):
        expect_type(checker, "OBJECT", location)


def _array(checker: Checker, name: str, value: Any, location: str, language: str) -> None:
    if not isinstance(value, list):
        expect_type(checker, "ARRAY", location)


def _anything(checker: Checker, name: str, value: Any, location: str, language: str) -> None:
    """Any JSON value is acceptable (Result, Output, Comment-like payloads)."""


# --- numbers -------------------------------------------------------------------------------


def _integer_field(low: int, high: int | None) -> FieldCheck:
    """An integer in [low, high]; in a JSONata state also a JSONata expression."""

    def check(checker: Checker, name: str, value: Any, location: str, language: str) -> None:
        if language == JSONATA and syntax.is_jsonata_expression(value):
            return
        if not is_integer(value):
            expect_type(checker, "INTEGER", location)
        elif value < low:
            relation = "greater than 0" if low == 1 else f"greater than or equal to {low}"
            checker.report(f"The value for the field '{name}' must be {relation}", location)
        elif high is not None and value > high:
            checker.report(
                f"The value for the field '{name}' must be less than or equal to {high}",
                location,
            )

    return check


def _percentage(checker: Checker, name: str, value: Any, location: str, language: str) -> None:
    if language == JSONATA and syntax.is_jsonata_expression(value):
        return
    if not is_number(value):
        expect_type(checker, "NUMBER", location)
    elif not 0 <= value <= 100:
        checker.report(f"The value for the field '{name}' must be between 0 and 100", location)


def _backoff_rate(checker: Checker, name: str, value: Any, location: str, language: str) -> None:
    if not is_number(value):
        expect_type(checker, "NUMBER", location)
    elif value < 1.0:
        checker.report(
            f"The value for the field '{name}' must be greater than or equal to 1.0", location
        )


# --- strings with a grammar ----------------------------------------------------------------


def _path(checker: Checker, name: str, value: Any, location: str, language: str) -> None:
    """InputPath / OutputPath: a Path, or null (which has a meaning of its own, P6/P11)."""
    if value is None:
        return
    if not isinstance(value, str):
        expect_type(checker, "STRING", location)
    elif not syntax.is_path(value):
        checker.report(f"The value for the field '{name}' must be a valid JSONPath", location)


def _result_path(checker: Checker, name: str, value: Any, location: str, language: str) -> None:
    """A Reference Path or null; never the context object nor a variable (P10, V8)."""
    if value is None:
        return
    if not isinstance(value, str):
        expect_type(checker, "STRING", location)
    elif not syntax.is_reference_path(value, context=False, variables=False):
        checker.report(
            f"The value for the field '{name}' must be a valid JSONPath reference path", location
        )


def _reference_path(checker: Checker, name: str, value: Any, location: str, language: str) -> None:
    """The ``...Path`` fields: a Reference Path (context and variable paths allowed)."""
    if not isinstance(value, str):
        expect_type(checker, "STRING", location)
    elif not syntax.is_reference_path(value):
        checker.report(
            f"The value for the field '{name}' must be a valid JSONPath reference path", location
        )


def _path_or_intrinsic(
    checker: Checker, name: str, value: Any, location: str, language: str
) -> None:
    """Fail ErrorPath / CausePath: a Reference Path or an intrinsic function call."""
    if not isinstance(value, str):
        expect_type(checker, "STRING", location)
        return
    valid = (
        syntax.is_reference_path(value)
        if value.strip().startswith("$")
        else syntax.is_intrinsic_call(value) and syntax.intrinsic_error(value) is None
    )
    if not valid:
        checker.report(
            f"The value for the field '{name}' must be a valid JSONPath or a valid intrinsic "
            "function call",
            location,
        )


def _timestamp(checker: Checker, name: str, value: Any, location: str, language: str) -> None:
    if language == JSONATA and syntax.is_jsonata_expression(value):
        return
    if not isinstance(value, str):
        expect_type(checker, "STRING", location)
    elif not syntax.is_timestamp(value):
        # AWS's wording, observed for a Wait Timestamp without "T" or without a zone.
        checker.report("String does not match RFC3339 timestamp", location)


def _query_language(checker: Checker, name: str, value: Any, location: str, language: str) -> None:
    if not isinstance(value, str):
        expect_type(checker, "STRING", location)
    elif value not in QUERY_LANGUAGES:
        checker.report("Value should be one of the following: [JSONPath, JSONata]", location)


def _enum(*allowed: str) -> FieldCheck:
    def check(checker: Checker, name: str, value: Any, location: str, language: str) -> None:
        if not isinstance(value, str):
            expect_type(checker, "STRING", location)
        elif value not in allowed:
            checker.report(
                f"The field '{name}' should have one of these values: [{', '.join(allowed)}]",
                location,
            )

    return check


def _object_or_expression(
    checker: Checker, name: str, value: Any, location: str, language: str
) -> None:
    """JSONata Arguments: a JSON object, or one JSONata expression producing it."""
    if not isinstance(value, dict) and not syntax.is_jsonata_expression(value):
        expect_type(checker, "OBJECT", location)


def _items(checker: Checker, name: str, value: Any, location: str, language: str) -> None:
    """JSONata Items: a JSON array or object, or one JSONata expression (the documentation
    allows objects; whether an object may be iterated is decided at run time)."""
    if not isinstance(value, list | dict) and not syntax.is_jsonata_expression(value):
        expect_type(checker, "ARRAY", location)


#: Payload templates AWS also takes as an array (each element a template in turn, its
#: objects' ``"key.$"`` members evaluated): definitions deployed on AWS use it, and AWS's
#: own editor schema was widened to match the service (aws-toolkit-vscode issue 2459).
#: The specification says "a JSON object"; ItemSelector and BatchInput keep to it.
_ARRAY_TEMPLATES: Final = frozenset({"Parameters", "ResultSelector"})


def _template(checker: Checker, name: str, value: Any, location: str, language: str) -> None:
    """A JSONPath payload template (Parameters, ResultSelector, ItemSelector, BatchInput):
    an object (Parameters and ResultSelector: or an array) whose ``"key.$"`` values are
    paths or intrinsic calls. In JSONata the same fields hold any value or expression."""
    if language == JSONATA:
        return
    if isinstance(value, list) and name in _ARRAY_TEMPLATES:
        check_template(checker, value, location)
        return
    if not isinstance(value, dict):
        expect_type(checker, "OBJECT", location)
        return
    check_template(checker, value, location)


def check_template(checker: Checker, template: Any, location: str) -> None:
    """Every ``"x.$"`` value, at any depth, is a path, a context path, a variable path or an
    intrinsic call; no key is written twice once ``.$`` is removed. AWS locates these at the
    template field itself (``/States/S/Parameters``), not at the key."""
    if isinstance(template, list):
        for element in template:
            check_template(checker, element, location)
        return
    if not isinstance(template, dict):
        return
    for key, value in template.items():
        if key.endswith(".$"):
            if not syntax.is_payload_value(value):
                checker.report(
                    f"The value for the field '{key}' must be a valid JSONPath or a valid "
                    "intrinsic function call",
                    location,
                )
            if key[:-2] in template:
                checker.report(f"The field '{key[:-2]}' is defined more than once", location)
        else:
            check_template(checker, value, location)


_RULES: Final[dict[str, FieldCheck]] = {
    "Comment": _string,
    "Resource": _string,
    "Next": _string,
    "Default": _string,
    "Error": _string,
    "Cause": _string,
    "Label": _string,
    "End": _boolean,
    "InputPath": _path,
    "OutputPath": _path,
    "ResultPath": _result_path,
    "ItemsPath": _reference_path,
    "TimeoutSecondsPath": _reference_path,
    "HeartbeatSecondsPath": _reference_path,
    "SecondsPath": _reference_path,
    "TimestampPath": _reference_path,
    "MaxConcurrencyPath": _reference_path,
    "ToleratedFailureCountPath": _reference_path,
    "ToleratedFailurePercentagePath": _reference_path,
    "MaxItemsPerBatchPath": _reference_path,
    "MaxInputBytesPerBatchPath": _reference_path,
    "ErrorPath": _path_or_intrinsic,
    "CausePath": _path_or_intrinsic,
    "Parameters": _template,
    "ResultSelector": _template,
    "ItemSelector": _template,
    "BatchInput": _template,
    "Result": _anything,
    "Output": _anything,
    "Arguments": _object_or_expression,
    "Items": _items,
    "Assign": _object,
    "Credentials": _object,
    "ItemProcessor": _object,
    "Iterator": _object,
    "ItemBatcher": _object,
    "ItemReader": _object,
    "ResultWriter": _object,
    "ProcessorConfig": _object,
    "Retry": _array,
    "Catch": _array,
    "Choices": _array,
    "Branches": _array,
    "TimeoutSeconds": _integer_field(1, MAX_SECONDS),
    "HeartbeatSeconds": _integer_field(1, MAX_SECONDS),
    "Seconds": _integer_field(0, MAX_SECONDS),
    "Timestamp": _timestamp,
    "MaxConcurrency": _integer_field(0, None),
    "ToleratedFailureCount": _integer_field(0, None),
    "ToleratedFailurePercentage": _percentage,
    "MaxItemsPerBatch": _integer_field(1, None),
    "MaxInputBytesPerBatch": _integer_field(1, MAX_BATCH_BYTES),
    "IntervalSeconds": _integer_field(1, MAX_SECONDS),
    "MaxAttempts": _integer_field(0, MAX_SECONDS),
    "MaxDelaySeconds": _integer_field(1, MAX_DELAY_SECONDS),
    "BackoffRate": _backoff_rate,
    "JitterStrategy": _enum("FULL", "NONE"),
    "Mode": _enum("INLINE", "DISTRIBUTED"),
    "ExecutionType": _enum("STANDARD", "EXPRESS"),
    "QueryLanguage": _query_language,
    "StartAt": _string,
    "States": _object,
    "Version": _string,
}
