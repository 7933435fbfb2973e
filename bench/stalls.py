"""What other clients of Redis and other processes of the host wait for while a benchmark
runs, measured beside SLOWLOG so that a long constant-time command can be told apart from
a script whose work grows with the load.

- `StallProbe`: a thread that every 5 ms sleeps, measures how late the host woke it up
  (a scheduling stall that the redis-server process may suffer in the same instant), then
  times one PING on its own connection: what a client that is not the benchmark's waits.
- Redis's latency monitor (`latency_events`) classifies its own stalls: `command` is a
  slow command or script, `fast-command` an O(1)/O(log N) one that was slow anyway (so the
  host, not the work), `fork` the AOF rewrite's fork, `aof-*` the disk.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

import redis

INTERVAL = 0.005


class StallProbe:
    def __init__(self, url: str) -> None:
        self._r = redis.Redis.from_url(url)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stall-probe", daemon=True)
        self.wakeups: list[float] = []
        self.pings: list[float] = []

    def _run(self) -> None:
        while not self._stop.is_set():
            asleep = time.perf_counter()
            time.sleep(INTERVAL)
            woke = time.perf_counter()
            self.wakeups.append(woke - asleep - INTERVAL)
            try:
                self._r.ping()
            except redis.RedisError:
                continue
            self.pings.append(time.perf_counter() - woke)

    def __enter__(self) -> StallProbe:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict[str, Any]:
        return {
            "samples": len(self.pings),
            "ping_max_ms": _ms(max(self.pings, default=0.0)),
            "ping_p999_ms": _ms(_quantile(self.pings, 0.999)),
            "pings_over_5ms": sum(1 for p in self.pings if p > 0.005),
            "host_wakeup_delay_max_ms": _ms(max(self.wakeups, default=0.0)),
            "host_wakeup_delay_p999_ms": _ms(_quantile(self.wakeups, 0.999)),
        }


def enable_latency_monitor(r: redis.Redis, threshold_ms: int = 1) -> None:
    r.config_set("latency-monitor-threshold", threshold_ms)
    r.execute_command("LATENCY", "RESET")


def latency_events(r: redis.Redis) -> dict[str, int]:
    """Each latency event's worst stall in ms since the monitor was enabled."""
    rows = r.execute_command("LATENCY", "LATEST")
    out: dict[str, int] = {}
    for row in rows or []:
        name = row[0].decode() if isinstance(row[0], bytes) else str(row[0])
        out[name] = int(row[3])
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)
