"""`python -m bench.itemreader [--items N] [--express] [--max-bytes B]`: a Distributed Map
over N items read from a JSON Lines object by the engine's ItemReader (a local directory,
SFN_ITEM_READER_ROOT), run as a Map Run of child executions with its results written by
ResultWriter, on a private redis-server and one engine worker (2 processes). `--express`:
the children are EXPRESS (`ExecutionType: EXPRESS`), forgotten once counted. With
`--max-bytes`, an ItemBatcher with MaxInputBytesPerBatch B: a child per batch (its output
the batch's item count). Prints the wall time, the peak worker memory (RSS), Redis's peak
memory, the longest Redis command (SLOWLOG), and beside it what another client waited and
Redis's latency events (bench/stalls.py)."""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

from bench.procs import RssSampler, WorkerProcess, redis_client, start_redis, wait_until
from bench.stalls import StallProbe, enable_latency_monitor, latency_events
from engine.connect import connect
from engine.runtime import map_run_api
from engine.settings import Settings

DEFINITION = {
    "QueryLanguage": "JSONata",
    "StartAt": "Each",
    "States": {"Each": {
        "Type": "Map",
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                       "ReaderConfig": {"InputType": "JSONL"},
                       "Arguments": {"Bucket": "data", "Key": "items.jsonl"}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "Work", "States": {"Work": {
                              "Type": "Pass", "Output": "{% $states.input.n * 2 %}",
                              "End": True}}},
        "MaxConcurrency": 1000,
        # 100,000 results are past the 256 KiB a Map's output may hold: written as files.
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                         "Arguments": {"Bucket": "data", "Prefix": "out"}},
        "Output": {"manifest": "{% $states.result.ResultWriterDetails %}"},
        "End": True}},
}


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.itemreader", description=__doc__)
    p.add_argument("--items", type=int, default=100_000)
    p.add_argument("--timeout", type=float, default=3600.0)
    p.add_argument("--express", action="store_true",
                   help="EXPRESS children (ExecutionType EXPRESS) instead of STANDARD")
    p.add_argument("--max-bytes", type=int, default=None,
                   help="ItemBatcher MaxInputBytesPerBatch: a child per batch")
    args = p.parse_args()
    definition = DEFINITION if args.max_bytes is None else batched(args.max_bytes)
    definition = copy.deepcopy(definition)
    if args.express:
        each = definition["States"]["Each"]  # type: ignore[index]
        each["ItemProcessor"]["ProcessorConfig"]["ExecutionType"] = "EXPRESS"
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "root" / "data").mkdir(parents=True)
        with (tmp / "root" / "data" / "items.jsonl").open("w") as f:
            for n in range(args.items):
                f.write(json.dumps({"n": n, "sku": f"sku-{n:07d}"}) + "\n")
        server = start_redis(tmp / "redis")
        url = server.url
        r = redis_client(url)
        r.config_set("slowlog-log-slower-than", 1000)  # microseconds: every command >= 1 ms
        r.config_set("slowlog-max-len", 10000)
        worker = WorkerProcess("worker", "sfn", url, concurrency=2, log_path=tmp / "w.log",
                               extra_env={"SFN_ITEM_READER_ROOT": str(tmp / "root")}).start()
        try:
            wait_until(lambda: r.hexists("sfn:handlers", "BenchStamp"), 60, "the worker")
            client = connect(Settings(redis_url=url))
            client.create_state_machine("ItemReaderBench", definition)
            r.slowlog_reset()
            enable_latency_monitor(r)
            with RssSampler(worker, interval=0.2) as rss, StallProbe(url) as probe:
                started = time.monotonic()
                execution = client.start_execution("ItemReaderBench", {})
                done = client.wait(execution.arn, timeout=args.timeout)
                wall = time.monotonic() - started
            slow = r.slowlog_get(10000)
            map_run = next(e for e in client.get_history(execution.arn)
                           if e["type"] == "MapRunStarted")["mapRunStartedEventDetails"]
            counts = map_run_api.describe(client, map_run["mapRunArn"])
            longest = max(slow, key=lambda e: e["duration"]) if slow else None
            print(json.dumps({
                "items": args.items,
                "children": "EXPRESS" if args.express else "STANDARD",
                "max_input_bytes_per_batch": args.max_bytes,
                "child_executions": counts["executionCounts"]["succeeded"],
                "items_in_children": counts["itemCounts"]["succeeded"],
                "status": done.status,
                "output": done.output,
                "wall_seconds": round(wall, 1),
                "worker_rss_peak_process_mb": round(rss.peak_process / 2**20, 1),
                "worker_rss_peak_total_mb": round(rss.peak_total / 2**20, 1),
                "redis_used_memory_peak_mb": round(
                    int(r.info("memory")["used_memory_peak"]) / 2**20, 1),
                "slowlog_entries_over_1ms": len(slow),
                "longest_command_ms": round(longest["duration"] / 1000, 1) if longest else 0,
                "longest_command": _text(longest["command"])[:120] if longest else "",
                "longest_ms_by_command": _by_command(slow),
                "slowest_commands_ms": [
                    [round(e["duration"] / 1000, 1), _text(e["command"])[:60]]
                    for e in sorted(slow, key=lambda e: -e["duration"])[:5]],
                "redis_used_memory_end_mb": round(
                    int(r.info("memory")["used_memory"]) / 2**20, 1),
                # What another client waited, and how late the host woke a sleeper:
                # a constant-time command as slow as these was the host's stall.
                "other_client": probe.summary(),
                "redis_latency_events_max_ms": latency_events(r),
                "aof_rewrites": int(r.info("persistence")["aof_rewrites"]),
            }, indent=2))
        finally:
            worker.stop()
            server.stop()


def batched(max_bytes: int) -> dict[str, object]:
    """DEFINITION with an ItemBatcher cut by bytes: each child counts its batch's items."""
    definition = json.loads(json.dumps(DEFINITION))
    each = definition["States"]["Each"]
    each["ItemBatcher"] = {"MaxInputBytesPerBatch": max_bytes}
    each["ItemProcessor"]["States"]["Work"]["Output"] = "{% $count($states.input.Items) %}"
    return definition  # type: ignore[no-any-return]


def _script_names() -> dict[str, str]:
    """SHA1 -> name of the engine's Lua scripts (engine/store/lua and the Map Run's)."""
    import hashlib

    from engine.store import map_runs

    names = {}
    for path in (Path(__file__).resolve().parents[1] / "engine" / "store" / "lua").glob("*.lua"):
        names[hashlib.sha1(path.read_bytes()).hexdigest()] = path.stem
    for attr in dir(map_runs):
        value = getattr(map_runs, attr)
        if attr.startswith("_") and attr.isupper() and isinstance(value, str):
            names[hashlib.sha1(value.encode()).hexdigest()] = "map_run" + attr.lower()
    return names


def _by_command(slow: list[dict[str, object]]) -> dict[str, float]:
    """The longest SLOWLOG entry of each command (a script by its name), slowest first."""
    names = _script_names()
    longest: dict[str, float] = {}
    for entry in slow:
        words = _text(entry["command"]).split()
        name = words[0].upper() if words else "?"
        if name == "EVALSHA" and len(words) > 1:
            name = names.get(words[1], "EVALSHA " + words[1][:12])
        ms = round(int(str(entry["duration"])) / 1000, 1)
        longest[name] = max(longest.get(name, 0.0), ms)
    return dict(sorted(longest.items(), key=lambda kv: -kv[1]))


def _text(command: object) -> str:
    if isinstance(command, bytes):
        return command.decode("utf-8", errors="replace")
    return str(command)


if __name__ == "__main__":
    main()
