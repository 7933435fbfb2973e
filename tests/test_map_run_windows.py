"""A Map Run's windows over a reader cut the children's batches exactly as the in-execution
Map cuts the whole source (engine/runtime/map_run_windows.py), whatever the windows: a
window that ends inside a batch cut by MaxInputBytesPerBatch leaves that batch for the next
window, which starts at the position of its first item as the reader reported it (a byte
offset, with the CSV headers; the key before it; an index). Pure: local files, no Redis."""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.integrations.item_windows import Window, read_window
from engine.interpreter import map_runs as plan_of
from engine.interpreter import maps
from engine.interpreter.history import to_json_text
from engine.runtime.map_run_windows import Admission, next_window, read_count
from tests.test_interpreter_helpers import run

ARN = "arn:aws:states:us-east-1:000000000000:mapRun:M/L:r1"


# --- the one cutting rule -------------------------------------------------------------------


def _naive(inputs: list[Any], size: int, max_bytes: int, envelope: Callable[[list[Any]], Any]
           ) -> list[list[Any]]:
    """The rule as first written: serialise the grown batch for every item."""
    found: list[list[Any]] = []
    current: list[Any] = []
    for item in inputs:
        grown = [*current, item]
        too_big = bool(current) and len(to_json_text(envelope(grown)).encode()) > max_bytes
        if len(current) >= size or too_big:
            found.append(current)
            grown = [item]
        current = grown
    if current:
        found.append(current)
    return found


def _random_item(rng: random.Random) -> Any:
    kind = rng.randrange(5)
    if kind == 0:
        return rng.randrange(-10**6, 10**6)
    if kind == 1:
        return "".join(rng.choice("aé€😀\"\\\n") for _ in range(rng.randrange(0, 30)))
    if kind == 2:
        return {"k": rng.random(), "s": "x" * rng.randrange(0, 80), "n": None}
    if kind == 3:
        return [rng.randrange(10), True, "ü" * rng.randrange(5)]
    return "y" * rng.randrange(100, 400)  # bigger than the small limits: a batch alone


def test_batch_groups_count_the_bytes_of_the_serialised_batch() -> None:
    rng = random.Random(7)
    for trial in range(300):
        items = [_random_item(rng) for _ in range(rng.randrange(0, 60))]
        size = rng.choice([1, 2, 5, 1000])
        max_bytes = rng.choice([1, 20, 64, 150, 500, 4096])
        batch_input = rng.choice([None, {"run": "é" * 3, "n": trial}])

        def envelope(group: list[Any], bi: Any = batch_input) -> dict[str, Any]:
            return {**({} if bi is None else {"BatchInput": bi}), "Items": group}

        found = maps.batch_groups(items, size, max_bytes, envelope)
        assert found == _naive(items, size, max_bytes, envelope), (trial, size, max_bytes)
        assert [i for g in found for i in g] == items
        for group in found:
            assert len(group) <= size
            assert len(group) == 1 or len(to_json_text(envelope(group)).encode()) <= max_bytes


def test_an_item_bigger_than_the_limit_is_a_batch_of_its_own() -> None:
    big = "z" * 100
    found = maps.batch_groups(["a", big, "b", "c"], 10, 20, lambda g: {"Items": g})
    assert found == [["a"], [big], ["b", "c"]]


# --- each item's position ---------------------------------------------------------------------


def _sources(root: Path) -> dict[str, tuple[str, dict[str, Any], dict[str, Any]]]:
    """Reader kinds over the same kind of records: (action, Parameters, ReaderConfig)."""
    rng = random.Random(3)
    records = [{"id": n, "name": "é" * rng.randrange(0, 9) + "x" * rng.randrange(0, 60),
                "note": "line\nbreak" if n % 7 == 0 else ""} for n in range(530)]
    bucket = root / "data"
    (bucket / "files").mkdir(parents=True)
    with (bucket / "items.jsonl").open("w", encoding="utf-8") as f:
        for n, r in enumerate(records):
            f.write(json.dumps(r, ensure_ascii=False) + ("\n\n" if n % 50 == 0 else "\n"))
    (bucket / "items.json").write_text(json.dumps(records, ensure_ascii=False), "utf-8")
    text = io.StringIO()
    rows = csv.writer(text)
    rows.writerow(["id", "name", "note"])
    for r in records:
        rows.writerow([r["id"], r["name"], r["note"]])
    (bucket / "header.csv").write_text(text.getvalue(), "utf-8")
    (bucket / "given.csv").write_text(text.getvalue().split("\n", 1)[1], "utf-8")
    for n in range(230):
        (bucket / "files" / f"f{n:04d}.txt").write_text("x" * (n % 17))
    return {
        "jsonl": ("getObject", {"Bucket": "data", "Key": "items.jsonl"}, {"InputType": "JSONL"}),
        "json": ("getObject", {"Bucket": "data", "Key": "items.json"}, {"InputType": "JSON"}),
        "csv_header": ("getObject", {"Bucket": "data", "Key": "header.csv"},
                       {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}),
        "csv_given": ("getObject", {"Bucket": "data", "Key": "given.csv"},
                      {"InputType": "CSV", "CSVHeaderLocation": "GIVEN",
                       "CSVHeaders": ["id", "name", "note"]}),
        "listing": ("listObjectsV2", {"Bucket": "data", "Prefix": "files/"}, {}),
    }


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory
            ) -> tuple[Path, dict[str, tuple[str, dict[str, Any], dict[str, Any]]]]:
    root = tmp_path_factory.mktemp("windows")
    return root, _sources(root)


