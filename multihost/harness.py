"""Several hosts on one machine: Redis, the API and two worker hosts in network namespaces
joined by a bridge (multihost/netns.py), the chaos workload started through the API, and
one worker host cut off the network mid-run, then brought back.

    python -m multihost            # make multihost
    python -m multihost --quick    # the short run (tests/test_multihost_quick.py)
    python -m multihost --clean    # remove namespaces and bridge left by a killed run

1. Compute every execution's fault-free outcome in-process (`chaos.checks`).
2. Build the hosts; start Redis (AOF) and the ledger on `redis`, `sfn serve` on `api`, one
   `celery -A tasks.worker worker` on each of `w1` and `w2`.
3. Create the state machines and start the executions with boto3 through the API; the
   harness talks to the hosts through the bridge's own address, and to nothing else.
4. Once a share of the plan has finished and handlers are running on w1, set w1's link
   down. Keep it down until every handler it held has started again on w2 (its lease
   lapsed and the sweep handed the work on), or a bound; then bring the link back.
5. Check every execution (`chaos.checks`, `chaos.report`): lost 0, wrong 0, duplicate
   transitions 0, and every handler held by the cut host resumed on the other one.

Namespaces, bridge and processes are removed at the end, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import redis

from chaos import checks, workload
from chaos.callbacks import Answerer
from chaos.faults import ROOT
from chaos.ledger import ENV as LEDGER_ENV
from chaos.ledger import Ledger
from chaos.report import FaultLog, Report, summarize, write_report
from engine.connect import connect
from engine.settings import Settings
from engine.store.redis_store import RedisStore
from multihost import hosts, netns, partition
from multihost.api import Starter, sfn_client

log = logging.getLogger(__name__)

RESULTS = ROOT / "multihost" / "results"


@dataclass(frozen=True)
class Config:
    mode: str
    executions: int
    seed: int = 7
    concurrency: int = 2
    #: Executions running at once: few enough that a Task handed on after the cut does not
    #: wait long behind a backlog for one of the four worker slots.
    in_flight: int = 8
    starts_per_second: float = 4.0
    #: The cut comes once this share of the plan has finished (and w1 runs a handler).
    cut_after: float = 0.25
    #: The link stays down until the held work resumed elsewhere, at most this long.
    max_cut_seconds: float = 60.0
    lease_seconds: float = 5.0
    redeliver_seconds: float = 5.0
    max_seconds: float = 600.0
    grace_seconds: float = 90.0
    results_dir: Path = RESULTS
    keep: bool = False


PRESETS: dict[str, Config] = {
    "full": Config("full", 80),
    "quick": Config("quick", 16, in_flight=6, max_seconds=150.0, grace_seconds=60.0),
}


@dataclass
class Outcome:
    report: Report
    cut: dict[str, Any]

    @property
    def passed(self) -> bool:
        return (self.report.passed and self.cut["held_at_cut"] > 0
                and self.cut["resumed_elsewhere"] + self.cut.get("finished_at_cut", 0)
                == self.cut["held_at_cut"])


def _env(config: Config, redis_url: str, ledger_url: str, data_dir: Path) -> dict[str, str]:
    # Our environment without what could send a process elsewhere than our hosts: another
    # broker, a proxy.
    inherited = {k: v for k, v in os.environ.items()
                 if k != "BROKER_URL" and not k.lower().endswith("_proxy")}
    return {
        **inherited,
        "REDIS_URL": redis_url,
        "SFN_HANDLER_MODULES": "chaos.workload",
        LEDGER_ENV: ledger_url,
        "SFN_LEASE_SECONDS": str(config.lease_seconds),
        "SFN_REDELIVER_SECONDS": str(config.redeliver_seconds),
        "SFN_DATA_DIR": str(data_dir / "sfn"),
        "PYTHONPATH": str(ROOT),
    }


def run(config: Config, out: Callable[[str], None] = print) -> Outcome:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = Path(tempfile.mkdtemp(prefix=f"multihost-{stamp}-"))
    # Activities need pollers beside the API (chaos/activity_poller.py); this harness does
    # not run them in the namespaces, so its plan leaves that machine out.
    plan = workload.plan(config.executions, config.seed, without=frozenset({"ChaosActivity"}))
    out(f"multihost ({config.mode}): {len(plan)} executions on hosts "
        f"{', '.join(f'{h.netns}={h.address}' for h in netns.HOSTS)}; 2 workers x "
        f"{config.concurrency}, SFN_LEASE_SECONDS={config.lease_seconds:g}; run folder {run_dir}")
    expected = checks.expected_outcomes(plan)
    out("fault-free results computed in-process")
    processes: list[hosts.Process] = []
    servers: list[hosts.NetnsRedis] = []
    stop = threading.Event()
    config_json = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()}
    netns.create()  # refuses (before touching anything) when our names or subnet are taken
    try:
        on = netns.host
        engine_redis = hosts.NetnsRedis(on("redis"), run_dir / "redis", hosts.REDIS_PORT)
        ledger_redis = hosts.NetnsRedis(on("redis"), run_dir / "ledger", hosts.LEDGER_PORT,
                                        appendonly=False)
        for server in (engine_redis, ledger_redis):
            servers.append(server)
            server.start()
        env = _env(config, engine_redis.url, ledger_redis.url, run_dir)
        api = hosts.api(on("api"), env, run_dir / "logs")
        workers = {name: hosts.worker(on(name), env, run_dir / "logs", config.concurrency)
                   for name in ("w1", "w2")}
        for process in (api, *workers.values()):
            processes.append(process.start())
        api.wait_for(b"sfn API on", 60)
        for w in workers.values():
            w.wait_for(b" ready.", 90)
        out("redis, ledger, API and both workers are up, each on its own host")

        sfn = sfn_client(f"http://{on('api').address}:{hosts.API_PORT}")
        role = f"arn:aws:iam::{workload.ACCOUNT}:role/StatesExecutionRole"
        arns = {name: sfn.create_state_machine(name=name, definition=json.dumps(definition),
                                               roleArn=role)["stateMachineArn"]
                for name, definition in workload.DEFINITIONS.items()}
        settings = Settings(redis_url=engine_redis.url, lease_seconds=config.lease_seconds,
                            redeliver_seconds=config.redeliver_seconds)
        client = connect(settings)  # for the callbacks' answers only
        answerer = Answerer(client, ledger_redis.url, stop)
        answerer.start()
        ledger = Ledger(ledger_redis.url)
        status = redis.Redis.from_url(engine_redis.url, decode_responses=True, socket_timeout=5)
        starter = Starter(sfn, arns, status, plan)
        cut = _drive(config, starter, ledger, workers["w1"], out)
        elapsed = time.monotonic() - starter.began_monotonic
        stop.set()
        answerer.join(timeout=30)
        out(f"{len(starter.finished)}/{len(plan)} finished after {elapsed:.0f}s")
        starts = ledger.starts()
        cut_summary = partition.summary(cut, starts, config.lease_seconds) if cut else {
            "held_at_cut": 0, "resumed_elsewhere": 0, "note": "the cut never happened"}
        fault_log = FaultLog(
            t0=starter.began, elapsed=elapsed, kills=[],
            # The cut counts as a pause of the whole worker: a re-run of a Task it held is
            # explained by it (chaos.checks.rerun_causes).
            pauses=[checks.Kill(cut.t, "pause", 1, cut.pgid)] if cut else [],
            restarts=[], duplicated=Counter(), unexpected_exits=0,
            start_retries=starter.start_errors, durations=list(starter.finished.values()),
            callbacks=dict(answerer.counts),
        )
        report = summarize(config_json, plan, expected, RedisStore.from_url(engine_redis.url),
                           ledger, fault_log)
        report.details["partition"] = cut_summary
        report.details["workers_alive_at_end"] = {n: w.alive() for n, w in workers.items()}
    finally:
        stop.set()
        for process in reversed(processes):
            process.stop()
        for server in servers:
            server.stop()
        left = netns.destroy()
        if left:
            out(f"could not remove: {left}")
    write_report(report, config.results_dir, f"{stamp}-multihost-{config.mode}", run_dir, out)
    outcome = Outcome(report, cut_summary)
    if cut is not None:
        out(partition.line(cut_summary))
    out(f"multihost: {'PASSED' if outcome.passed else 'FAILED'}")
    if outcome.passed and not config.keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    return outcome


def _drive(config: Config, starter: Starter, ledger: Ledger, w1: hosts.Process,
           out: Callable[[str], None]) -> partition.Cut | None:
    """Start executions at a bounded pace; cut w1 off once a share of the plan has finished
    and it runs a handler; bring it back once its work resumed on w2. Returns when all
    executions have finished (or the time is up, then the grace period)."""
    total = len(starter.plan)
    cut: partition.Cut | None = None
    tick, last_print = 0.25, 0.0
    began = starter.began_monotonic
    while time.monotonic() - began < config.max_seconds + config.grace_seconds:
        if starter.all_done and (cut is None or cut.restored is not None):
            break
        quota = max(1, int(config.starts_per_second * tick))
        while (quota and starter.started < total and len(starter.running) < config.in_flight
               and starter.start_next()):
            quota -= 1
        starter.poll()
        if cut is None and len(starter.finished) >= config.cut_after * total:
            held = partition.running_on(ledger.starts(), ledger.ends(), w1.pid)
            if held:
                cut = partition.Cut("w1", w1.pid, time.time(), held)
                netns.cut(w1.on)
                # Read after the cut: no renewal from w1 can arrive any more.
                cut.lease_ends = partition.leases_of(
                    starter.status, partition.group_pids(w1.pid), cut.t)
                ended = ledger.ends()
                cut.ended_at_cut = {s.key for s in held if s.inv in ended}
                out(f"[{time.monotonic() - began:5.0f}s] w1 cut off the network, "
                    f"{len(held)} handler(s) running there")
        elif cut is not None and cut.restored is None:
            down_for = time.time() - cut.t
            if (partition.all_resumed(cut, ledger.starts())
                    or down_for > config.max_cut_seconds):
                netns.restore(w1.on)
                cut.restored = time.time()
                out(f"[{time.monotonic() - began:5.0f}s] w1 back on the network after "
                    f"{down_for:.1f}s")
        now = time.monotonic()
        if now - last_print >= 10:
            last_print = now
            out(f"[{now - began:5.0f}s] started {starter.started}/{total}, running "
                f"{len(starter.running)}, finished {len(starter.finished)}")
        time.sleep(tick)
    if cut is not None and cut.restored is None:
        netns.restore(w1.on)
        cut.restored = time.time()
    return cut


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m multihost", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the short run")
    parser.add_argument("--executions", type=int, help="override the number of executions")
    parser.add_argument("--seed", type=int, help="workload seed")
    parser.add_argument("--keep", action="store_true", help="keep logs and Redis data")
    parser.add_argument("--clean", action="store_true",
                        help="remove this harness's namespaces and bridge, then exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    if args.clean:
        left = netns.destroy()
        print(f"could not remove: {left}" if left else "nothing of ours is left")
        return 1 if left else 0
    why = netns.check_capability()
    if why:
        print(f"multihost: {why}", file=sys.stderr)
        return 2
    config = PRESETS["quick" if args.quick else "full"]
    if args.executions:
        config = replace(config, executions=args.executions)
    if args.seed is not None:
        config = replace(config, seed=args.seed)
    if args.keep:
        config = replace(config, keep=True)
    # SIGTERM/SIGHUP (a CI timeout, a closed terminal) unwind like Ctrl-C: the finally
    # blocks stop the processes and remove the namespaces.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    try:
        outcome = run(config, out=lambda text: print(text, flush=True))
    except netns.NetnsError as exc:
        print(f"multihost: {exc}", file=sys.stderr)
        return 2
    return 0 if outcome.passed else 1


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
