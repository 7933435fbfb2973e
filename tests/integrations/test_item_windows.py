"""A Map Run's reader, read by position (engine/integrations/item_windows.py): windows of
JSON Lines, CSV (headers kept in the position) and object listings follow one another
without holding the item list; a window read again from the same position is the same;
MaxItems ends the source."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.integrations.item_windows import read_window
from engine.interpreter.map_runs import child_name, index_of


def _all(action: str, params: dict[str, Any], config: dict[str, Any], root: Path,
         count: int, max_items: int | None = None) -> tuple[list[Any], list[dict[str, Any]]]:
    items: list[Any] = []
    positions: list[dict[str, Any]] = []
    position = None
    for _ in range(1000):
        window = read_window(action, params, config, position, count, max_items=max_items,
                             root=str(root), aws=None)
        items.extend(window.items)
        positions.append(window.position)
        position = window.position
        if window.eof:
            return items, positions
    raise AssertionError("no end")


def test_json_lines_windows_by_byte_offset(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    lines = [json.dumps({"n": n}) for n in range(23)]
    (tmp_path / "b" / "k.jsonl").write_text("\n".join(lines[:10]) + "\n\n" + "\n".join(lines[10:]))
    params = {"Bucket": "b", "Key": "k.jsonl"}
    items, positions = _all("getObject", params, {"InputType": "JSONL"}, tmp_path, 5)
    assert items == [{"n": n} for n in range(23)]
    again = read_window("getObject", params, {"InputType": "JSONL"}, positions[1], 5,
                        max_items=None, root=str(tmp_path), aws=None)
    assert again.items == [{"n": n} for n in range(10, 15)]  # the same window, re-read
    capped, _ = _all("getObject", params, {"InputType": "JSONL"}, tmp_path, 4, max_items=9)
    assert capped == [{"n": n} for n in range(9)]


def test_csv_windows_keep_the_header(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    rows = "id,name\n" + "".join(f'{n},"name {n}\nsecond line"\n' for n in range(7))
    (tmp_path / "b" / "k.csv").write_text(rows)
    items, positions = _all("getObject", {"Bucket": "b", "Key": "k.csv"},
                            {"InputType": "CSV"}, tmp_path, 3)
    assert items == [{"id": str(n), "name": f"name {n}\nsecond line"} for n in range(7)]
    assert positions[0]["h"] == ["id", "name"]


def test_listing_windows_start_after_the_last_key(tmp_path: Path) -> None:
    for n in range(8):
        (tmp_path / "b" / "in").mkdir(parents=True, exist_ok=True)
        (tmp_path / "b" / "in" / f"f{n}.txt").write_text("x" * n)
    (tmp_path / "b" / "other.txt").write_text("")
    items, _ = _all("listObjectsV2", {"Bucket": "b", "Prefix": "in/"}, {}, tmp_path, 3)
    assert [i["Key"] for i in items] == [f"in/f{n}.txt" for n in range(8)]
    assert [i["Size"] for i in items] == list(range(8))


def test_a_child_name_carries_its_index() -> None:
    arn = "arn:aws:states:us-east-1:000000000000:mapRun:M/L:1234"
    name = child_name(arn, 123456)
    assert index_of(arn, name) == 123456 and child_name(arn, 123456) == name
    assert index_of(arn + "5", name) is None and index_of(arn, "not-a-child") is None


def test_s3_windows_by_range_and_start_after(aws_env: Any) -> None:
    from engine.integrations.aws import AwsCaller

    s3: Any = aws_env.client("s3")
    s3.create_bucket(Bucket="windows")
    body = "".join(json.dumps({"n": n}) + "\n" for n in range(11))
    s3.put_object(Bucket="windows", Key="in/items.jsonl", Body=body.encode())
    for n in range(4):
        s3.put_object(Bucket="windows", Key=f"in/more/{n}.txt", Body=b"x")
    aws = AwsCaller("us-east-1")
    position = None
    items: list[Any] = []
    while True:
        window = read_window("getObject", {"Bucket": "windows", "Key": "in/items.jsonl"},
                             {"InputType": "JSONL"}, position, 4, max_items=None, root=None,
                             aws=aws)
        items.extend(window.items)
        position = window.position
        if window.eof:
            break
    assert items == [{"n": n} for n in range(11)] and position["b"] == len(body)
    keys: list[str] = []
    position = None
    while True:
        window = read_window("listObjectsV2", {"Bucket": "windows", "Prefix": "in/"}, {},
                             position, 2, max_items=None, root=None, aws=aws)
        keys.extend(i["Key"] for i in window.items)
        position = window.position
        if window.eof:
            break
    assert keys == ["in/items.jsonl", *(f"in/more/{n}.txt" for n in range(4))]
