"""One function per benchmark. Each returns plain data (JSON-ready dicts).

How per-hop latency is measured: the no-op handler of every hop (the engine's `BenchStamp`
and plain Celery's `bench.stamp`) RPUSHes `time.time()` into a Redis list, and a hop is the
difference between two consecutive stamps. That point is the same for both (the start of
user code), costs both the same (one RPUSH on loopback, ~0.1 ms), has microsecond resolution
and gives a distribution (p50, p99), where the engine's history timestamps have millisecond
resolution (a fifth of a hop) and plain Celery has no history at all. Wall time / hops is
reported beside it as a cross-check.
"""

from __future__ import annotations

import statistics
import time
import uuid
from dataclasses import dataclass
from typing import Any

import redis
from celery import Celery

from bench import plain as plain_mod
from bench import workloads as wl
from bench.procs import CpuMeter, RssSampler, WorkerProcess, wait_until
from engine.celery_app import CeleryDispatcher
from engine.client import Client
from engine.runtime.messages import Message
from engine.starts import START_BATCH
from engine.store.base import TERMINAL
from engine.store.redis_store import RedisStore

#: A queue no worker consumes: where the start-rate benchmarks publish.
IDLE_QUEUE = "bench-idle"


@dataclass
class Bench:
    redis_url: str
    r: redis.Redis
    client: Client
    plain: Celery
    engine_worker: WorkerProcess
    plain_worker: WorkerProcess
    redis_pid: int
    #: Plain Celery on the engine's broker channel, and its worker (like for like).
    plain_channel: Celery | None = None
    channel_worker: WorkerProcess | None = None
    #: The start-rate benchmarks' client (`_idle_client`).
    idle_client: Client | None = None

    @property
    def engine_app(self) -> Celery:
        """The Celery app the engine's client publishes with (engine/celery_app.py)."""
        dispatcher: CeleryDispatcher = self.client.dispatcher  # type: ignore[assignment]
        return dispatcher.app

    def new_key(self, prefix: str) -> str:
        return f"bench:{prefix}:{uuid.uuid4().hex[:10]}"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(q / 100.0 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def _stamps(b: Bench, key: str, count: int, timeout: float) -> list[float]:
    wait_until(lambda: b.r.llen(key) >= count, timeout, f"{count} stamps under {key}")
    values = [float(v) for v in b.r.lrange(key, 0, -1)]
    b.r.delete(key)
    return values


def _hop_figures(stamps: list[float]) -> dict[str, Any]:
    hops = [(b - a) * 1000.0 for a, b in zip(stamps, stamps[1:], strict=False)]
    return {
        "hops_ms": hops,
        "p50_ms": percentile(hops, 50),
        "p99_ms": percentile(hops, 99),
        "wall_per_hop_ms": (stamps[-1] - stamps[0]) * 1000.0 / len(hops),
    }


def _wait_engine(b: Bench, eids: list[str], timeout: float) -> list[Any]:
    deadline = time.monotonic() + timeout
    pending = list(eids)
    done: dict[str, Any] = {}
    while pending:
        pipe = b.r.pipeline(transaction=False)
        for eid in pending:
            pipe.hget(f"sfn:x:{{{eid}}}:meta", "status")
        statuses = pipe.execute()
        still = []
        for eid, status in zip(pending, statuses, strict=True):
            if status in TERMINAL:
                done[eid] = status
            else:
                still.append(eid)
        pending = still
        if pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(pending)} executions still running")
            time.sleep(0.02)
    records = [b.client.describe_execution(eid) for eid in eids]
    failed = [r for r in records if r.status != "SUCCEEDED"]
    if failed:
        raise RuntimeError(f"{len(failed)} executions did not succeed: {failed[0]}")
    return records


# --- 1. latency: a chain of Task states against a plain Celery chain --------------------


def engine_latency(b: Bench, machine: str, hops: int) -> dict[str, Any]:
    key = b.new_key("lat")
    before = _command_stats(b.r)
    t0 = time.time()
    ex = b.client.start_execution(machine, {"key": key})
    stamps = _stamps(b, key, hops, timeout=30 + hops)
    (record,) = _wait_engine(b, [ex.eid], timeout=30)
    out = _hop_figures(stamps)
    out["wall_s"] = (record.stop or 0) - t0
    out["redis"] = _per_hop(before, _command_stats(b.r), hops)
    return out