def _reader(root: Path, source: tuple[str, dict[str, Any], dict[str, Any]],
            max_items: int | None = None, log: list[Window] | None = None
            ) -> Callable[[dict[str, Any] | None, int], Window]:
    action, params, config = source

    def read(position: dict[str, Any] | None, count: int) -> Window:
        window = read_window(action, params, config, position, count, max_items=max_items,
                             root=str(root), aws=None)
        if log is not None:
            log.append(window)
        return window

    return read


def _everything(root: Path, source: tuple[str, dict[str, Any], dict[str, Any]]) -> list[Any]:
    window = _reader(root, source)(None, 10**6)
    assert window.eof
    return window.items


@pytest.mark.parametrize("kind", ["jsonl", "json", "csv_header", "csv_given", "listing"])
def test_a_read_from_each_items_position_starts_at_that_item(
    sources: tuple[Path, dict[str, Any]], kind: str
) -> None:
    root, kinds = sources
    read = _reader(root, kinds[kind])
    everything = _everything(root, kinds[kind])
    window = read(None, 40)
    later = read(window.position, 40)  # a window after the first: positions carry on
    for win, base in ((window, 0), (later, 40)):
        assert win.starts is not None and len(win.starts) == len(win.items)
        for k in (0, 1, 17, 39):
            again = read(win.at(k), 5)
            assert again.items == everything[base + k:base + k + 5], (kind, base, k)
            assert win.at(k)["i"] == base + k  # type: ignore[index]
    assert window.at(len(window.items)) == window.position
    if kind == "csv_header":  # a restart mid-file applies the headers from the position
        assert window.at(17)["h"] == ["id", "name", "note"]  # type: ignore[index]
        assert window.at(17)["b"] > 0  # type: ignore[index]


# --- windows against the in-execution Map -----------------------------------------------------


def _plan(batcher: dict[str, Any], selector: Any = None, jsonata: bool = False
          ) -> dict[str, Any]:
    return {"arn": ARN, "batcher": batcher, "selector": selector, "jsonata": jsonata,
            "context": {}, "variables": {}, "value": {}, "now": 0.0, "state": "M"}


def _admit_all(plan: dict[str, Any], read: Callable[[dict[str, Any] | None, int], Window],
               want: int, read_items: int) -> tuple[list[Any], list[Admission]]:
    """The admitter's loop (engine/runtime/map_runs.py `_admit_all`), without Redis."""
    position: dict[str, Any] | None = None
    first = 0
    children: list[Any] = []
    admissions: list[Admission] = []
    for _ in range(100_000):
        cut = next_window(plan, read, position, want, first, read_items=read_items)
        admissions.append(cut)
        children.extend(plan_of.batch(plan, g) for g in cut.groups)
        position, first = cut.position, first + cut.items
        if cut.eof:
            return children, admissions
    raise AssertionError("the source never ended")


def _in_execution(items: list[Any], batcher: dict[str, Any], selector: Any = None,
                  jsonata: bool = False) -> list[Any]:
    """The same items through the in-execution Map (InlineRunner: no Map Run)."""
    state: dict[str, Any] = {
        "Type": "Map", "End": True, "ItemBatcher": batcher,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED",
                                              "ExecutionType": "STANDARD"},
                          "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
    }
    if jsonata:
        state.update(QueryLanguage="JSONata", Items="{% $states.input.xs %}")
    else:
        state["ItemsPath"] = "$.xs"
    if selector is not None:
        state["ItemSelector"] = selector
    found = run({"StartAt": "M", "States": {"M": state}}, {"xs": items})
    assert found.status == "SUCCEEDED", (found.error, found.cause)
    return list(found.output)


BATCHERS: list[dict[str, Any]] = [
    {"MaxInputBytesPerBatch": 60},     # most items alone (bigger than the limit)
    {"MaxInputBytesPerBatch": 300},
    {"MaxInputBytesPerBatch": 1000},
    {"MaxInputBytesPerBatch": 7000},   # batches of more than 200 items
    {"MaxInputBytesPerBatch": 2000, "MaxItemsPerBatch": 9},
    {"MaxItemsPerBatch": 13},
]


@pytest.mark.parametrize("kind", ["jsonl", "json", "csv_header", "csv_given", "listing"])
def test_windows_of_200_cut_the_batches_of_the_in_execution_map(
    sources: tuple[Path, dict[str, Any]], kind: str
) -> None:
    root, kinds = sources
    everything = _everything(root, kinds[kind])
    ended_inside = 0
    for spec in BATCHERS:
        batcher = {"size": spec.get("MaxItemsPerBatch"),
                   "max_bytes": spec.get("MaxInputBytesPerBatch"),
                   "batch_input": {"kind": kind}}
        expected = _in_execution(everything, {**spec, "BatchInput": {"kind": kind}})
        for want, read_items in ((200, 200), (200, 10_000), (7, 200)):
            log: list[Window] = []
            children, admissions = _admit_all(
                _plan(batcher), _reader(root, kinds[kind], log=log), want, read_items)
            assert children == expected, (kind, spec, want, read_items)
            ended_inside += sum(1 for a, w in zip(admissions, log, strict=False)
                                if a.items < len(w.items))
    assert ended_inside > 0  # windows did end inside batches


