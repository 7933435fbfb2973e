"""DBOS Transact beside the engine: `python -m bench.dbos_side HOPS EXECUTIONS LENGTH STARTS`
prints one JSON object (run in a process of its own: DBOS keeps global state).

DBOS runs workflows in the calling process, its steps checkpointed to its system database;
here the embedded SQLite one, in a temporary folder, and every step a no-op that records
`time.time()` on entry (the same point the engine's and plain Celery's stamps mark). The
package is not a dependency of the engine: `ensure_installed` (the bench's own set-up)
installs it with pip into the running interpreter's environment when it is missing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

STAMPS: list[float] = []


def ensure_installed() -> str | None:
    """None when `dbos` can be imported (installing it first if needed); else why not."""
    try:
        import dbos  # noqa: F401
        return None
    except ImportError:
        pass
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "dbos"],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        return f"pip install dbos failed: {done.stderr.strip()[-300:]}"
    return None


def measure(hops: int, executions: int, length: int, starts: int) -> dict[str, Any]:
    from dbos import DBOS, DBOSConfig

    folder = Path(tempfile.mkdtemp(prefix="sfn-bench-dbos-"))
    config: DBOSConfig = {
        "name": "sfn-bench", "system_database_url": f"sqlite:///{folder / 'dbos.sqlite'}",
    }
    DBOS(config=config)

    @DBOS.step()
    def stamp(i: int) -> int:
        STAMPS.append(time.time())
        return i

    @DBOS.workflow()
    def chain(n: int) -> int:
        for i in range(n):
            stamp(i)
        return n

    DBOS.launch()
    try:
        chain(5)  # warm-up
        STAMPS.clear()
        t0 = time.perf_counter()
        chain(hops)
        wall = time.perf_counter() - t0
        gaps = sorted((b - a) * 1000.0 for a, b in zip(STAMPS, STAMPS[1:], strict=False))
        latency = {
            "p50_ms": gaps[len(gaps) // 2],
            "p99_ms": gaps[min(len(gaps) - 1, round(0.99 * len(gaps)))],
            "wall_per_hop_ms": wall * 1000.0 / hops,
        }
        t0 = time.perf_counter()
        handles = [DBOS.start_workflow(chain, length) for _ in range(executions)]
        for handle in handles:
            handle.get_result()
        elapsed = time.perf_counter() - t0
        throughput = {"transitions_per_s": executions * length / elapsed, "wall_s": elapsed}
        t0 = time.perf_counter()
        handles = [DBOS.start_workflow(chain, 1) for _ in range(starts)]
        started = time.perf_counter() - t0
        for handle in handles:
            handle.get_result()
        return {
            "latency": latency, "throughput": throughput,
            "starts": {"count": starts, "per_s": starts / started},
            "system_database": "sqlite",
        }
    finally:
        DBOS.destroy()


def run(hops: int, executions: int, length: int, starts: int) -> dict[str, Any]:
    """The DBOS figures, from a child process; {"skipped": why} when DBOS cannot run."""
    missing = ensure_installed()
    if missing is not None:
        return {"skipped": missing}
    done = subprocess.run(
        [sys.executable, "-m", "bench.dbos_side", str(hops), str(executions), str(length),
         str(starts)],
        capture_output=True, text=True, check=False, cwd=Path(__file__).resolve().parent.parent,
    )
    if done.returncode != 0:
        return {"skipped": f"DBOS run failed: {done.stderr.strip()[-500:]}"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:5]]
    print(json.dumps(measure(*args)))
