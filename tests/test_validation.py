"""Validation of ASL documents: the rules AWS applies at CreateStateMachine, with AWS's
codes, wording and locations."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from engine.asl.validation import (
    DUPLICATE_STATE_NAME,
    INVALID_JSON_DESCRIPTION,
    INVALID_LABEL_NAME,
    INVALID_STATE_NAME,
    MISSING_END_STATE,
    MISSING_TRANSITION_TARGET,
    SCHEMA_VALIDATION_FAILED,
    Diagnostic,
    format_message,
    syntax,
    validate,
)
from engine.asl.validation.expressions import (
    INVALID_JSONATA_EXPRESSION,
    UNSUPPORTED_JSONATA_EXPRESSION,
)

Doc = dict[str, Any]


def machine(*states: tuple[str, Doc], start: str | None = None, **top: Any) -> Doc:
    """A definition whose states are given in order; StartAt defaults to the first."""
    body = dict(states)
    return {"StartAt": start or states[0][0], "States": body, **top}


def only(document: Any, **kwargs: Any) -> Diagnostic:
    """The single diagnostic `document` gets."""
    found = validate(document, **kwargs)
    assert len(found) == 1, found
    return found[0]


def triples(document: Any, **kwargs: Any) -> list[tuple[str, str, str]]:
    return [(d.code, d.message, d.location) for d in validate(document, **kwargs)]


PASS_END: Doc = {"Type": "Pass", "End": True}
LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:fn"


def task(**fields: Any) -> Doc:
    return {"Type": "Task", "Resource": LAMBDA, "End": True, **fields}


# --- the document and its JSON -----------------------------------------------------------


def test_a_valid_definition_has_no_diagnostics() -> None:
    assert validate(machine(("A", {"Type": "Pass", "Next": "B"}), ("B", PASS_END))) == []


@pytest.mark.parametrize("document", [None, [], 3, " ", "[1]", '"text"'])
def test_the_document_must_be_an_object(document: Any) -> None:
    assert only(document) == Diagnostic(
        SCHEMA_VALIDATION_FAILED, "Definition must be a valid JSON object", ""
    )


def test_json_syntax_errors_use_jacksons_wording_and_source_location() -> None:
    found = only("not a definition")
    location = '[Source: (String)"not a definition"; line: 1, column: 4]'
    assert found.code == INVALID_JSON_DESCRIPTION
    assert found.location == location
    assert found.message == (
        "Unrecognized token 'not': was expecting (JSON String, Number, Array, Object or token "
        f"'null', 'true' or 'false')\n at {location}"
    )


@pytest.mark.parametrize(
    ("text", "message_start", "column"),
    [
        ("{bad", "Unexpected character ('b' (code 98)): was expecting double-quote", 3),
        ('{"a" 1}', "Unexpected character ('1' (code 49)): was expecting a colon", 7),
        ('{"a": 1 "b": 2}', "Unexpected character ('\"' (code 34)): was expecting comma", 10),
        ('{"a": [1 2]}', "Unexpected character ('2' (code 50)): was expecting comma", 11),
        ('{"a": "x', "Unexpected end-of-input", 9),
        ('{"a": NaN}', "Non-standard token 'NaN'", 1),
    ],
)
def test_json_syntax_error_messages(text: str, message_start: str, column: int) -> None:
    found = only(text)
    assert found.code == INVALID_JSON_DESCRIPTION
    assert found.message.startswith(message_start)
    assert found.location.endswith(f"line: 1, column: {column}]")


def test_missing_top_level_fields_are_listed_together_at_the_root() -> None:
    assert only({}) == Diagnostic(
        SCHEMA_VALIDATION_FAILED, "These fields are required: [States, StartAt]", "/"
    )
    assert only({"States": {"S": PASS_END}}).message == "These fields are required: [StartAt]"


def test_unknown_fields_are_reported_at_their_object() -> None:
    assert triples(machine(("A", PASS_END), Foo=1)) == [
        (SCHEMA_VALIDATION_FAILED, "Field 'Foo' is not supported", "/")
    ]
    # AWS observed: TimeoutSeconds on a Map is located at the state, not at the field.
    m = {
        "Type": "Map",
        "TimeoutSeconds": 5,
        "ItemProcessor": machine(("P", PASS_END)),
        "End": True,
    }
    assert only(machine(("M", m))) == Diagnostic(
        SCHEMA_VALIDATION_FAILED, "Field 'TimeoutSeconds' is not supported", "/States/M"
    )


def test_every_problem_is_reported_not_only_the_first() -> None:
    document = machine(
        ("A", {"Type": "Pass", "Next": "Nope", "InputPath": 3}),
        ("B", {"Type": "Wait", "End": True}),
        ("C", {"Type": "Bogus"}),
    )
    codes = [(d.code, d.location) for d in validate(document)]
    assert (SCHEMA_VALIDATION_FAILED, "/States/A/InputPath") in codes
    assert (MISSING_TRANSITION_TARGET, "/States/A/Next") in codes
    assert (SCHEMA_VALIDATION_FAILED, "/States/B") in codes
    assert (SCHEMA_VALIDATION_FAILED, "/States/C/Type") in codes


# --- states and fields -------------------------------------------------------------------


def test_type_is_required_and_must_be_a_state_type() -> None:
    assert only(machine(("A", {"End": True}))) == Diagnostic(
        SCHEMA_VALIDATION_FAILED, "These fields are required: [Type]", "/States/A"
    )
    assert only(machine(("A", {"Type": "Lambda", "End": True}))) == Diagnostic(
        SCHEMA_VALIDATION_FAILED,
        "The field 'Type' should have one of these values: "
        "[Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map]",
        "/States/A/Type",
    )


def test_required_fields_of_a_state_type() -> None:
    assert only(machine(("A", {"Type": "Task", "End": True}))).message == (
        "These fields are required: [Resource]"
    )
    assert only(machine(("A", {"Type": "Parallel", "End": True}))).message == (
        "These fields are required: [Branches]"
    )


def test_field_types_are_checked_at_the_field() -> None:
    assert only(machine(("A", {"Type": "Pass", "End": "yes"}))) == Diagnostic(
        SCHEMA_VALIDATION_FAILED, "Expected value of type [BOOLEAN]", "/States/A/End"
    )
    assert only(machine(("A", task(TimeoutSeconds="10")))) == Diagnostic(
        SCHEMA_VALIDATION_FAILED, "Expected value of type [INTEGER]", "/States/A/TimeoutSeconds"
    )


@pytest.mark.parametrize(
    ("fields", "location"),
    [
        ({"TimeoutSeconds": 0}, "/States/A/TimeoutSeconds"),
        ({"HeartbeatSeconds": -1}, "/States/A/HeartbeatSeconds"),
        ({"TimeoutSeconds": 10, "HeartbeatSeconds": 10}, "/States/A/HeartbeatSeconds"),
        ({"TimeoutSeconds": 10, "TimeoutSecondsPath": "$.t"}, "/States/A"),
        ({"HeartbeatSeconds": 1, "HeartbeatSecondsPath": "$.h"}, "/States/A"),
        ({"TimeoutSecondsPath": "$.a[*]"}, "/States/A/TimeoutSecondsPath"),
    ],
)
def test_task_timeouts(fields: Doc, location: str) -> None:
    assert only(machine(("A", task(**fields)))).location == location


def test_task_resource_must_be_an_arn() -> None:
    found = only(machine(("A", {"Type": "Task", "Resource": "my-function", "End": True})))
    assert found.location == "/States/A/Resource"
    assert found.message.startswith("The resource provided my-function is not recognized.")


def test_exactly_one_of_next_or_end() -> None:
    found = validate(machine(("A", {"Type": "Pass"}), ("B", PASS_END)))
    assert (SCHEMA_VALIDATION_FAILED, "/States/A") in [(d.code, d.location) for d in found]
    both = only(machine(("A", {"Type": "Pass", "Next": "A", "End": True})))
    assert both.location == "/States/A"
    choice = machine(
        (
            "C",
            {
                "Type": "Choice",
                "Choices": [{"Variable": "$.x", "IsNull": True, "Next": "S"}],
                "End": True,
            },
        ),
        ("S", {"Type": "Succeed"}),
    )
    assert only(choice) == Diagnostic(
        SCHEMA_VALIDATION_FAILED, "Field 'End' is not supported", "/States/C"
    )


def test_state_names_are_at_most_80_characters() -> None:
    name = "n" * 81
    assert only(machine((name, PASS_END))) == Diagnostic(
        INVALID_STATE_NAME,
        "State name 'nnnn" + "n" * 77 + "' must be between 1 and 80 characters",
        f"/States/{name}",
    )
    assert validate(machine(("n" * 80, PASS_END))) == []


def test_state_names_are_unique_across_the_whole_machine() -> None:
    inner = {"StartAt": "X", "States": {"X": PASS_END}}
    document = machine(
        ("P", {"Type": "Parallel", "Branches": [inner, copy.deepcopy(inner)], "Next": "X"}),
        ("X", PASS_END),
    )
    assert triples(document) == [
        (DUPLICATE_STATE_NAME, "Duplicate State name: X", "/States/P/Branches[1]/States/X"),
        (DUPLICATE_STATE_NAME, "Duplicate State name: X", "/States/X"),
    ]


# --- transitions and reachability ---------------------------------------------------------


def test_missing_next_target_and_unreachable_state_as_aws_reports_them() -> None:
    document = machine(("pass1", {"Type": "Pass", "Next": "pass3"}), ("pass2", PASS_END))
    assert format_message(validate(document)) == (
        "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: "
        'pass3 at /States/pass1/Next, MISSING_TRANSITION_TARGET: State "pass2" is not '
        "reachable. at /States/pass2'"
    )


def test_start_at_must_name_a_state() -> None:
    document = machine(("run_step", PASS_END), start="aws_own.run_step")
    assert triples(document) == [
        (MISSING_TRANSITION_TARGET, "Missing 'Next' target: aws_own.run_step", "/StartAt"),
        (MISSING_TRANSITION_TARGET, 'State "run_step" is not reachable.', "/States/run_step"),
    ]


def test_every_kind_of_transition_says_next_and_is_located_at_its_field() -> None:
    document = machine(
        ("T", task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Gone1"}], End=None)),
        (
            "C",
            {
                "Type": "Choice",
                "Default": "Gone2",
                "Choices": [{"Variable": "$.x", "IsNull": True, "Next": "Gone3"}],
            },
        ),
    )
    document["States"]["T"].pop("End")
    document["States"]["T"]["Next"] = "C"
    locations = [(d.message, d.location) for d in validate(document)]
    assert ("Missing 'Next' target: Gone1", "/States/T/Catch[0]/Next") in locations
    assert ("Missing 'Next' target: Gone2", "/States/C/Default") in locations
    assert ("Missing 'Next' target: Gone3", "/States/C/Choices[0]/Next") in locations


def test_transitions_may_not_cross_scopes() -> None:
    branch = {"StartAt": "In", "States": {"In": {"Type": "Pass", "Next": "Out"}}}
    document = machine(
        ("P", {"Type": "Parallel", "Branches": [branch], "Next": "Out"}),
        ("Out", {"Type": "Pass", "Next": "In"}),
    )
    assert triples(document) == [
        (
            MISSING_TRANSITION_TARGET,
            "Missing 'Next' target: Out",
            "/States/P/Branches[0]/States/In/Next",
        ),
        (MISSING_TRANSITION_TARGET, "Missing 'Next' target: In", "/States/Out/Next"),
        (MISSING_END_STATE, "Workflow has no terminal state", ""),
    ]


def test_reachability_is_checked_in_each_scope() -> None:
    processor = {"StartAt": "A", "States": {"A": PASS_END, "B": PASS_END}}
    document = machine(("M", {"Type": "Map", "ItemProcessor": processor, "End": True}))
    assert only(document) == Diagnostic(
        MISSING_TRANSITION_TARGET,
        'State "B" is not reachable.',
        "/States/M/ItemProcessor/States/B",
    )


def test_a_workflow_needs_a_terminal_state_which_hides_unreachable_states() -> None:
    loop = machine(("A", {"Type": "Pass", "Next": "B"}), ("B", {"Type": "Pass", "Next": "A"}))
    assert triples(loop) == [(MISSING_END_STATE, "Workflow has no terminal state", "")]
    loop["States"]["C"] = PASS_END
    assert triples(loop) == [
        (MISSING_TRANSITION_TARGET, 'State "C" is not reachable.', "/States/C")
    ]
    assert format_message(validate({"StartAt": "A", "States": {}})).endswith(
        "MISSING_END_STATE: Workflow has no terminal state at null'"
    )


def test_a_missing_start_at_does_not_make_every_state_unreachable() -> None:
    assert triples({"States": {"A": {"Type": "Pass", "Next": "B"}, "B": PASS_END}}) == [
        (SCHEMA_VALIDATION_FAILED, "These fields are required: [StartAt]", "/")
    ]


# --- Retry and Catch ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("retrier", "location"),
    [
        ({"ErrorEquals": []}, "/States/A/Retry[0]/ErrorEquals"),
        ({"ErrorEquals": ["E"], "IntervalSeconds": 0}, "/States/A/Retry[0]/IntervalSeconds"),
        ({"ErrorEquals": ["E"], "MaxAttempts": -1}, "/States/A/Retry[0]/MaxAttempts"),
        ({"ErrorEquals": ["E"], "BackoffRate": 0.5}, "/States/A/Retry[0]/BackoffRate"),
        ({"ErrorEquals": ["E"], "MaxDelaySeconds": 31622401}, "/States/A/Retry[0]/MaxDelaySeconds"),
        ({"ErrorEquals": ["E"], "JitterStrategy": "HALF"}, "/States/A/Retry[0]/JitterStrategy"),
        ({"ErrorEquals": ["E"], "Bogus": 1}, "/States/A/Retry[0]"),
        ({"IntervalSeconds": 1}, "/States/A/Retry[0]"),
        ({"ErrorEquals": [7]}, "/States/A/Retry[0]/ErrorEquals[0]"),
        ({"ErrorEquals": ["States.ALL", "E"]}, "/States/A/Retry[0]/ErrorEquals"),
    ],
)
def test_retrier_rules(retrier: Doc, location: str) -> None:
    assert only(machine(("A", task(Retry=[retrier])))).location == location


def test_states_all_only_in_the_last_retrier_and_catcher() -> None:
    retry = [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["E"]}]
    assert only(machine(("A", task(Retry=retry)))).location == "/States/A/Retry[0]"
    catch = [{"ErrorEquals": ["States.ALL"], "Next": "B"}, {"ErrorEquals": ["E"], "Next": "B"}]
    found = only(machine(("A", task(Catch=catch)), ("B", PASS_END)))
    assert found.location == "/States/A/Catch[0]"


def test_predefined_error_names_are_accepted() -> None:
    retry = [{"ErrorEquals": ["States.Timeout", "States.TaskFailed", "Custom.Error"]}]
    assert validate(machine(("A", task(Retry=retry)))) == []


def test_custom_error_names_may_begin_with_states_as_on_aws() -> None:
    # AWS accepts them: the HTTP Task raises States.Http.StatusCode.<code> and definitions
    # running on AWS retry and catch it by name; a Fail state may raise such a name too, and
    # its Catch must be able to name it.
    retry = [{"ErrorEquals": ["States.Http.StatusCode.429", "States.Custom"]}]
    catch = [{"ErrorEquals": ["States.Http.StatusCode.400"], "Next": "B"}]
    document = machine(("A", task(Retry=retry, Catch=catch)), ("B", PASS_END))
    assert validate(document) == []
    branch = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "States.MyError"}}}
    parallel = {"Type": "Parallel", "Branches": [branch], "End": True,
                "Catch": [{"ErrorEquals": ["States.MyError"], "Next": "B"}]}
    assert validate(machine(("P", parallel), ("B", PASS_END))) == []


def test_catcher_needs_error_equals_and_next() -> None:
    found = validate(machine(("A", task(Catch=[{}]))))
    assert found[0] == Diagnostic(
        SCHEMA_VALIDATION_FAILED,
        "These fields are required: [ErrorEquals, Next]",
        "/States/A/Catch[0]",
    )


def test_retry_and_catch_only_on_task_parallel_map() -> None:
    found = only(machine(("A", {"Type": "Pass", "End": True, "Retry": []})))
    expected = Diagnostic(SCHEMA_VALIDATION_FAILED, "Field 'Retry' is not supported", "/States/A")
    assert found == expected


# --- Choice ---------------------------------------------------------------------------------


def choice(*rules: Doc, **fields: Any) -> Doc:
    return machine(
        ("C", {"Type": "Choice", "Choices": list(rules), "Default": "S", **fields}),
        ("S", {"Type": "Succeed"}),
    )


def test_choices_must_not_be_empty() -> None:
    assert only(choice()) == Diagnostic(
        SCHEMA_VALIDATION_FAILED,
        "The value for the field 'Choices' must not be empty",
        "/States/C/Choices",
    )


@pytest.mark.parametrize(
    ("rule", "location"),
    [
        ({"Variable": "$.x", "Next": "S"}, "/States/C/Choices[0]"),
        (
            {"Variable": "$.x", "IsNull": True, "IsString": True, "Next": "S"},
            "/States/C/Choices[0]",
        ),
        ({"IsNull": True, "Next": "S"}, "/States/C/Choices[0]"),
        ({"Variable": "$.x", "IsNull": True}, "/States/C/Choices[0]"),
        ({"Variable": "$.x", "StringEquals": 1, "Next": "S"}, "/States/C/Choices[0]/StringEquals"),
        (
            {"Variable": "$.x", "NumericEquals": "1", "Next": "S"},
            "/States/C/Choices[0]/NumericEquals",
        ),
        (
            {"Variable": "$.x", "NumericEquals": True, "Next": "S"},
            "/States/C/Choices[0]/NumericEquals",
        ),
        (
            {"Variable": "$.x", "BooleanEquals": "true", "Next": "S"},
            "/States/C/Choices[0]/BooleanEquals",
        ),
        ({"Variable": "$.x", "IsPresent": 1, "Next": "S"}, "/States/C/Choices[0]/IsPresent"),
        (
            {"Variable": "$.x", "TimestampEquals": "2016-03-14", "Next": "S"},
            "/States/C/Choices[0]/TimestampEquals",
        ),
        (
            {"Variable": "$.x", "StringEqualsPath": "x", "Next": "S"},
            "/States/C/Choices[0]/StringEqualsPath",
        ),
        (
            {"Variable": "$.x", "StringMatches": "a\\", "Next": "S"},
            "/States/C/Choices[0]/StringMatches",
        ),
        ({"Variable": "x", "IsNull": True, "Next": "S"}, "/States/C/Choices[0]/Variable"),
        ({"And": [], "Next": "S"}, "/States/C/Choices[0]/And"),
        (
            {"Or": [{"Variable": "$.x", "IsNull": True, "Next": "S"}], "Next": "S"},
            "/States/C/Choices[0]/Or[0]",
        ),
        ({"Not": {"Variable": "$.x"}, "Next": "S"}, "/States/C/Choices[0]/Not"),
    ],
)
def test_choice_rule_rules(rule: Doc, location: str) -> None:
    assert only(choice(rule)).location == location


def test_valid_choice_rules() -> None:
    rules: list[Doc] = [
        {
            "And": [
                {"Variable": "$.a", "IsPresent": True},
                {"Not": {"Variable": "$.a", "StringMatches": "log-*.txt"}},
            ],
            "Next": "S",
        },
        {"Variable": "$$.Execution.Id", "TimestampLessThanPath": "$.t", "Next": "S"},
        {"Variable": "$.n", "NumericGreaterThan": 1.5, "Next": "S", "Assign": {"x": 1}},
        {"Variable": "$.t", "TimestampEquals": "2016-03-14T01:59:00Z", "Next": "S"},
    ]
    assert validate(choice(*rules)) == []


def test_jsonata_choice_rules_use_condition() -> None:
    good = choice({"Condition": "{% $states.input.x > 1 %}", "Next": "S"}, QueryLanguage="JSONata")
    assert validate(good) == []
    bad = choice({"Variable": "$.x", "IsNull": True, "Next": "S"}, QueryLanguage="JSONata")
    assert triples(bad)[0] == (
        SCHEMA_VALIDATION_FAILED,
        "These fields are required: [Condition]",
        "/States/C/Choices[0]",
    )
    assert (
        SCHEMA_VALIDATION_FAILED,
        "The QueryLanguage is set to 'JSONata', but field 'Variable' is only supported for "
        "the 'JSONPath' QueryLanguage",
        "/States/C/Choices[0]",
    ) in triples(bad)


# --- Wait, Fail, Map, Parallel ----------------------------------------------------------------


@pytest.mark.parametrize("timestamp", ["2016-12-05 21:29:29Z", "2016-12-05T21:29:29", "{% 'x' %}"])
def test_wait_timestamp_must_be_rfc3339(timestamp: str) -> None:
    document = machine(("WaitUntil", {"Type": "Wait", "Timestamp": timestamp, "End": True}))
    assert format_message(validate(document)) == (
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: String does not match "
        "RFC3339 timestamp at /States/WaitUntil/Timestamp'"
    )


def test_wait_needs_exactly_one_way_to_wait() -> None:
    none = only(machine(("W", {"Type": "Wait", "End": True})))
    two = only(machine(("W", {"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": True})))
    assert none.location == two.location == "/States/W"
    assert validate(machine(("W", {"Type": "Wait", "Seconds": 0, "End": True}))) == []


def test_fail_error_and_cause_are_exclusive_with_their_paths() -> None:
    fail = {"Type": "Fail", "Error": "E", "ErrorPath": "$.e", "Cause": "C", "CausePath": "$.c"}
    assert [d.location for d in validate(machine(("F", fail)))] == ["/States/F", "/States/F"]
    ok = {"Type": "Fail", "ErrorPath": "States.Format('{}', $.e)", "CausePath": "$$.State.Name"}
    assert validate(machine(("F", ok))) == []
    bad = {"Type": "Fail", "ErrorPath": "States.Nope($.e)"}
    assert only(machine(("F", bad))).location == "/States/F/ErrorPath"


def map_state(**fields: Any) -> Doc:
    return {"Type": "Map", "ItemProcessor": machine(("P", PASS_END)), "End": True, **fields}


@pytest.mark.parametrize(
    ("fields", "location"),
    [
        ({"MaxConcurrency": -1}, "/States/M/MaxConcurrency"),
        ({"ToleratedFailurePercentage": 100.5}, "/States/M/ToleratedFailurePercentage"),
        ({"ToleratedFailureCount": -1}, "/States/M/ToleratedFailureCount"),
        ({"MaxConcurrency": 1, "MaxConcurrencyPath": "$.m"}, "/States/M"),
        ({"ItemsPath": "$.items[*]"}, "/States/M/ItemsPath"),
        ({"ItemBatcher": {"BatchInput": {}}}, "/States/M/ItemBatcher"),
        (
            {"ItemBatcher": {"MaxInputBytesPerBatch": 262145}},
            "/States/M/ItemBatcher/MaxInputBytesPerBatch",
        ),
        ({"Iterator": machine(("Q", PASS_END))}, "/States/M"),
    ],
)
def test_map_rules(fields: Doc, location: str) -> None:
    assert only(machine(("M", map_state(**fields)))).location == location


def test_a_distributed_map_needs_an_execution_type() -> None:
    processor = machine(("P", PASS_END))
    processor["ProcessorConfig"] = {"Mode": "DISTRIBUTED"}
    found = only(machine(("M", {"Type": "Map", "ItemProcessor": processor, "End": True})))
    assert found == Diagnostic(
        SCHEMA_VALIDATION_FAILED,
        "The field 'ExecutionType' is required but was missing",
        "/States/M/ItemProcessor/ProcessorConfig",
    )


def test_map_needs_an_item_processor() -> None:
    state = map_state()
    del state["ItemProcessor"]
    assert only(machine(("M", state))).message == "These fields are required: [ItemProcessor]"


def test_branches_and_processors_only_have_their_own_fields() -> None:
    branch = {"StartAt": "B", "States": {"B": PASS_END}, "QueryLanguage": "JSONata"}
    document = machine(("P", {"Type": "Parallel", "Branches": [branch], "End": True}))
    assert only(document) == Diagnostic(
        SCHEMA_VALIDATION_FAILED, "Field 'QueryLanguage' is not supported", "/States/P/Branches[0]"
    )
    empty = machine(("P", {"Type": "Parallel", "Branches": [], "End": True}))
    assert only(empty).location == "/States/P/Branches"


@pytest.mark.parametrize(
    ("label", "reason"),
    [
        ("", "Label cannot be empty"),
        ("x" * 41, "Label cannot exceed 40 characters"),
        ("label_*", "Label contains invalid character: '*'"),
        ("label_\x00", "Label contains invalid character: '\\x00'"),
        ("label_\\", "Label contains invalid character: '\\\\'"),
    ],
)
def test_map_label_rules_use_aws_error_text(label: str, reason: str) -> None:
    document = machine(("M", map_state(Label=label)))
    found = only(document)
    assert found.code == INVALID_LABEL_NAME
    assert found.location == "/States/M/Label"
    text = json.dumps(document)
    assert format_message([found]) == f"Error=ValueError Args=[{reason!r}] in definition '{text}'."


def test_label_messages_quote_the_definition_text_as_submitted() -> None:
    text = '{"StartAt":"M","States":{"M":' + json.dumps(map_state(Label="a b")) + "}}"
    assert format_message(validate(text)).endswith(f"in definition '{text}'.")


# --- credentials, express ---------------------------------------------------------------------


@pytest.mark.parametrize("credentials", [{}, {"InvalidField": "invalid"}])
def test_credentials_need_a_role_arn(credentials: Doc) -> None:
    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Arguments": "{% $states.input %}",
        "Credentials": credentials,
        "End": True,
    }
    document = machine(("State0", state), QueryLanguage="JSONata")
    assert format_message(validate(document)) == (
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The field 'RoleArn' is "
        "required but was missing at /States/State0/Credentials'"
    )


def test_dynamic_role_arn_in_jsonpath() -> None:
    good = task(Credentials={"RoleArn.$": "$.role"})
    assert validate(machine(("A", good))) == []
    bad = task(Credentials={"RoleArn.$": "role"})
    assert only(machine(("A", bad))).location == "/States/A/Credentials"


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        (
            "arn:aws:states:::sns:publish.waitForTaskToken",
            "Express state machine does not support '.waitForTaskToken' service integration ",
        ),
        (
            "arn:aws:states:::states:startExecution.sync",
            "Express state machine does not support '.sync' service integration",
        ),
        (
            "arn:aws:states:::states:startExecution.sync:2",
            "Express state machine does not support '.sync' service integration",
        ),
        (
            "arn:aws:states:us-east-1:111111111111:activity:act",
            "Express state machine does not support Activity ARN",
        ),
    ],
)
def test_express_machines_reject_callbacks_sync_and_activities(resource: str, message: str) -> None:
    document = machine(("T", {"Type": "Task", "Resource": resource, "End": True}))
    assert validate(document) == []
    assert only(document, state_machine_type="EXPRESS") == Diagnostic(
        SCHEMA_VALIDATION_FAILED, message, "/States/T/Resource"
    )


def test_express_machines_reject_distributed_maps() -> None:
    processor = machine(("P", PASS_END))
    processor["ProcessorConfig"] = {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}
    document = machine(("M", {"Type": "Map", "ItemProcessor": processor, "End": True}))
    assert validate(document) == []
    found = only(document, state_machine_type="EXPRESS")
    assert found.location == "/States/M/ItemProcessor/ProcessorConfig/Mode"


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        ("arn:aws:states:::sns:publish.waitForTaskToken",
         "Express state machine does not support '.waitForTaskToken' service integration "),
        ("arn:aws:states:::states:startExecution.sync",
         "Express state machine does not support '.sync' service integration"),
        ("arn:aws:states:us-east-1:111111111111:activity:act",
         "Express state machine does not support Activity ARN"),
    ],
)
def test_a_distributed_maps_express_children_may_use_only_what_express_machines_may(
    resource: str, message: str
) -> None:
    """`ExecutionType: EXPRESS` children run as EXPRESS executions: their states are
    checked as an EXPRESS machine's, inside a STANDARD parent (and a nested one's too)."""
    work = {"Type": "Task", "Resource": resource, "End": True}
    for kind in ("EXPRESS", "STANDARD"):
        processor = machine(("W", work))
        processor["ProcessorConfig"] = {"Mode": "DISTRIBUTED", "ExecutionType": kind}
        document = machine(("M", {"Type": "Map", "ItemProcessor": processor, "End": True}))
        if kind == "STANDARD":
            assert validate(document) == []
        else:
            assert only(document) == Diagnostic(
                SCHEMA_VALIDATION_FAILED, message, "/States/M/ItemProcessor/States/W/Resource"
            )
    # Outside the processor the parent stays STANDARD.
    express_map = {"Type": "Map", "End": True, "ItemProcessor": {
        **machine(("P", PASS_END)),
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}}}
    outer = machine(("T", {"Type": "Task", "Resource": resource, "Next": "M"}),
                    ("M", express_map))
    assert validate(outer) == []


def test_an_inline_map_or_express_parent_is_unchanged_by_the_express_children_rule() -> None:
    processor = machine(("W", {"Type": "Task", "End": True,
                               "Resource": "arn:aws:states:::states:startExecution.sync"}))
    processor["ProcessorConfig"] = {"Mode": "INLINE"}
    document = machine(("M", {"Type": "Map", "ItemProcessor": processor, "End": True}))
    assert validate(document) == []


# --- paths and payload templates ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "location"),
    [
        ({"InputPath": "x"}, "/States/A/InputPath"),
        ({"OutputPath": 1}, "/States/A/OutputPath"),
        ({"ResultPath": "$$.x"}, "/States/A/ResultPath"),
        ({"ResultPath": "$var.x"}, "/States/A/ResultPath"),
        ({"ResultPath": "$.a[*]"}, "/States/A/ResultPath"),
        ({"Parameters": "$.x"}, "/States/A/Parameters"),
        ({"Parameters": {"a.$": "a"}}, "/States/A/Parameters"),
        ({"Parameters": {"a": 1, "a.$": "$.a"}}, "/States/A/Parameters"),
        ({"Parameters": {"deep": [{"a.$": 3}]}}, "/States/A/Parameters"),
    ],
)
def test_paths_and_templates(fields: Doc, location: str) -> None:
    assert only(machine(("A", {"Type": "Pass", "End": True, **fields}))).location == location


@pytest.mark.parametrize("field", ["Parameters", "ResultSelector"])
def test_parameters_and_result_selector_may_be_arrays(field: str) -> None:
    # AWS runs such definitions (its editor's schema was changed to accept them); each
    # element is a template in turn, its objects' "key.$" members checked as usual.
    template = [{"id.$": "$.id", "name": "text"}, "$.kept-as-text", 3, [{"x.$": "$$.State.Name"}]]
    assert validate(machine(("A", task(**{field: template})))) == []
    bad = [{"id.$": "not a path"}]
    assert only(machine(("A", task(**{field: bad})))).location == f"/States/A/{field}"
    # ItemSelector keeps to the specification's object.
    map_state = {"Type": "Map", "End": True, "ItemSelector": [1],
                 "ItemProcessor": {"StartAt": "I", "States": {"I": PASS_END}}}
    assert only(machine(("M", map_state))).location == "/States/M/ItemSelector"


@pytest.mark.parametrize("path", ["$$.Execution.Name ", " $.a", "$.a\t", "  $var.field  "])
def test_paths_with_whitespace_around_are_accepted(path: str) -> None:
    # Step Functions' JSONPath (Jayway) trims the path before it compiles it.
    assign = {"var": 1} if "$var" in path else {}
    states: list[tuple[str, Doc]] = [("S", {"Type": "Pass", "Assign": assign, "Next": "A"})]
    parameters = {"value.$": path}
    states.append(("A", {"Type": "Pass", "End": True, "Parameters": parameters}))
    assert validate(machine(*states)) == []
    if not path.strip().startswith("$var"):
        state = {"Type": "Pass", "End": True, "InputPath": path, "OutputPath": "$ "}
        assert validate(machine(("A", state))) == []


def test_null_paths_are_meaningful_and_valid() -> None:
    state = {"Type": "Pass", "End": True, "InputPath": None, "OutputPath": None, "ResultPath": None}
    assert validate(machine(("A", state))) == []


def test_template_values_may_be_paths_context_paths_variables_and_intrinsics() -> None:
    parameters = {
        "a.$": "$.a",
        "b.$": "$$.Execution.Id",
        "c.$": "$var.field",
        "d.$": "States.Format('{} and {}', $.x, States.UUID())",
        "literal": "$.not-evaluated",
    }
    assert validate(machine(("A", {"Type": "Pass", "End": True, "Parameters": parameters}))) == []


def test_illegal_escape_in_an_intrinsic_string_as_aws_reports_it() -> None:
    value = 'States.StringToJson(\'{"text":"An \\"escaped double quote\\" here"}\')'
    document = machine(
        ("IntrinsicEscape", {"Type": "Pass", "Parameters": {"parsed.$": value}, "End": True})
    )
    assert format_message(validate(document)) == (
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The value for the field "
        "'parsed.$' must be a valid JSONPath or a valid intrinsic function call at "
        "/States/IntrinsicEscape/Parameters'"
    )


# --- query languages ---------------------------------------------------------------------------


def test_jsonpath_fields_in_a_jsonata_state_are_located_at_the_state() -> None:
    document = machine(
        ("X", {"Type": "Pass", "End": True, "InputPath": "$.a"}), QueryLanguage="JSONata"
    )
    assert only(document) == Diagnostic(
        SCHEMA_VALIDATION_FAILED,
        "The QueryLanguage is set to 'JSONata', but field 'InputPath' is only supported for "
        "the 'JSONPath' QueryLanguage",
        "/States/X",
    )


def test_jsonata_fields_in_a_jsonpath_state() -> None:
    document = machine(("X", {"Type": "Pass", "End": True, "Output": {"a": 1}}))
    assert only(document).message == (
        "The QueryLanguage is set to 'JSONPath', but field 'Output' is only supported for the "
        "'JSONata' QueryLanguage"
    )


def test_a_jsonata_machine_cannot_downgrade_a_state_to_jsonpath() -> None:
    document = machine(
        ("Pass", {"Type": "Pass", "End": True, "QueryLanguage": "JSONPath", "InputPath": "$"}),
        QueryLanguage="JSONata",
    )
    assert only(document) == Diagnostic(
        SCHEMA_VALIDATION_FAILED,
        "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine",
        "/States/Pass",
    )


def test_a_jsonpath_machine_may_upgrade_a_state_and_inner_states_default_to_the_machine() -> None:
    inner = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True, "Output": 1}}}
    document = machine(
        (
            "M",
            {
                "Type": "Map",
                "QueryLanguage": "JSONata",
                "ItemProcessor": inner,
                "Items": [1],
                "End": True,
            },
        )
    )
    # The Map speaks JSONata; its inner Pass speaks the machine's JSONPath.
    assert only(document).location == "/States/M/ItemProcessor/States/P"


def test_query_language_values() -> None:
    found = only(machine(("A", PASS_END), QueryLanguage="jsonata"))
    assert found == Diagnostic(
        SCHEMA_VALIDATION_FAILED,
        "Value should be one of the following: [JSONPath, JSONata]",
        "/QueryLanguage",
    )


def test_jsonata_values_may_be_expressions() -> None:
    state = {
        "Type": "Task",
        "Resource": LAMBDA,
        "TimeoutSeconds": "{% $states.input.t %}",
        "Arguments": {"x": "{% $states.input %}"},
        "Output": "{% $states.result %}",
        "End": True,
    }
    assert validate(machine(("A", state), QueryLanguage="JSONata")) == []


def test_jsonata_expressions_must_parse() -> None:
    state = {"Type": "Pass", "Output": {"a": "{% 1 + %}"}, "End": True}
    found = only(machine(("A", state), QueryLanguage="JSONata"))
    assert (found.code, found.location) == (INVALID_JSONATA_EXPRESSION, "/States/A/Output/a")


def test_error_output_only_exists_in_catchers() -> None:
    state = task(Output="{% $states.errorOutput %}")
    found = only(machine(("A", state), QueryLanguage="JSONata"))
    assert (found.code, found.location) == (UNSUPPORTED_JSONATA_EXPRESSION, "/States/A/Output")
    catch = [{"ErrorEquals": ["States.ALL"], "Next": "B", "Output": "{% $states.errorOutput %}"}]
    document = machine(("A", task(Catch=catch)), ("B", PASS_END), QueryLanguage="JSONata")
    assert validate(document) == []


# --- variables -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["states", "x.y", "x[2]", "1abc", "v" * 81])
def test_variable_names(name: str) -> None:
    found = only(machine(("A", {"Type": "Pass", "End": True, "Assign": {name: 1}})))
    assert found.location == "/States/A/Assign"


def test_jsonpath_assign_is_a_payload_template() -> None:
    ok = {"Type": "Pass", "End": True, "Assign": {"x.$": "$.a", "y": "$.literal"}}
    assert validate(machine(("A", ok))) == []
    bad = {"Type": "Pass", "End": True, "Assign": {"x.$": "nope"}}
    assert only(machine(("A", bad))).location == "/States/A/Assign"


def test_an_inner_scope_may_not_assign_a_variable_of_an_outer_scope() -> None:
    inner_state: Doc = {"Type": "Pass", "End": True, "Assign": {"x": 2}}
    inner = {"StartAt": "I", "States": {"I": inner_state}}
    document = machine(
        ("Set", {"Type": "Pass", "Next": "M", "Assign": {"x": 1}}),
        ("M", {"Type": "Map", "ItemProcessor": inner, "End": True}),
    )
    assert only(document).location == "/States/M/ItemProcessor/States/I/Assign"
    # Siblings and reads are fine; so is a name only a catcher of the outer scope assigns.
    inner_state["Assign"] = {"y": "$x"}
    assert validate(document) == []


# --- the model's verdict -------------------------------------------------------------------------


def test_whatever_validates_can_be_loaded_as_a_model() -> None:
    from engine.asl.model import StateMachine

    document = machine(("A", task(Retry=[{"ErrorEquals": ["E"], "BackoffRate": 1}])))
    assert validate(document) == []
    StateMachine.model_validate(document)


def test_diagnostic_str_and_multi_problem_message() -> None:
    first = Diagnostic(MISSING_TRANSITION_TARGET, "Missing 'Next' target: X", "/States/A/Next")
    second = Diagnostic(MISSING_END_STATE, "Workflow has no terminal state", "")
    assert str(first) == "/States/A/Next: Missing 'Next' target: X"
    assert str(second) == "Workflow has no terminal state"
    assert format_message([first, second]) == (
        "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: "
        "X at /States/A/Next, MISSING_END_STATE: Workflow has no terminal state at null'"
    )


# --- the local stand-in grammars ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "valid", "reference"),
    [
        ("$", True, True),
        ("$.a.b[0]", True, True),
        ("$['a b'].c", True, True),
        ("$.abc.['def ghi']", True, True),
        ("$.a[*]", True, False),
        ("$..a", True, False),
        ("$.a[0,1]", True, False),
        ("$.a[1:2]", True, False),
        ("$[?(@.a > 1)]", True, False),
        ("a.b", False, False),
        ("$.a[", False, False),
        ("$.", False, False),
    ],
)
def test_local_path_grammar(path: str, valid: bool, reference: bool) -> None:
    assert syntax._local_path_ok(path, reference=False) is valid
    assert syntax._local_path_ok(path, reference=True) is reference


@pytest.mark.parametrize(
    ("expression", "valid"),
    [
        ("States.Format('{} {}', $.a, $$.Execution.Id)", True),
        ("States.Array()", True),
        ("States.MathAdd(1, -2.5)", True),
        ("States.JsonMerge($.a, $var.b, false)", True),
        ("States.Format('it\\'s \\{\\}')", True),
        ("States.Format(States.Format(States.UUID()))", True),
        ("States.StringToJson('say \\\"hi\\\"')", False),
        ("States.Nope(1)", False),
        ("States.Format('x'", False),
        ("States.Format('x') trailing", False),
        ("States.Array(" * 11 + ")" * 11, False),
    ],
)
def test_local_intrinsic_grammar(expression: str, valid: bool) -> None:
    assert (syntax._local_intrinsic_error(expression) is None) is valid
