"""A Distributed Map's ResultWriter: the Map Run's results written under a prefix, with a
`manifest.json`, to a local directory (SFN_ITEM_READER_ROOT) or to S3 through boto3.

AWS's layout (resource `arn:aws:states:::s3:putObject`, Parameters `Bucket` and `Prefix`):

    PREFIX/MAP_RUN_ID/manifest.json      {"DestinationBucket", "MapRunArn",
                                          "ResultFiles": {"FAILED": [], "PENDING": [],
                                                          "SUCCEEDED": [{"Key", "Size"}]}}
    PREFIX/MAP_RUN_ID/SUCCEEDED_0.json   [{"Output": "<JSON text>", "Status": "SUCCEEDED"}, ...]

and the Map's result is `{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}` (Key:
the manifest's). A `WriterConfig` shapes the entries (Transformation NONE, COMPACT,
FLATTEN) and the files (OutputType JSON, or JSONL: `SUCCEEDED_n.jsonl`), as
engine/interpreter/result_files.py says. Each entry of a results file is one iteration;
the engine runs iterations inside the parent execution, so entries carry the iteration's
`Output` and `Status` but no child execution ARN or dates. FAILED and PENDING stay empty:
a Map Run whose failures are not tolerated fails the Map before anything is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from engine.handlers import Invocation
from engine.integrations.aws import AwsCaller
from engine.interpreter import result_files as rf

#: Entries per results file (AWS splits large results into several files too).
FILE_ENTRIES: Final = 10_000


def write_results(
    parameters: Any, writer: dict[str, Any], *, root: str | None, aws: AwsCaller | None
) -> Invocation:
    params = parameters if isinstance(parameters, dict) else {}
    bucket, prefix = params.get("Bucket"), str(params.get("Prefix") or "")
    if not isinstance(bucket, str) or not bucket:
        return _failed("The ResultWriter needs a Bucket.")
    map_run_arn = str(writer.get("MapRunArn", ""))
    run_id = map_run_arn.rsplit(":", 1)[-1] or "map-run"
    base = f"{prefix.rstrip('/')}/{run_id}" if prefix else run_id
    results = list(writer.get("Results") or [])
    transformation, output_type = rf.writer_config({"resource": "s3",
                                                    "config": writer.get("Config")})
    files: list[tuple[str, bytes]] = []
    for n, start in enumerate(range(0, len(results), FILE_ENTRIES)):
        entries = rf.iteration_entries(results[start:start + FILE_ENTRIES])
        files.append((rf.file_key(base, "SUCCEEDED", n, output_type),
                      rf.file_body(rf.transformed(entries, transformation), output_type)))
    manifest = {
        "DestinationBucket": bucket,
        "MapRunArn": map_run_arn,
        "ResultFiles": {
            "FAILED": [],
            "PENDING": [],
            "SUCCEEDED": [{"Key": key, "Size": len(body)} for key, body in files],
        },
    }
    files.append((f"{base}/manifest.json", _bytes(manifest)))
    try:
        for key, body in files:
            _put(bucket, key, body, root, aws)
    except OSError as exc:
        return _failed(f"Could not write s3://{bucket}/{base}: {exc}")
    except _WriteError as exc:
        return _failed(str(exc))
    return Invocation(True, result={
        "MapRunArn": map_run_arn,
        "ResultWriterDetails": {"Bucket": bucket, "Key": f"{base}/manifest.json"},
    })


class _WriteError(Exception):
    pass


def put_object(integrations: Any, bucket: str, key: str, body: bytes) -> None:
    """One object of a Map Run's results (engine/runtime/map_runs.py), where the
    deployment's ResultWriter writes (raises OSError or ResultWriterError)."""
    settings = integrations.settings
    try:
        _put(bucket, key, body, settings.item_reader_root,
             integrations.aws if settings.aws else None)
    except _WriteError as exc:
        raise ResultWriterError(str(exc)) from None


class ResultWriterError(Exception):
    """The results cannot be written (the Map's States.ResultWriterFailed)."""


def _put(bucket: str, key: str, body: bytes, root: str | None, aws: AwsCaller | None) -> None:
    if root is not None:
        base = Path(root).resolve()
        path = (base / bucket / key).resolve()
        if base not in path.parents:
            raise _WriteError(f"The key '{key}' leaves the writer's directory.")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        return
    if aws is None:
        raise _WriteError(
            "This deployment has no ResultWriter destination: set SFN_ITEM_READER_ROOT to a "
            "directory or SFN_AWS_INTEGRATIONS=1 to write to S3 through boto3."
        )
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        aws.client("s3").put_object(Bucket=bucket, Key=key, Body=body,
                                    ContentType="application/json")
    except ClientError as exc:
        err = exc.response.get("Error") or {}
        raise _WriteError(f"S3 {err.get('Code')}: {err.get('Message')} (s3://{bucket}/{key})"
                          ) from None
    except BotoCoreError as exc:
        raise _WriteError(f"{type(exc).__name__}: {exc}") from None


def _bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def _failed(cause: str) -> Invocation:
    return Invocation(False, error="States.ResultWriterFailed", cause=cause)
