"""`python -m bench.scale`: throughput as worker processes go 1, 2, 4, 8, and what one state
transition costs Redis (commands, bytes, CPU), for the capacity figures of
docs/fleets-multihost.md (arithmetic in bench/capacity.py).

For each worker count N, fresh and alone: a store redis-server (AOF everysec, as the
embedded default) and a broker redis-server (BROKER_URL), so that what the store and what
Celery's queue cost Redis are counted apart; one `celery -A worker worker --concurrency N`
(N prefork processes serving the bench's no-op handlers). Then the bench's throughput
workload: E executions of a chain of L Task states started at once (default 200 x 10),
a warm-up round first, then R measured rounds.

Per round: transitions/s (E x L states over the time from the first start to the last
execution's last handler), the machine's CPU busy share over the round (/proc/stat, both
cores, whatever else runs), CPU ms per transition of the worker, each Redis and this client,
and per transition, from each Redis's own INFO: commands received (total_commands_processed,
a script call counting once), calls made (commandstats, the commands inside scripts
included), network bytes in and out, and memory kept (used_memory after minus before: the
histories, until retention removes them). The harness's own polling (one LLEN every 0.25 s
and the INFO reads) is subtracted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis

from bench import report
from bench import workloads as wl
from bench.capacity import Costs, estimate
from bench.hotkeys import commands_per_transition, count_writes
from bench.procs import WorkerProcess, cpu_seconds, wait_until
from engine.client import Client
from engine.connect import connect
from engine.embedded import RedisServer
from engine.settings import Settings
from engine.store import keys

POLL_SECONDS = 0.25


@dataclass(frozen=True)
class ScaleConfig:
    workers: tuple[int, ...] = (1, 2, 4, 8)
    executions: int = 200
    length: int = 10
    rounds: int = 3


QUICK = ScaleConfig(workers=(1, 2), executions=10, length=3, rounds=1)


@dataclass
class Round:
    transitions: int
    wall_s: float
    transitions_per_s: float
    machine_cpu_busy: float  # share of all cores busy during the round (0..1)
    cpu_ms: dict[str, float]  # per transition: worker, store_redis, broker_redis, client
    redis: dict[str, dict[str, Any]]  # "store"/"broker" -> per-transition figures


@dataclass
class Step:
    workers: int
    rounds: list[Round] = field(default_factory=list)
    load_before: list[float] = field(default_factory=list)
    load_after: list[float] = field(default_factory=list)
    #: Writes per transition to keys without an execution's hash tag (bench/hotkeys.py),
    #: from one extra round of the first step.
    global_writes: dict[str, float] = field(default_factory=dict)

    def median(self, pick: Callable[[Round], float]) -> float:
        return float(statistics.median(pick(r) for r in self.rounds))


def _cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _redis_figures(r: redis.Redis) -> dict[str, float]:
    info = r.info("all")  # one command
    stats = {k.removeprefix("cmdstat_"): v for k, v in info.items()
             if k.startswith("cmdstat_") and isinstance(v, dict)}
    calls = sum(float(v["calls"]) for v in stats.values())
    return {
        **{f"calls:{k}": float(v["calls"]) for k, v in stats.items()},
        **{f"usec:{k}": float(v["usec"]) for k, v in stats.items()},
        "commands": float(info["total_commands_processed"]),
        "calls": calls,
        "net_in": float(info["total_net_input_bytes"]),
        "net_out": float(info["total_net_output_bytes"]),
        "memory": float(info["used_memory"]),
        "cpu_s": float(info["used_cpu_sys"]) + float(info["used_cpu_user"]),
    }


def _per_transition(before: dict[str, float], after: dict[str, float], n: int,
                    own_commands: int) -> dict[str, Any]:
    d = {k: after[k] - before.get(k, 0.0) for k in after}
    by_command = {
        k.removeprefix("calls:"): {"calls": v / n,
                                   "usec": d.get("usec:" + k.removeprefix("calls:"), 0.0) / n}
        for k, v in sorted(d.items(), key=lambda kv: -kv[1])
        if k.startswith("calls:") and v > 0 and k not in ("calls:info", "calls:llen")
    }
    return {
        "by_command": by_command,
        "commands": (d["commands"] - own_commands) / n,  # received from clients
        "calls": (d["calls"] - own_commands) / n,
        "bytes_in": d["net_in"] / n,
        "bytes_out": d["net_out"] / n,
        "memory_bytes": d["memory"] / n,
        "cpu_ms": d["cpu_s"] * 1000.0 / n,
    }


class Fleet:
    """A store Redis, a broker Redis and one worker with N pool processes."""

    def __init__(self, tmp: Path, workers: int) -> None:
        self.store = RedisServer(tmp / f"store-{workers}")
        self.broker = RedisServer(tmp / f"broker-{workers}")
        self.workers = workers
        self.tmp = tmp
        self.worker: WorkerProcess | None = None

    def __enter__(self) -> Fleet:
        self.store.start()
        self.broker.start()
        self.r = redis.Redis.from_url(self.store.url, decode_responses=True)
        self.rb = redis.Redis.from_url(self.broker.url, decode_responses=True)
        worker = WorkerProcess("worker", "sfn", self.store.url, concurrency=self.workers,
                               log_path=self.tmp / f"worker-{self.workers}.log")
        worker.env["BROKER_URL"] = self.broker.url  # WorkerProcess drops an inherited one
        self.worker = worker.start()
        wait_until(lambda: self.r.hexists(keys.handlers(), "BenchStamp"), 90, "the worker")
        self.client: Client = connect(Settings(redis_url=self.store.url,
                                               broker_url=self.broker.url))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.worker is not None:
            self.worker.stop()
        self.store.stop()
        self.broker.stop()

    def pids(self) -> dict[str, list[int]]:
        assert self.worker is not None and self.store.process and self.broker.process
        return {"worker": self.worker.pids(), "store_redis": [self.store.process.pid],
                "broker_redis": [self.broker.process.pid], "client": [_self_pid()]}


def _self_pid() -> int:
    return os.getpid()


def _cpu_by_process(pids: dict[str, list[int]]) -> dict[str, float]:
    return {name: sum(cpu_seconds(p) for p in group) for name, group in pids.items()}


def measure_round(fleet: Fleet, machine: str, executions: int, length: int) -> Round:
    key = f"bench:scale:{time.time_ns()}"
    pids = fleet.pids()
    cpu0, (busy0, total0) = _cpu_by_process(pids), _cpu_times()
    s0, b0 = _redis_figures(fleet.r), _redis_figures(fleet.rb)
    t0 = time.time()
    for _ in range(executions):
        fleet.client.start_execution(machine, {"key": key})
    polls = 0
    deadline = time.monotonic() + 120 + executions * length / 5
    while fleet.r.llen(key) < executions:
        polls += 1
        if time.monotonic() > deadline:
            raise TimeoutError(f"{executions} executions did not finish; see {fleet.tmp}")
        time.sleep(POLL_SECONDS)
    polls += 1
    s1, b1 = _redis_figures(fleet.r), _redis_figures(fleet.rb)
    cpu1, (busy1, total1) = _cpu_by_process(pids), _cpu_times()
    end = max(float(v) for v in fleet.r.lrange(key, 0, -1))
    fleet.r.delete(key)
    n = executions * length
    wall = end - t0
    return Round(
        transitions=n, wall_s=wall, transitions_per_s=n / wall,
        machine_cpu_busy=(busy1 - busy0) / (total1 - total0),
        cpu_ms={k: (cpu1[k] - cpu0[k]) * 1000.0 / n for k in cpu0},
        # The store answered our polls (LLEN) and one INFO; the broker one INFO.
        redis={"store": _per_transition(s0, s1, n, polls + 1),
               "broker": _per_transition(b0, b1, n, 1)},
    )


def run(config: ScaleConfig, out: Any = print) -> list[Step]:
    steps: list[Step] = []
    with tempfile.TemporaryDirectory(prefix="sfn-scale-") as tmp:
        for n in config.workers:
            step = Step(n, load_before=report.loadavg())
            with Fleet(Path(tmp), n) as fleet:
                fleet.client.create_state_machine(
                    "BenchThroughput", wl.task_chain(config.length, last_handler="BenchStamp"))
                measure_round(fleet, "BenchThroughput", max(4, n * 2), config.length)  # warm-up
                for _ in range(config.rounds):
                    step.rounds.append(measure_round(fleet, "BenchThroughput",
                                                     config.executions, config.length))
                if n == config.workers[0]:  # the same for any worker count: once
                    step.global_writes = count_writes(
                        fleet.store.url, "BenchThroughput", config.executions * config.length,
                        lambda: _discard(measure_round(fleet, "BenchThroughput",
                                                       config.executions, config.length)))
            step.load_after = report.loadavg()
            steps.append(step)
            out(line(step))
    return steps


def _discard(_: object) -> None:
    return None


def own_cores(r: Round) -> float:
    """Cores our processes (worker, both Redis, this client) kept busy during the round."""
    return sum(r.cpu_ms.values()) * r.transitions_per_s / 1000.0


def line(step: Step) -> str:
    tps = step.median(lambda r: r.transitions_per_s)
    busy = step.median(lambda r: r.machine_cpu_busy)
    store = step.median(lambda r: float(r.redis["store"]["cpu_ms"]))
    ours = step.median(own_cores)
    return (f"{step.workers} worker process(es): {tps:,.0f} transitions/s (rounds "
            f"{[round(r.transitions_per_s) for r in step.rounds]}), machine CPU busy "
            f"{busy:.0%} of 2 cores, ours {ours:.2f} cores; store Redis CPU {store:.3f} "
            f"ms/transition; load average "
            f"{step.load_before} -> {step.load_after}")


def costs(steps: list[Step]) -> Costs:
    """Per-transition Redis costs, the median over every round of every step."""
    rounds = [r for s in steps for r in s.rounds]

    def med(side: str, name: str) -> float:
        return float(statistics.median(r.redis[side][name] for r in rounds))

    # A write to an index costs about what a simple command costs: the broker's average
    # (its commands are simple list and hash operations), parsing and reply included.
    per_simple_command_ms = med("broker", "cpu_ms") / med("broker", "commands")
    writes = sum(commands_per_transition(s.global_writes) for s in steps if s.global_writes)
    return Costs(
        store_cpu_ms=med("store", "cpu_ms"), broker_cpu_ms=med("broker", "cpu_ms"),
        hot_cpu_ms=writes * per_simple_command_ms,
        store_commands=med("store", "commands"), broker_commands=med("broker", "commands"),
        store_bytes=med("store", "bytes_in") + med("store", "bytes_out"),
        broker_bytes=med("broker", "bytes_in") + med("broker", "bytes_out"),
        worker_cpu_ms=statistics.median(r.cpu_ms["worker"] for r in rounds),
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a tiny run (proves the script)")
    p.add_argument("--workers", type=int, nargs="+", help="worker process counts (1 2 4 8)")
    p.add_argument("--executions", type=int)
    p.add_argument("--rounds", type=int)
    p.add_argument("--results", type=Path, default=report.RESULTS)
    args = p.parse_args(argv)
    config = QUICK if args.quick else ScaleConfig()
    if args.workers:
        config = ScaleConfig(tuple(args.workers), config.executions, config.length,
                             config.rounds)
    if args.executions:
        config = ScaleConfig(config.workers, args.executions, config.length, config.rounds)
    if args.rounds:
        config = ScaleConfig(config.workers, config.executions, config.length, args.rounds)
    print(f"scale: {config}; machine {report.machine()}", flush=True)
    steps = run(config, out=lambda text: print(text, flush=True))
    c = costs(steps)
    paper = estimate(c)
    document = {"config": asdict(config), "machine": report.machine(),
                "steps": [asdict(s) for s in steps], "costs": asdict(c), "estimate": paper}
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / f"scale-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(document, indent=2))
    print(f"per transition: {c.describe()}")
    for s in steps:
        if s.global_writes:
            print(f"writes to the indexes across executions per transition (changed them): "
                  f"{ {k: round(v, 3) for k, v in s.global_writes.items()} }; commands to "
                  f"their slots: {commands_per_transition(s.global_writes):.2f}")
    for text in paper["lines"]:
        print(text)
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
