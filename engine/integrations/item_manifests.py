"""An ItemReader over a manifest (`arn:aws:states:::s3:getObject`, `Bucket`/`Key` naming the
manifest), read by position like the other readers (item_windows.py).

AWS's manifests (developer guide, "ItemReader (Map)"):

- an S3 Inventory list: `ReaderConfig.InputType: MANIFEST`, or `InputType: CSV` with
  `ManifestType: S3_INVENTORY`. The object is the inventory's `manifest.json`
  (`destinationBucket`, `fileFormat`, `fileSchema`, `files: [{"key", ...}]`); its data
  files are CSV (gzip-compressed, as S3 Inventory writes them) in the destination bucket,
  without a header row; each row is an item whose fields are named by `fileSchema`
  (`{"Bucket", "Key", "Size", "LastModifiedDate", ...}`, values as strings). Only CSV
  inventories can be read, as on AWS (ORC and Parquet inventories are refused).
- an Athena UNLOAD manifest: `ManifestType: ATHENA_DATA` with `InputType` CSV or JSONL. The
  object lists the data files, one `s3://BUCKET/KEY` a line; the rows (CSV, with the
  reader's `CSVHeaderLocation` / `CSVHeaders` / `CSVDelimiter`, a FIRST_ROW header read in
  each file) or lines (JSONL) of every file, in the manifest's order, are the items.
  `InputType: PARQUET` needs a Parquet decoder this engine does not depend on (pyarrow):
  it fails with States.ItemReaderFailed saying so.

Position: `{"i": items read, "f": the data file's index in the manifest, "b": the byte
offset in that file (after decompression for a `.gz` file), "h": the file's CSV header}`.
A plain file is read from the offset (a local file sought, an S3 object read with a
`Range` header); a compressed one is decompressed from its start as a stream, the bytes
before the offset skipped. The manifest itself (a few KB) is read each window.
"""

from __future__ import annotations

import csv
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from engine.integrations.aws import AwsCaller
from engine.integrations.item_windows import Window, _at_end, _byte_lines, _Counted
from engine.integrations.readers import _DELIMITERS, ReaderError, _json, _object_lines

S3_INVENTORY: Final = "S3_INVENTORY"
ATHENA_DATA: Final = "ATHENA_DATA"
MANIFEST_TYPES: Final = (S3_INVENTORY, ATHENA_DATA)

PARQUET_REFUSED: Final = (
    "ReaderConfig.InputType 'PARQUET' cannot be read here: this engine has no Parquet decoder "
    "(pyarrow is not one of its dependencies). Write the data as CSV or JSON Lines (Athena "
    "UNLOAD ... WITH (format = 'TEXTFILE') or 'JSON')."
)


@dataclass
class Source:
    """What a manifest lists: its data files and how each is parsed."""

    files: list[tuple[str, str]]
    kind: str  # CSV or JSONL
    #: CSV field names given for every file (S3 Inventory's fileSchema, or CSVHeaders);
    #: None: each file's first row.
    headers: list[str] | None
    delimiter: str


def is_manifest(config: dict[str, Any]) -> bool:
    """Whether a getObject reader's ReaderConfig reads a manifest (or Parquet, refused
    here)."""
    kind = str(config.get("InputType", "JSON")).upper()
    return kind in ("MANIFEST", "PARQUET") or config.get("ManifestType") is not None


def source(params: dict[str, Any], config: dict[str, Any], root: str | None,
           aws: AwsCaller | None) -> Source:
    """The manifest named by `params` read, as `config` says to read it."""
    kind = str(config.get("InputType", "JSON")).upper()
    declared = config.get("ManifestType")
    manifest_type = str(declared).upper() if declared is not None else (
        S3_INVENTORY if kind == "MANIFEST" else None)
    if kind == "PARQUET":
        raise ReaderError(PARQUET_REFUSED)
    if manifest_type == S3_INVENTORY:
        if kind not in ("MANIFEST", "CSV"):
            raise ReaderError(f"ReaderConfig.ManifestType 'S3_INVENTORY' reads CSV inventory "
                              f"files: InputType '{kind}' is not supported with it.")
        return _inventory(params, root, aws)
    if manifest_type == ATHENA_DATA:
        if kind not in ("CSV", "JSONL"):
            raise ReaderError(f"ReaderConfig.ManifestType 'ATHENA_DATA' reads CSV, JSONL or "
                              f"PARQUET data files: InputType '{kind}' is not supported.")
        return _athena(params, config, kind, root, aws)
    raise ReaderError(f"ReaderConfig.ManifestType '{declared}' is not one of "
                      f"{', '.join(MANIFEST_TYPES)}.")


