"""Property-based fuzz (hypothesis) of the three places hostile input reaches first:

- the HTTP API, on a real server (waitress, engine/api/serving.py) over the in-memory
  store: random and malformed requests never get a 5xx other than 503 (overload), and
  never hang;
- the definition loader and validator: random JSON documents (and mutated real
  definitions) raise nothing but the documented InvalidDefinition;
- the interpreter: random small valid definitions run inline on random inputs end in a
  terminal status, with no Python exception escaping as an engine fault.

`make test` runs a short pass (200 examples per property, a few seconds);
`make fuzz` a long one. Each property prints its counts (run with -s to see them).
"""

from __future__ import annotations

import http.client
import json
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.api import server
from engine.api.actions import ACTIONS
from engine.asl.loader import load
from engine.client import Client
from engine.errors import InvalidDefinition
from engine.handlers import Registry
from engine.runtime.inline import InlineRunner
from engine.runtime.messages import Message
from engine.store.base import TERMINAL
from engine.store.memory import MemoryStore

EXAMPLES = int(os.environ.get("SFN_FUZZ_EXAMPLES", "200"))
# `make test` replays the same examples every run (a failure is reproducible); `make fuzz`
# (SFN_FUZZ_EXAMPLES set) explores new ones each time.
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                derandomize="SFN_FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
COUNTS: Counter[str] = Counter()
ROLE = "arn:aws:iam::000000000000:role/R"
ECHO = "arn:aws:lambda:us-east-1:000000000000:function:Echo"


def _report(kind: str) -> None:
    print(f"\nfuzz {kind}: " + ", ".join(f"{k} {v}" for k, v in sorted(COUNTS.items())
                                           if k.startswith(kind)))


# --- JSON values ------------------------------------------------------------------------

scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                  max_size=4),
    max_leaves=20,
)


# --- the HTTP API -------------------------------------------------------------------------


class _Drop:
    def send(self, message: Message, *, countdown: float = 0.0) -> None:
        pass


@pytest.fixture(scope="module")
def api() -> Iterator[server.Running]:
    running = server.start_background(server.build_app(Client(MemoryStore(), _Drop())))
    yield running
    running.stop()


MEMBERS = sorted({name for registered in ACTIONS.values() for name in registered.fields})
# Header values go out as Latin-1 (http.client's encoding): any of its characters.
actions = st.sampled_from(sorted(ACTIONS)) | st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=30)
member_values = (json_values | st.sampled_from([
    "arn:aws:states:us-east-1:000000000000:stateMachine:M",
    "arn:aws:states:us-east-1:000000000000:execution:M:e", ROLE, "{}", "[]", "",
    json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
    "STANDARD", "EXPRESS", "RUNNING", "x" * 300, "\ud800",
]))
bodies = st.one_of(
    st.dictionaries(st.sampled_from(MEMBERS) | st.text(max_size=10), member_values,
                    max_size=6).map(lambda d: json.dumps(d).encode()),
    st.binary(max_size=200),
    st.sampled_from([b"[" * 5000, b"{" * 3000, b'{"a": NaN}', b'{"a": 1e999}', b"\xff\xfe",
                     b'{"name": "\\ud800"}', b"null", b"[]", b'"x"', b"{}"]),
    json_values.map(lambda v: json.dumps(v).encode()),
)
headers = st.dictionaries(
    st.sampled_from(["Content-Type", "X-Amz-Target", "Authorization", "X-Amz-Date",
                     "Transfer-Encoding", "Expect", "Host"]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=40),
    max_size=3,
)


@FUZZ
@given(action=actions, body=bodies, extra=headers,
       method=st.sampled_from(["POST", "POST", "POST", "GET", "PUT", "DELETE", "HEAD"]),
       path=st.sampled_from(["/", "/", "/ui/", "/metrics", "/healthz", "/x", "/ui/executions/x",
                             "/ui/api/executions/%ff", "/ui/state-machines/%2e%2e"]))
