"""Celery mode: the corpus on a real redis-server and real `celery -A worker worker`
processes, through the same client, driver and store as production.

    with CeleryHarness(cases_file, workers=2, concurrency=4) as harness:
        for result in harness.run_all(cases, parallel=8):
            ...

The harness starts a private redis-server on a free port and the worker processes with
REDIS_URL, SFN_ACCOUNT (the corpus's account) and the stand-ins module, which serves every
function name of the cases file; each execution's name -> behaviour map is written to Redis
before it starts (see `celery_standins`). Cases run side by side.

Two things do not run on the workers: TestState and validation cases (they are evaluated
in-process in both modes), and clock-dependent executions, which need the clock frozen at
2025-01-01T12:00:00Z and so run on the inline runner (their result says so in `mode`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import redis

from engine.conformance import standins as si
from engine.conformance.cases import Case, iter_cases
from engine.conformance.celery_standins import FUNCTIONS_ENV, behaviour_key
from engine.conformance.runner import (
    ACCOUNT,
    REGION,
    InlineBackend,
    execution_input,
    execution_result,
    machine_type,
    run_case,
)
from engine.store.base import TERMINAL

ROOT: Final = Path(__file__).resolve().parents[2]
STANDINS_MODULE: Final = "engine.conformance.celery_standins"
#: How long one execution may take on the workers before it counts as stuck.
EXECUTION_TIMEOUT: Final = 120.0


def corpus_functions(cases: Iterable[Case]) -> list[str]:
    names = {
        str(f["name"])
        for case in cases
        for f in case.raw.get("lambda_functions") or ()
        if f.get("name")
    }
    return sorted(names)


class _NoResourceCheck:
    """The store as the harness's client sees it: without the workers' announced handlers,
    so a definition naming a missing function is accepted at creation, as on AWS (the
    case then fails when the Task runs, as recorded)."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        if name == "announced_handlers":
            raise AttributeError(name)
        return getattr(self._store, name)


class CeleryHarness:
    def __init__(
        self,
        cases_file: Path | None = None,
        *,
        functions: Iterable[str] | None = None,
        workers: int = 2,
        concurrency: int = 4,
        full_history: bool = False,
        log_dir: Path | None = None,
    ) -> None:
        found = set(functions or ())
        if cases_file is not None:
            found |= set(corpus_functions(iter_cases(cases_file)))
        self.functions = sorted(found)
        self.workers = workers
        self.concurrency = concurrency
        self.full_history = full_history
        self.log_dir = log_dir
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._server: Any = None
        self._processes: list[subprocess.Popen[bytes]] = []
        self._redis: redis.Redis | None = None
        self.client: Any = None

    # --- lifecycle ------------------------------------------------------------------

    def __enter__(self) -> CeleryHarness:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        from engine.celery_app import CeleryDispatcher, HandlerQueues, build_app
        from engine.client import Client
        from engine.embedded import RedisServer
        from engine.store.redis_store import RedisStore

        self._tmp = tempfile.TemporaryDirectory(prefix="sfn-conformance-")
        base = Path(self._tmp.name)
        self._server = RedisServer(base / "redis", appendfsync="no").start()
        url = self._server.url
        self._redis = redis.Redis.from_url(url, decode_responses=True)
        logs = self.log_dir or base
        for index in range(self.workers):
            self._processes.append(self._start_worker(url, index, logs))
        self._wait_for_workers()
        store = RedisStore.from_url(url)
        app = build_app(url)
        self.client = Client(
            _NoResourceCheck(store),
            CeleryDispatcher(app, HandlerQueues({})),
            region=REGION,
            account=ACCOUNT,
        )

    def _start_worker(self, url: str, index: int, logs: Path) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "REDIS_URL": url,
            "SFN_ACCOUNT": ACCOUNT,
            "SFN_REGION": REGION,
            "SFN_HANDLER_MODULES": STANDINS_MODULE,
            FUNCTIONS_ENV: ",".join(self.functions),
            "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        }
        log = open(logs / f"worker-{index}.log", "ab")  # noqa: SIM115 - lives with the process
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tasks.worker",
                "worker",
                "-Q",
                "sfn",
                "--concurrency",
                str(self.concurrency),
                "--loglevel",
                "WARNING",
                "-n",
                f"conformance-{index}-{uuid.uuid4().hex[:6]}@%h",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def _wait_for_workers(self, timeout: float = 60.0) -> None:
        assert self._redis is not None
        deadline = time.monotonic() + timeout
        probe = self.functions[0] if self.functions else None
        while time.monotonic() < deadline:
            for process in self._processes:
                if process.poll() is not None:
                    raise RuntimeError(f"a conformance worker exited with {process.returncode}")
            announced = self._redis.hgetall("sfn:handlers")
            if probe is None or probe in announced:
                time.sleep(1.0)  # the consumers connect just after the app is imported
                return
            time.sleep(0.1)
        raise RuntimeError("the conformance workers did not come up")

    def stop(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                process.terminate()
        for process in self._processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._processes = []
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # --- running cases --------------------------------------------------------------

    def run_execution(self, case: Case) -> dict[str, Any]:
        if case.clock_dependent:
            # Workers read the real clock; these cases need it frozen.
            result = InlineBackend(full_history=self.full_history).run_execution(case)
            result["mode"] = "inline (frozen clock)"
            return result
        assert self.client is not None and self._redis is not None
        name = "conformance-" + uuid.uuid4().hex[:12]
        execution = uuid.uuid4().hex
        standins = si.standins_for(case, real_sleep=True)
        if standins:
            self._redis.hset(
                behaviour_key(execution),
                mapping={s.name: json.dumps(s.to_json()) for s in standins},
            )
        try:
            self.client.create_state_machine(
                name, json.dumps(case.raw["definition"]), type=machine_type(case)
            )
            record = self.client.start_execution(
                name, input_text=execution_input(case), name=execution
            )
            record = self._wait(record.eid)
            history = self.client.get_history(record.eid)
            result = execution_result(case, record, history, full_history=self.full_history)
            result["mode"] = "celery"
            return result
        finally:
            self._redis.delete(behaviour_key(execution))

    def _wait(self, eid: str) -> Any:
        deadline = time.monotonic() + EXECUTION_TIMEOUT
        while True:
            record = self.client.describe_execution(eid)
            if record.status in TERMINAL:
                return record
            if time.monotonic() > deadline:
                try:
                    self.client.stop_execution(eid, error="Conformance.Timeout")
                except Exception:  # noqa: BLE001 - it may have ended meanwhile
                    pass
                return record
            time.sleep(0.02)

    def run_all(
        self,
        cases: Iterable[Case],
        *,
        parallel: int = 8,
        on_result: Callable[[Case, dict[str, Any]], None] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every case's result, in the order of `cases`, `parallel` executions at a time."""
        cases = list(cases)
        with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
            futures = [pool.submit(run_case, case, self) for case in cases]
            for case, future in zip(cases, futures, strict=True):
                result = future.result()
                if on_result is not None:
                    on_result(case, result)
                yield result