def plain_latency(b: Bench, hops: int, app: Celery | None = None) -> dict[str, Any]:
    """`app`: the plain app to measure (default the one on kombu's stock channel)."""
    key = b.new_key("lat")
    before = _command_stats(b.r)
    t0 = time.time()
    plain_mod.task_chain(app or b.plain, hops, {"key": key}, task="bench.stamp").apply_async()
    stamps = _stamps(b, key, hops, timeout=30 + hops)
    out = _hop_figures(stamps)
    out["wall_s"] = stamps[-1] - t0
    out["redis"] = _per_hop(before, _command_stats(b.r), hops)
    return out


def _command_stats(r: redis.Redis) -> dict[str, float]:
    """Redis's own count of calls per command, and the server's CPU seconds so far."""
    stats = r.info("commandstats")
    out = {name.removeprefix("cmdstat_"): float(v["calls"]) for name, v in stats.items()}
    cpu = r.info("cpu")
    out["_cpu"] = float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"])
    return out


def _per_hop(before: dict[str, float], after: dict[str, float], hops: int) -> dict[str, Any]:
    """Redis commands (calls made from Lua scripts included) and Redis CPU per hop during
    one run; the other worker is idle, the harness's own polling is left out."""
    ignore = {"info", "llen", "lrange", "del", "_cpu"}
    calls = {
        name: (n - before.get(name, 0.0)) / hops
        for name, n in after.items()
        if name not in ignore and n > before.get(name, 0.0)
    }
    return {
        "commands_per_hop": dict(sorted(calls.items(), key=lambda kv: -kv[1])),
        "redis_cpu_ms_per_hop": (after["_cpu"] - before["_cpu"]) * 1000.0 / hops,
    }


# --- 2. throughput: many short workflows started at once ------------------------------


def engine_throughput(b: Bench, machine: str, executions: int, length: int) -> dict[str, Any]:
    key = b.new_key("thr")
    with CpuMeter(b.engine_worker, b.redis_pid) as cpu:
        t0 = time.time()
        eids = [b.client.start_execution(machine, {"key": key}).eid for _ in range(executions)]
        submitted = time.time()
        stamps = _stamps(b, key, executions, timeout=60 + executions * length / 20)
    end = max(stamps)
    _wait_engine(b, eids, timeout=60)
    return _throughput(executions * length, t0, submitted, end, cpu)


def plain_throughput(b: Bench, executions: int, length: int, app: Celery | None = None,
                     worker: WorkerProcess | None = None) -> dict[str, Any]:
    key = b.new_key("thr")
    app = app or b.plain
    with CpuMeter(worker or b.plain_worker, b.redis_pid) as cpu:
        t0 = time.time()
        for _ in range(executions):
            plain_mod.task_chain(app, length, {"key": key}, last="bench.stamp").apply_async()
        submitted = time.time()
        stamps = _stamps(b, key, executions, timeout=60 + executions * length / 20)
    return _throughput(executions * length, t0, submitted, max(stamps), cpu)


def _throughput(
    transitions: int, t0: float, submitted: float, end: float, cpu: CpuMeter
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "transitions": transitions,
        "wall_s": end - t0,
        "submit_s": submitted - t0,
        "transitions_per_s": transitions / (end - t0),
    }
    # CPU milliseconds per transition, by process (the client's includes its polling).
    for name, seconds in cpu.used.items():
        out[f"cpu_ms_{name}"] = seconds * 1000.0 / transitions
    out["cpu_ms_total"] = sum(cpu.used.values()) * 1000.0 / transitions
    return out


# --- 3. control flow: a loop of Pass and Choice states ----------------------------------


def control_flow(b: Bench, machine: str, iterations: int) -> dict[str, Any]:
    """One execution of the counter loop, timed from the client's start to the worker's
    final commit (the execution record's start and stop). Every event of one `advance` call
    carries the same timestamp (the interpreter reads the time once per call), so the
    history cannot time the states themselves."""
    ex = b.client.start_execution(machine, {})
    (record,) = _wait_engine(b, [ex.eid], timeout=120)
    history = b.client.get_history(ex.arn)
    entered = [e for e in history if e["type"].endswith("StateEntered")]
    expected = wl.counter_loop_states(iterations)
    if len(entered) != expected:
        raise RuntimeError(f"expected {expected} states entered, history has {len(entered)}")
    wall = (record.stop or 0) - record.start
    return {
        "states": len(entered),
        "events": len(history),
        "wall_s": wall,
        "transitions_per_s": len(entered) / wall,
    }


# --- 4. fan-out: a Map over many items ----------------------------------------------------


