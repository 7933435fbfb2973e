"""The chaos run: real Redis, real workers, a few hundred executions, faults all along.

    python -m chaos            # full (make chaos)
    python -m chaos --quick    # a minute or two (make chaos QUICK=1)

1. Compute every execution's fault-free outcome in-process (`chaos.checks`).
2. Start the engine's redis-server (AOF on, `appendfsync everysec`, as the embedded default),
   a private ledger redis-server for the handlers' counters (never faulted), and N workers
   (`celery -A worker worker`, SFN_HANDLER_MODULES=chaos.workload, a short lease).
3. Start the executions, keeping a bounded number running, while the faults go on: a worker
   SIGKILLed every few seconds and restarted (or, now and then, paused past its lease),
   Redis SIGKILLed and restarted at evenly spaced points of the run, copies of queued and
   in-flight messages sent again, now and late.
4. Once everything has finished (or the time is up), stop the faults, give stragglers a grace
   period, and check every execution (`chaos.checks`, `chaos.report`). The last line of
   the report is

   executions N, succeeded as expected N, lost 0, wrong 0, duplicate transitions 0,
   handler re-runs K, worker kills W, redis restarts R

   and the exit status is 1 unless lost, wrong and duplicate transitions are all 0.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import redis

from chaos import activities, checks, integrations, workload
from chaos.callbacks import Answerer
from chaos.faults import QUEUE_KEY, ROOT, Duplicator, RedisRestarter, WorkerKiller, WorkerPool
from chaos.ledger import ENV as LEDGER_ENV
from chaos.ledger import Ledger
from chaos.report import FaultLog, Report, summarize, write_report
from chaos.topology import RESTART_LABEL, TOPOLOGIES, NoDuplicates, Topology
from engine.api import server
from engine.client import Client
from engine.connect import connect
from engine.embedded import RedisServer
from engine.errors import ExecutionAlreadyExists
from engine.settings import Settings
from engine.store import keys
from engine.store.base import TERMINAL
from engine.store.redis_client import client_from_url
from engine.store.redis_store import RedisStore

log = logging.getLogger(__name__)

RESULTS = ROOT / "chaos" / "results"


@dataclass(frozen=True)
class Config:
    mode: str
    executions: int
    seed: int = 1
    workers: int = 3
    concurrency: int = 2
    #: At most this many executions running at once (the rest wait to be started).
    in_flight: int = 40
    starts_per_second: float = 6.0
    #: A worker is SIGKILLed every uniform(a, b) seconds.
    kill_every: tuple[float, float] = (4.0, 8.0)
    #: The share of kills that take one pool process instead of the whole worker.
    child_kill_share: float = 0.3
    #: The share of those faults that pause a worker (SIGSTOP, then SIGCONT) instead, and
    #: for how much longer than the lease: its Task runs elsewhere before it wakes up.
    pause_share: float = 0.15
    pause_past_lease: tuple[float, float] = (1.0, 4.0)
    redis_restarts: int = 3
    redis_downtime: tuple[float, float] = (1.0, 3.0)
    duplicate_every: float = 1.0
    duplicates_per_round: int = 3
    #: SFN_LEASE_SECONDS / SFN_REDELIVER_SECONDS of the workers: recovery after a kill is
    #: bounded by the lease, a lost countdown message by the re-delivery interval.
    lease_seconds: float = 5.0
    redeliver_seconds: float = 5.0
    #: Faults stop after this long even if executions are still running.
    max_seconds: float = 1500.0
    #: Then stragglers have this long to finish before they count as lost.
    grace_seconds: float = 90.0
    results_dir: Path = RESULTS
    keep: bool = False
    #: redis, rabbitmq or cluster (chaos/topology.py): where the store and the broker run,
    #: and what the restart points restart.
    topology: str = "redis"


PRESETS: dict[str, Config] = {
    # Six slots on two cores: more executions in flight only lengthen the queue, and with it
    # the time a recovered Task waits behind it.
    "full": Config("full", 300, in_flight=24),
    "quick": Config("quick", 60, in_flight=20, kill_every=(3.0, 6.0), redis_restarts=2,
                    max_seconds=240.0, grace_seconds=60.0),
    # tests/test_chaos_quick.py: well under a minute and a half on two cores.
    "tiny": Config("tiny", 24, in_flight=24, kill_every=(4.0, 6.0), redis_restarts=1,
                   redis_downtime=(1.0, 1.5), max_seconds=75.0, grace_seconds=45.0),
}


def worker_env(config: Config, redis_url: str, ledger_url: str,
               extra: dict[str, str] | None = None) -> dict[str, str]:
    return {
        **os.environ,
        # The topology's settings (chaos/topology.py) and the integration workload's AWS
        # (chaos/integrations.py: the emulator's proxy).
        **(extra or {}),
        "REDIS_URL": redis_url,
        "SFN_HANDLER_MODULES": "chaos.workload",
        LEDGER_ENV: ledger_url,
        "SFN_LEASE_SECONDS": str(config.lease_seconds),
        "SFN_REDELIVER_SECONDS": str(config.redeliver_seconds),
        "PYTHONPATH": str(ROOT),
    }


class _Executions:
    """Starts the plan's executions (retrying through Redis outages) and tracks them."""

    def __init__(self, client: Client, status: redis.Redis, plan: list[workload.Planned]) -> None:
        self.client, self.status, self.plan = client, status, plan
        self.started = 0
        self.running: dict[str, float] = {}
        self.finished: dict[str, float] = {}
        self.start_errors = 0
        self.began = time.time()

    def start_next(self) -> bool:
        planned = self.plan[self.started]
        try:
            self.client.start_execution(planned.machine, planned.input, name=planned.name)
        except ExecutionAlreadyExists:
            pass  # our earlier try created it and it has finished already
        except Exception as exc:  # noqa: BLE001 - Redis is down: try the same one again later
            self.start_errors += 1
            log.debug("start %s: %r", planned.eid, exc)
            return False
        self.running[planned.eid] = time.time()
        self.started += 1
        return True

    def poll(self) -> None:
        eids = list(self.running)
        if not eids:
            return
        try:
            pipe = self.status.pipeline(transaction=False)
            for eid in eids:
                pipe.hget(keys.meta(eid), "status")
            statuses = pipe.execute()
        except (redis.RedisError, OSError):
            return  # Redis is restarting
        now = time.time()
        for eid, status in zip(eids, statuses, strict=True):
            if status in TERMINAL:
                self.finished[eid] = now - self.running.pop(eid)

    def queued(self) -> int | str:
        """Messages waiting in the Celery queue (the backlog a re-sent Task waits behind)."""
        try:
            return int(self.status.llen(QUEUE_KEY))
        except (redis.RedisError, OSError):
            return "?"

    @property
    def all_done(self) -> bool:
        return self.started == len(self.plan) and not self.running


