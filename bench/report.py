"""The table, the ratios and the JSON file of one benchmark run."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    import celery
    import kombu
    import redis

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "celery": celery.__version__,
        "kombu": kombu.__version__,
        "redis_py": redis.__version__,
        "platform": platform.platform(),
    }


def loadavg() -> list[float]:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


def _f(value: float, digits: int = 2) -> str:
    return f"{value:,.{digits}f}"


def table(results: dict[str, Any]) -> list[str]:
    lat, thr, cf = results["latency"], results["throughput"], results["control_flow"]
    lines: list[str] = []
    add = lines.append
    m = results["machine"]
    add(f"machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}, Celery {m['celery']}, "
        f"redis-server {results.get('redis_server', '?')}; worker --concurrency "
        f"{results['settings']['concurrency']} (both)")
    add("broker channel: the engine's (engine/broker.py) for the engine; kombu's stock one for "
        "plain Celery; 1b/2b: plain Celery on the engine's channel (like for like)")
    add(f"load average before/after: {results['load_before']} / {results['load_after']}")
    add("")
    add(f"{'benchmark':<46}{'engine':>12}{'plain':>12}{'ratio':>9}")
    add("-" * 79)
    label = f"1. latency, chain of {lat['hops']} Tasks: p50 per hop ms"
    add(f"{label:<46}"
        f"{_f(lat['engine']['p50_ms']):>12}{_f(lat['plain']['p50_ms']):>12}"
        f"{_f(lat['ratio_p50']):>9}")
    add(f"{'   p99 per hop ms':<46}{_f(lat['engine']['p99_ms']):>12}"
        f"{_f(lat['plain']['p99_ms']):>12}{_f(lat['ratio_p99']):>9}")
    add(f"{'   wall / hops ms':<46}{_f(lat['engine']['wall_per_hop_ms']):>12}"
        f"{_f(lat['plain']['wall_per_hop_ms']):>12}{_f(lat['ratio_wall']):>9}")
    add(f"{'   Redis CPU per hop ms':<46}{_f(lat['engine']['redis_cpu_ms_per_hop'], 3):>12}"
        f"{_f(lat['plain']['redis_cpu_ms_per_hop'], 3):>12}")
    add(f"{'   Redis commands per hop (incl. in Lua)':<46}"
        f"{_f(sum(lat['engine']['redis_commands_per_hop'].values()), 1):>12}"
        f"{_f(sum(lat['plain']['redis_commands_per_hop'].values()), 1):>12}")
    add(f"{'   per-round p50 ratios (noise)':<46}"
        f"{' '.join(_f(x) for x in lat['round_ratios_p50']):>33}")
    lc = results.get("latency_channel")
    if lc:
        add(f"{'1b. like for like: p50 per hop ms':<46}"
            f"{_f(lc['engine']['p50_ms']):>12}{_f(lc['plain']['p50_ms']):>12}"
            f"{_f(lc['ratio_p50']):>9}")
        add(f"{'   per-round p50 ratios (noise)':<46}"
            f"{' '.join(_f(x) for x in lc['round_ratios_p50']):>33}")
        add(f"{'   Redis commands per hop (incl. in Lua)':<46}"
            f"{_f(sum(lc['engine']['redis_commands_per_hop'].values()), 1):>12}"
            f"{_f(sum(lc['plain']['redis_commands_per_hop'].values()), 1):>12}")
    label = f"2. throughput, {thr['executions']} x {thr['length']} Tasks: transitions/s"
    add(f"{label:<46}{_f(thr['engine']['transitions_per_s'], 0):>12}"
        f"{_f(thr['plain']['transitions_per_s'], 0):>12}{_f(thr['ratio']):>9}")
    add(f"{'   per-round ratios (noise)':<46}"
        f"{' '.join(_f(x) for x in thr['round_ratios']):>33}")
    te, tp = thr["engine"], thr["plain"]

    def pair(side: dict[str, Any], a: str, b: str) -> str:
        return f"{_f(side[a])} / {_f(side[b])}"

    add(f"{'   CPU ms per transition: worker pool / main':<46}"
        f"{pair(te, 'cpu_ms_worker_pool', 'cpu_ms_worker_main'):>12}"
        f"{pair(tp, 'cpu_ms_worker_pool', 'cpu_ms_worker_main'):>12}")
    add(f"{'     Redis / client (starts, polling)':<46}"
        f"{pair(te, 'cpu_ms_redis', 'cpu_ms_client'):>12}"
        f"{pair(tp, 'cpu_ms_redis', 'cpu_ms_client'):>12}")
    add(f"{'     all processes':<46}{_f(te['cpu_ms_total']):>12}{_f(tp['cpu_ms_total']):>12}"
        f"{_f(te['cpu_ms_total'] / tp['cpu_ms_total']):>9}")
    tc = results.get("throughput_channel")
    if tc:
        add(f"{'2b. like for like: transitions/s':<46}"
            f"{_f(tc['engine']['transitions_per_s'], 0):>12}"
            f"{_f(tc['plain']['transitions_per_s'], 0):>12}{_f(tc['ratio']):>9}")
        add(f"{'   per-round ratios (noise)':<46}"
            f"{' '.join(_f(x) for x in tc['round_ratios']):>33}")
        add(f"{'   CPU ms per transition, all processes':<46}"
            f"{_f(tc['engine']['cpu_ms_total']):>12}{_f(tc['plain']['cpu_ms_total']):>12}"
            f"{_f(tc['engine']['cpu_ms_total'] / tc['plain']['cpu_ms_total']):>9}")
    label = f"3. control flow, {cf['states']} Pass/Choice: transitions/s"
    add(f"{label:<46}{_f(cf['transitions_per_s'], 0):>12}{'':>12}{'':>9}")
    add(f"{'   wall s (start to final commit)':<46}{_f(cf['wall_s'], 3):>12}")
    concurrency = results["settings"]["map_concurrency"]
    for run in results["map"]:
        label = f"4. map {run['items']} items (MaxConcurrency {concurrency}): wall s"
        add(f"{label:<46}{_f(run['wall_s']):>12}")
        add(f"{'   items/s':<46}{_f(run['items_per_s'], 0):>12}")
        rss = f"{_f(run['worker_rss_idle_mb'], 1)} / {_f(run['worker_rss_peak_process_mb'], 1)}"
        add(f"{'   worker RSS idle / peak per process MB':<46}{rss:>12}")
        add(f"{'   worker RSS peak, whole worker MB':<46}"
            f"{_f(run['worker_rss_peak_total_mb'], 1):>12}")
        add(f"{'   Redis memory of the execution MB':<46}{_f(run['redis_execution_mb'], 1):>12}")
    growth = results.get("map_growth")
    if growth:
        label = f"   growth {growth['items']:.0f}x items: wall x, Redis x, worker peak x"
        figures = f"{_f(growth['wall'])}, {_f(growth['redis'])}, {_f(growth['worker_peak'])}"
        add(f"{label:<46}{figures:>33}")
    grp = results.get("group")
    if grp:
        big = results["map"][-1]
        label = f"4b. vs plain Celery group of {grp['items']}: items/s"
        add(f"{label:<46}{_f(big['items_per_s'], 0):>12}{_f(grp['items_per_s'], 0):>12}"
            f"{_f(big['items_per_s'] / grp['items_per_s']):>9}")
        rss = (f"{_f(big['worker_rss_peak_process_mb'], 1)}"
               f"{_f(grp['worker_rss_peak_process_mb'], 1):>12}")
        add(f"{'   worker RSS peak per process MB':<46}{rss:>24}")
    st = results["starts"]
    add(f"{'5. starts/s from one client (plain: sends/s)':<46}{_f(st['engine_per_s'], 0):>12}"
        f"{_f(st['plain_per_s'], 0):>12}{_f(st['ratio']):>9}")
    add(f"{'   bulk starts/s (start_executions) / single':<46}{_f(st['bulk_per_s'], 0):>12}"
        f"{'':>12}{_f(st['bulk_ratio']):>9}")
    prof = results["profile"]
    add(f"6. where a Task hop's time goes, worker side, in-task (timers; plain Celery's whole "
        f"hop p50 {_f(lat['plain']['p50_ms'])} ms):")
    add(f"     {'total in-task':<40}{_f(prof['timed_ms_per_hop'], 3):>9} ms   "
        f"(pyinstrument share)")
    for row in prof["parts"]:
        add(f"     {row['part']:<40}{_f(row['ms_per_hop'], 3):>9} ms   "
            f"({row['profiled_share'] * 100:4.1f}%)")
    add("   top self time under pyinstrument:")
    for row in prof["top_functions"][:6]:
        add(f"     {row['function'][:64]:<64}{_f(row['ms_per_hop'], 3):>7} ms")
    _dbos_rows(results, add)
    return lines


def headline(results: dict[str, Any]) -> str:
    big = results["map"][-1]
    return (
        f"latency ratio p50 {results['latency']['ratio_p50']:.2f}, "
        f"throughput ratio {results['throughput']['ratio']:.2f}, "
        f"control-flow transitions/s {results['control_flow']['transitions_per_s']:.0f}, "
        f"map {big['items']} items {big['wall_s']:.1f} s, "
        f"Redis commands per hop {_commands(results, 'engine'):.1f} vs "
        f"{_commands(results, 'plain'):.1f}, "
        f"CPU per transition {_cpu_ratio(results):.2f}x plain, "
        f"starts {results['starts']['ratio']:.2f}x sends, "
        f"bulk starts {results['starts']['bulk_ratio']:.1f}x single, "
        + _dbos_headline(results)
        + _channel_headline(results)
    )


def _channel_headline(results: dict[str, Any]) -> str:
    """The like-for-like ratios (plain Celery on the engine's channel) and the Map against
    plain Celery's group, appended to the fixed part of the headline."""
    lc, tc, grp = results["latency_channel"], results["throughput_channel"], results["group"]
    big = results["map"][-1]
    return (
        f", like for like: latency {lc['ratio_p50']:.2f}, throughput {tc['ratio']:.2f}, "
        f"map vs group {big['items_per_s'] / grp['items_per_s']:.2f}x"
    )


def _dbos_ratios(results: dict[str, Any]) -> tuple[float, float, float] | None:
    """Engine / DBOS: latency p50, throughput, starts (None when DBOS did not run)."""
    dbos = results.get("dbos") or {}
    if "latency" not in dbos:
        return None
    return (
        results["latency"]["engine"]["p50_ms"] / dbos["latency"]["p50_ms"],
        results["throughput"]["engine"]["transitions_per_s"]
        / dbos["throughput"]["transitions_per_s"],
        results["starts"]["engine_per_s"] / dbos["starts"]["per_s"],
    )


def _dbos_headline(results: dict[str, Any]) -> str:
    ratios = _dbos_ratios(results)
    if ratios is None:
        return "vs DBOS: skipped"
    return f"vs DBOS: latency {ratios[0]:.2f}, throughput {ratios[1]:.2f}"


def _dbos_rows(results: dict[str, Any], add: Any) -> None:
    dbos = results.get("dbos") or {}
    ratios = _dbos_ratios(results)
    if ratios is None:
        add(f"7. DBOS Transact: skipped ({dbos.get('skipped', 'not run')})")
        return
    lat, thr = results["latency"]["engine"], results["throughput"]["engine"]
    add(f"{'7. vs DBOS Transact (SQLite): p50 per step ms':<46}{_f(lat['p50_ms']):>12}"
        f"{_f(dbos['latency']['p50_ms']):>12}{_f(ratios[0]):>9}")
    add(f"{'   throughput, transitions (steps)/s':<46}{_f(thr['transitions_per_s'], 0):>12}"
        f"{_f(dbos['throughput']['transitions_per_s'], 0):>12}{_f(ratios[1]):>9}")
    add(f"{'   starts/s':<46}{_f(results['starts']['engine_per_s'], 0):>12}"
        f"{_f(dbos['starts']['per_s'], 0):>12}{_f(ratios[2]):>9}")


def _commands(results: dict[str, Any], side: str) -> float:
    return float(sum(results["latency"][side]["redis_commands_per_hop"].values()))


def _cpu_ratio(results: dict[str, Any]) -> float:
    thr = results["throughput"]
    return float(thr["engine"]["cpu_ms_total"] / thr["plain"]["cpu_ms_total"])


def save(results: dict[str, Any], directory: Path = RESULTS) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    kind = "quick" if results["settings"].get("quick") else "full"
    path = directory / f"bench-{kind}-{stamp}.json"
    text = json.dumps(results, indent=2, default=str)
    path.write_text(text)
    (directory / f"latest-{kind}.json").write_text(text)
    return path
