"""Manifest ItemReaders read by position (pure of Redis: a local directory, and S3 through
boto3 on the moto server): an S3 Inventory manifest (InputType MANIFEST, or CSV with
ManifestType S3_INVENTORY) whose gzip CSV data files list the items by its fileSchema, an
Athena UNLOAD manifest (ATHENA_DATA) over CSV and JSON Lines data files; every window
restarts from its recorded position; PARQUET is refused with the reason."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from engine.integrations.item_manifests import PARQUET_REFUSED
from engine.integrations.item_windows import read_window
from engine.integrations.readers import ReaderError, read_items

GET = "getObject"


def inventory(root: Path, files: int, rows: int) -> list[dict[str, str]]:
    """An S3 Inventory under ROOT/inv (manifest) with its data files in ROOT/dest."""
    expected = []
    keys = []
    for f in range(files):
        lines = []
        for r in range(rows):
            key = f"photos/{f}-{r}.jpg"
            lines.append(f'"source","{key}","{100 + r}","2026-11-16T00:29:32.000Z"\n')
            expected.append({"Bucket": "source", "Key": key, "Size": str(100 + r),
                             "LastModifiedDate": "2026-11-16T00:29:32.000Z"})
        data = root / "dest" / f"source/config/data/{f}.csv.gz"
        data.parent.mkdir(parents=True, exist_ok=True)
        data.write_bytes(gzip.compress("".join(lines).encode()))
        keys.append({"key": f"source/config/data/{f}.csv.gz", "size": data.stat().st_size,
                     "MD5checksum": "0"})
    manifest = {"sourceBucket": "source", "destinationBucket": "arn:aws:s3:::dest",
                "version": "2016-11-30", "fileFormat": "CSV",
                "fileSchema": "Bucket, Key, Size, LastModifiedDate", "files": keys}
    (root / "inv").mkdir(parents=True, exist_ok=True)
    (root / "inv" / "manifest.json").write_text(json.dumps(manifest))
    return expected


def windows(params: dict[str, Any], config: dict[str, Any], count: int, *, root: str | None,
            aws: Any = None, max_items: int | None = None) -> tuple[list[Any], list[Any]]:
    items: list[Any] = []
    positions: list[Any] = []
    position = None
    for _ in range(1000):
        # Each window from its recorded position only (JSON, as the Map Run keeps it).
        window = read_window(GET, params, config, json.loads(json.dumps(position)), count,
                             max_items=max_items, root=root, aws=aws)
        items.extend(window.items)
        positions.append(window.position)
        position = window.position
        if window.eof:
            return items, positions
    raise AssertionError("no end")


@pytest.mark.parametrize("config", [{"InputType": "MANIFEST"},
                                    {"InputType": "CSV", "ManifestType": "S3_INVENTORY"}])
def test_an_s3_inventory_manifest_lists_its_objects_by_position(
    tmp_path: Path, config: dict[str, Any]
) -> None:
    expected = inventory(tmp_path, files=3, rows=5)
    params = {"Bucket": "inv", "Key": "manifest.json"}
    items, positions = windows(params, config, 4, root=str(tmp_path))
    assert items == expected
    # (data file, decompressed byte offset) is the position; never the items
    assert positions[0] == {"i": 4, "f": 0, "b": positions[0]["b"],
                            "h": ["Bucket", "Key", "Size", "LastModifiedDate"]}
    assert 0 < positions[0]["b"] and positions[-1]["f"] == 3
    limited, _ = windows(params, config, 4, root=str(tmp_path), max_items=7)
    assert limited == expected[:7]


def test_an_athena_manifest_over_csv_and_json_lines(tmp_path: Path) -> None:
    out = tmp_path / "athena" / "unload"
    out.mkdir(parents=True)
    (out / "a.csv").write_text("1|x\n2|y\n")
    (out / "b.csv.gz").write_bytes(gzip.compress(b"3|z\n"))
    (tmp_path / "athena" / "q-manifest.csv").write_text(
        "s3://athena/unload/a.csv\ns3://athena/unload/b.csv.gz\n")
    config = {"InputType": "CSV", "ManifestType": "ATHENA_DATA", "CSVDelimiter": "PIPE",
              "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["id", "name"]}
    params = {"Bucket": "athena", "Key": "q-manifest.csv"}
    items, positions = windows(params, config, 1, root=str(tmp_path))
    assert items == [{"id": "1", "name": "x"}, {"id": "2", "name": "y"},
                     {"id": "3", "name": "z"}]
    assert [p["f"] for p in positions][:2] == [0, 1]
    (out / "c.jsonl").write_text('{"n": 1}\n\n{"n": 2}\n')
    (tmp_path / "athena" / "j-manifest.csv").write_text("s3://athena/unload/c.jsonl\n")
    got, _ = windows({"Bucket": "athena", "Key": "j-manifest.csv"},
                     {"InputType": "JSONL", "ManifestType": "ATHENA_DATA"}, 1,
                     root=str(tmp_path))
    assert got == [{"n": 1}, {"n": 2}]
    # FIRST_ROW: each data file's own header
    (out / "h1.csv").write_text("id,name\n1,x\n")
    (out / "h2.csv").write_text("id,name\n2,y\n")
    (tmp_path / "athena" / "h-manifest.csv").write_text(
        "s3://athena/unload/h1.csv\ns3://athena/unload/h2.csv\n")
    got, _ = windows({"Bucket": "athena", "Key": "h-manifest.csv"},
                     {"InputType": "CSV", "ManifestType": "ATHENA_DATA"}, 5, root=str(tmp_path))
    assert got == [{"id": "1", "name": "x"}, {"id": "2", "name": "y"}]


def test_parquet_and_bad_manifests_fail_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "m.csv").write_text("not a uri\n")
    (tmp_path / "b" / "orc.json").write_text(json.dumps(
        {"fileFormat": "ORC", "fileSchema": "Bucket, Key", "files": []}))
    cases = [
        ({"InputType": "PARQUET", "ManifestType": "ATHENA_DATA"}, "m.csv", PARQUET_REFUSED),
        ({"InputType": "PARQUET"}, "m.csv", PARQUET_REFUSED),
        ({"InputType": "CSV", "ManifestType": "ATHENA_DATA"}, "m.csv", "line 1 is not"),
        ({"InputType": "MANIFEST"}, "orc.json", "fileFormat 'ORC'"),
        ({"InputType": "JSON", "ManifestType": "S3_INVENTORY"}, "orc.json", "InputType 'JSON'"),
    ]
    for config, key, reason in cases:
        with pytest.raises(ReaderError, match=None) as caught:
            read_window(GET, {"Bucket": "b", "Key": key}, config, None, 10, max_items=None,
                        root=str(tmp_path), aws=None)
        assert reason in str(caught.value), (config, str(caught.value))
    # the in-execution Map's reader reads manifests too, and fails the same way
    expected = inventory(tmp_path, files=2, rows=3)
    found = read_items(GET, {"Bucket": "inv", "Key": "manifest.json"},
                       {"InputType": "MANIFEST"}, root=str(tmp_path), aws=None)
    assert found.ok and found.result == expected
    refused = read_items(GET, {"Bucket": "b", "Key": "m.csv"}, {"InputType": "PARQUET"},
                         root=str(tmp_path), aws=None)
    assert (refused.error, refused.cause) == ("States.ItemReaderFailed", PARQUET_REFUSED)


def test_an_s3_inventory_in_s3_through_boto3(aws_env: Any, tmp_path: Path) -> None:
    from engine.integrations.aws import AwsCaller

    expected = inventory(tmp_path, files=2, rows=300)
    s3: Any = aws_env.client("s3")
    for bucket in ("inv", "dest"):
        s3.create_bucket(Bucket=bucket)
        for path in (tmp_path / bucket).rglob("*"):
            if path.is_file():
                s3.put_object(Bucket=bucket, Key=path.relative_to(tmp_path / bucket).as_posix(),
                              Body=path.read_bytes())
    items, positions = windows({"Bucket": "inv", "Key": "manifest.json"},
                               {"InputType": "MANIFEST"}, 200, root=None,
                               aws=AwsCaller("us-east-1"))
    assert items == expected and len(positions) == 3
