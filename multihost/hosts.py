"""The processes on the hosts: Redis and the ledger, the API, the workers.

Each is started with `ip netns exec <host>` so that it sees only its namespace's network:
Redis listens on 10.203.0.2, `sfn serve` on 10.203.0.3, the workers reach both through the
bridge. Every process leads its own process group, so stopping it stops its children.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

from chaos.faults import ROOT
from engine.embedded import EmbeddedRedisError, RedisServer
from multihost.netns import Host

REDIS_PORT = 6379
LEDGER_PORT = 6380
API_PORT = 8083


class NetnsRedis(RedisServer):
    """The embedded redis-server (AOF, everysec), run on a host and listening on its address."""

    def __init__(self, on: Host, data_dir: Path, port: int, *, appendonly: bool = True) -> None:
        super().__init__(data_dir, port, appendonly=appendonly)
        self.on = on

    @property
    def url(self) -> str:
        return f"redis://{self.on.address}:{self.port}/0"

    def command(self) -> list[str]:
        args = super().command()
        args[args.index("--bind") + 1] = self.on.address
        return [*self.on.exec_prefix(), *args]

    def wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        client = redis.Redis(host=self.on.address, port=self.port, socket_timeout=1,
                             socket_connect_timeout=1)
        while True:
            try:
                if client.ping():
                    return
            except (redis.ConnectionError, redis.TimeoutError):
                pass
            if self.process is not None and self.process.poll() is not None:
                raise EmbeddedRedisError(f"redis-server on {self.on.netns} exited; see "
                                         f"{self.data_dir / 'redis.log'}")
            if time.monotonic() > deadline:
                raise EmbeddedRedisError(f"redis-server did not answer on {self.url}")
            time.sleep(0.1)


class Process:
    """One long-running program on a host, its output in `log_path`."""

    def __init__(self, on: Host, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.on, self.args, self.env, self.log_path = on, args, env, log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> Process:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
                [*self.on.exec_prefix(), *self.args], cwd=ROOT, env=self.env,
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_has(self, text: bytes) -> bool:
        try:
            return text in self.log_path.read_bytes()
        except OSError:
            return False

    def wait_for(self, text: bytes, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.log_has(text):
            if not self.alive():
                raise RuntimeError(f"{self.args[:4]} on {self.on.netns} exited; see "
                                   f"{self.log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.args[:4]} on {self.on.netns} not ready after "
                                   f"{timeout:.0f}s; see {self.log_path}")
            time.sleep(0.2)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the group (a warm shutdown), then SIGKILL what is left of it."""
        if self.process is None:
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        try:  # pool processes that outlived their parent
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def worker(on: Host, env: dict[str, str], log_dir: Path, concurrency: int) -> Process:
    """`celery -A tasks.worker worker` on a host, with a node name unique to it."""
    return Process(on, [
        sys.executable, "-m", "celery", "-A", "tasks.worker", "worker", "-Q", "sfn",
        "--concurrency", str(concurrency), "--loglevel", "INFO",
        "-n", f"multihost-{on.name}@%h", "--without-gossip", "--without-mingle",
    ], env, log_dir / f"worker-{on.name}.log")


def api(on: Host, env: dict[str, str], log_dir: Path) -> Process:
    """`sfn serve` on a host's address, without a worker of its own."""
    sfn = str(Path(sys.executable).with_name("sfn"))
    return Process(on, [sfn, "serve", "--host", on.address, "--port", str(API_PORT),
                        "--no-worker"], env, log_dir / "api.log")