def fan_out(b: Bench, machine: str, items: int) -> dict[str, Any]:
    before_used = int(b.r.info("memory")["used_memory"])
    idle = b.engine_worker.rss_bytes()
    with RssSampler(b.engine_worker) as rss:
        t0 = time.time()
        ex = b.client.start_execution(machine, {"items": list(range(items))})
        (record,) = _wait_engine(b, [ex.eid], timeout=120 + items / 10)
    execution_bytes, keys = _execution_memory(b.r, ex.eid)
    after_used = int(b.r.info("memory")["used_memory"])
    history_length = b.client.store.history_length(ex.eid)
    return {
        "items": items,
        "wall_s": (record.stop or 0) - t0,
        "items_per_s": items / ((record.stop or 0) - t0),
        "worker_rss_idle_mb": max(idle.values()) / 2**20 if idle else 0.0,
        "worker_rss_peak_process_mb": rss.peak_process / 2**20,
        "worker_rss_peak_total_mb": rss.peak_total / 2**20,
        "rss_samples": rss.samples,
        "redis_execution_mb": execution_bytes / 2**20,
        "redis_execution_keys": keys,
        "redis_used_delta_mb": (after_used - before_used) / 2**20,
        "history_events": history_length,
    }


def plain_group(b: Bench, items: int) -> dict[str, Any]:
    """Plain Celery's fan-out as users write it: a group of `items` no-op tasks, sent from
    the client, each counting itself done (one INCR) so that the end can be seen."""
    key = b.new_key("grp")
    idle = b.plain_worker.rss_bytes()
    with RssSampler(b.plain_worker) as rss:
        t0 = time.time()
        plain_mod.task_group(b.plain, items, key).apply_async()
        submitted = time.time()
        wait_until(lambda: int(b.r.get(key) or 0) >= items, 120 + items / 10,
                   f"{items} group tasks")
        end = time.time()
    b.r.delete(key)
    return {
        "items": items,
        "wall_s": end - t0,
        "submit_s": submitted - t0,
        "items_per_s": items / (end - t0),
        "worker_rss_idle_mb": max(idle.values()) / 2**20 if idle else 0.0,
        "worker_rss_peak_process_mb": rss.peak_process / 2**20,
    }


def _execution_memory(r: redis.Redis, eid: str) -> tuple[int, int]:
    total, count = 0, 0
    for key in r.scan_iter(match=f"sfn:x:{{{eid}}}:*", count=1000):
        total += int(r.memory_usage(key, samples=0) or 0)
        count += 1
    return total, count


# --- 5. starting executions from application code -------------------------------------


class IdleDispatcher(CeleryDispatcher):
    """Publishes as the engine does (`CeleryDispatcher`: same task, same options, the
    engine's app) to a queue nobody consumes, so the start rate is the client's alone."""

    def __init__(self, app: Celery) -> None:
        super().__init__(app, lambda handler: IDLE_QUEUE)

    def queue(self, message: Message) -> str:
        return IDLE_QUEUE


def _idle_client(b: Bench, app: Celery) -> Client:
    """One client publishing to the idle queue, kept across rounds as an application keeps
    its client (its first start sets up the start messages' path: engine/direct_starts.py)."""
    if b.idle_client is None:
        store: RedisStore = b.client.store  # type: ignore[assignment]
        b.idle_client = Client(store, IdleDispatcher(app),
                               redeliver_seconds=b.client.redeliver_seconds)
    return b.idle_client


def engine_starts(b: Bench, machine: str, count: int, app: Celery) -> dict[str, Any]:
    client = _idle_client(b, app)
    t0 = time.perf_counter()
    eids = [client.start_execution(machine, {"i": i}).eid for i in range(count)]
    elapsed = time.perf_counter() - t0
    for eid in eids:  # nothing must run them later (the sweep would re-send the starts)
        client.stop_execution(eid)
    b.r.delete(IDLE_QUEUE)
    return {"count": count, "seconds": elapsed, "per_s": count / elapsed}


def engine_bulk_starts(
    b: Bench, machine: str, count: int, app: Celery, batch: int = START_BATCH
) -> dict[str, Any]:
    """`Client.start_executions`: `batch` executions per Redis round trip, their start
    messages queued with their executions (or published over one producer)."""
    client = _idle_client(b, app)
    t0 = time.perf_counter()
    records = client.start_executions(machine, [{"i": i} for i in range(count)],
                                      batch_size=batch)
    elapsed = time.perf_counter() - t0
    for record in records:
        client.stop_execution(record.eid)
    b.r.delete(IDLE_QUEUE)
    return {"count": count, "batch": batch, "seconds": elapsed, "per_s": count / elapsed}


def plain_sends(b: Bench, count: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    for i in range(count):
        b.plain.send_task("bench.noop", args=[{"i": i}], queue=IDLE_QUEUE)
    elapsed = time.perf_counter() - t0
    b.r.delete(IDLE_QUEUE)
    return {"count": count, "seconds": elapsed, "per_s": count / elapsed}


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
