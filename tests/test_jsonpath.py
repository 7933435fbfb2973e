"""JSONPath evaluation, path kinds, and the InputPath/OutputPath/ResultPath rules."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.asl import errors
from engine.asl.failure import StatesFailure
from engine.asl.jsonpath import (
    JsonPathSyntaxError,
    PathNotFound,
    apply_input_path,
    apply_output_path,
    apply_result_path,
    compact_json,
    copy_json,
    get_path,
    is_definite,
    is_reference_path,
    is_valid_path,
    java_double,
    json_equal,
    normalized_path,
)

STORE: dict[str, Any] = {
    "store": {
        "book": [
            {"category": "reference", "author": "Rees", "title": "Sayings", "price": 8.95},
            {"category": "fiction", "author": "Waugh", "title": "Sword", "price": 12.99},
            {"category": "fiction", "author": "Melville", "isbn": "0-553", "price": 8.99},
            {"category": "fiction", "author": "Tolkien", "isbn": "0-395", "price": 22.99},
        ],
        "bicycle": {"color": "red", "price": 19.95},
    },
    "expensive": 10,
}


# --------------------------------------------------------------------------------------
# Selection
# --------------------------------------------------------------------------------------


class TestDefinitePaths:
    def test_root_returns_the_document(self) -> None:
        assert get_path("$", STORE) is STORE
        assert get_path("$", "scalar") == "scalar"
        assert get_path("$", None) is None

    def test_dot_and_bracket_members(self) -> None:
        assert get_path("$.store.bicycle.color", STORE) == "red"
        assert get_path("$['store']['bicycle']['color']", STORE) == "red"
        assert get_path('$["store"]["bicycle"].color', STORE) == "red"
        assert get_path("$.store.['bicycle'].price", STORE) == 19.95  # `.[` form (P13)

    def test_bracket_names_with_odd_characters(self) -> None:
        data = {"a b": 1, "x.y": 2, "it's": 3, "q[0]": 4, "": 5, "😀": 6}
        assert get_path("$['a b']", data) == 1
        assert get_path("$['x.y']", data) == 2
        assert get_path('$["it\'s"]', data) == 3
        assert get_path("$['q[0]']", data) == 4
        assert get_path("$['']", data) == 5
        assert get_path("$.😀", data) == 6

    def test_dot_names_may_hold_dashes_and_colons(self) -> None:
        assert get_path("$.delivery-partner", {"delivery-partner": "x"}) == "x"
        assert get_path("$.a:b", {"a:b": 1}) == 1

    def test_backslash_in_a_bracket_name_stays_in_the_name(self) -> None:
        # Recorded AWS case ESCAPE_SEQUENCES_JSONPATH: path $['Test\""Name"'] finds the
        # member named Test\""Name" (the backslash is part of the name).
        data = json.loads('{"Test\\\\\\"\\"Name\\"": "Value\\"\\\\"}')
        path = '$[\'Test\\""Name"\']'
        assert get_path(path, data) == 'Value"\\'

    def test_indexes(self) -> None:
        assert get_path("$.store.book[0].author", STORE) == "Rees"
        assert get_path("$.store.book[-1].author", STORE) == "Tolkien"
        assert get_path("$.store.book[ 1 ].author", STORE) == "Waugh"
        assert get_path("$[2]", [1, 2, 3]) == 3

    def test_null_and_false_values_are_found(self) -> None:
        assert get_path("$.a", {"a": None}) is None
        assert get_path("$.a", {"a": False}) is False

    def test_member_merge_at_the_end_is_one_object(self) -> None:
        # Jayway: a final ['a','b'] is definite and selects one object with those members.
        assert get_path("$.store.bicycle['color','price']", STORE) == {
            "color": "red",
            "price": 19.95,
        }
        assert get_path("$['a','zz']", {"a": 1, "b": 2}) == {"a": 1}
        assert is_definite("$['a','b']")

    def test_length(self) -> None:
        assert get_path("$.store.book.length()", STORE) == 4
        assert get_path("$.store.bicycle.length()", STORE) == 2
        assert get_path("$.store.book[*].isbn.length()", STORE) == 2
        assert get_path("$.expensive.length()", STORE) is None


class TestIndefinitePaths:
    def test_wildcards(self) -> None:
        assert get_path("$.store.book[*].author", STORE) == ["Rees", "Waugh", "Melville", "Tolkien"]
        assert get_path("$.store.bicycle.*", STORE) == ["red", 19.95]
        assert get_path("$[*]", {"a": 1, "b": [2]}) == [1, [2]]
        assert get_path("$.expensive[*]", STORE) == []

    def test_index_union(self) -> None:
        assert get_path("$.store.book[0,2].author", STORE) == ["Rees", "Melville"]
        assert get_path("$[0,7,-1]", [1, 2, 3]) == [1, 3]

    def test_name_union_before_more_selectors(self) -> None:
        data = {"a": {"v": 1}, "b": {"v": 2}, "c": {"v": 3}}
        assert get_path("$['a','c'].v", data) == [1, 3]
        assert not is_definite("$['a','c'].v")

    @pytest.mark.parametrize(
        ("path", "expected"),
        [
            ("$[1:]", [1, 2, 3, 4]),
            ("$[:2]", [0, 1]),
            ("$[1:3]", [1, 2]),
            ("$[-2:]", [3, 4]),
            ("$[:-3]", [0, 1]),
            ("$[::2]", [0, 2, 4]),
            ("$[1:5:2]", [1, 3]),
            ("$[::-1]", [4, 3, 2, 1, 0]),
            ("$[ 1 : 3 ]", [1, 2]),
            ("$[7:]", []),
        ],
    )
    def test_slices(self, path: str, expected: list[int]) -> None:
        assert get_path(path, [0, 1, 2, 3, 4]) == expected

    def test_recursive_descent(self) -> None:
        assert get_path("$..author", STORE) == ["Rees", "Waugh", "Melville", "Tolkien"]
        assert get_path("$..price", STORE) == [8.95, 12.99, 8.99, 22.99, 19.95]
        assert get_path("$..book[1].author", STORE) == ["Waugh"]
        assert get_path("$..['color']", STORE) == ["red"]
        assert get_path("$..*", {"a": {"b": 1}, "c": [2]}) == [{"b": 1}, [2], 1, 2]
        assert get_path("$..[0]", {"a": [1, [2, 3]]}) == [1, 2]
        assert get_path("$..nope", STORE) == []

    def test_recursive_descent_with_filter_tests_each_object_once(self) -> None:
        found = get_path("$..[?(@.price > 15)]", STORE)
        assert found == [STORE["store"]["book"][3], STORE["store"]["bicycle"]]

    def test_indefinite_paths_over_missing_data_are_empty(self) -> None:
        # Recorded AWS: $.item.items[*] and slices on {} give [] (no States.Runtime).
        for path in ["$.item.items[*]", "$.item.items[1:]", "$.item.items[:1]",
                     "$.items[1:].itemValue", "$.items[*].itemValue", "$.a..b",
                     "$.a[?(@.b)]", "$.a[0,1]"]:  # fmt: skip
            assert get_path(path, {}) == [], path

    def test_indefinite_paths_skip_missing_members(self) -> None:
        assert get_path("$.store.book[*].isbn", STORE) == ["0-553", "0-395"]


class TestFilters:
    @pytest.mark.parametrize(
        ("path", "authors"),
        [
            ("$.store.book[?(@.price < 10)]", ["Rees", "Melville"]),
            ("$.store.book[?(@.price <= 8.95)]", ["Rees"]),
            ("$.store.book[?(@.price > 20)]", ["Tolkien"]),
            ("$.store.book[?(@.price >= 22.99)]", ["Tolkien"]),
            ("$.store.book[?(@.category == 'reference')]", ["Rees"]),
            ('$.store.book[?(@.category == "reference")]', ["Rees"]),
            ("$.store.book[?(@.category != 'fiction')]", ["Rees"]),
            ("$.store.book[?(@.isbn)]", ["Melville", "Tolkien"]),
            ("$.store.book[?(!@.isbn)]", ["Rees", "Waugh"]),
            ("$.store.book[?(@.isbn && @.price < 10)]", ["Melville"]),
            ("$.store.book[?(@.price < 9 || @.price > 20)]", ["Rees", "Melville", "Tolkien"]),
            ("$.store.book[?((@.price < 9 || @.price > 20) && @.isbn)]", ["Melville", "Tolkien"]),
            ("$.store.book[?(@.price > $.expensive)]", ["Waugh", "Tolkien"]),
            ("$.store.book[?(@.author =~ /T.*n/)]", ["Tolkien"]),
            ("$.store.book[?(@.author =~ /tolkien/i)]", ["Tolkien"]),
            ("$.store.book[?(@.author in ['Rees', 'Waugh'])]", ["Rees", "Waugh"]),
            ("$.store.book[?(@.author nin ['Rees', 'Waugh'])]", ["Melville", "Tolkien"]),
            ("$.store.book[?(@.title == 'Sayings')]", ["Rees"]),
        ],
    )
    def test_filters(self, path: str, authors: list[str]) -> None:
        assert [b["author"] for b in get_path(path, STORE)] == authors

    def test_recorded_aws_filter(self) -> None:
        data = {"users": [{"year": 1997, "status": 0}, {"year": 1998, "status": 1}]}
        assert get_path("$.users[?(@.status == 0)]", data) == [{"year": 1997, "status": 0}]

    def test_filter_comparisons_are_type_strict(self) -> None:
        items = [{"v": 1}, {"v": "1"}, {"v": True}, {"v": 1.0}, {"v": None}, {}]
        assert get_path("$[?(@.v == 1)]", items) == [{"v": 1}, {"v": 1.0}]
        assert get_path("$[?(@.v == '1')]", items) == [{"v": "1"}]
        assert get_path("$[?(@.v == true)]", items) == [{"v": True}]
        assert get_path("$[?(@.v == null)]", items) == [{"v": None}]
        assert get_path("$[?(@.v > 0)]", items) == [{"v": 1}, {"v": 1.0}]
        assert get_path("$[?(@.v != 1)]", items) == [{"v": "1"}, {"v": True}, {"v": None}, {}]

    def test_filter_on_an_object_tests_the_object(self) -> None:
        assert get_path("$.a[?(@.b == 1)]", {"a": {"b": 1}}) == [{"b": 1}]
        assert get_path("$.a[?(@.b == 2)]", {"a": {"b": 1}}) == []

    def test_filter_with_nested_paths_and_lengths(self) -> None:
        data = [{"tags": ["x", "y"]}, {"tags": []}, {"tags": ["z"]}]
        assert get_path("$[?(@.tags.length() > 1)]", data) == [{"tags": ["x", "y"]}]
        assert get_path("$[?(@.tags[0] == 'z')]", data) == [{"tags": ["z"]}]
        assert get_path("$[?(@['tags'][1] == 'y')]", data) == [{"tags": ["x", "y"]}]


class TestRoots:
    def test_context_object(self) -> None:
        context = {"Execution": {"Id": "arn", "Input": {"a": 1}}, "Map": {"Item": {"Index": 2}}}
        assert get_path("$$", {}, context=context) is context
        assert get_path("$$.Execution.Id", {}, context=context) == "arn"
        assert get_path("$$.Map.Item.Index", {}, context=context) == 2
        with pytest.raises(PathNotFound) as caught:
            get_path("$$.Execution.Input.nope", {}, context=context)
        assert caught.value.detail == "No results for path: $['Execution']['Input']['nope']"
        assert caught.value.path == "$$.Execution.Input.nope"

    def test_variables(self) -> None:
        variables = {"x": {"y": [10, 20]}, "_v2": 7, "ünï": "u"}
        assert get_path("$x", {}, variables=variables) == {"y": [10, 20]}
        assert get_path("$x.y[1]", {}, variables=variables) == 20
        assert get_path("$x['y'][0]", {}, variables=variables) == 10
        assert get_path("$_v2", {}, variables=variables) == 7
        assert get_path("$ünï", {}, variables=variables) == "u"
        assert get_path("$x.y[*]", {}, variables=variables) == [10, 20]

    def test_missing_variable(self) -> None:
        with pytest.raises(PathNotFound) as caught:
            get_path("$nope.a", {}, variables={"x": 1})
        assert caught.value.path == "$nope.a"
        with pytest.raises(PathNotFound):
            get_path("$x", {})


class TestMissingDefinitePaths:
    """Jayway's messages, which AWS quotes in States.Runtime causes."""

    @pytest.mark.parametrize(
        ("path", "data", "detail"),
        [
            ("$.NoSuchOutputPath", {"int-literal": 0},
             "No results for path: $['NoSuchOutputPath']"),
            ("$.no.such.result.path", {}, "Missing property in path $['no']"),
            ("$.a.b", {"a": {}}, "No results for path: $['a']['b']"),
            ("$.a.b.c", {"a": {}}, "Missing property in path $['a']['b']"),
            ("$.a[5]", {"a": [1]}, "No results for path: $['a'][5]"),
            ("$.a[0]", {"a": None}, "The path $['a'] is null"),
            ("$.a[0].b", {"a": {"x": 1}},
             "Filter: [0]['b'] can only be applied to arrays. Current context is: {\"x\":1}"),
            ("$.a.b", {"a": "text"},
             "Expected to find an object with property ['b'] in path $['a'] but found "
             "'java.lang.String'. This is not a json object according to the JsonProvider: "
             "'com.jayway.jsonpath.spi.json.JsonSmartJsonProvider'."),
        ],
    )  # fmt: skip
    def test_messages(self, path: str, data: Any, detail: str) -> None:
        with pytest.raises(PathNotFound) as caught:
            get_path(path, data)
        assert caught.value.detail == detail
        assert str(caught.value) == detail


