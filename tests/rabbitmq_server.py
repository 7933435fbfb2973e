"""A private RabbitMQ broker for the tests, like our Redis: Debian's rabbitmq-server
(scripts/ensure-rabbitmq.sh installs it) on free ports, its data under a temporary folder,
with its own Erlang port mapper (epmd) so that nothing outside the test is touched or left
running. Stopped with SIGTERM (RabbitMQ shuts down cleanly on it) and restarted on the same
ports and data, as a production broker restarts."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

from engine.embedded import free_port

SEARCH = ("/usr/lib/rabbitmq/bin/rabbitmq-server", "/usr/sbin/rabbitmq-server")


def find_rabbitmq_server() -> str | None:
    for candidate in SEARCH:
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("rabbitmq-server")


class RabbitServer:
    def __init__(self, base: Path) -> None:
        binary = find_rabbitmq_server()
        if binary is None or shutil.which("epmd") is None:
            raise RuntimeError("rabbitmq-server is not installed: run scripts/ensure-rabbitmq.sh")
        self.binary = binary
        self.base = base
        base.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.epmd_port = free_port()
        self.node = f"sfntest{uuid.uuid4().hex[:8]}@localhost"
        (base / "enabled_plugins").write_text("[].\n")
        (base / "rabbitmq.conf").write_text("loopback_users = none\n")
        self.epmd: subprocess.Popen[bytes] | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "HOME": str(self.base),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq"),
            "RABBITMQ_PID_FILE": str(self.base / "pid"),
        }

    def start(self, timeout: float = 60.0) -> RabbitServer:
        env = self._env()
        if self.epmd is None or self.epmd.poll() is not None:
            self.epmd = subprocess.Popen(  # noqa: S603 - Erlang's own port mapper
                ["epmd", "-port", str(self.epmd_port)], env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        log = (self.base / "server.log").open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - the installed broker
            [self.binary], env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited; see {self.base / 'server.log'}")
            if b"Starting broker... completed" in (self.base / "server.log").read_bytes() \
                    and _listening(self.port):
                return self
            time.sleep(0.2)
        raise RuntimeError(f"rabbitmq-server did not start; see {self.base / 'server.log'}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            # The whole session: the start script, the Erlang VM and its helpers.
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def close(self) -> None:
        self.stop()
        if self.epmd is not None and self.epmd.poll() is None:
            self.epmd.terminate()
            self.epmd.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
