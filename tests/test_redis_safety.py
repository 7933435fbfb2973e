"""Redis safety on real redis-servers: an evicting maxmemory-policy is refused (worker,
server, CLI), AOF off is warned about, a wrong password or an unreachable Redis fails in
seconds with one line, and a full Redis (OOM under noeviction) is back-pressure: the worker
waits and carries on instead of exiting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from engine.connect import connect
from engine.redis_safety import RedisSetupError, check_config, mask_url, preflight
from engine.settings import Settings
from tests.conftest import ROOT, Worker
from tests.redis_configs import ConfiguredRedis

pytestmark = [pytest.mark.redis]

SFN = [sys.executable, "-c", "from engine.cli import main; main()"]


@pytest.fixture
def lru_redis(tmp_path: Path) -> Iterator[ConfiguredRedis]:
    server = ConfiguredRedis(tmp_path / "lru", ["--maxmemory-policy", "allkeys-lru"]).start()
    yield server
    server.stop()


@pytest.fixture
def password_redis(tmp_path: Path) -> Iterator[ConfiguredRedis]:
    server = ConfiguredRedis(tmp_path / "pw", [], password="s3cret-pw").start()
    yield server
    server.stop()


def _sfn(args: list[str], url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SFN, *args], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "REDIS_URL": url, "PYTHONPATH": str(ROOT), **env},
    )


def test_mask_url_hides_every_password() -> None:
    assert mask_url("redis://:hunter2@db.example:6380/1") == "redis://:****@db.example:6380/1"
    assert mask_url("rediss://bob:hunter2@db.example/0") == "rediss://bob:****@db.example/0"
    assert mask_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert "hunter2" not in mask_url("redis://:hunter2@[::1]:6379/0")


def test_an_evicting_policy_is_refused_unless_allowed(lru_redis: ConfiguredRedis) -> None:
    with pytest.raises(RedisSetupError, match="maxmemory-policy is allkeys-lru.*noeviction"):
        preflight(lru_redis.url, env={})
    warnings = preflight(lru_redis.url, env={"SFN_ALLOW_EVICTION": "1"})
    assert any("allkeys-lru" in w for w in warnings)
    with pytest.raises(RedisSetupError):
        connect(Settings(redis_url=lru_redis.url))


def test_aof_off_is_a_warning_that_names_what_is_at_risk(tmp_path: Path) -> None:
    server = ConfiguredRedis(tmp_path / "noaof", [], appendonly=False).start()
    try:
        warnings = preflight(server.url, env={})
    finally:
        server.stop()
    assert len(warnings) == 1 and "appendonly is no" in warnings[0]
    assert "restart loses" in warnings[0]


def test_config_disabled_is_said_and_the_engine_carries_on(tmp_path: Path) -> None:
    server = ConfiguredRedis(tmp_path / "noconfig", ["--rename-command", "CONFIG", ""]).start()
    try:
        client = redis.Redis.from_url(server.url, decode_responses=True)
        warnings = check_config(client)
    finally:
        server.stop()
    assert len(warnings) == 1 and "cannot read the Redis configuration" in warnings[0]


def test_the_cli_refuses_an_evicting_policy_in_one_line(lru_redis: ConfiguredRedis) -> None:
    done = _sfn(["list"], lru_redis.url)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "allkeys-lru" in lines[0] and "SFN_ALLOW_EVICTION" in lines[0]
    assert _sfn(["list"], lru_redis.url, SFN_ALLOW_EVICTION="1").returncode == 0


def test_a_wrong_password_fails_in_one_line_without_the_password(
    password_redis: ConfiguredRedis,
) -> None:
    wrong = password_redis.url.replace("s3cret-pw", "wrong-pw")
    started = time.monotonic()
    done = _sfn(["list"], wrong)
    elapsed = time.monotonic() - started
    lines = done.stderr.strip().splitlines()
    assert done.returncode != 0 and len(lines) == 1, done.stderr
    assert "refused the password" in lines[0] and "wrong-pw" not in done.stderr
    print(f"wrong password: failed in {elapsed:.2f} s: {lines[0]}")
    missing = f"redis://127.0.0.1:{password_redis.port}/0"
    done = _sfn(["list"], missing)
    assert done.returncode != 0 and "needs a password" in done.stderr


def test_an_unreachable_redis_fails_in_one_line() -> None:
    started = time.monotonic()
    done = _sfn(["list"], "redis://127.0.0.1:1/0")
    elapsed = time.monotonic() - started
    lines = done.stderr.strip().splitlines()
    assert done.returncode != 0 and len(lines) == 1, done.stderr
    assert "cannot reach Redis at 127.0.0.1:1" in lines[0]
    print(f"unreachable host: failed in {elapsed:.2f} s: {lines[0]}")


def test_tls_against_a_plain_redis_fails_in_one_line(redis_url: str) -> None:
    done = _sfn(["list"], redis_url.replace("redis://", "rediss://"))
    lines = done.stderr.strip().splitlines()
    assert done.returncode != 0 and len(lines) == 1, done.stderr
    assert "TLS" in lines[0]


@pytest.mark.worker
def test_a_worker_refuses_an_evicting_policy_in_one_line(
    lru_redis: ConfiguredRedis, tmp_path: Path
) -> None:
    worker = Worker(lru_redis.url)
    done = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "worker", "worker", "-Q", "sfn",
         "--concurrency", "1", "-n", f"evict-{uuid.uuid4().hex[:6]}@%h"],
        cwd=ROOT, env=worker.env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "error: Redis maxmemory-policy is allkeys-lru" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.worker
def test_a_worker_with_a_wrong_password_exits_in_one_line(
    password_redis: ConfiguredRedis,
) -> None:
    worker = Worker(password_redis.url.replace("s3cret-pw", "nope"))
    done = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "worker", "worker", "-Q", "sfn",
         "--concurrency", "1", "-n", f"pw-{uuid.uuid4().hex[:6]}@%h"],
        cwd=ROOT, env=worker.env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "refused the password" in done.stderr and "nope" not in done.stderr
    assert "Traceback" not in done.stderr


def _fill(client: redis.Redis) -> int:
    """Write until Redis answers OOM (smaller and smaller values, so it ends right at the
    limit); the number of keys written."""
    n = 0
    for size in (1_000_000, 10_000, 100):
        blob = b"x" * size
        try:
            while True:
                client.set(f"fill:{n}", blob)
                n += 1
        except redis.OutOfMemoryError:
            pass
    return n


@pytest.mark.worker
def test_a_full_redis_is_back_pressure_the_worker_carries_on(tmp_path: Path) -> None:
    server = ConfiguredRedis(
        tmp_path / "oom", ["--maxmemory", "30mb", "--maxmemory-policy", "noeviction"]
    ).start()
    log_path = tmp_path / "worker.log"
    worker = Worker(server.url, log_path=log_path, env={"SFN_REDELIVER_SECONDS": "2"}).start()
    stop = threading.Event()
    try:
        client = connect(Settings(redis_url=server.url, redeliver_seconds=2))
        definition = json.dumps({"StartAt": "P", "States": {
            "P": {"Type": "Pass", "Next": "T"},
            "T": {"Type": "Task", "End": True,
                  "Resource": "arn:aws:lambda:us-east-1:000000000000:function:EchoLambda"}}})
        client.create_state_machine("oom", definition)
        refused = 0

        def load() -> None:  # executions keep coming while Redis fills up
            nonlocal refused
            i = 0
            while not stop.is_set():
                try:
                    client.start_execution("oom", {"i": i, "pad": "y" * 2000})
                except Exception:  # noqa: BLE001 - OOM (and kombu's wrap of it) expected
                    refused += 1
                    time.sleep(0.01)
                i += 1

        thread = threading.Thread(target=load, daemon=True)
        thread.start()
        filler = redis.Redis.from_url(server.url)
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline and refused < 200:
            try:
                filler.set(f"fill:{uuid.uuid4().hex}", b"x" * 20000)
            except redis.OutOfMemoryError:
                pass
            time.sleep(0.002)
        time.sleep(5)  # Redis full: the worker meets OOM on its writes and acks
        stop.set()
        thread.join(timeout=10)
        assert refused > 0, "Redis never filled up: the test proves nothing"
        assert worker.process is not None and worker.process.poll() is None, (
            log_path.read_text()[-3000:]
        )
        filler.flushdb()  # memory comes back: the same worker carries on
        client.create_state_machine("after", definition)
        after = client.start_execution("after", {"ok": True})
        assert client.wait(after.arn, timeout=60).status == "SUCCEEDED"
        assert "Unrecoverable error" not in log_path.read_text()
    finally:
        stop.set()
        worker.stop()
        server.stop()
