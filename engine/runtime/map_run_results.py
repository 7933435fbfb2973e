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
from typing import Any, Final

from engine.integrations.writers import put_object
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


def _date(epoch: float) -> str:
    seconds = epoch / 1000 if epoch > 1e11 else epoch
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"



def write(integrations: Any, mr: RedisMapRuns, eid: str, rid: str, writer: dict[str, Any],
          *, final: bool) -> None:
    """Write the buffered entries, FLUSH_ENTRIES a file (`final`: all, then the
    manifest), where the deployment's ResultWriter writes."""
    if not final and mr.buffer_length(eid, rid) < FLUSH_ENTRIES:
        return
    while True:
        # `written` first: the files and the buffer read after it go with it (a writer's
        # trim and its files are one script), and the trim below compares it.
        written = int(mr.field(eid, rid, "results_written") or 0)
        files = mr.files(eid, rid)
        numbers: dict[str, int] = {}
        for f in files:
            numbers[f["status"]] = numbers.get(f["status"], 0) + 1
        pending = mr.buffer_length(eid, rid)
        if pending == 0 or (pending < FLUSH_ENTRIES and not final):
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
            key = f"{writer['base']}/{status}_{n}.json"
            body = json.dumps(group, ensure_ascii=False).encode()
            put_object(integrations, writer["bucket"], key, body)
            numbers[status] = n + 1
            made.append({"status": status, "Key": key, "Size": len(body)})
        if not mr.flushed(eid, rid, len(entries), made, written):
            return  # another writer took them (this one's lock had run out): it goes on
    if final:
        arn = mr.field(eid, rid, "arn") or ""
        manifest = {
            "DestinationBucket": writer["bucket"], "MapRunArn": arn,
            "ResultFiles": {s: [{"Key": f["Key"], "Size": f["Size"]} for f in files
                                if f["status"] == s] for s in ("FAILED", "PENDING", "SUCCEEDED")},
        }
        put_object(integrations, writer["bucket"], f"{writer['base']}/manifest.json",
                   json.dumps(manifest, ensure_ascii=False).encode())



__all__ = ["FLUSH_ENTRIES", "result_entry", "write"]