def test_the_api_never_answers_500_nor_hangs(
    api: server.Running, action: str, body: bytes, extra: dict[str, str], method: str,
    path: str,
) -> None:
    head = {"Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"AWSStepFunctions.{action}", "Host": "localhost", **extra}
    head.pop("Transfer-Encoding", None)  # http.client frames the body itself
    conn = http.client.HTTPConnection(*api.server.server_address[:2], timeout=15)
    COUNTS["api requests"] += 1
    try:
        conn.request(method, path, body=body, headers=head)
        response = conn.getresponse()
        response.read()
    except TimeoutError:
        COUNTS["api hangs"] += 1
        raise
    finally:
        conn.close()
    if response.status >= 500 and response.status != 503:
        COUNTS["api crashes"] += 1
    assert response.status < 500 or response.status == 503, (response.status, body[:200])


def test_zz_api_report() -> None:
    _report("api")
    assert COUNTS["api crashes"] == 0 and COUNTS["api hangs"] == 0


# --- the interpreter ----------------------------------------------------------------------

paths = st.sampled_from(["$", "$.a", "$.b", "$.items", "$.a.x"])
result_paths = st.sampled_from(["$", "$.r", "$.a.x", None])
payloads = st.dictionaries(
    st.sampled_from(["k", "v.$", "n.$", "c", "f.$"]),
    st.sampled_from(["$.a", "$", "$.items", 1, "x", "States.Array($.a)",
                     "States.JsonToString($)", "States.ArrayLength($.items)",
                     "States.MathAdd(1, 2)", "$$.Execution.Name", "States.Hash($.b, 'MD5')"]),
    max_size=3,
).map(lambda d: {k: v for k, v in d.items()
                 if k.endswith(".$") == (isinstance(v, str) and (v.startswith("$") or
                                                                  v.startswith("States.")))})


def _dataflow(draw: st.DrawFn) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if draw(st.booleans()):
        fields["InputPath"] = draw(paths)
    if draw(st.booleans()):
        fields["ResultPath"] = draw(result_paths)
    if draw(st.booleans()):
        fields["OutputPath"] = draw(paths)
    return fields


@st.composite
def machines(draw: st.DrawFn, depth: int = 0, prefix: str = "") -> dict[str, Any]:
    """A small valid definition whose transitions only go forward (so it ends). State
    names are unique across nested branches (ASL requires it)."""
    count = draw(st.integers(1, 5))
    names = [f"{prefix}S{i}" for i in range(count)]
    result: dict[str, Any] = {}
    for i, name in enumerate(names):
        last = i == count - 1
        later = names[i + 1:]
        # Every state stays reachable: Fail and Succeed only last, each Next the following.
        kinds = ["Pass", "Task", "Wait"] + (["Choice"] if later else ["Fail", "Succeed"])
        if depth == 0:
            kinds += ["Parallel", "Map"]
        kind = draw(st.sampled_from(kinds))
        state: dict[str, Any] = {"Type": kind}
        if kind in ("Pass", "Task", "Wait", "Parallel", "Map"):
            state.update(_dataflow(draw) if kind != "Wait" else {})
            if last:
                state["End"] = True
            else:
                state["Next"] = later[0]
        if kind == "Pass":
            if draw(st.booleans()):
                state["Result"] = draw(json_values)
            elif draw(st.booleans()):
                state["Parameters"] = draw(payloads)
        elif kind == "Task":
            state["Resource"] = ECHO
            if draw(st.booleans()):
                state["Parameters"] = draw(payloads)
            if draw(st.booleans()):
                state["Retry"] = [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1,
                                   "IntervalSeconds": 1}]
            if draw(st.booleans()) and later:
                state["Catch"] = [{"ErrorEquals": ["States.ALL"], "Next": later[-1]}]
        elif kind == "Wait":
            state["Seconds"] = draw(st.integers(0, 3))
        elif kind == "Fail":
            state["Error"] = draw(st.sampled_from(["E", "States.TaskFailed"]))
        elif kind == "Choice":
            op = draw(st.sampled_from([("NumericGreaterThan", 1), ("StringEquals", "x"),
                                       ("IsPresent", True), ("BooleanEquals", True),
                                       ("IsNumeric", True)]))
            state["Choices"] = [{"Variable": draw(paths), op[0]: op[1],
                                 "Next": draw(st.sampled_from(later))}]
            state["Default"] = later[0]
        elif kind == "Parallel":
            state["Branches"] = [draw(machines(depth + 1, f"{name}b{b}"))
                                 for b in range(draw(st.integers(1, 2)))]
        elif kind == "Map":
            state["ItemsPath"] = draw(st.sampled_from(["$.items", "$.a", "$"]))
            state["ItemProcessor"] = draw(machines(depth + 1, f"{name}i"))
            if draw(st.booleans()):
                state["MaxConcurrency"] = draw(st.integers(0, 2))
        result[name] = state
    return {"StartAt": names[0], "States": result}


inputs = st.fixed_dictionaries({}, optional={
    "a": json_values, "b": st.text(max_size=8), "items": st.lists(json_values, max_size=4)})


def _registry() -> Registry:
    registry = Registry()
    registry.register("Echo", lambda event, context: event)
    return registry