def run(config: Config, out: Callable[[str], None] = print) -> Report:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = config.results_dir / f"run-{stamp}-{config.mode}"
    # The integration workload needs its AWS emulator (moto, a dev dependency): started
    # first, as the fault-free run calls it too.
    aws: integrations.Emulator | None = None
    if integrations.available():
        aws = integrations.Emulator(run_dir / "aws", config.seed)
        aws.start()
        aws.export()
    plan = workload.plan(config.executions, config.seed, with_integrations=aws is not None)
    out(f"chaos ({config.mode}, {config.topology}): {len(plan)} executions, "
        f"{config.workers} workers x "
        f"{config.concurrency}, SFN_LEASE_SECONDS={config.lease_seconds:g}, "
        f"SFN_REDELIVER_SECONDS={config.redeliver_seconds:g}; run folder {run_dir}")
    if aws is None:
        out("moto_server is not installed: no integration workload (ChaosJobs)")
    try:
        expected = checks.expected_outcomes(plan)
    except BaseException:
        if aws is not None:
            aws.stop()
        raise
    out("fault-free results computed in-process")

    topology = Topology(config.topology, run_dir)
    ledger_redis = RedisServer(run_dir / "ledger", appendonly=False)
    pool: WorkerPool | None = None
    api: server.Running | None = None
    pollers: activities.Pollers | None = None
    stop = threading.Event()
    rng = random.Random(config.seed)
    config_json = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()}
    try:
        topology.start()
        store_url, broker_url = topology.store_url, topology.broker_url
        ledger_redis.start()
        pool = WorkerPool(config.workers, config.concurrency,
                          worker_env(config, store_url, ledger_redis.url,
                                     {**topology.worker_env(),
                                      **(aws.env if aws is not None else {})}),
                          run_dir / "logs")
        pool.start()
        out("redis and workers are up")
        client = connect(Settings(redis_url=store_url, broker_url=broker_url,
                                  redeliver_seconds=config.redeliver_seconds,
                                  lease_seconds=config.lease_seconds))
        for name, definition in workload.DEFINITIONS.items():
            client.create_state_machine(name, definition)
        # ChaosActivity's workers: boto3-only processes, through the HTTP API.
        activity = client.activities.create(activities.ACTIVITY).arn
        api = server.start_background(server.build_app(connect(Settings(
            redis_url=store_url, broker_url=broker_url,
            redeliver_seconds=config.redeliver_seconds,
            lease_seconds=config.lease_seconds))))
        pollers = activities.Pollers(api.url, activity, run_dir / "pollers")

        killer = WorkerKiller(pool, config.kill_every, config.child_kill_share,
                              config.pause_share,
                              (config.lease_seconds + config.pause_past_lease[0],
                               config.lease_seconds + config.pause_past_lease[1]),
                              random.Random(rng.random()), stop)
        restarter = RedisRestarter(topology.restartable(random.Random(rng.random())),
                                   config.redis_downtime, random.Random(rng.random()), stop)
        queue_url = topology.queue_redis_url
        duplicator: Duplicator | NoDuplicates = (
            Duplicator(queue_url, client.dispatcher, config.duplicate_every,
                       config.duplicates_per_round, random.Random(rng.random()), stop)
            if queue_url is not None else NoDuplicates()
        )
        for thread in (killer, restarter, duplicator):
            thread.start()
        # The outside world of the callbacks: runs until the very end (the grace period).
        answers_stop = threading.Event()
        answerer = Answerer(client, ledger_redis.url, answers_stop)
        answerer.start()

        status = client_from_url(store_url, decode_responses=True, socket_timeout=5)
        executions = _Executions(client, status, plan)
        began = time.monotonic()
        _drive(config, executions, restarter, killer, duplicator, out, began)
        restarter.idle.wait(timeout=180)  # a restart in progress finishes first
        stop.set()
        for thread in (killer, duplicator, restarter):
            thread.join(timeout=30)
        pool.revive()
        fault_end = time.monotonic()
        while not executions.all_done and time.monotonic() - fault_end < config.grace_seconds:
            if executions.started < len(plan):
                executions.start_next()
            executions.poll()
            time.sleep(0.5)
        elapsed = time.monotonic() - began
        answers_stop.set()
        answerer.join(timeout=30)
        pollers.stop()
        out(f"faults stopped; {len(executions.finished)}/{len(plan)} finished after "
            f"{elapsed:.0f}s")

        fault_log = FaultLog(
            t0=executions.began, elapsed=elapsed, kills=killer.kills, pauses=killer.pauses,
            restarts=restarter.restarts, duplicated=duplicator.sent,
            unexpected_exits=pool.unexpected_exits, start_retries=executions.start_errors,
            durations=list(executions.finished.values()),
            callbacks={**dict(answerer.counts),
                       **{f"activity_{k}": v for k, v in pollers.counts().items()}},
        )
        report = summarize(config_json, plan, expected, RedisStore.from_url(store_url),
                           Ledger(ledger_redis.url), fault_log)
        report.details.update(topology.details())
        if aws is not None:
            report.details["integrations"] = {**aws.counts(), "items_saved": aws.saved_items()}
    finally:
        stop.set()
        if pollers is not None:
            pollers.stop()
        if api is not None:
            api.stop()
        if pool is not None:
            pool.stop()
        topology.stop()
        ledger_redis.stop()
        if aws is not None:
            aws.stop()
    write_report(report, config.results_dir, f"{stamp}-{config.mode}", run_dir, out)
    if report.passed and not config.keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    return report


