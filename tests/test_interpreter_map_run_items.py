"""The interpreter's plan of a Map Run whose items come with the input (ItemsPath, JSONata
`Items`), pure: with `Ctx.map_runs` every Distributed Map schedules a Map Run carrying its
items (MapStateStarted has their number), and so does one with an ItemReader whatever its
ItemBatcher; an inline Map or a shell without Map Runs keep the in-execution iterations."""

from __future__ import annotations

import json
import random
from typing import Any

from engine.asl.loader import load
from engine.interpreter import advance, new_root_doc
from engine.interpreter.map_runs import MAP_RUN_RESOURCE, groups
from engine.interpreter.types import Ctx, ExecutionInfo, RunStarted, ScheduleTask, StartChildren

INFO = ExecutionInfo(
    arn="arn:aws:states:us-east-1:000000000000:execution:M:e", name="e",
    state_machine_arn="arn:aws:states:us-east-1:000000000000:stateMachine:M",
    state_machine_name="M", start_time="2025-01-01T00:00:00.000Z", input={},
)
DISTRIBUTED = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
               "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


def step(state: dict[str, Any], value: Any, *, map_runs: bool = True) -> Any:
    machine = load(json.dumps({"StartAt": "M", "States": {"M": {
        "Type": "Map", "Label": "L", "End": True, **state}}}))
    ctx = Ctx(now=100.0, random=random.Random(1), execution=INFO, map_runs=map_runs)
    return advance(machine, new_root_doc(), RunStarted(value), ctx)


def test_items_path_plans_a_map_run_carrying_the_items() -> None:
    t = step({"ItemsPath": "$.xs", "ItemProcessor": DISTRIBUTED, "MaxConcurrency": 2,
              "ToleratedFailureCount": 1}, {"xs": [1, 2, 3]})
    assert [type(c) for c in t.commands] == [ScheduleTask]
    assert t.commands[0].resource == MAP_RUN_RESOURCE
    plan = t.doc["task"]["map_run"]
    assert plan["items"] == [1, 2, 3] and plan["reader"] is None
    assert (plan["max_concurrency"], plan["tolerated_count"]) == (2, 1)
    types = [e["type"] for e in t.events]
    assert types[-2:] == ["MapStateStarted", "MapRunStarted"]
    assert t.events[-2]["mapStateStartedEventDetails"]["length"] == 3


def test_jsonata_items_plan_a_map_run() -> None:
    t = step({"QueryLanguage": "JSONata", "Items": "{% $states.input.xs %}",
              "ItemProcessor": DISTRIBUTED}, {"xs": ["a", "b"]})
    assert t.doc["task"]["map_run"]["items"] == ["a", "b"]


def test_a_bad_items_path_fails_before_map_state_started() -> None:
    t = step({"ItemsPath": "$.xs", "ItemProcessor": DISTRIBUTED}, {"xs": 5})
    assert t.outcome is not None and t.outcome.error == "States.Runtime"
    assert "MapStateStarted" not in [e["type"] for e in t.events]


def test_a_bad_tolerance_path_fails_after_map_state_started() -> None:
    t = step({"ItemsPath": "$.xs", "ItemProcessor": DISTRIBUTED,
              "ToleratedFailureCountPath": "$.n"}, {"xs": [1], "n": "many"})
    assert t.outcome is not None and t.outcome.error == "States.Runtime"
    types = [e["type"] for e in t.events]
    assert "MapStateStarted" in types and "MapRunStarted" not in types


def test_without_map_runs_the_iterations_stay_inline() -> None:
    inline = step({"ItemsPath": "$.xs", "ItemProcessor": DISTRIBUTED}, {"xs": [1, 2]},
                  map_runs=False)
    assert any(isinstance(c, StartChildren) for c in inline.commands)


READER = {"Resource": "arn:aws:states:::s3:getObject",
          "ReaderConfig": {"InputType": "JSONL"}, "Parameters": {"Bucket": "b", "Key": "k"}}


def test_a_batcher_cut_by_bytes_runs_as_a_map_run_whatever_the_source() -> None:
    bound = {"ItemBatcher": {"MaxInputBytesPerBatch": 100}, "ItemProcessor": DISTRIBUTED}
    from_input = step({"ItemsPath": "$.xs", **bound}, {"xs": [1, 2]})
    assert [c.resource for c in from_input.commands] == [MAP_RUN_RESOURCE]
    for batcher, value, want in [
        ({"MaxInputBytesPerBatch": 100}, {}, {"size": None, "max_bytes": 100}),
        ({"MaxInputBytesPerBatchPath": "$.b", "MaxItemsPerBatchPath": "$.n"},
         {"b": 70, "n": 3}, {"size": 3, "max_bytes": 70}),
    ]:
        t = step({"ItemReader": READER, "ItemBatcher": batcher, "ItemProcessor": DISTRIBUTED},
                 value)
        assert [c.resource for c in t.commands] == [MAP_RUN_RESOURCE]
        assert t.doc["task"]["map_run"]["batcher"] == want
        assert t.doc["task"]["map_run"]["reader"]["resource"] == READER["Resource"]
    jsonata = step({"QueryLanguage": "JSONata", "ItemReader": {
        "Resource": READER["Resource"], "ReaderConfig": {"InputType": "JSONL"},
        "Arguments": {"Bucket": "b", "Key": "k"}}, "ItemBatcher": {
            "MaxInputBytesPerBatch": "{% $states.input.b %}", "BatchInput": {"x": 1}},
        "ItemProcessor": DISTRIBUTED}, {"b": 55})
    assert [c.resource for c in jsonata.commands] == [MAP_RUN_RESOURCE]
    assert jsonata.doc["task"]["map_run"]["batcher"] == {
        "size": None, "max_bytes": 55, "batch_input": {"x": 1}}


def test_groups_cut_by_count_and_bytes_and_leave_a_short_last_batch() -> None:
    plan: dict[str, Any] = {"batcher": {"size": 3, "max_bytes": 30}}
    items = ["aaaa", "bbbb", "cccc", "dddd", "e"]
    # {"Items":["aaaa","bbbb"]} is 25 bytes, with "cccc" 32: cut by bytes.
    assert groups(plan, items, eof=True) == [["aaaa", "bbbb"], ["cccc", "dddd", "e"]]
    assert groups(plan, items[:4], eof=False) == [["aaaa", "bbbb"]]
    # By count alone too: "e" could still be joined by the next item, not read yet.
    assert groups({"batcher": {"size": 2, "max_bytes": None}}, items, eof=False) == [
        ["aaaa", "bbbb"], ["cccc", "dddd"]]
    assert groups({"batcher": {"size": 2, "max_bytes": None}}, items, eof=True) == [
        ["aaaa", "bbbb"], ["cccc", "dddd"], ["e"]]
