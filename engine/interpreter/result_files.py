"""The shape of a Map Run's results under ResultWriter's `WriterConfig` (pure: no I/O).

AWS's rules (developer guide, "ResultWriter (Map)"):

- `Transformation`: `NONE` (each child as an entry with its metadata: `ExecutionArn`,
  `Input`, `Output` as JSON text, `Status`, dates...; the default when the results are
  exported and no `WriterConfig` is given), `COMPACT` (each child's output, as JSON; the
  default without ResultWriter), `FLATTEN` (each child's output, an array output spliced
  into the list). A failed child's result is left unchanged whatever the transformation:
  its `NONE` entry.
- `OutputType`: `JSON` (a file is one JSON array) or `JSONL` (one JSON value a line; the
  files are then `STATUS_n.jsonl`).
- `WriterConfig` alone (no `Resource`): the transformed results are the Map's output (a
  JSON array: a state's output is JSON whatever `OutputType`), at most 256 KiB as without
  ResultWriter.

PENDING entries list the items a failed or aborted Map Run never started: the child each
would have been (its name is derived from the Map Run and the index, as for a started
child), `Input` its input, `Status` `PENDING`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, Final

TRANSFORMATIONS: Final = ("NONE", "COMPACT", "FLATTEN")
OUTPUT_TYPES: Final = ("JSON", "JSONL")


def writer_config(writer: dict[str, Any] | None) -> tuple[str, str]:
    """(Transformation, OutputType) of a plan's writer, with AWS's defaults: NONE/JSON when
    the results are exported, COMPACT without an export."""
    config = (writer or {}).get("config")
    config = config if isinstance(config, dict) else {}
    exported = bool((writer or {}).get("resource"))
    transformation = str(config.get("Transformation") or ("NONE" if exported else "COMPACT"))
    return transformation.upper(), str(config.get("OutputType") or "JSON").upper()


def transformed(entries: Iterable[dict[str, Any]], transformation: str) -> Iterator[Any]:
    """What each child's entry (its NONE shape) becomes under `transformation`: a
    succeeded child's output (COMPACT), spliced when it is an array (FLATTEN); a child that
    did not succeed stays as it is."""
    for entry in entries:
        if transformation == "NONE" or entry.get("Status") != "SUCCEEDED":
            yield entry
            continue
        output = json.loads(entry.get("Output") or "null")
        if transformation == "FLATTEN" and isinstance(output, list):
            yield from output
        else:
            yield output


def flattened(values: Iterable[Any]) -> list[Any]:
    """FLATTEN over the children's results in item order (each a succeeded child's output
    or a failed child's entry): arrays spliced into one list."""
    out: list[Any] = []
    for value in values:
        if isinstance(value, list):
            out.extend(value)
        else:
            out.append(value)
    return out


def iteration_entries(results: Iterable[Any]) -> list[dict[str, Any]]:
    """The NONE entries of iterations run inside the execution (no child executions: an
    iteration's output and status only)."""
    return [{"Output": json.dumps(v, separators=(",", ":"), ensure_ascii=False),
             "Status": "SUCCEEDED"} for v in results]


def shaped_output(config: Any, results: list[Any]) -> list[Any]:
    """The Map's output under a WriterConfig without an export, from its iterations'
    outputs (the in-execution Map's results)."""
    transformation, _ = writer_config({"resource": "", "config": config})
    if transformation == "COMPACT":
        return results
    return list(transformed(iteration_entries(results), transformation))


def file_body(values: Iterable[Any], output_type: str) -> bytes:
    """A result file: a JSON array, or JSON Lines (one compact value a line)."""
    if output_type == "JSONL":
        return "".join(json.dumps(v, ensure_ascii=False, separators=(",", ":")) + "\n"
                       for v in values).encode()
    return json.dumps(list(values), ensure_ascii=False).encode()


def file_key(base: str, status: str, number: int, output_type: str) -> str:
    return f"{base}/{status}_{number}.{'jsonl' if output_type == 'JSONL' else 'json'}"


def pending_entry(child_arn: str, name: str, machine_arn: str, child_input: Any) -> dict[str, Any]:
    """An item the Map Run never started (its PENDING_n file)."""
    return {
        "ExecutionArn": child_arn,
        "Input": json.dumps(child_input, separators=(",", ":"), ensure_ascii=False),
        "InputDetails": {"Included": True}, "Name": name, "StateMachineArn": machine_arn,
        "Status": "PENDING",
    }


def manifest(bucket: str, map_run_arn: str, files: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """AWS's `manifest.json`: `ResultFiles` FAILED, PENDING, SUCCEEDED, each `[{Key, Size}]`."""
    listed = list(files)
    return {
        "DestinationBucket": bucket, "MapRunArn": map_run_arn,
        "ResultFiles": {s: [{"Key": f["Key"], "Size": f["Size"]} for f in listed
                            if f["status"] == s] for s in ("FAILED", "PENDING", "SUCCEEDED")},
    }


__all__ = ["OUTPUT_TYPES", "TRANSFORMATIONS", "file_body", "file_key", "flattened",
           "iteration_entries", "manifest", "pending_entry", "shaped_output", "transformed",
           "writer_config"]
