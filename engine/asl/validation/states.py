"""Checks particular to a state type or to one of its structured fields: Task resources
and timeouts, Wait's single wait field, Fail's Error/Cause, Map's processor, batching and
Label, Retry and Catch, Credentials, and what an EXPRESS machine may not use."""

from __future__ import annotations

import re
from typing import Any, Final

from engine.asl import errors, resources
from engine.asl.model import JSONATA, JSONPATH, Catcher, ItemBatcher, Retrier
from engine.asl.validation import fields, rules
from engine.asl.validation.context import Checker, StateInfo
from engine.asl.validation.diagnostics import INVALID_LABEL_NAME, child, item

MAX_LABEL_LENGTH: Final = 40
#: Characters a Map Label may not contain, in the order they are looked for.
_LABEL_FORBIDDEN: Final = list(' ?*<>{}[]:;,\\|^~$#%&`"') + [
    chr(code) for code in (*range(0x00, 0x20), *range(0x7F, 0xA0))
]
_ACTIVITY_ARN: Final = re.compile(r"^arn:aws[\w-]*:states:[^:]*:[^:]*:activity:")
_SYNC_SUFFIX: Final = re.compile(r"\.sync(:\d+)?$")
_BATCH_LIMITS: Final = (
    "MaxItemsPerBatch",
    "MaxItemsPerBatchPath",
    "MaxInputBytesPerBatch",
    "MaxInputBytesPerBatchPath",
)
_EXCLUSIVE: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "Task": (
        ("TimeoutSeconds", "TimeoutSecondsPath"),
        ("HeartbeatSeconds", "HeartbeatSecondsPath"),
    ),
    "Fail": (("Error", "ErrorPath"), ("Cause", "CausePath")),
    "Map": (
        ("ItemProcessor", "Iterator"),
        ("ItemSelector", "Parameters"),
        ("MaxConcurrency", "MaxConcurrencyPath"),
        ("ToleratedFailureCount", "ToleratedFailureCountPath"),
        ("ToleratedFailurePercentage", "ToleratedFailurePercentagePath"),
    ),
}
_WAIT_FIELDS: Final = ("Seconds", "Timestamp", "SecondsPath", "TimestampPath")


# --- structured fields ---------------------------------------------------------------------


def check_nested_field(checker: Checker, state: StateInfo, key: str, value: Any) -> None:
    """Deeper checks of the fields that hold structure (called once the field's own JSON
    type has been checked)."""
    location = child(state.location, key)
    if key == "Resource" and isinstance(value, str):
        _check_resource(checker, value, location)
    elif key == "Retry" and isinstance(value, list):
        _check_retriers(checker, value, location)
    elif key == "Catch" and isinstance(value, list):
        _check_catchers(checker, state, value, location)
    elif key == "Choices" and isinstance(value, list):
        rules.check_choices(checker, state, value, location)
    elif key == "Branches" and isinstance(value, list):
        _check_branches(checker, state, value, location)
    elif key in ("ItemProcessor", "Iterator"):
        from engine.asl.validation.structure import PROCESSOR_FIELDS, check_branch

        check_branch(
            checker, value, location, state.inner_outer_variables, allowed=PROCESSOR_FIELDS
        )
    elif key == "ItemBatcher" and isinstance(value, dict):
        _check_item_batcher(checker, state, value, location)
    elif key in ("ItemReader", "ResultWriter") and isinstance(value, dict):
        _check_reader_or_writer(checker, state, key, value, location)
    elif key == "Credentials" and isinstance(value, dict):
        _check_credentials(checker, state, value, location)
    elif key == "Assign":
        rules.check_assign(checker, value, location, state.language, state.scope.outer_variables)
    elif key == "Label" and isinstance(value, str):
        _check_label(checker, value, location)


def _check_branches(checker: Checker, state: StateInfo, branches: list[Any], location: str) -> None:
    from engine.asl.validation.structure import check_branch

    if not branches:
        checker.report("The value for the field 'Branches' must not be empty", location)
    for index, branch in enumerate(branches):
        check_branch(checker, branch, item(location, index), state.inner_outer_variables)


def check_processor_config(checker: Checker, config: Any, location: str) -> None:
    if not isinstance(config, dict):
        fields.expect_type(checker, "OBJECT", location)
        return
    for key, value in config.items():
        if key not in ("Mode", "ExecutionType"):
            checker.unsupported(key, location)
        else:
            fields.check_field(checker, key, value, child(location, key), JSONPATH)
    if config.get("Mode") == "DISTRIBUTED" and "ExecutionType" not in config:
        # A Distributed Map must say how its child workflows run (reference 7.8).
        checker.report("The field 'ExecutionType' is required but was missing", location)
    if checker.express and config.get("Mode") == "DISTRIBUTED":
        # A Distributed Map cannot run in an EXPRESS parent (reference 13).
        checker.report(
            "The field 'Mode' with value 'DISTRIBUTED' is not supported inside 'EXPRESS' "
            "state machines",
            child(location, "Mode"),
        )