def test_item_selector_and_jsonata_batchers_cut_the_same(
    sources: tuple[Path, dict[str, Any]]
) -> None:
    root, kinds = sources
    everything = _everything(root, kinds["jsonl"])
    selector = {"i.$": "$$.Map.Item.Index", "name.$": "$$.Map.Item.Value.name"}
    for limit in (80, 450, 3000):
        expected = _in_execution(everything, {"MaxInputBytesPerBatch": limit}, selector)
        plan = _plan({"size": None, "max_bytes": limit}, {"template": selector})
        children, _ = _admit_all(plan, _reader(root, kinds["jsonl"]), 200, 200)
        assert children == expected
        jsonata_selector = {"i": "{% $states.context.Map.Item.Index %}",
                            "name": "{% $states.context.Map.Item.Value.name %}"}
        expected_j = _in_execution(everything, {"MaxInputBytesPerBatch": limit},
                                   jsonata_selector, jsonata=True)
        assert expected_j == expected
        plan_j = _plan({"size": None, "max_bytes": limit}, {"template": jsonata_selector},
                       jsonata=True)
        children_j, _ = _admit_all(plan_j, _reader(root, kinds["jsonl"]), 200, 200)
        assert children_j == expected


def test_max_items_ends_the_source_inside_a_batch(sources: tuple[Path, dict[str, Any]]) -> None:
    root, kinds = sources
    everything = _everything(root, kinds["csv_header"])[:333]
    expected = _in_execution(everything, {"MaxInputBytesPerBatch": 900})
    children, admissions = _admit_all(_plan({"size": None, "max_bytes": 900}),
                                      _reader(root, kinds["csv_header"], max_items=333),
                                      200, 200)
    assert children == expected and admissions[-1].eof


def test_a_reader_without_item_positions_is_read_again_up_to_the_batch(
    sources: tuple[Path, dict[str, Any]]
) -> None:
    root, kinds = sources
    everything = _everything(root, kinds["jsonl"])
    inner = _reader(root, kinds["jsonl"])
    reads: list[int] = []

    def no_starts(position: dict[str, Any] | None, count: int) -> Window:
        reads.append(count)
        window = inner(position, count)
        return Window(window.items, window.position, window.eof)

    plan = _plan({"size": None, "max_bytes": 500})
    children, _ = _admit_all(plan, no_starts, 200, 200)
    assert children == _in_execution(everything, {"MaxInputBytesPerBatch": 500})
    assert any(count < 200 for count in reads)  # the re-reads up to the cut


def test_a_window_read_again_finds_the_same_batches(sources: tuple[Path, dict[str, Any]]) -> None:
    """An admitter killed after creating its children and before recording the position:
    the next one reads from the same position (with whatever room it has) and cuts the
    same batches, so the children it creates are named and filled as the first ones."""
    root, kinds = sources
    read = _reader(root, kinds["jsonl"])
    plan = _plan({"size": None, "max_bytes": 700, "batch_input": {"b": 1}})
    first = next_window(plan, read, None, 200, 0, read_items=200)
    position = first.position
    again = next_window(plan, read, None, 200, 0, read_items=200)
    assert again == first
    smaller = next_window(plan, read, None, 3, 0, read_items=200)  # less room now
    assert smaller.groups == first.groups[:3]
    assert smaller.position == read(None, smaller.items).position
    following = next_window(plan, read, position, 200, first.items, read_items=200)
    assert following.groups[0][0] == _everything(root, kinds["jsonl"])[first.items]


def test_the_read_is_bounded_and_grows_only_for_an_unfinished_batch() -> None:
    assert read_count(_plan({"size": None, "max_bytes": 1000}), 200) == 10_000
    assert read_count(_plan({"size": 5, "max_bytes": None}), 200) == 1000
    assert read_count(_plan({"size": 50_000, "max_bytes": None}), 200) == 50_000
    assert read_count({"batcher": None}, 200) == 200
    counts: list[int] = []
    items = [{"n": n} for n in range(1000)]

    def read(position: dict[str, Any] | None, count: int) -> Window:
        counts.append(count)
        done = int((position or {}).get("i", 0))
        found = items[done:done + count]
        return Window(found, {"i": done + len(found)}, done + len(found) >= len(items))

    cut = next_window(_plan({"size": None, "max_bytes": 5000}), read, None, 200, 0,
                      read_items=50)
    assert counts == [50, 100, 200, 400, 800]  # a batch of 500 items ({"n":N} is ~8 bytes)
    assert cut.groups == maps.batch_groups(items, 10**6, 5000, lambda g: {"Items": g})[:-1]