class TestPathKinds:
    @pytest.mark.parametrize(
        "path",
        ["$", "$$", "$.a", "$['a b'].c", "$.a[0]", "$.a[-1]", "$x", "$x.y", "$$.Map.Item.Value",
         "$.a.length()", "$['a','b']", "$.a[0].b['c']"],
    )  # fmt: skip
    def test_definite(self, path: str) -> None:
        assert is_definite(path)

    @pytest.mark.parametrize(
        "path",
        ["$[*]", "$.*", "$.a[0,1]", "$.a[1:]", "$..a", "$.a[?(@.b)]", "$['a','b'].c",
         "$x[*]", "$$..Id", "not a path"],
    )  # fmt: skip
    def test_indefinite(self, path: str) -> None:
        assert not is_definite(path)

    @pytest.mark.parametrize(
        "path",
        ["$", "$.a", "$.a.b[0]", "$['a b'][2]", "$$.Execution.Input", "$var.x", "$.a[-1]"],
    )
    def test_reference_paths(self, path: str) -> None:
        assert is_reference_path(path)

    @pytest.mark.parametrize(
        "path",
        ["$.a[*]", "$.*", "$..a", "$.a[0,1]", "$.a[1:2]", "$.a[?(@.x)]", "$['a','b']",
         "$.a.length()", "a", "$.", "$["],
    )  # fmt: skip
    def test_not_reference_paths(self, path: str) -> None:
        assert not is_reference_path(path)

    @pytest.mark.parametrize(
        "path",
        ["", "a.b", ".a", "$.", "$..", "$.a.", "$[", "$['a'", "$[a]", "$[1:2:3:4]", "$[::0]",
         "$.a b", "$.a[?(@.b ==)]", "$[?(@.b == 1]", "$.a.sum()", "$.a.length().b", "$1",
         "$ .a", "$.a..", "$x[0]y z", "$['unterminated]", "$[1_0]", "$[+1]", "$[١]", "$[1:x]"],
    )  # fmt: skip
    def test_invalid(self, path: str) -> None:
        assert not is_valid_path(path)
        with pytest.raises(JsonPathSyntaxError):
            get_path(path, {})

    @pytest.mark.parametrize(
        "path",
        ["$", "$$", "$.a", "$.a[*].b", "$..x", "$.a[?(@.b > 1 && @.c == 'x')]", "$[1:]",
         "$v.a", "$.abc.['def ghi']", "$['a','b']", "$.a[0, 1]"],
    )  # fmt: skip
    def test_valid(self, path: str) -> None:
        assert is_valid_path(path)

    def test_a_name_right_after_a_bracket_is_a_member(self) -> None:
        # Jayway reads `[0]Size` as `[0].Size`; deployed definitions write it so.
        data = {"disks": [{"Size": 8}, {"Size": 16}]}
        assert is_valid_path("$.disks[1]Size")
        assert get_path("$.disks[1]Size", data) == 16
        assert get_path("$.disks[*]Size", data) == [8, 16]
        assert normalized_path("$.disks[0]Size") == "$['disks'][0]['Size']"

    def test_normalized_path(self) -> None:
        assert normalized_path("$.a.b[0]") == "$['a']['b'][0]"
        assert normalized_path("$$.Execution.Input") == "$['Execution']['Input']"
        assert normalized_path('$.a["b"][1:2]') == "$['a'][\"b\"][1:2]"

    def test_compiled_paths_are_cached(self) -> None:
        from engine.asl.jsonpath import _compile

        first = _compile("$.cache.check[0]")
        assert _compile("$.cache.check[0]") is first


