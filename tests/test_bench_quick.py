"""The benchmark harness works: `python -m bench --quick` (what `make bench QUICK=1` runs)
starts its own redis-server and workers, runs every benchmark at a tiny size and reports
every figure. Speed is not checked here: CI machines are shared and noisy."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.redis, pytest.mark.worker]

ROOT = Path(__file__).resolve().parent.parent
HEADLINE = re.compile(
    r"latency ratio p50 (\d+\.\d+), throughput ratio (\d+\.\d+), "
    r"control-flow transitions/s (\d+), map (\d+) items (\d+\.\d+) s, "
    r"Redis commands per hop (\d+\.\d) vs (\d+\.\d), CPU per transition (\d+\.\d+)x plain, "
    r"starts (\d+\.\d+)x sends, bulk starts (\d+\.\d)x single, "
    r"vs DBOS: (?:latency (\d+\.\d+), throughput (\d+\.\d+)|skipped), "
    r"like for like: latency (\d+\.\d+), throughput (\d+\.\d+), map vs group (\d+\.\d+)x"
)


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


@pytest.mark.timeout(120)
def test_quick_benchmark_reports_every_figure(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("REDIS_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", "--quick", "--results", str(tmp_path)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # its redis-server and workers share its process group
    )
    try:
        out, err = proc.communicate(timeout=100)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("the quick benchmark took over 100 s")
    assert proc.returncode == 0, err[-4000:]

    last = out.strip().splitlines()[-1]
    assert HEADLINE.fullmatch(last), last

    data = json.loads((tmp_path / "latest-quick.json").read_text())
    lat, thr = data["latency"], data["throughput"]
    for side in ("engine", "plain"):
        assert _positive(lat[side]["p50_ms"]) and _positive(lat[side]["p99_ms"])
        assert lat[side]["hops_measured"] == data["settings"]["rounds"] * (lat["hops"] - 1)
        assert _positive(thr[side]["transitions_per_s"])
    assert _positive(lat["ratio_p50"]) and _positive(thr["ratio"])
    # Like for like: plain Celery on the engine's channel, in the same rounds.
    lc, tc = data["latency_channel"], data["throughput_channel"]
    assert lc["plain"]["hops_measured"] == lat["plain"]["hops_measured"]
    assert _positive(lc["ratio_p50"]) and _positive(tc["ratio"])
    assert _positive(tc["plain"]["cpu_ms_total"])
    group = data["group"]  # plain Celery's group beside the biggest Map
    assert group["items"] == data["settings"]["map_items"][-1]
    assert _positive(group["items_per_s"]) and _positive(group["worker_rss_peak_process_mb"])
    assert data["control_flow"]["states"] == 2 * data["settings"]["loop"] + 3
    assert _positive(data["control_flow"]["transitions_per_s"])
    assert [m["items"] for m in data["map"]] == data["settings"]["map_items"]
    for run in data["map"]:
        assert _positive(run["wall_s"]) and _positive(run["worker_rss_peak_process_mb"])
        assert _positive(run["redis_execution_mb"])
    assert _positive(data["map_growth"]["wall"])
    assert _positive(data["starts"]["engine_per_s"]) and _positive(data["starts"]["plain_per_s"])
    assert _positive(data["starts"]["bulk_per_s"]) and _positive(data["starts"]["bulk_ratio"])
    dbos = data["dbos"]  # measured, or why not (no package registry reachable)
    assert "skipped" in dbos or (
        _positive(dbos["latency"]["p50_ms"]) and _positive(dbos["throughput"]["transitions_per_s"])
        and _positive(dbos["starts"]["per_s"])
    )
    profile = data["profile"]
    assert profile["hops"] == data["settings"]["profile_hops"]
    assert _positive(profile["in_task_ms_per_hop"])
    assert {row["part"] for row in profile["parts"]} >= {"claim (Redis)", "commit (Redis)"}
    for side in ("engine", "plain"):
        assert _positive(thr[side]["cpu_ms_total"])
    assert "latency, chain of" in out and "where a Task hop's time goes" in out
