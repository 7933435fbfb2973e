"""`python -m bench [--quick]`: run every benchmark, engine and plain Celery alternately on
the same Redis and identical workers, print the table and the headline, save the JSON."""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import measure, report
from bench import plain as plain_mod
from bench import workloads as wl
from bench.procs import WorkerProcess, redis_client, start_redis, wait_until
from engine.connect import connect
from engine.settings import Settings

# Even round counts: the alternating order (engine first, then plain first) runs each order
# equally often. Whichever runs first in a round measured a few percent slower; with 7
# rounds the engine went first 4 times.
FULL = dict(rounds=8, hops=100, executions=200, length=10, loop=499, loop_rounds=5,
            map_items=[1000, 10000], map_small_rounds=3, map_concurrency=100,
            starts=1000, start_rounds=3, profile_hops=100, throughput_rounds=8)
QUICK = dict(rounds=2, hops=10, executions=10, length=3, loop=49, loop_rounds=1,
             map_items=[100, 300], map_small_rounds=1, map_concurrency=100,
             starts=50, start_rounds=1, profile_hops=10, throughput_rounds=1)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="a tiny run (proves the harness)")
    p.add_argument("--concurrency", type=int, default=2, help="worker processes (both)")
    # Every run now measures plain Celery on both channels; the old switch is accepted.
    p.add_argument("--plain-channel", choices=["stock", "engine"], help=argparse.SUPPRESS)
    p.add_argument("--results", type=Path, default=report.RESULTS, help="where the JSON goes")
    for name, value in FULL.items():
        if isinstance(value, int):
            p.add_argument(f"--{name.replace('_', '-')}", type=int, default=None)
    p.add_argument("--map-items", type=int, nargs="+", default=None)
    args = p.parse_args(argv)
    for name in ("rounds", "throughput_rounds"):
        given = getattr(args, name)
        if given is not None and given > 1 and given % 2:
            p.error(f"--{name.replace('_', '-')} must be 1 or even (the order alternates)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    # A terminated run still stops the redis-server and workers it started (finally).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    cfg: dict[str, Any] = dict(QUICK if args.quick else FULL)
    for name in cfg:
        given = getattr(args, name, None)
        if given is not None:
            cfg[name] = given
    cfg["concurrency"] = args.concurrency
    cfg["quick"] = args.quick
    with tempfile.TemporaryDirectory(prefix="sfn-bench-") as tmp:
        results = run(cfg, Path(tmp))
    for line in report.table(results):
        print(line)
    path = report.save(results, args.results)
    print(f"results: {path}")
    print(report.headline(results))
    return 0


def log(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def run(cfg: dict[str, Any], tmp: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"settings": cfg, "machine": report.machine(),
                               "load_before": report.loadavg()}
    redis_server = start_redis(tmp / "redis")
    results["redis_server"] = subprocess.run(
        [redis_server.command()[0], "--version"], capture_output=True, text=True
    ).stdout.split()[2].removeprefix("v=")
    workers: list[WorkerProcess] = []
    try:
        url = redis_server.url
        r = redis_client(url)
        engine = WorkerProcess("worker", "sfn", url, concurrency=cfg["concurrency"],
                               log_path=tmp / "engine-worker.log").start()
        workers.append(engine)
        plain = WorkerProcess("bench.plain", plain_mod.QUEUE, url, concurrency=cfg["concurrency"],
                              log_path=tmp / "plain-worker.log",
                              extra_env={"BENCH_PLAIN_CHANNEL": "stock"}).start()
        workers.append(plain)
        # Plain Celery on the engine's broker channel: the like-for-like comparison.
        channel = WorkerProcess("bench.plain", plain_mod.CHANNEL_QUEUE, url,
                                concurrency=cfg["concurrency"],
                                log_path=tmp / "plain-channel-worker.log",
                                extra_env={"BENCH_PLAIN_CHANNEL": "engine"}).start()
        workers.append(channel)
        wait_until(lambda: r.hexists("sfn:handlers", "BenchStamp"), 60, "the engine worker")
        assert redis_server.process is not None
        b = measure.Bench(url, r, connect(Settings(redis_url=url)),
                          plain_mod.make_app(url, "stock"), engine, plain,
                          redis_server.process.pid, plain_mod.make_app(url, "engine"), channel)
        results.update(_run_all(b, cfg))
        results["logs"] = {w.log_path.stem: _tail(w.log_path) for w in workers}
    finally:
        for w in workers:
            w.stop()
        redis_server.stop()
    results["load_after"] = report.loadavg()
    return results


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _run_all(b: measure.Bench, cfg: dict[str, Any]) -> dict[str, Any]:
    c = b.client
    hops, length = cfg["hops"], cfg["length"]
    c.create_state_machine("BenchLatency", wl.task_chain(hops, handler_name="BenchStamp"))
    c.create_state_machine("BenchThroughput", wl.task_chain(length, last_handler="BenchStamp"))
    c.create_state_machine("BenchLoop", wl.counter_loop(cfg["loop"]))
    c.create_state_machine("BenchMap", wl.fan_out(cfg["map_concurrency"]))
    c.create_state_machine("BenchPass", wl.single_pass())

    ch = b.plain_channel
    log("warming up the three workers")
    for _ in range(2):
        measure.engine_throughput(b, "BenchThroughput", 4, length)
        measure.plain_throughput(b, 4, length)
        measure.plain_throughput(b, 4, length, ch, b.channel_worker)
    measure.engine_latency(b, "BenchLatency", hops)
    measure.plain_latency(b, hops)
    measure.plain_latency(b, hops, ch)
    out: dict[str, Any] = {}

    # Engine, plain Celery (kombu's channel) and plain Celery on the engine's channel take
    # turns; the engine and plain Celery alternate who goes first, as before, and the
    # like-for-like side runs between them.
    log(f"1. latency: {cfg['rounds']} rounds of a {hops}-hop chain, alternating")
    eng: list[dict[str, Any]] = []
    pla: list[dict[str, Any]] = []
    plc: list[dict[str, Any]] = []
    for i in range(cfg["rounds"]):
        sides = [(eng, lambda: measure.engine_latency(b, "BenchLatency", hops)),
                 (plc, lambda: measure.plain_latency(b, hops, ch)),
                 (pla, lambda: measure.plain_latency(b, hops))]
        for runs, fn in sides if i % 2 == 0 else reversed(sides):
            runs.append(fn())
    out["latency"] = _latency(eng, pla, hops)
    out["latency_channel"] = _latency(eng, plc, hops)

    log(f"2. throughput: {cfg['throughput_rounds']} rounds of {cfg['executions']} x {length}")
    te: list[dict[str, Any]] = []
    tp: list[dict[str, Any]] = []
    tc: list[dict[str, Any]] = []
    for i in range(cfg["throughput_rounds"]):
        sides = [
            (te, lambda: measure.engine_throughput(
                b, "BenchThroughput", cfg["executions"], length)),
            (tc, lambda: measure.plain_throughput(
                b, cfg["executions"], length, ch, b.channel_worker)),
            (tp, lambda: measure.plain_throughput(b, cfg["executions"], length)),
        ]
        for runs, fn in sides if i % 2 == 0 else reversed(sides):
            runs.append(fn())
    out["throughput"] = _throughput(te, tp, cfg["executions"], length)
    out["throughput_channel"] = _throughput(te, tc, cfg["executions"], length)

    states = wl.counter_loop_states(cfg["loop"])
    log(f"3. control flow: {cfg['loop_rounds']} runs of {states} states")
    runs = [measure.control_flow(b, "BenchLoop", cfg["loop"]) for _ in range(cfg["loop_rounds"])]
    out["control_flow"] = {**_median_of(runs), "runs": runs}

    log(f"4. fan-out: Map over {cfg['map_items']} items")
    maps = []
    for items in cfg["map_items"]:
        rounds = cfg["map_small_rounds"] if items != cfg["map_items"][-1] else 1
        done = [measure.fan_out(b, "BenchMap", items) for _ in range(rounds)]
        best = _median_of(done)
        best["items"] = items
        best["runs"] = done
        maps.append(best)
        log(f"   {items} items: {best['wall_s']:.1f} s")
    out["map"] = maps
    big = cfg["map_items"][-1]
    log(f"4b. plain Celery: a group of {big} no-op tasks")
    out["group"] = measure.plain_group(b, big)
    log(f"   {big} tasks: {out['group']['wall_s']:.1f} s")
    if len(maps) >= 2:
        small, big = maps[0], maps[-1]
        out["map_growth"] = {
            "items": big["items"] / small["items"],
            "wall": big["wall_s"] / small["wall_s"],
            "redis": big["redis_execution_mb"] / small["redis_execution_mb"],
            "worker_peak": big["worker_rss_peak_process_mb"] / small["worker_rss_peak_process_mb"],
        }

    log(f"5. starts: {cfg['start_rounds']} rounds of {cfg['starts']} starts, alternating")
    se, sp, sb = [], [], []
    for _ in range(cfg["start_rounds"]):
        se.append(measure.engine_starts(b, "BenchPass", cfg["starts"], b.engine_app))
        sp.append(measure.plain_sends(b, cfg["starts"]))
        sb.append(measure.engine_bulk_starts(b, "BenchPass", cfg["starts"], b.engine_app))
    e_rate = statistics.median(x["per_s"] for x in se)
    p_rate = statistics.median(x["per_s"] for x in sp)
    bulk = statistics.median(x["per_s"] for x in sb)
    out["starts"] = {"engine_per_s": e_rate, "plain_per_s": p_rate, "ratio": e_rate / p_rate,
                     "bulk_per_s": bulk, "bulk_ratio": bulk / e_rate,
                     "engine_runs": se, "plain_runs": sp, "bulk_runs": sb}

    log("7. DBOS Transact (embedded SQLite): latency, throughput, starts")
    from bench import dbos_side

    out["dbos"] = dbos_side.run(hops, cfg["executions"], length, cfg["starts"])
    if "skipped" in out["dbos"]:
        log(f"   DBOS skipped: {out['dbos']['skipped']}")

    log(f"6. profile: {cfg['profile_hops']} Task hops in-process under pyinstrument")
    from bench.profile import profile_hops

    c.create_state_machine("BenchProfile", wl.task_chain(cfg["profile_hops"]))
    out["profile"] = profile_hops(b.redis_url, b.engine_app, "BenchProfile", cfg["profile_hops"])
    return out


def _throughput(te: list[dict[str, Any]], tp: list[dict[str, Any]], executions: int,
                length: int) -> dict[str, Any]:
    ratios = [e["transitions_per_s"] / p["transitions_per_s"] for e, p in zip(te, tp, strict=True)]
    return {
        "executions": executions, "length": length,
        "engine": _median_of(te), "plain": _median_of(tp),
        "round_ratios": ratios, "ratio": statistics.median(ratios),
        "engine_runs": te, "plain_runs": tp,
    }


def _latency(eng: list[dict[str, Any]], pla: list[dict[str, Any]], hops: int) -> dict[str, Any]:
    def pooled(runs: list[dict[str, Any]]) -> dict[str, Any]:
        every = [h for run in runs for h in run["hops_ms"]]
        return {
            "p50_ms": measure.percentile(every, 50),
            "p99_ms": measure.percentile(every, 99),
            "wall_per_hop_ms": statistics.median(run["wall_per_hop_ms"] for run in runs),
            "round_p50_ms": [run["p50_ms"] for run in runs],
            "hops_measured": len(every),
            "redis_cpu_ms_per_hop": statistics.median(
                run["redis"]["redis_cpu_ms_per_hop"] for run in runs
            ),
            "redis_commands_per_hop": runs[-1]["redis"]["commands_per_hop"],
        }

    e, p = pooled(eng), pooled(pla)
    per_round = [a["p50_ms"] / b["p50_ms"] for a, b in zip(eng, pla, strict=True)]
    return {
        "hops": hops,
        "engine": e,
        "plain": p,
        "round_ratios_p50": per_round,
        "ratio_p50": statistics.median(per_round),
        "ratio_p50_pooled": e["p50_ms"] / p["p50_ms"],
        "ratio_p99": e["p99_ms"] / p["p99_ms"],
        "ratio_wall": e["wall_per_hop_ms"] / p["wall_per_hop_ms"],
    }


def _median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = [k for k, v in runs[0].items() if isinstance(v, int | float)]
    return {k: statistics.median(run[k] for run in runs) for k in keys}


if __name__ == "__main__":
    raise SystemExit(main())