# --------------------------------------------------------------------------------------
# InputPath / OutputPath
# --------------------------------------------------------------------------------------


class TestInputOutputPath:
    def test_null_gives_an_empty_object(self) -> None:
        assert apply_input_path(None, {"a": 1}, context={}, variables={}) == {}
        assert apply_output_path(None, {"a": 1}, context={}, variables={}) == {}

    def test_root_and_members(self) -> None:
        data = {"a": {"b": 1}}
        assert apply_input_path("$", data, context={}, variables={}) is data
        assert apply_input_path("$.a", data, context={}, variables={}) == {"b": 1}
        assert apply_output_path("$.a.b", data, context={}, variables={}) == 1

    def test_context_and_variables(self) -> None:
        assert apply_input_path("$$", {}, context={"c": 1}, variables={}) == {"c": 1}
        assert apply_input_path("$v.a", {}, context={}, variables={"v": {"a": 2}}) == 2

    def test_multi_valued_paths_are_gathered(self) -> None:
        data = {"a": [1, 2, 3]}
        assert apply_input_path("$.a[0,1]", data, context={}, variables={}) == [1, 2]
        assert apply_input_path("$.missing[*]", data, context={}, variables={}) == []

    def test_recorded_aws_output_path_failures(self) -> None:
        with pytest.raises(StatesFailure) as caught:
            apply_output_path("$.NoSuchOutputPath", {"int-literal": 0}, context={}, variables={})
        assert caught.value.error == errors.RUNTIME
        assert caught.value.cause == (
            "Invalid path '$.NoSuchOutputPath' : No results for path: $['NoSuchOutputPath']"
        )
        with pytest.raises(StatesFailure) as caught:
            apply_output_path("$.no.such.result.path", {}, context={}, variables={})
        assert caught.value.cause == (
            "Invalid path '$.no.such.result.path' : Missing property in path $['no']"
        )

    def test_input_path_failure(self) -> None:
        with pytest.raises(StatesFailure) as caught:
            apply_input_path("$.x", {}, context={}, variables={})
        assert caught.value.error == errors.RUNTIME
        assert caught.value.cause == "Invalid path '$.x' : No results for path: $['x']"


