"""A Distributed Map's ItemReader: the items, read from S3 or from a local directory.

Resources (AWS's): `arn:aws:states:::s3:getObject` (one object, parsed by
`ReaderConfig.InputType`: `JSON` (an array), `JSONL` (one value a line), `CSV` (a header on
the first row, or `CSVHeaderLocation: GIVEN` with `CSVHeaders`; `CSVDelimiter` COMMA, PIPE,
SEMICOLON, SPACE or TAB; each row an object of strings)) and `arn:aws:states:::s3:listObjectsV2`
(the objects under a `Prefix`, each `{"Etag", "Key", "LastModified", "Size",
"StorageClass"}`). Manifests (InputType MANIFEST, ReaderConfig.ManifestType S3_INVENTORY or
ATHENA_DATA) are item_manifests.py's.

Where from, in this order:
- SFN_ITEM_READER_ROOT=DIR: `Bucket`/`Key` name the file DIR/BUCKET/KEY (the embedded
  default: examples run without any cloud);
- built-in AWS calls allowed (SFN_AWS_INTEGRATIONS=1): S3 through boto3;
- otherwise the Map fails with States.ItemReaderFailed saying how to configure either.

`ReaderConfig.MaxItems` stops the reading early (a JSON Lines or CSV object is read line by
line up to it); the Map applies it again, with MaxItemsPath.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Final

from engine.handlers import Invocation
from engine.integrations.aws import AwsCaller

GET_OBJECT: Final = "getObject"
LIST_OBJECTS: Final = "listObjectsV2"
_DELIMITERS: Final = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}


class ReaderError(Exception):
    """The source cannot be read or parsed (the Map's States.ItemReaderFailed)."""


def read_items(
    action: str, parameters: Any, config: dict[str, Any], *, root: str | None,
    aws: AwsCaller | None,
) -> Invocation:
    params = parameters if isinstance(parameters, dict) else {}
    limit = config.get("MaxItems")
    limit = limit if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0 else None
    try:
        if action == GET_OBJECT:
            from engine.integrations.item_manifests import is_manifest, read_all

            if is_manifest(config):
                items = read_all(params, config, root, aws, limit)
            else:
                items = list(_take(_parse(_object_lines(params, root, aws), config), limit))
        elif action == LIST_OBJECTS:
            items = list(_take(_listing(params, root, aws), limit))
        else:
            raise ReaderError(f"The ItemReader resource action '{action}' is not supported.")
    except ReaderError as exc:
        return Invocation(False, error="States.ItemReaderFailed", cause=str(exc))
    return Invocation(True, result=items)


def _take(items: Iterable[Any], limit: int | None) -> Iterator[Any]:
    for n, item in enumerate(items):
        if limit is not None and n >= limit:
            return
        yield item


def _where(params: dict[str, Any]) -> tuple[str, str]:
    bucket, key = params.get("Bucket"), params.get("Key", params.get("Prefix", ""))
    if not isinstance(bucket, str) or not bucket:
        raise ReaderError("The ItemReader needs a Bucket.")
    return bucket, str(key or "")


def _local_path(root: str, bucket: str, key: str) -> Path:
    base = Path(root).resolve()
    path = (base / bucket / key).resolve()
    if base not in path.parents and path != base:  # a Key of "../.." stays inside ROOT
        raise ReaderError(f"The key '{key}' leaves the reader's directory.")
    return path


def _object_lines(params: dict[str, Any], root: str | None, aws: AwsCaller | None) -> Iterator[str]:
    bucket, key = _where(params)
    if root is not None:
        path = _local_path(root, bucket, key)
        if not path.is_file():
            raise ReaderError(f"No object s3://{bucket}/{key} under the reader's directory.")
        with path.open(encoding="utf-8", newline="") as handle:
            yield from handle
        return
    if aws is None:
        raise _nowhere()
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
        for raw in body.iter_lines(keepends=True):
            yield raw.decode("utf-8")
    except ClientError as exc:
        err = exc.response.get("Error") or {}
        raise ReaderError(f"S3 {err.get('Code')}: {err.get('Message')} (s3://{bucket}/{key})"
                          ) from None
    except BotoCoreError as exc:
        raise ReaderError(f"{type(exc).__name__}: {exc}") from None


def _parse(lines: Iterator[str], config: dict[str, Any]) -> Iterator[Any]:
    kind = str(config.get("InputType", "JSON")).upper()
    if kind == "JSONL":
        for n, line in enumerate(lines, 1):
            if line.strip():
                yield _json(line, f"line {n}")
    elif kind == "CSV":
        delimiter = _DELIMITERS.get(str(config.get("CSVDelimiter", "COMMA")).upper(), ",")
        rows = csv.reader(lines, delimiter=delimiter)
        if str(config.get("CSVHeaderLocation", "FIRST_ROW")).upper() == "GIVEN":
            headers = [str(h) for h in config.get("CSVHeaders") or ()]
        else:
            headers = next(rows, [])
        for row in rows:
            yield {h: (row[i] if i < len(row) else "") for i, h in enumerate(headers)}
    elif kind == "JSON":
        value = _json("".join(lines), "the object")
        if not isinstance(value, list):
            raise ReaderError("A JSON ItemReader object must hold an array.")
        yield from value
    else:
        raise ReaderError(f"ReaderConfig.InputType '{kind}' is not supported here.")


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ReaderError(f"Not JSON at {where}: {exc}") from None


def _listing(params: dict[str, Any], root: str | None, aws: AwsCaller | None) -> Iterator[Any]:
    bucket, prefix = _where(params)
    if root is not None:
        base = _local_path(root, bucket, "")
        if not base.is_dir():
            raise ReaderError(f"No bucket '{bucket}' under the reader's directory.")
        for path in sorted(p for p in base.rglob("*") if p.is_file()):
            key = path.relative_to(base).as_posix()
            if key.startswith(prefix):
                stat = path.stat()
                modified = dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC)
                yield {"Etag": "", "Key": key,
                       "LastModified": modified.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                       "Size": stat.st_size, "StorageClass": "STANDARD"}
        return
    if aws is None:
        raise _nowhere()
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        pages = aws.client("s3").get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix)
        for page in pages:
            for obj in page.get("Contents") or ():
                yield {"Etag": obj.get("ETag", ""), "Key": obj["Key"],
                       "LastModified": obj["LastModified"].astimezone(dt.UTC)
                       .strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                       "Size": obj.get("Size", 0), "StorageClass": obj.get("StorageClass", "")}
    except ClientError as exc:
        err = exc.response.get("Error") or {}
        raise ReaderError(f"S3 {err.get('Code')}: {err.get('Message')} (s3://{bucket})") from None
    except BotoCoreError as exc:
        raise ReaderError(f"{type(exc).__name__}: {exc}") from None


def _nowhere() -> ReaderError:
    return ReaderError(
        "This deployment has no ItemReader source: set SFN_ITEM_READER_ROOT to a directory "
        "(Bucket/Key name a file under it) or SFN_AWS_INTEGRATIONS=1 to read S3 through boto3, "
        "or register a handler under 's3:getObject' / 's3:listObjectsV2'."
    )


__all__ = ["ReaderError", "read_items"]