def _inventory(params: dict[str, Any], root: str | None, aws: AwsCaller | None) -> Source:
    manifest = _json("".join(_object_lines(params, root, aws)), "the S3 Inventory manifest")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise ReaderError("The S3 Inventory manifest has no 'files' list.")
    file_format = str(manifest.get("fileFormat", "CSV")).upper()
    if file_format != "CSV":
        raise ReaderError(f"The S3 Inventory's fileFormat '{file_format}' is not supported: "
                          "a Distributed Map reads CSV inventories only.")
    schema = manifest.get("fileSchema")
    if not isinstance(schema, str) or not schema.strip():
        raise ReaderError("The S3 Inventory manifest has no 'fileSchema'.")
    destination = str(manifest.get("destinationBucket") or params.get("Bucket") or "")
    bucket = destination.removeprefix("arn:aws:s3:::")
    files: list[tuple[str, str]] = []
    for n, entry in enumerate(manifest["files"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
            raise ReaderError(f"The S3 Inventory manifest's files[{n}] has no 'key'.")
        files.append((bucket, entry["key"]))
    return Source(files, "CSV", [h.strip() for h in schema.split(",")], ",")


def _athena(params: dict[str, Any], config: dict[str, Any], kind: str, root: str | None,
            aws: AwsCaller | None) -> Source:
    files: list[tuple[str, str]] = []
    for n, line in enumerate(_object_lines(params, root, aws), 1):
        uri = line.strip()
        if not uri:
            continue
        if not uri.startswith("s3://") or "/" not in uri[5:]:
            raise ReaderError(f"The Athena manifest's line {n} is not an s3://BUCKET/KEY URI.")
        bucket, key = uri[5:].split("/", 1)
        files.append((bucket, key))
    headers = None
    if str(config.get("CSVHeaderLocation", "FIRST_ROW")).upper() == "GIVEN":
        headers = [str(h) for h in config.get("CSVHeaders") or ()]
    delimiter = _DELIMITERS.get(str(config.get("CSVDelimiter", "COMMA")).upper(), ",")
    return Source(files, kind, headers, delimiter)


def manifest_window(params: dict[str, Any], config: dict[str, Any],
                    position: dict[str, Any] | None, count: int, root: str | None,
                    aws: AwsCaller | None) -> Window:
    """The next `count` items after `position` (see the module's docstring)."""
    found = source(params, config, root, aws)
    pos = dict(position or {})
    done, index, offset = int(pos.get("i", 0)), int(pos.get("f", 0)), int(pos.get("b", 0))
    header = pos.get("h")
    items: list[Any] = []
    while index < len(found.files) and len(items) < count:
        bucket, key = found.files[index]
        stream = _Counted(_file_lines(bucket, key, offset, root, aws))
        try:
            got, used, header, ended = _parse(stream, found, count - len(items), header,
                                              f"s3://{bucket}/{key}")
        finally:
            close = getattr(stream.lines, "close", None)
            if close is not None:
                close()
        items.extend(got)
        if ended:
            index, offset, header = index + 1, 0, None
        else:
            offset += used
    out: dict[str, Any] = {"i": done + len(items), "f": index, "b": offset}
    if header is not None:
        out["h"] = header
    return Window(items, out, index >= len(found.files))


def _parse(stream: _Counted, found: Source, want: int, header: list[str] | None,
           where: str) -> tuple[list[Any], int, list[str] | None, bool]:
    """At most `want` items of one file from the stream's start: (items, bytes used,
    the header, whether the file has no item left)."""
    items: list[Any] = []
    if found.kind == "JSONL":
        for line in stream:
            if line.strip():
                items.append(_json(line, f"{where}, after byte {stream.consumed - len(line)}"))
                if len(items) >= want:
                    return items, stream.consumed, None, _at_end(stream)
        return items, stream.consumed, None, True
    rows = csv.reader(stream, delimiter=found.delimiter)
    if header is None:
        header = found.headers if found.headers is not None else next(rows, [])
    used = stream.consumed
    for row in rows:
        items.append({h: (row[i] if i < len(row) else "") for i, h in enumerate(header)})
        used = stream.consumed
        if len(items) >= want:
            return items, used, header, _at_end(stream)
    return items, used, header, True


def _file_lines(bucket: str, key: str, offset: int, root: str | None,
                aws: AwsCaller | None) -> Iterator[bytes]:
    """One data file's lines from `offset` (of its decompressed bytes for `.gz`)."""
    params = {"Bucket": bucket, "Key": key}
    if not key.endswith(".gz"):
        yield from _byte_lines(params, offset, root, aws)
        return
    inflate = zlib.decompressobj(wbits=31)
    skip, pending = offset, b""
    for chunk in _byte_lines(params, 0, root, aws):  # any cut of the compressed bytes
        try:
            data = inflate.decompress(chunk)
            while inflate.eof and inflate.unused_data:  # a multi-member gzip file
                rest = inflate.unused_data
                inflate = zlib.decompressobj(wbits=31)
                data += inflate.decompress(rest)
        except zlib.error as exc:
            raise ReaderError(f"s3://{bucket}/{key} is not a gzip file: {exc}") from None
        if skip:
            cut = min(skip, len(data))
            data, skip = data[cut:], skip - cut
        pending += data
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line + b"\n"
    if pending:
        yield pending


def read_all(params: dict[str, Any], config: dict[str, Any], root: str | None,
             aws: AwsCaller | None, limit: int | None) -> list[Any]:
    """Every item (an in-execution Map's reader: readers.py), at most `limit`."""
    out: list[Any] = []
    position: dict[str, Any] | None = None
    while limit is None or len(out) < limit:
        want = 1000 if limit is None else min(1000, limit - len(out))
        window = manifest_window(params, config, position, want, root, aws)
        out.extend(window.items)
        position = window.position
        if window.eof or not window.items:
            break
    return out


__all__ = ["ATHENA_DATA", "MANIFEST_TYPES", "PARQUET_REFUSED", "S3_INVENTORY", "is_manifest",
           "manifest_window", "read_all", "source"]