# --------------------------------------------------------------------------------------
# ResultPath
# --------------------------------------------------------------------------------------


class TestResultPath:
    def test_null_discards_the_result(self) -> None:
        raw = {"a": 1}
        assert apply_result_path(None, raw, {"r": 2}) is raw

    def test_root_replaces_the_input(self) -> None:
        assert apply_result_path("$", {"a": 1}, "result") == "result"
        assert apply_result_path("$", "scalar input", [1]) == [1]

    def test_sets_a_member_on_a_copy(self) -> None:
        raw: dict[str, Any] = {"a": {"keep": [1, 2]}, "b": 2}
        out = apply_result_path("$.a.r", raw, {"x": 1})
        assert out == {"a": {"keep": [1, 2], "r": {"x": 1}}, "b": 2}
        assert raw == {"a": {"keep": [1, 2]}, "b": 2}
        out["a"]["keep"].append(3)  # a deep copy: nothing is shared with the input
        assert raw["a"]["keep"] == [1, 2]

    def test_creates_intermediate_objects(self) -> None:
        assert apply_result_path("$.x.y.z", {"a": 1}, 5) == {"a": 1, "x": {"y": {"z": 5}}}
        assert apply_result_path("$['odd key'].v", {}, 1) == {"odd key": {"v": 1}}

    def test_overwrites_an_existing_member(self) -> None:
        assert apply_result_path("$.a", {"a": {"old": 1}}, "new") == {"a": "new"}

    def test_array_indexes(self) -> None:
        assert apply_result_path("$.a[1]", {"a": [0, 0, 0]}, 9) == {"a": [0, 9, 0]}
        assert apply_result_path("$.a[-1].b", {"a": [{}, {}]}, 9) == {"a": [{}, {"b": 9}]}
        assert apply_result_path("$[0]", [1, 2], 9) == [9, 2]

    @pytest.mark.parametrize(
        ("path", "raw"),
        [
            ("$.x", "foo"),
            ("$.x", [1, 2]),
            ("$.x", None),
            ("$.a.b", {"a": 5}),
            ("$.a.b", {"a": None}),
            ("$.a[3]", {"a": [1]}),
            ("$.a[0]", {"a": {}}),
            ("$.a[0]", {}),
            ("$$.x", {}),
            ("$var.x", {}),
            ("$.a[*]", {"a": [1]}),
        ],
    )
    def test_cannot_apply(self, path: str, raw: Any) -> None:
        with pytest.raises(StatesFailure) as caught:
            apply_result_path(path, raw, 1)
        assert caught.value.error == errors.RESULT_PATH_MATCH_FAILURE
        assert caught.value.cause == (
            f"Unable to apply ReferencePath {path} to input {compact_json(raw)}"
        )

    def test_string_input_cause(self) -> None:
        with pytest.raises(StatesFailure) as caught:
            apply_result_path("$.x", "foo", 1)
        assert caught.value.cause == 'Unable to apply ReferencePath $.x to input "foo"'


