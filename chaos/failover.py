"""What a Redis Cluster failover can lose, and what WAIT costs (docs/fleets.md).

    python -m chaos.failover                 # both measurements, on a fresh local cluster
    python -m chaos.failover --commits 2000 --rounds 3

1. Cost: one client commits (a start, then a commit of one step, as a worker's step does)
   in a loop on the cluster store, without WAIT and with `SFN_REDIS_WAIT_REPLICAS=1`:
   commits per second and the latency percentiles.
2. Loss window: writer threads start executions as fast as they can; one primary is
   SIGKILLed mid-stream; once its replica serves the slots, every start the store had
   acknowledged is looked up. Asynchronous replication may lose those the replica had not
   received yet; with WAIT the acknowledgement comes only after the replica has the write.
   Each round runs on a fresh cluster, without and with WAIT, with a healthy replica and
   with one `--lag` seconds behind when the primary dies.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from engine.store import keys
from engine.store.base import Commit, DocWrite, ExecutionRecord
from engine.store.redis_store import RedisStore
from tests.redis_cluster import LocalCluster


def _record(eid: str) -> ExecutionRecord:
    return ExecutionRecord(
        eid=eid, arn=f"arn:aws:states:us-east-1:0:execution:{eid}", name=eid.split(":")[1],
        state_machine_arn="arn:aws:states:us-east-1:0:stateMachine:F",
        state_machine_name="F", definition_sha="abc", status="RUNNING", input="{}",
        start=time.time(),
    )


def _start(store: RedisStore, eid: str) -> None:
    created, _ = store.create_execution(
        _record(eid), DocWrite("run", "0", 0, {"p": 0}, "new", 0),
        [{"timestamp": "t", "type": "ExecutionStarted"}], [],
    )
    assert created


def measure_cost(cluster: LocalCluster, commits: int, wait: int) -> str:
    store = RedisStore.from_url(cluster.url, wait_replicas=wait, wait_ms=1000)
    latencies: list[float] = []
    tag = uuid.uuid4().hex[:6]
    began = time.perf_counter()
    for i in range(commits):
        eid = f"F:c{tag}{i}"
        _start(store, eid)
        t = time.perf_counter()
        result = store.commit(eid, Commit(
            writes=[DocWrite("run", "0", 1, {"p": 1}, "ready", 0)],
            events=[{"timestamp": "t", "type": "PassStateEntered"}],
        ))
        latencies.append(time.perf_counter() - t)
        assert result.ok
    elapsed = time.perf_counter() - began
    q = statistics.quantiles(latencies, n=100)
    return (f"WAIT {wait}: {commits} commits (each after its start) in {elapsed:.2f}s, "
            f"{2 * commits / elapsed:.0f} durable writes/s; commit latency p50 "
            f"{q[49] * 1000:.2f} ms, p99 {q[98] * 1000:.2f} ms, short WAITs "
            f"{store._runner.short_waits}")


def measure_loss(base: Path, wait: int, writers: int, seconds: float, lag: float) -> str:
    cluster = LocalCluster(base).start()
    try:
        store_of = [RedisStore.from_url(cluster.url, wait_replicas=wait, wait_ms=1000)
                    for _ in range(writers)]
        acknowledged: list[tuple[str, float]] = []
        lock = threading.Lock()
        stop = threading.Event()
        tag = uuid.uuid4().hex[:6]

        def write(n: int) -> None:
            store, i = store_of[n], 0
            while not stop.is_set():
                eid = f"F:l{tag}w{n}i{i}"
                i += 1
                try:
                    _start(store, eid)
                except Exception:  # noqa: BLE001 - the failover: not acknowledged
                    continue
                with lock:
                    acknowledged.append((eid, time.monotonic()))

        threads = [threading.Thread(target=write, args=(n,), daemon=True)
                   for n in range(writers)]
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        primary = cluster.primary_of(f"loss-{tag}")
        replica = cluster.replica_of(primary)
        assert replica.process is not None
        if lag:
            # A replica `lag` seconds behind when its primary dies (a slow or broken link,
            # a busy replica): stopped, its replication link cut (what the primary had
            # sent it is still read; nothing written later reaches it), then the primary
            # killed `lag` seconds later and the replica continued. (Stopping it alone
            # is no lag on one machine: the kernel keeps receiving for it.)
            os.kill(replica.process.pid, signal.SIGSTOP)
            primary.client().client_kill_filter(_type="replica")
            time.sleep(lag)
        killed_at = time.monotonic()
        cluster.kill(primary)
        if lag:
            os.kill(replica.process.pid, signal.SIGCONT)
        cluster.wait_promoted(replica)
        promoted = time.monotonic() - killed_at
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        check = RedisStore.from_url(cluster.url)
        before = [(e, t) for e, t in acknowledged if t <= killed_at]
        on_killed = [(e, t) for e, t in before
                     if cluster.primary_of(keys.meta(e)) is replica]
        lost = [(e, t) for e, t in on_killed if check.get_execution(e) is None]
        window = max((killed_at - t for _, t in lost), default=0.0)
        return (f"WAIT {wait}, replica {lag:g}s behind: {len(before)} starts acknowledged "
                f"before the kill "
                f"({len(on_killed)} on the killed primary), lost {len(lost)}"
                f"{f', acknowledged up to {window * 1000:.0f} ms before the kill' if lost else ''}"
                f"; replica promoted {promoted:.1f}s after the kill; short WAITs "
                f"{sum(store._runner.short_waits for store in store_of)}")
    finally:
        cluster.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos.failover", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=3.0, help="writing before the kill")
    parser.add_argument("--lag", type=float, default=0.5,
                        help="how far behind the replica is in the second scenario (s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # the short WAITs are counted, not printed
    with tempfile.TemporaryDirectory(prefix="sfn-failover-") as folder:
        base = Path(folder)
        cluster = LocalCluster(base / "cost").start()
        try:
            for wait in (0, 1):
                print(measure_cost(cluster, args.commits, wait), flush=True)
        finally:
            cluster.stop()
        for n in range(args.rounds):
            for lag in (0.0, args.lag):
                for wait in (0, 1):
                    print(f"round {n + 1}: " + measure_loss(
                        base / f"loss{n}-{lag}-{wait}", wait, args.writers, args.seconds, lag,
                    ), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
