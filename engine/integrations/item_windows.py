"""A Map Run's ItemReader, read by position: the next `count` items after a position, and
the position after them (JSON, kept in the Map Run's record), so that a reader that died
reads the same window again and no item list is ever held.

Positions: `{"i": items read, "b": byte offset}` for JSON Lines and CSV objects (the next
window starts reading there: a local file is sought, an S3 object read with a `Range`
header), with `"h"` the CSV headers; `{"i", "k": the last key}` for an object listing (S3
`StartAfter`). A JSON object (one array) has to be parsed whole each window: the position
is the item count only (fine for the arrays an object of a few MB holds; use JSON Lines for
big sources). Sources and errors are readers.py's.

A window also reports where each of its items starts (`Window.at`): a window that ends
inside an ItemBatcher batch cut by bytes is admitted up to that batch only, and the next
window starts at the batch's first item (a byte offset, a key, an index like any other).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from engine.integrations.aws import AwsCaller
from engine.integrations.readers import (
    _DELIMITERS,
    GET_OBJECT,
    LIST_OBJECTS,
    ReaderError,
    _json,
    _local_path,
    _nowhere,
    _object_lines,
    _parse,
    _where,
)


@dataclass
class Window:
    items: list[Any]
    position: dict[str, Any]
    #: The source has no item after this window (or MaxItems is reached).
    eof: bool
    #: The position each item starts at (the one a read for it starts from); None: a
    #: reader that does not report them (`at` then knows only the ends).
    starts: list[dict[str, Any]] | None = None

    def at(self, used: int) -> dict[str, Any] | None:
        """The position after the window's first `used` items: where the next window
        starts when only those were admitted. None: not known (the caller reads the
        first `used` items again to find it)."""
        if used >= len(self.items):
            return self.position
        if self.starts is not None:
            return self.starts[used]
        if set(self.position) == {"i"}:  # read by index: the items' positions follow
            return {"i": int(self.position["i"]) - len(self.items) + used}
        return None


def read_window(
    action: str, parameters: Any, config: dict[str, Any], position: dict[str, Any] | None,
    count: int, *, max_items: int | None, root: str | None, aws: AwsCaller | None,
) -> Window:
    params = parameters if isinstance(parameters, dict) else {}
    position = dict(position or {"i": 0, "b": 0})
    done = int(position.get("i", 0))
    if max_items is not None:
        count = min(count, max_items - done)
        if count <= 0:
            return Window([], position, True)
    if action == GET_OBJECT:
        from engine.integrations.item_manifests import is_manifest, manifest_window

        kind = str(config.get("InputType", "JSON")).upper()
        if is_manifest(config):  # S3 Inventory / Athena manifests (and PARQUET, refused)
            window = manifest_window(params, config, position, count, root, aws)
        elif kind in ("JSONL", "CSV"):
            window = _lines_window(params, config, kind, position, count, root, aws)
        elif kind == "JSON":
            found = list(_parse(_object_lines(params, root, aws), config))
            items = found[done:done + count]
            window = Window(items, {"i": done + len(items)}, done + len(items) >= len(found),
                            [{"i": done + n} for n in range(len(items))])
        else:
            raise ReaderError(f"ReaderConfig.InputType '{kind}' is not supported here.")
    elif action == LIST_OBJECTS:
        window = _listing_window(params, position, count, root, aws)
    else:
        raise ReaderError(f"The ItemReader resource action '{action}' is not supported.")
    if max_items is not None and int(window.position["i"]) >= max_items:
        window.eof = True
    return window


def _byte_lines(params: dict[str, Any], offset: int, root: str | None,
                aws: AwsCaller | None) -> Iterator[bytes]:
    bucket, key = _where(params)
    if root is not None:
        path = _local_path(root, bucket, key)
        if not path.is_file():
            raise ReaderError(f"No object s3://{bucket}/{key} under the reader's directory.")
        with path.open("rb") as handle:
            handle.seek(offset)
            yield from handle
        return
    if aws is None:
        raise _nowhere()
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        extra = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            body = aws.client("s3").get_object(Bucket=bucket, Key=key, **extra)["Body"]
        except ClientError as exc:
            if offset and (exc.response.get("Error") or {}).get("Code") == "InvalidRange":
                return  # the offset is the object's end
            raise
        try:
            yield from body.iter_lines(keepends=True)
        finally:
            body.close()
    except ClientError as exc:
        err = exc.response.get("Error") or {}
        raise ReaderError(f"S3 {err.get('Code')}: {err.get('Message')} (s3://{bucket}/{key})"
                          ) from None
    except BotoCoreError as exc:
        raise ReaderError(f"{type(exc).__name__}: {exc}") from None


class _Counted:
    """Text lines of a byte stream, counting the bytes handed out (the csv module pulls a
    row's lines only: after a row, `consumed` is where the next row starts)."""

    def __init__(self, lines: Iterator[bytes]) -> None:
        self.lines = lines
        self.consumed = 0

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> str:
        raw = next(self.lines)
        self.consumed += len(raw)
        return raw.decode("utf-8")


def _lines_window(params: dict[str, Any], config: dict[str, Any], kind: str,
                  position: dict[str, Any], count: int, root: str | None,
                  aws: AwsCaller | None) -> Window:
    offset, done = int(position.get("b", 0)), int(position.get("i", 0))
    stream = _Counted(_byte_lines(params, offset, root, aws))
    items: list[Any] = []
    starts: list[dict[str, Any]] = []
    out = dict(position)
    try:
        if kind == "JSONL":
            before = 0
            for line in stream:
                if line.strip():
                    starts.append({**out, "i": done + len(items), "b": offset + before})
                    items.append(_json(line, f"line {done + len(items) + 1}"))
                    if len(items) >= count:
                        break
                before = stream.consumed
            out.update(i=done + len(items), b=offset + stream.consumed)
            eof = len(items) < count or _at_end(stream)
            return Window(items, out, eof, starts)
        delimiter = _DELIMITERS.get(str(config.get("CSVDelimiter", "COMMA")).upper(), ",")
        rows = csv.reader(stream, delimiter=delimiter)
        headers = out.get("h")
        if headers is None:
            if str(config.get("CSVHeaderLocation", "FIRST_ROW")).upper() == "GIVEN":
                headers = [str(h) for h in config.get("CSVHeaders") or ()]
            else:
                headers = next(rows, [])
            out["h"] = headers
        used = stream.consumed
        for row in rows:
            # The headers travel with every position: a window started mid-file applies
            # them without reading the first row again.
            starts.append({**out, "i": done + len(items), "b": offset + used})
            items.append({h: (row[i] if i < len(row) else "") for i, h in enumerate(headers)})
            used = stream.consumed
            if len(items) >= count:
                break
        out.update(i=done + len(items), b=offset + used)
        return Window(items, out, len(items) < count or _at_end(stream), starts)
    finally:
        close = getattr(stream.lines, "close", None)
        if close is not None:
            close()


def _at_end(stream: _Counted) -> bool:
    """Whether nothing but blank lines is left (peeks the next line only)."""
    for raw in stream.lines:
        if raw.strip():
            return False
        return False  # a blank line: the next window finds out (an empty window is the end)
    return True


def _listing_window(params: dict[str, Any], position: dict[str, Any], count: int,
                    root: str | None, aws: AwsCaller | None) -> Window:
    bucket, prefix = _where(params)
    after = str(position.get("k", ""))
    done = int(position.get("i", 0))
    items: list[Any] = []
    more = False
    if root is not None:
        base = _local_path(root, bucket, "")
        if not base.is_dir():
            raise ReaderError(f"No bucket '{bucket}' under the reader's directory.")
        keys = sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())
        for key in keys:
            if not key.startswith(prefix) or key <= after:
                continue
            if len(items) >= count:
                more = True
                break
            stat = (base / key).stat()
            modified = dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC)
            items.append({"Etag": "", "Key": key,
                          "LastModified": modified.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                          "Size": stat.st_size, "StorageClass": "STANDARD"})
    else:
        if aws is None:
            raise _nowhere()
        from botocore.exceptions import BotoCoreError, ClientError

        more = True
        start = after
        while more and len(items) < count:  # S3 answers at most 1,000 keys a page
            try:
                extra = {"StartAfter": start} if start else {}
                page = aws.client("s3").list_objects_v2(
                    Bucket=bucket, Prefix=prefix, MaxKeys=min(1000, count - len(items)), **extra)
            except ClientError as exc:
                err = exc.response.get("Error") or {}
                raise ReaderError(f"S3 {err.get('Code')}: {err.get('Message')} (s3://{bucket})"
                                  ) from None
            except BotoCoreError as exc:
                raise ReaderError(f"{type(exc).__name__}: {exc}") from None
            for obj in page.get("Contents") or ():
                items.append({"Etag": obj.get("ETag", ""), "Key": obj["Key"],
                              "LastModified": obj["LastModified"].astimezone(dt.UTC)
                              .strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                              "Size": obj.get("Size", 0),
                              "StorageClass": obj.get("StorageClass", "")})
            more = bool(page.get("IsTruncated")) and bool(items)
            start = items[-1]["Key"] if items else start
    last = items[-1]["Key"] if items else after
    keys = [after, *(item["Key"] for item in items)]
    starts = [{"i": done + n, "k": keys[n]} for n in range(len(items))]
    return Window(items, {"i": done + len(items), "k": last}, not more, starts)


__all__ = ["Window", "read_window"]