# --------------------------------------------------------------------------------------
# JSON helpers
# --------------------------------------------------------------------------------------


class TestJsonHelpers:
    def test_compact_json(self) -> None:
        value = {"a": [1, 2.5, None, True, False], "é": 'ü\n"', "n": {}}
        assert compact_json(value) == '{"a":[1,2.5,null,true,false],"é":"ü\\n\\"","n":{}}'

    @pytest.mark.parametrize(
        ("value", "text"),
        [(1.0, "1.0"), (0.1, "0.1"), (1.1, "1.1"), (1e7, "1.0E7"), (1.5e-5, "1.5E-5"),
         (1e20, "1.0E20"), (-2.5e-10, "-2.5E-10"), (12345678.9, "1.23456789E7"), (0.001, "0.001"),
         (9999999.0, "9999999.0"), (0.0, "0.0"), (-0.0, "-0.0"),
         (123456789012.0, "1.23456789012E11")],
    )  # fmt: skip
    def test_java_doubles(self, value: float, text: str) -> None:
        assert java_double(value) == text

    def test_json_equal(self) -> None:
        assert json_equal(1, 1.0)
        assert not json_equal(1, True)
        assert not json_equal(0, False)
        assert not json_equal(None, False)
        assert json_equal({"a": [1, {"b": None}]}, {"a": [1.0, {"b": None}]})
        assert not json_equal({"a": 1}, {"a": 1, "b": 2})
        assert not json_equal([1, 2], [2, 1])
        assert not json_equal("1", 1)

    def test_copy_json_is_deep(self) -> None:
        original = {"a": [{"b": 1}]}
        copied = copy_json(original)
        copied["a"][0]["b"] = 2
        assert original == {"a": [{"b": 1}]}


