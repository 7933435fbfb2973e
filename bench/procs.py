"""The processes a benchmark run starts, and stops again: a private redis-server and two
Celery workers with identical settings, the engine's and plain Celery's.

Both workers run at the same time, each on its own queue, with the same `--concurrency`
(prefork), the same prefetch (1, from build_app) and the same log level; only one of them
has work at any moment, since the harness alternates engine and plain runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import redis

from engine.embedded import RedisServer

ROOT = Path(__file__).resolve().parent.parent


class WorkerProcess:
    """`celery -A <app> worker -Q <queue> --concurrency N` as a child process."""

    def __init__(self, app: str, queue: str, redis_url: str, *, concurrency: int,
                 log_path: Path, extra_env: dict[str, str] | None = None) -> None:
        self.app, self.queue, self.redis_url = app, queue, redis_url
        self.concurrency = concurrency
        self.log_path = log_path
        self.env = {
            **os.environ,
            "REDIS_URL": redis_url,
            "SFN_HANDLER_MODULES": "bench.workloads",
            "PYTHONPATH": str(ROOT),
            # The fan-out's 10,000-item inline Map writes about 50,000 events: past AWS's
            # 25,000-event history cap, which would fail it (as on AWS, where a Map that size
            # is a Distributed one whose iterations are child executions). The benchmark
            # measures the fan-out itself, so the cap is off for its workers.
            "SFN_MAX_HISTORY_EVENTS": "0",
            **(extra_env or {}),
        }
        self.env.pop("BROKER_URL", None)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        name = f"bench-{self.app.replace('.', '-')}-{uuid.uuid4().hex[:6]}@%h"
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "celery", "-A", self.app, "worker", "-Q", self.queue,
             "--concurrency", str(self.concurrency), "--loglevel", "WARNING", "-n", name,
             "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def pids(self) -> list[int]:
        """The worker's main process and its pool children."""
        if not self.alive():
            return []
        return [self.pid, *_children(self.pid)]

    def rss_bytes(self) -> dict[int, int]:
        return {pid: _rss(pid) for pid in self.pids()}

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return found


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


class CpuMeter:
    """CPU seconds used by the worker processes, Redis and this process between `start()`
    and `stop()`: what one side of a benchmark costs, whatever else runs on the machine."""

    def __init__(self, worker: WorkerProcess, redis_pid: int) -> None:
        self.worker, self.redis_pid = worker, redis_pid
        self.used: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        pids = self.worker.pids()
        return {
            "worker_main": cpu_seconds(pids[0]) if pids else 0.0,
            "worker_pool": sum(cpu_seconds(p) for p in pids[1:]),
            "redis": cpu_seconds(self.redis_pid),
            "client": cpu_seconds(os.getpid()),
        }

    def __enter__(self) -> CpuMeter:
        self._start = self._now()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._now()
        self.used = {k: end[k] - self._start[k] for k in end}


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class RssSampler:
    """Samples the RSS of a worker's processes every `interval` seconds in a thread; keeps
    the peak of the largest single process and of the whole worker (main + children)."""

    def __init__(self, worker: WorkerProcess, interval: float = 0.05) -> None:
        self.worker = worker
        self.interval = interval
        self.peak_process = 0
        self.peak_total = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="bench-rss")

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        rss = self.worker.rss_bytes()
        if rss:
            self.peak_process = max(self.peak_process, max(rss.values()))
            self.peak_total = max(self.peak_total, sum(rss.values()))
            self.samples += 1

    def __enter__(self) -> RssSampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def start_redis(data_dir: Path) -> RedisServer:
    """A private redis-server configured like the embedded default (AOF, everysec)."""
    return RedisServer(data_dir).start()


def wait_until(predicate, timeout: float, what: str, poll: float = 0.01) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(poll)


def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True)
