"""A worker killed in the middle of a chain (several Tasks run one after another in one
Celery task, engine/runtime/chaining.py) loses nothing and repeats no transition: the Task
it was running had been claimed by the commit before it, its message is in the outbox, and
the sweep sends it again once the lease has run out."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
import redis

from engine.connect import connect
from engine.embedded import RedisServer
from engine.settings import Settings
from engine.store.redis_store import RedisStore
from tests.conftest import Worker

pytestmark = [pytest.mark.redis, pytest.mark.worker]

LINKS = 6
ARN = "arn:aws:lambda:us-east-1:000000000000:function:ChainLinkLambda"


def _definition() -> dict[str, object]:
    states = {
        f"L{i}": {"Type": "Task", "Resource": ARN,
                  **({"Next": f"L{i + 1}"} if i < LINKS else {"End": True})}
        for i in range(1, LINKS + 1)
    }
    return {"StartAt": "L1", "States": states}


def test_a_worker_killed_mid_chain_loses_nothing_and_repeats_no_transition(
    tmp_path: Path,
) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()
    worker = Worker(
        server.url, concurrency=1, log_path=tmp_path / "worker.log",
        env={"SFN_LEASE_SECONDS": "2", "SFN_REDELIVER_SECONDS": "2",
             # The whole chain fits one delivery's budget: the kill lands inside it.
             "SFN_CHAIN_MAX_TASKS": "50", "SFN_CHAIN_MAX_SECONDS": "60"},
    )
    try:
        worker.start()
        client = connect(Settings(redis_url=server.url))
        r = redis.Redis.from_url(server.url, decode_responses=True)
        client.create_state_machine("Chain", _definition())
        record = client.start_execution("Chain", {"n": 0, "ms": 300})
        ledger = f"test:chain:{record.arn}"
        deadline = time.monotonic() + 30
        while r.llen(ledger) < 3:
            assert time.monotonic() < deadline, "the chain never reached its third Task"
            time.sleep(0.02)
        state, pid = str(r.lindex(ledger, 2)).split("|")
        assert state == "L3"
        os.kill(int(pid), signal.SIGKILL)  # the pool process, inside L3's handler

        done = client.wait(record.eid, timeout=60)
        assert done.status == "SUCCEEDED", worker.log_path.read_text()[-3000:]  # type: ignore[union-attr]
        assert done.output is not None and '"n":6' in done.output.replace(" ", "")
        runs = [entry.split("|")[0] for entry in r.lrange(ledger, 0, -1)]
        assert runs.count("L3") == 2  # the killed handler ran again, once ...
        assert Counter(runs) == Counter([f"L{i}" for i in range(1, LINKS + 1)] + ["L3"])
        history = client.get_history(record.eid)
        counts = Counter(e["type"] for e in history)
        # ... and no transition was repeated: each state entered, started and ended once.
        assert counts["TaskStateEntered"] == LINKS
        assert counts["LambdaFunctionStarted"] == LINKS
        assert counts["LambdaFunctionSucceeded"] == LINKS
        assert counts["TaskStateExited"] == LINKS
        # L1..L3 ran in one Celery task (the start's): the kill did land mid-chain.
        store = RedisStore.from_url(server.url)
        ids = store.task_ids(record.eid)
        started = [e["id"] for e in history if e["type"] == "LambdaFunctionStarted"]
        assert ids[started[0]] == ids[started[1]] == ids[started[2]]
        assert ids[started[3]] != ids[started[2]]  # L4 ran after the recovery
    finally:
        worker.stop()
        server.stop()
