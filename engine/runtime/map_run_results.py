"""A Map Run's ResultWriter output, written as its children end (engine/runtime/map_runs.py
calls `write` under the Map Run's lock): `PREFIX/MAP_RUN_ID/SUCCEEDED_n.json` and
`FAILED_n.json`, FLUSH_ENTRIES entries each, in item order within a file, then AWS's
`manifest.json`. A file is named by its number and written from the head of the buffer
before the buffer is trimmed in one script that compares the entries written: written
twice (a worker died before the trim), it is the same file; a second writer whose lock had
run out is refused the trim."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any, Final

from engine.integrations.writers import put_object
from engine.interpreter import result_files as rf
from engine.store.base import ExecutionRecord
from engine.store.map_runs import RedisMapRuns

#: Result entries per ResultWriter file.
FLUSH_ENTRIES: Final = 1000


def result_entry(child: ExecutionRecord) -> dict[str, Any]:
    """One child as AWS's result files list it."""
    out: dict[str, Any] = {
        "ExecutionArn": child.arn, "Input": child.input, "InputDetails": {"Included": True},
        "Name": child.name,
    }
    if child.status == "SUCCEEDED":
        out["Output"] = child.output
        out["OutputDetails"] = {"Included": True}
    else:
        if child.error is not None:
            out["Error"] = child.error
        if child.cause is not None:
            out["Cause"] = child.cause
    out["RedriveCount"] = child.redrive_count
    out["RedriveStatus"] = "NOT_REDRIVABLE"
    out["StartDate"] = _date(child.start)
    out["StateMachineArn"] = child.state_machine_arn
    out["Status"] = child.status
    if child.stop is not None:
        out["StopDate"] = _date(child.stop)
    return out


def writer_fields(plan: dict[str, Any], rid: str) -> dict[str, Any] | None:
    """What the Map Run's record keeps of a ResultWriter that exports (None: no export):
    the bucket, `PREFIX/MAP_RUN_ID` and the WriterConfig's shape."""
    writer = plan.get("writer")
    if writer is None or not writer.get("resource"):
        return None
    params = writer.get("parameters") if isinstance(writer.get("parameters"), dict) else {}
    prefix = str(params.get("Prefix") or "")
    transformation, output_type = rf.writer_config(writer)
    return {"bucket": params.get("Bucket"),
            "base": f"{prefix.rstrip('/')}/{rid}" if prefix else rid,
            "transformation": transformation, "output_type": output_type}


def child_result(writer: dict[str, Any] | None, child: ExecutionRecord) -> str:
    """A child's result kept for the Map's output (no export): its output, or a failed
    child's `{"Error", "Cause"}`; with a WriterConfig, its entry as the transformation
    shapes it (a failed child's: its NONE entry, as AWS)."""
    if writer is None:
        if child.status == "SUCCEEDED":
            return child.output or "null"
        return json.dumps({"Error": child.error, "Cause": child.cause})
    transformation, _ = rf.writer_config(writer)
    if transformation == "NONE" or child.status != "SUCCEEDED":
        return json.dumps(result_entry(child), separators=(",", ":"), ensure_ascii=False)
    return child.output or "null"


def map_output(writer: dict[str, Any] | None, results: list[Any]) -> list[Any]:
    """The Map's output from the children's kept results, in item order (FLATTEN splices
    the array outputs)."""
    if writer is not None and rf.writer_config(writer)[0] == "FLATTEN":
        return rf.flattened(results)
    return results


def _date(epoch: float) -> str:
    seconds = epoch / 1000 if epoch > 1e11 else epoch
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"



def write(integrations: Any, mr: RedisMapRuns, eid: str, rid: str, writer: dict[str, Any],
          *, final: bool, pending: Iterable[dict[str, Any]] = ()) -> None:
    """Write the buffered entries, FLUSH_ENTRIES a file (`final`: all, then the items
    never started (`pending`, PENDING files) and the manifest), where the deployment's
    ResultWriter writes, shaped by the writer's WriterConfig (result_files.py)."""
    if not final and mr.buffer_length(eid, rid) < FLUSH_ENTRIES:
        return
    transformation = str(writer.get("transformation") or "NONE")
    output_type = str(writer.get("output_type") or "JSON")
    while True:
        # `written` first: the files and the buffer read after it go with it (a writer's
        # trim and its files are one script), and the trim below compares it.
        written = int(mr.field(eid, rid, "results_written") or 0)
        files = mr.files(eid, rid)
        numbers: dict[str, int] = {}
        for f in files:
            numbers[f["status"]] = numbers.get(f["status"], 0) + 1
        waiting = mr.buffer_length(eid, rid)
        if waiting == 0 or (waiting < FLUSH_ENTRIES and not final):
            break
        entries = [json.loads(e) for e in mr.buffered(eid, rid, FLUSH_ENTRIES)]
        made: list[dict[str, Any]] = []
        groups: dict[str, list[Any]] = {}
        for e in entries:
            groups.setdefault("SUCCEEDED" if e["Status"] == "SUCCEEDED" else "FAILED", []).append(e)
        for status, group in groups.items():
            # In item order within a file (children end in any order).
            group.sort(key=lambda e: e.pop("_i", 0))
            n = numbers.get(status, 0)
            key = rf.file_key(writer["base"], status, n, output_type)
            body = rf.file_body(rf.transformed(group, transformation), output_type)
            put_object(integrations, writer["bucket"], key, body)
            numbers[status] = n + 1
            made.append({"status": status, "Key": key, "Size": len(body)})
        if not mr.flushed(eid, rid, len(entries), made, written):
            return  # another writer took them (this one's lock had run out): it goes on
    if final:
        # The PENDING files are named by their number and filled in item order from the
        # recorded position: written twice, they are the same files.
        files = [*files, *_pending_files(integrations, writer, pending, output_type)]
        arn = mr.field(eid, rid, "arn") or ""
        put_object(integrations, writer["bucket"], f"{writer['base']}/manifest.json",
                   json.dumps(rf.manifest(writer["bucket"], arn, files),
                              ensure_ascii=False).encode())


def _pending_files(integrations: Any, writer: dict[str, Any], pending: Iterable[dict[str, Any]],
                   output_type: str) -> list[dict[str, Any]]:
    made: list[dict[str, Any]] = []
    chunk: list[dict[str, Any]] = []

    def flush() -> None:
        key = rf.file_key(writer["base"], "PENDING", len(made), output_type)
        body = rf.file_body(chunk, output_type)
        put_object(integrations, writer["bucket"], key, body)
        made.append({"status": "PENDING", "Key": key, "Size": len(body)})
        chunk.clear()

    for entry in pending:
        chunk.append(entry)
        if len(chunk) >= FLUSH_ENTRIES:
            flush()
    if chunk:
        flush()
    return made


__all__ = ["FLUSH_ENTRIES", "child_result", "map_output", "result_entry", "write",
           "writer_fields"]
