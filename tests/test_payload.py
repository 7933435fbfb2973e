"""Payload templates (Parameters, ItemSelector, ResultSelector, JSONPath Assign)."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.asl import errors
from engine.asl.failure import StatesFailure
from engine.asl.payload import render

CONTEXT: dict[str, Any] = {
    "Execution": {"Id": "arn:exec", "Input": {"input_field": {"k": "v"}}, "Name": "exec"},
    "State": {"Name": "S", "EnteredTime": "2025-01-01T12:00:00Z"},
    "Map": {"Item": {"Index": 1, "Value": "Pikachu"}},
}


def rendered(template: Any, data: Any = None, **kwargs: Any) -> Any:
    kwargs.setdefault("context", CONTEXT)
    kwargs.setdefault("rng", random.Random(3))
    return render(template, {} if data is None else data, **kwargs)


def failure(template: Any, data: Any = None, **kwargs: Any) -> StatesFailure:
    with pytest.raises(StatesFailure) as caught:
        rendered(template, data, **kwargs)
    return caught.value


class TestLiterals:
    def test_members_without_suffix_are_copied(self) -> None:
        template = {
            "s": "$.x",
            "n": 1,
            "f": 0.1,
            "b": True,
            "z": None,
            "l": [1, "$.x", {"k": "States.UUID()"}],
            "o": {"inner": "$$.Execution.Id"},
        }
        assert rendered(template, {"x": 5}) == template

    def test_non_object_templates(self) -> None:
        assert rendered("text") == "text"
        assert rendered(7) == 7
        assert rendered(None) is None
        assert rendered([1, [2]]) == [1, [2]]

    def test_recorded_aws_string_literals_are_untouched(self) -> None:
        template = {
            "emoji": "🆗",
            "escaped_backslash": "Backslash \\\\ in string",
            "escaped_double_in_string": 'An escaped quote: \\"hello\\"',
            "literal_single_quote": "'",
            "whitespace_escapes": "Line1\nLine2\tTabbed",
        }
        assert rendered(template) == template


class TestEvaluatedMembers:
    def test_paths_on_the_input(self) -> None:
        data = {"a": {"b": [1, 2]}, "c": "x"}
        assert rendered({"all.$": "$", "b.$": "$.a.b", "first.$": "$.a.b[0]"}, data) == {
            "all": data,
            "b": [1, 2],
            "first": 1,
        }

    def test_context_paths(self) -> None:
        assert rendered({"id.$": "$$.Execution.Id", "ctx.$": "$$", "v.$": "$$.Map.Item.Value"}) == {
            "id": "arn:exec",
            "ctx": CONTEXT,
            "v": "Pikachu",
        }

    def test_variable_paths(self) -> None:
        variables = {"Question": "Who?", "list": [1, 2]}
        template = {"q.$": "$Question", "second.$": "$list[1]", "all.$": "$list[*]"}
        assert rendered(template, variables=variables) == {"q": "Who?", "second": 2, "all": [1, 2]}

    def test_intrinsics(self) -> None:
        data = {"AnswerTemplate": "It's {}!"}
        template = {"AnnouncePokemon.$": "States.Format($.AnswerTemplate, $$.Map.Item.Value)"}
        assert rendered(template, data) == {"AnnouncePokemon": "It's Pikachu!"}

    def test_uuid_draws_from_the_given_source(self) -> None:
        first = rendered({"id.$": "States.UUID()"}, rng=random.Random(9))
        assert rendered({"id.$": "States.UUID()"}, rng=random.Random(9)) == first

    def test_any_depth_including_objects_inside_arrays(self) -> None:
        template = {
            "outer": {"inner": {"v.$": "$.v"}},
            "list": [{"v.$": "$.v"}, [{"w.$": "$.w"}], "$.v"],
        }
        assert rendered(template, {"v": 1, "w": 2}) == {
            "outer": {"inner": {"v": 1}},
            "list": [{"v": 1}, [{"w": 2}], "$.v"],
        }

    def test_recorded_aws_filter_path(self) -> None:
        data = {"users": [{"year": 1997, "status": 0}, {"year": 1998, "status": 1}]}
        template = {"FromInput.$": "$.users[?(@.status == 0)]"}
        assert rendered(template, data) == {"FromInput": [{"year": 1997, "status": 0}]}

    @pytest.mark.parametrize(
        "path", ["$.item.items[*]", "$.item.items[1:]", "$.item.items[:1]", "$.items[1:].itemValue"]
    )
    def test_recorded_aws_indefinite_paths_over_missing_data(self, path: str) -> None:
        assert rendered({"item.$": path}, {}) == {"item": []}

    def test_recorded_aws_escaped_bracket_name(self) -> None:
        data = json.loads('{"Test\\\\\\"\\"Name\\"": "Value\\"\\\\"}')
        assert rendered({"value.$": '$[\'Test\\""Name"\']'}, data) == {"value": 'Value"\\'}

    def test_recorded_aws_context_object_values(self) -> None:
        template = {"ThisContextObject.$": "$$", "ThisState.$": "$"}
        assert rendered(template, {"FunctionName": "f"}) == {
            "ThisContextObject": CONTEXT,
            "ThisState": {"FunctionName": "f"},
        }

    def test_renamed_key_order_is_kept(self) -> None:
        out = rendered({"a.$": "$.x", "b": 1, "c.$": "$.x"}, {"x": 0})
        assert list(out) == ["a", "b", "c"]


class TestFailures:
    def test_recorded_aws_missing_path(self) -> None:
        caught = failure({"value.$": "$.no_such_jsonpath"}, {"int-literal": 0})
        assert caught.error == errors.RUNTIME
        assert caught.cause == (
            "The JSONPath '$.no_such_jsonpath' specified for the field 'value.$' could not be "
            "found in the input '{\"int-literal\":0}'"
        )

    def test_recorded_aws_missing_context_path(self) -> None:
        caught = failure({"value.$": "$$.Execution.Input.no_such_jsonpath"}, {"int-literal": 0})
        assert caught.error == errors.RUNTIME
        assert caught.cause == (
            "The JSONPath '$$.Execution.Input.no_such_jsonpath' specified for the field 'value.$' "
            "could not be found in the input '{\"int-literal\":0}'"
        )

    def test_missing_intermediate_member_and_nested_field(self) -> None:
        caught = failure({"outer": [{"missing.$": "$.nope.deep"}]}, {"other": 1})
        assert caught.cause == (
            "The JSONPath '$.nope.deep' specified for the field 'missing.$' could not be found "
            "in the input '{\"other\":1}'"
        )

    def test_input_is_written_compactly_with_unicode_kept(self) -> None:
        caught = failure({"x.$": "$.y"}, {"name": "Zoë", "n": [1.5, None]})
        assert caught.cause.endswith('in the input \'{"name":"Zoë","n":[1.5,null]}\'')

    def test_missing_variable(self) -> None:
        caught = failure({"x.$": "$nope"}, {}, variables={"other": 1})
        assert caught.error == errors.RUNTIME
        assert "'$nope' specified for the field 'x.$'" in caught.cause

    def test_missing_path_inside_an_intrinsic(self) -> None:
        caught = failure({"x.$": "States.Format('{}', $.nope)"}, {"a": 1})
        assert caught.error == errors.RUNTIME
        assert caught.cause == (
            "The JSONPath '$.nope' specified for the field 'x.$' could not be found in the "
            "input '{\"a\":1}'"
        )

    def test_intrinsic_failure_propagates(self) -> None:
        caught = failure({"x.$": "States.JsonMerge($.a, $.a, true)"}, {"a": {}})
        assert caught.error == errors.INTRINSIC_FAILURE

    @pytest.mark.parametrize(
        "value", [5, None, ["$.a"], {"p": "$.a"}, "plain", "{% $x %}", "$.a b"]
    )
    def test_values_that_are_neither_path_nor_intrinsic(self, value: Any) -> None:
        caught = failure({"x.$": value}, {"a": 1})
        assert caught.error == errors.RUNTIME
        assert "'x.$'" in caught.cause


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.text(max_size=4).filter(lambda k: not k.endswith(".$")), inner, max_size=3
        )
    ),
    max_leaves=10,
)


@given(_json)
def test_templates_without_evaluated_members_render_to_themselves(template: Any) -> None:
    before = copy.deepcopy(template)
    out = rendered(template, {"a": 1})
    assert out == template
    assert template == before


@given(
    st.dictionaries(st.text(max_size=4).filter(lambda k: not k.endswith(".$")), _json, max_size=4)
)
def test_the_result_shares_no_containers_with_the_template(template: dict[str, Any]) -> None:
    out = rendered({"nested": template, "list": [template]})
    out["nested"]["__new__"] = 1
    out["list"].append(2)
    assert "__new__" not in template


# --- definitions written for AWS: arrays as templates, paths with spaces around ----------


def test_an_array_template_renders_each_element_at_any_depth() -> None:
    template = [{"name.$": "$$.Execution.Name", "n": 1}, "$.literal", [{"v.$": "$.v"}]]
    assert rendered(template, {"v": 7}) == [{"name": "exec", "n": 1}, "$.literal", [{"v": 7}]]


def test_a_path_with_spaces_around_is_evaluated_trimmed() -> None:
    assert rendered({"name.$": "$$.Execution.Name "}) == {"name": "exec"}
    assert rendered({"v.$": " $.v\t"}, {"v": [1]}) == {"v": [1]}
    cause = failure({"w.$": "$.w "}, {"v": 1}).cause
    assert cause.startswith("The JSONPath '$.w ' specified for the field 'w.$' could not be found")


def test_array_templates_and_spaced_paths_run_end_to_end() -> None:
    from tests.test_interpreter_helpers import lambda_arn, run

    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": lambda_arn("echo"),
                "Parameters": [{"who.$": "$$.Execution.Name "}, {"n.$": "$.n"}],
                "ResultSelector": [{"first.$": "$[0].who"}, "tail"],
                "ResultPath": "$.result ",
                "End": True,
            }
        },
    }
    found = run(definition, {"n": 2}, handlers={"echo": lambda event, ctx: event})
    assert found.status == "SUCCEEDED", found.cause
    assert found.output["n"] == 2
    assert found.output["result"][1] == "tail"
    assert isinstance(found.output["result"][0]["first"], str)