def _check_item_batcher(
    checker: Checker, state: StateInfo, batcher: dict[str, Any], location: str
) -> None:
    allowed = frozenset(info.alias or name for name, info in ItemBatcher.model_fields.items())
    for key, value in batcher.items():
        if key not in allowed:
            checker.unsupported(key, location)
        elif key.endswith("Path") and state.language == JSONATA:
            checker.wrong_language(key, state.language, location)
        else:
            fields.check_field(checker, key, value, child(location, key), state.language)
    if not any(key in batcher for key in _BATCH_LIMITS):
        checker.report(
            "At least one of the fields 'MaxItemsPerBatch', 'MaxItemsPerBatchPath', "
            "'MaxInputBytesPerBatch' or 'MaxInputBytesPerBatchPath' is required",
            location,
        )
    for pair in (_BATCH_LIMITS[:2], _BATCH_LIMITS[2:]):
        _check_exclusive(checker, batcher, pair, "ItemBatcher", location)


def _check_reader_or_writer(
    checker: Checker, state: StateInfo, key: str, body: dict[str, Any], location: str
) -> None:
    from engine.asl.validation.reader_writer import check_reader_config, check_result_writer

    if key == "ItemReader" and "Resource" not in body:
        checker.report("The field 'Resource' is required but was missing", location)
    if key == "ItemReader" and "ReaderConfig" in body:
        check_reader_config(checker, state, body["ReaderConfig"], child(location, "ReaderConfig"))
    if key == "ResultWriter":
        check_result_writer(checker, state, body, location)
    if isinstance(body.get("Resource"), str) and checker.express:
        _check_express_resource(checker, body["Resource"], child(location, "Resource"))
    parameters = body.get("Parameters")
    if parameters is not None and state.language == JSONPATH:
        fields.check_template(checker, parameters, child(location, "Parameters"))


def _check_credentials(
    checker: Checker, state: StateInfo, credentials: dict[str, Any], location: str
) -> None:
    """`{"RoleArn": ...}`, or in JSONPath `{"RoleArn.$": path-or-intrinsic}` (reference 7.2)."""
    has_dynamic = "RoleArn.$" in credentials and state.language == JSONPATH
    if "RoleArn" not in credentials and not has_dynamic:
        # AWS's wording, observed for `"Credentials": {}` and for an unknown field only.
        checker.report("The field 'RoleArn' is required but was missing", location)
        return
    if "RoleArn" in credentials:
        role = credentials["RoleArn"]
        fields.check_field(checker, "Resource", role, child(location, "RoleArn"), JSONPATH)
    if has_dynamic:
        fields.check_template(checker, {"RoleArn.$": credentials["RoleArn.$"]}, location)


def _check_label(checker: Checker, label: str, location: str) -> None:
    """Map Label: 1..40 characters, none of the characters names may not have. AWS reports
    these in its own error text, the whole definition quoted (observed)."""
    if not label:
        reason = "Label cannot be empty"
    elif len(label) > MAX_LABEL_LENGTH:
        reason = f"Label cannot exceed {MAX_LABEL_LENGTH} characters"
    else:
        found = next((char for char in _LABEL_FORBIDDEN if char in label), None)
        if found is None:
            return
        reason = f"Label contains invalid character: '{found.encode('unicode-escape').decode()}'"
    message = f"Error=ValueError Args=[{reason!r}] in definition '{checker.definition_text}'."
    checker.report(message, location, INVALID_LABEL_NAME)


def _check_resource(checker: Checker, resource: str, location: str) -> None:
    """A Task resource is one AWS accepts (engine/asl/resources.py: a Lambda function, an
    activity, an optimized or AWS SDK integration with a pattern it allows, an HTTP Task);
    EXPRESS machines restrict which."""
    refused = resources.check_resource(resource)
    if refused is not None:
        checker.report(refused, location)
    elif checker.express:
        _check_express_resource(checker, resource, location)


def _check_express_resource(checker: Checker, resource: str, location: str) -> None:
    """EXPRESS machines support Request-Response only: no activities, no `.sync`, no
    `.waitForTaskToken` (reference 13). Messages are AWS's, trailing space included."""
    if _ACTIVITY_ARN.match(resource):
        checker.report("Express state machine does not support Activity ARN", location)
    elif resource.endswith(".waitForTaskToken"):
        checker.report(
            "Express state machine does not support '.waitForTaskToken' service integration ",
            location,
        )
    elif _SYNC_SUFFIX.search(resource):
        checker.report(
            "Express state machine does not support '.sync' service integration", location
        )


# --- Retry and Catch -----------------------------------------------------------------------


