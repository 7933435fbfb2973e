"""A private `redis-server`, for a machine where no Redis is configured.

The binary is the one on PATH (`make setup` installs Debian's `redis-server` package when it
is missing) or the one `SFN_REDIS_SERVER` names. It runs with AOF on (`appendfsync
everysec`) and keeps its data under the project's `.sfn/` folder, so an embedded run
survives a restart of the server like a production Redis configured the same way.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import redis


class EmbeddedRedisError(RuntimeError):
    pass


def find_redis_server() -> str:
    explicit = os.environ.get("SFN_REDIS_SERVER")
    if explicit:
        return explicit
    found = shutil.which("redis-server")
    if found:
        return found
    for candidate in ("/usr/bin/redis-server", "/usr/local/bin/redis-server"):
        if os.access(candidate, os.X_OK):
            return candidate
    raise EmbeddedRedisError(
        "redis-server was not found: run `make setup` (it installs one), "
        "set SFN_REDIS_SERVER to a redis-server binary, or set REDIS_URL to your Redis"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A redis-server child process on 127.0.0.1:`port` with AOF under `data_dir`."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        appendfsync: str = "everysec",
        appendonly: bool = True,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.appendfsync = appendfsync
        self.appendonly = appendonly
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [
            find_redis_server(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.data_dir.resolve()),
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", self.appendfsync,
            "--save", "",
            "--protected-mode", "no",
            "--daemonize", "no",
            "--loglevel", "warning",
            "--logfile", str((self.data_dir / "redis.log").resolve()),
        ]

    def start(self, *, detach: bool = False, timeout: float = 10.0) -> RedisServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(  # noqa: S603 - our own binary and arguments
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=detach,
        )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)
        while True:
            try:
                if client.ping():
                    return
            except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
                pass
            if self.process is not None and self.process.poll() is not None:
                raise EmbeddedRedisError(
                    f"redis-server exited with {self.process.returncode}; "
                    f"see {self.data_dir / 'redis.log'}"
                )
            if time.monotonic() > deadline:
                raise EmbeddedRedisError(f"redis-server did not answer on port {self.port}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL (for fault injection): what the AOF has fsynced survives."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    """Serialise starting and stopping the project's server between processes (two `sfn`
    commands started at once must not start two servers)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "redis.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def running_port(data_dir: Path) -> int | None:
    """The port of the embedded server of `data_dir` when it answers, else None. A port
    answered by some other Redis (the port file outlived a reboot) is not ours."""
    port_file = Path(data_dir) / "redis.port"
    try:
        port = int(port_file.read_text().strip() or 0)
    except (OSError, ValueError):
        return None
    if not port:
        return None
    try:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1,
                             decode_responses=True)
        served = str(client.config_get("dir").get("dir", ""))
    except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
        return None
    return port if Path(served) == Path(data_dir).resolve() else None


def ensure_embedded(data_dir: Path) -> str:
    """The URL of the project's embedded Redis, starting it (detached) if it is not up.

    The port is remembered in `data_dir/redis.port` so that the CLI, workers and the API
    server started separately all find the same server; `stop_embedded` stops it.
    """
    data_dir = Path(data_dir)
    with _locked(data_dir):
        port = running_port(data_dir)
        if port is not None:
            return f"redis://127.0.0.1:{port}/0"
        server = RedisServer(data_dir).start(detach=True)
        (data_dir / "redis.port").write_text(str(server.port))
        return server.url


# --- the workers started for the embedded server, and stopping it all ---------------------


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot ('' where /proc is missing): with
    the pid, it names one process, even after the pid is reused."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def register_worker(data_dir: Path, pid: int) -> None:
    """Remember a worker process started for this project's server (`sfn down` stops it)."""
    folder = Path(data_dir) / "workers"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{pid}.pid").write_text(f"{pid} {_start_time(pid)}".strip())


def unregister_worker(data_dir: Path, pid: int) -> None:
    (Path(data_dir) / "workers" / f"{pid}.pid").unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child that has exited
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie has exited; only its parent has not looked yet
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _stop_process(pid: int, timeout: float) -> None:
    """SIGTERM (a Celery worker finishes its current tasks), SIGKILL after `timeout`."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if not _wait_gone(pid, timeout):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        _wait_gone(pid, 5.0)


@dataclass(frozen=True)
class Stopped:
    """What `stop_embedded` did."""

    redis_pid: int | None
    redis_port: int | None
    workers: tuple[int, ...]


def stop_embedded(data_dir: Path, *, timeout: float = 20.0) -> Stopped:
    """Stop the project's embedded Redis and the workers started for it.

    The workers go first (they would otherwise spin on a vanished broker): every one
    registered in `data_dir/workers` that is still a Celery process gets SIGTERM, and
    SIGKILL after `timeout`. Then the server gets SHUTDOWN, which writes the AOF out, so
    nothing is lost: the next command starts it again on the same data."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        return Stopped(None, None, ())
    with _locked(data_dir):
        stopped: list[int] = []
        for pid_file in sorted((data_dir / "workers").glob("*.pid")):
            try:
                pid_text, _, started = pid_file.read_text().strip().partition(" ")
                pid = int(pid_text)
            except (OSError, ValueError):
                pid_file.unlink(missing_ok=True)
                continue
            # A pid file can outlive its process and the pid be reused: only the Celery
            # process that started at the recorded time is ours to stop.
            same = not started or _start_time(pid) == started
            if same and _alive(pid) and "celery" in _command_line(pid):
                _stop_process(pid, timeout)
                stopped.append(pid)
            pid_file.unlink(missing_ok=True)
        port = running_port(data_dir)
        redis_pid = None
        if port is not None:
            client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
            redis_pid = int(client.info("server")["process_id"])
            try:
                client.shutdown()
            except (redis.ConnectionError, redis.TimeoutError):
                pass  # the connection closes as the server exits
            _wait_gone(redis_pid, timeout)
        (data_dir / "redis.port").unlink(missing_ok=True)
        return Stopped(redis_pid, port, tuple(stopped))