# --------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------

_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=5)
    | st.floats(allow_nan=False, allow_infinity=False)
)
_json = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=12,
)
_member = st.text(max_size=6).filter(lambda s: "'" not in s and "\\" not in s)


def _bracket(names: list[str]) -> str:
    return "$" + "".join(f"['{n}']" for n in names)


@given(_json, st.lists(_member, min_size=1, max_size=4), _json)
def test_result_path_then_get_path_round_trips(data: Any, names: list[str], value: Any) -> None:
    path = _bracket(names)
    before = copy_json(data)
    try:
        written = apply_result_path(path, data, value)
    except StatesFailure as failure:
        assert failure.error == errors.RESULT_PATH_MATCH_FAILURE
        return
    assert get_path(path, written) == value
    assert data == before  # the raw input is never mutated


@given(st.dictionaries(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,5}", fullmatch=True), _json))
def test_dot_and_bracket_notation_agree(data: dict[str, Any]) -> None:
    for key in data:
        assert get_path(f"$.{key}", data) == get_path(f"$['{key}']", data)


@given(_json)
def test_compact_json_round_trips(value: Any) -> None:
    text = compact_json(value)
    assert json_equal(json.loads(text), value)
    assert compact_json(json.loads(text)) == text


@given(
    st.lists(st.integers(), max_size=8),
    st.none() | st.integers(-10, 10),
    st.none() | st.integers(-10, 10),
    st.none() | st.integers(-3, 3).filter(lambda s: s != 0),
)
def test_slices_follow_python(items: list[int], start: int | None, end: int | None,
                              step: int | None) -> None:  # fmt: skip
    def part(v: int | None) -> str:
        return "" if v is None else str(v)

    path = f"$[{part(start)}:{part(end)}" + ("" if step is None else f":{step}") + "]"
    assert get_path(path, items) == items[start:end:step]