def _check_retriers(checker: Checker, retriers: list[Any], location: str) -> None:
    allowed = frozenset(info.alias or name for name, info in Retrier.model_fields.items())
    for index, retrier in enumerate(retriers):
        here = item(location, index)
        if not isinstance(retrier, dict):
            fields.expect_type(checker, "OBJECT", here)
            continue
        if "ErrorEquals" not in retrier:
            checker.report("The field 'ErrorEquals' is required but was missing", here)
        for key, value in retrier.items():
            if key not in allowed:
                checker.unsupported(key, here)
            elif key == "ErrorEquals":
                _check_error_equals(checker, value, here, last=index == len(retriers) - 1)
            else:
                # Retrier fields are constants even in JSONata states.
                fields.check_field(checker, key, value, child(here, key), JSONPATH)


def _check_catchers(checker: Checker, state: StateInfo, catchers: list[Any], location: str) -> None:
    allowed = frozenset(info.alias or name for name, info in Catcher.model_fields.items())
    language_only = {"ResultPath": JSONPATH, "Output": JSONATA}
    for index, catcher in enumerate(catchers):
        here = item(location, index)
        if not isinstance(catcher, dict):
            fields.expect_type(checker, "OBJECT", here)
            continue
        missing = [name for name in ("ErrorEquals", "Next") if name not in catcher]
        if missing:
            checker.report(f"These fields are required: [{', '.join(missing)}]", here)
        for key, value in catcher.items():
            if key not in allowed:
                checker.unsupported(key, here)
            elif language_only.get(key, state.language) != state.language:
                checker.wrong_language(key, state.language, here)
            elif key == "ErrorEquals":
                _check_error_equals(checker, value, here, last=index == len(catchers) - 1)
            elif key == "Assign":
                fields.check_field(checker, key, value, child(here, key), state.language)
                # A catcher's Assign writes the scope of the state that caught (V5).
                rules.check_assign(
                    checker, value, child(here, key), state.language, state.scope.outer_variables
                )
            else:
                fields.check_field(checker, key, value, child(here, key), state.language)


def _check_error_equals(checker: Checker, names: Any, location: str, *, last: bool) -> None:
    """Non-empty strings; `States.ALL` alone and only in the last Retrier/Catcher
    (reference 8.1-8.3). Any other `States.` name is accepted, as AWS accepts it: the
    HTTP Task raises `States.Http.StatusCode.<code>`, definitions running on AWS catch it
    by name, and a Fail state may raise a `States.` name of its own."""
    here = child(location, "ErrorEquals")
    if not isinstance(names, list):
        fields.expect_type(checker, "ARRAY", here)
        return
    if not names:
        checker.report("The value for the field 'ErrorEquals' must not be empty", here)
    for index, name in enumerate(names):
        if not isinstance(name, str):
            fields.expect_type(checker, "STRING", item(here, index))
    if errors.ALL in names:
        if len(names) > 1:
            checker.report(f"'{errors.ALL}' must appear alone in the field 'ErrorEquals'", here)
        if not last:
            checker.report(
                f"'{errors.ALL}' may only appear in the last element of its array", location
            )


# --- cross-field rules of a state type -----------------------------------------------------


def check_type_rules(checker: Checker, state: StateInfo) -> None:
    for pair in _EXCLUSIVE.get(state.type, ()):
        _check_exclusive(checker, state.body, pair, state.type, state.location)
    if state.type == "Task":
        _check_heartbeat(checker, state)
    elif state.type == "Wait":
        given = [name for name in _WAIT_FIELDS if name in state.body]
        if len(given) != 1:
            checker.report(
                "Exactly one of the fields 'Seconds', 'Timestamp', 'SecondsPath' or "
                "'TimestampPath' is required",
                state.location,
            )
    elif state.type == "Map" and not ({"ItemProcessor", "Iterator"} & state.body.keys()):
        checker.report("These fields are required: [ItemProcessor]", state.location)


def _check_exclusive(
    checker: Checker, body: dict[str, Any], pair: tuple[str, ...], owner: str, location: str
) -> None:
    first, second = pair
    if first in body and second in body:
        checker.report(
            f"A {owner} cannot include both field '{first}' and '{second}'"
            if owner == "ItemBatcher"
            else f"A {owner} state cannot include both field '{first}' and '{second}'",
            location,
        )


def _check_heartbeat(checker: Checker, state: StateInfo) -> None:
    """HeartbeatSeconds must be smaller than TimeoutSeconds (reference 7.2)."""
    heartbeat = state.body.get("HeartbeatSeconds")
    timeout = state.body.get("TimeoutSeconds")
    # A JSONata expression or a path is only known at run time.
    if fields.is_integer(heartbeat) and fields.is_integer(timeout) and heartbeat >= timeout:
        checker.report(
            "The value for the field 'HeartbeatSeconds' must be smaller than the value for "
            "the field 'TimeoutSeconds'",
            child(state.location, "HeartbeatSeconds"),
        )