@FUZZ
@given(definition=machines(), value=inputs)
def test_the_interpreter_never_faults(definition: dict[str, Any], value: dict[str, Any]) -> None:
    runner = InlineRunner(_registry(), max_messages=5000)
    try:
        runner.create_state_machine("Fuzz", json.dumps(definition), role_arn=ROLE)
    except InvalidDefinition:
        COUNTS["executions refused"] += 1  # a generated corner the validator rejects
        return
    COUNTS["executions run"] += 1
    try:
        record = runner.run("Fuzz", input=value)
    except Exception:
        COUNTS["executions crashes"] += 1
        raise
    if record.status not in TERMINAL:
        COUNTS["executions hangs"] += 1
    assert record.status in TERMINAL, (record.status, definition, value)
    COUNTS[f"executions {record.status}"] += 1


def test_zz_interpreter_report() -> None:
    _report("executions")
    assert COUNTS["executions crashes"] == 0 and COUNTS["executions hangs"] == 0


# --- the loader and validator -------------------------------------------------------------

STATE_TYPES = ["Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map", "X"]
FIELDS = ["Type", "Next", "End", "Resource", "InputPath", "OutputPath", "ResultPath",
          "Parameters", "ResultSelector", "Result", "Choices", "Default", "Seconds",
          "Timestamp", "SecondsPath", "Branches", "ItemProcessor", "Iterator", "ItemsPath",
          "MaxConcurrency", "Retry", "Catch", "Error", "Cause", "Comment", "Arguments",
          "Output", "Assign", "QueryLanguage", "TimeoutSeconds", "HeartbeatSeconds",
          "ItemSelector", "ToleratedFailurePercentage", "Label", "Items"]
field_values = json_values | st.sampled_from([
    "$", "$.a", "$$.Execution.Id", "$[", "{% $states.input %}", "{% 1 + %}", "States.Array($)",
    "States.Format('{}', $.a)", "JSONata", "JSONPath", "Next", ECHO, 0, -1, 10**12,
    [{"ErrorEquals": ["States.ALL"]}], [{"Variable": "$.a", "IsPresent": True, "Next": "S0"}],
    {"StartAt": "S0", "States": {"S0": {"Type": "Pass", "End": True}}},
    [{"StartAt": "S0", "States": {"S0": {"Type": "Succeed"}}}],
])
states = st.dictionaries(st.sampled_from(FIELDS), field_values, max_size=6) | st.builds(
    lambda t, rest: {"Type": t, **rest}, st.sampled_from(STATE_TYPES),
    st.dictionaries(st.sampled_from(FIELDS[1:]), field_values, max_size=4))
documents = st.one_of(
    json_values,
    st.builds(
        lambda start, sts, extra: {"StartAt": start, "States": sts, **extra},
        st.sampled_from(["S0", "S1", "", "nope"]) | st.text(max_size=5),
        st.dictionaries(st.sampled_from(["S0", "S1", "S2"]) | st.text(max_size=4), states,
                        max_size=4),
        st.dictionaries(st.sampled_from(["QueryLanguage", "TimeoutSeconds", "Comment",
                                         "Version", "X"]), field_values, max_size=2),
    ),
)


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    """A valid definition (the interpreter's generator) with one field set to a random
    value or removed: close to valid, where a validator's corners are."""
    document: dict[str, Any] = draw(machines())
    states_ = document["States"]
    target = states_[draw(st.sampled_from(sorted(states_)))]
    name = draw(st.sampled_from(FIELDS))
    if name in target and draw(st.booleans()):
        del target[name]
    else:
        target[name] = draw(field_values)
    return document


@FUZZ
@given(document=st.one_of(documents, mutated(), machines()), as_text=st.booleans(),
       machine_type=st.sampled_from(["STANDARD", "EXPRESS"]))
def test_the_loader_raises_only_invalid_definition(
    document: Any, as_text: bool, machine_type: str
) -> None:
    COUNTS["definitions fuzzed"] += 1
    text = json.dumps(document)
    if as_text:  # a cut or garbled text as well as whole documents
        text = text[: max(1, len(text) * 2 // 3)] if len(text) % 3 == 0 else text
    try:
        load(text, state_machine_type=machine_type)
        COUNTS["definitions valid"] += 1
    except InvalidDefinition as error:
        assert error.diagnostics or error.message
        COUNTS["definitions invalid"] += 1
    except Exception:
        COUNTS["definitions crashes"] += 1
        raise


def test_zz_loader_report() -> None:
    _report("definitions")
    assert COUNTS["definitions crashes"] == 0