def _drive(
    config: Config, executions: _Executions, restarter: RedisRestarter, killer: WorkerKiller,
    duplicator: Duplicator | NoDuplicates, out: Callable[[str], None], began: float,
) -> None:
    """Start executions at a bounded pace and rate, ask for the Redis restarts when evenly
    spaced shares of the plan have finished (so they fall in the busy middle of the run as
    well as in its tail), and return once all have finished or the time is up."""
    total = len(executions.plan)
    restart_at = [total * (k + 1) // (config.redis_restarts + 1)
                  for k in range(config.redis_restarts)]
    tick = 0.25
    last_print = 0.0
    while not executions.all_done and time.monotonic() - began < config.max_seconds:
        quota = max(1, int(config.starts_per_second * tick))
        while (quota and executions.started < total
               and len(executions.running) < config.in_flight and executions.start_next()):
            quota -= 1
        executions.poll()
        while restart_at and len(executions.finished) >= restart_at[0]:
            restart_at.pop(0)
            restarter.request()
        now = time.monotonic()
        if now - last_print >= 10:
            last_print = now
            out(f"[{now - began:5.0f}s] started {executions.started}/{total}, "
                f"running {len(executions.running)}, finished {len(executions.finished)}, "
                f"queued messages {executions.queued()} | "
                f"worker kills {len(killer.kills)}, {RESTART_LABEL[config.topology]} "
                f"{len(restarter.restarts)}, "
                f"duplicated messages {sum(duplicator.sent.values())}")
        time.sleep(tick)
    for _ in restart_at:  # the plan ended early (the time limit): still restart as many times
        restarter.request()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the short run (a minute or two)")
    parser.add_argument("--preset", choices=sorted(PRESETS), help="full, quick or tiny")
    parser.add_argument("--executions", type=int, help="override the number of executions")
    parser.add_argument("--seed", type=int, help="workload and fault schedule seed")
    parser.add_argument("--keep", action="store_true", help="keep logs and Redis data")
    parser.add_argument("--topology", choices=TOPOLOGIES, default="redis",
                        help="redis (one Redis), rabbitmq (RabbitMQ broker, restarted) or "
                             "cluster (a Redis Cluster store, a primary failed over)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    config = PRESETS[args.preset or ("quick" if args.quick else "full")]
    if args.executions:
        config = replace(config, executions=args.executions)
    if args.seed is not None:
        config = replace(config, seed=args.seed)
    if args.keep:
        config = replace(config, keep=True)
    config = replace(config, topology=args.topology)
    # SIGTERM (e.g. CI's timeout) unwinds like Ctrl-C, so workers and Redis are stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    report = run(config, out=lambda text: print(text, flush=True))
    return 0 if report.passed else 1


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":
    sys.exit(main())
