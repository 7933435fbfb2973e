"""Fixtures that start real services: a redis-server on a free port (AOF on, a temporary
folder) and real Celery worker processes. Nothing is mocked below the Redis client."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from engine.embedded import EmbeddedRedisError, RedisServer, find_redis_server
from engine.store.redis_client import client_from_url
from tests.redis_cluster import LocalCluster

ROOT = Path(__file__).resolve().parent.parent


def _redis_available() -> bool:
    try:
        find_redis_server()
        return True
    except EmbeddedRedisError:
        return False


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if not _redis_available():
        pytest.fail("redis-server is not installed: run `make setup`")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A 6-node Redis Cluster (3 primaries, 3 replicas) on free ports: tests/redis_cluster.py.
    Shared by the session; a test that fails a primary over leaves it healthy again."""
    if not _redis_available():
        pytest.fail("redis-server is not installed: run `make setup`")
    cluster = LocalCluster(tmp_path_factory.mktemp("redis-cluster")).start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A Redis of the requesting module's own (each module gets its own server): a worker
    another module started on the session's Redis, with other handlers or settings, must not
    take this module's tasks. A module uses it by overriding `redis_url` with its URL."""
    server = RedisServer(tmp_path_factory.mktemp("own-redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    yield client
    client.close()


class Worker:
    """A real `celery -A worker worker` process (prefork, 2 children)."""

    def __init__(self, redis_url: str, *, env: dict[str, str] | None = None, queues: str = "sfn",
                 concurrency: int = 2, log_path: Path | None = None) -> None:
        self.redis_url = redis_url
        self.env = {**os.environ, "REDIS_URL": redis_url,
                    "SFN_HANDLER_MODULES": ("workflows.order_processing,workflows.order_jsonata,"
                                            "tests.e2e_handlers"),
                    "PYTHONPATH": str(ROOT), **(env or {})}
        self.queues = queues
        self.concurrency = concurrency
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        hostname = f"test-{uuid.uuid4().hex[:8]}@%h"
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "worker", "worker", "-Q", self.queues,
             "--concurrency", str(self.concurrency), "--loglevel", "INFO", "-n", hostname,
             "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        self._wait_announced()
        return self

    def _wait_announced(self, timeout: float = 30.0) -> None:
        client = client_from_url(self.redis_url, decode_responses=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited with {self.process.returncode}")
            if client.hexists("sfn:handlers", "SendEmailLambda"):
                time.sleep(1.0)  # the consumer connects just after the app is imported
                return
            time.sleep(0.1)
        raise RuntimeError("worker did not come up")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="session")
def worker(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    w = Worker(redis_server.url, log_path=log_path).start()
    yield w
    w.stop()


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]
