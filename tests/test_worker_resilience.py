"""A worker (re)started while Redis is down comes up once Redis is back, instead of
exiting at import: a crash loop during a Redis restart would turn one outage into many."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis

from engine.embedded import RedisServer
from tests.conftest import ROOT, Worker

pytestmark = [pytest.mark.redis, pytest.mark.worker]


def test_a_worker_started_during_a_redis_outage_serves_once_redis_is_back(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis")
    url = server.url  # nothing listens there yet
    worker = Worker(url, log_path=tmp_path / "worker.log")
    # Started by hand: Worker.start() would wait for Redis, which is the point here.
    worker.process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "worker", "worker", "-Q", "sfn", "--concurrency",
         "1", "--loglevel", "INFO", "-n", f"outage-{uuid.uuid4().hex[:6]}@%h",
         "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=worker.env, stdout=(tmp_path / "worker.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        time.sleep(3.0)
        assert worker.process.poll() is None, (tmp_path / "worker.log").read_text()[-2000:]
        server.start()
        client = redis.Redis.from_url(url, decode_responses=True)
        deadline = time.monotonic() + 30
        while not client.hexists("sfn:handlers", "SendEmailLambda"):
            assert time.monotonic() < deadline, "the worker never announced its handlers"
            assert worker.process.poll() is None
            time.sleep(0.2)
    finally:
        worker.stop()
        server.stop()


def test_the_main_process_threads_share_no_redis_client_with_the_pool_processes(
    redis_url: str,
) -> None:
    # Pool processes are forked from the worker's main process while its sweep and
    # announcement threads run; a client one of them was inside at that instant would stay
    # locked in the child (a pool process hung on its first Task, seen once). So the
    # main-process threads have clients of their own.
    check = (
        "import tasks.worker as w\n"
        "assert w.sweeper.store is not w.driver.store\n"
        "assert w.sweeper.store.r is not w.driver.store.r\n"
        "assert w.sweeper.dispatcher is not w.driver.dispatcher\n"
        "print('separate')\n"
    )
    env = {**Worker(redis_url).env}
    result = subprocess.run([sys.executable, "-c", check], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "separate" in result.stdout, result.stderr[-2000:]
