"""The live fleet: which workers are up and which handlers they serve, from their
announcements in Redis, and what that means for an execution (a Task waiting for a worker
that serves its handler; nothing consuming the control queue).

Each worker writes `sfn:worker:<node>` (its handlers and queues) with an expiry and keeps
renewing it (tasks/worker.py, every ANNOUNCE_EVERY_SECONDS); a worker that stops cleanly
withdraws it, one that dies drops out when the expiry passes. Reading is a ZRANGEBYSCORE
and an MGET: cheap enough for every `start_execution`. The answers are advice (a worker may
start or die the next second); routing never depends on them (engine/routing.py).
"""

from __future__ import annotations

import json
import os
import socket
import time
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.exceptions import RedisError

from engine.routing import CONTROL_QUEUE
from engine.store import keys

#: An announcement lives this long unless renewed (workers renew it three times as often).
ANNOUNCEMENT_TTL_SECONDS = 30.0
#: At most this many executions with pending work are looked at for the waiting gauge.
WAITING_SCAN_LIMIT = 2000


class NoWorkerWarning(UserWarning):
    """No live worker would run (part of) an execution: it will wait until one starts."""


@dataclass(frozen=True)
class LiveWorker:
    node: str
    handlers: dict[str, str]
    queues: list[str]
    host: str
    pid: int


@dataclass(frozen=True)
class WaitingTask:
    """A Task scheduled for a handler no live worker serves."""

    state: str
    handler: str

    def describe(self) -> str:
        return (
            f"state {self.state!r} is waiting for a worker that serves handler "
            f"{self.handler!r} (none is running)"
        )


def default_node_name() -> str:
    """A node name unique per process: `sfn-<pid>@<host>` (Flower lists each worker)."""
    return f"sfn-{os.getpid()}@{socket.gethostname()}"


class Fleet:
    """Announcements of live workers in the store's Redis."""

    def __init__(self, client: Any, *, clock: Any = time.time) -> None:
        self.r = client
        self.clock = clock

    # --- the worker's side -------------------------------------------------------------

    def announce(
        self, node: str, handlers: Mapping[str, str], queues: Iterable[str],
        ttl: float = ANNOUNCEMENT_TTL_SECONDS,
    ) -> None:
        body = json.dumps({
            "handlers": dict(handlers), "queues": sorted(set(queues)),
            "host": socket.gethostname(), "pid": os.getpid(),
        })
        pipe = self.r.pipeline(transaction=False)
        pipe.set(keys.worker(node), body, px=int(ttl * 1000))
        pipe.zadd(keys.workers(), {node: self.clock() + ttl})
        pipe.execute()

    def withdraw(self, node: str) -> None:
        pipe = self.r.pipeline(transaction=False)
        pipe.delete(keys.worker(node))
        pipe.zrem(keys.workers(), node)
        pipe.execute()

    # --- everyone else's ---------------------------------------------------------------

    def live(self) -> list[LiveWorker]:
        now = self.clock()
        self.r.zremrangebyscore(keys.workers(), "-inf", now)
        nodes = [_text(n) for n in self.r.zrangebyscore(keys.workers(), now, "+inf")]
        if not nodes:
            return []
        found: list[LiveWorker] = []
        # GETs in a pipeline, not MGET: on a Redis Cluster the workers' keys lie in
        # different slots, which one MGET may not span.
        pipe = self.r.pipeline(transaction=False)
        for node in nodes:
            pipe.get(keys.worker(node))
        for node, raw in zip(nodes, pipe.execute(), strict=True):
            if raw is None:
                continue
            body = json.loads(_text(raw))
            found.append(LiveWorker(
                node, dict(body.get("handlers", {})), list(body.get("queues", [])),
                str(body.get("host", "")), int(body.get("pid", 0)),
            ))
        return found

    def served(self) -> Counter[str]:
        """Handler name -> how many live workers serve it."""
        counts: Counter[str] = Counter()
        for worker in self.live():
            counts.update(worker.handlers.keys())
        return counts

    def problems(self, handlers: Iterable[str | None]) -> list[str]:
        """What will not run for an execution needing `handlers`: no live worker at all
        (nothing consumes the control queue), or none serving one of the handlers."""
        workers = self.live()
        if not any(CONTROL_QUEUE in w.queues for w in workers):
            return [
                f"no live worker consumes the queue {CONTROL_QUEUE!r}: the execution will wait "
                "until one starts (`celery -A tasks.worker worker -Q sfn`, or the Procfile's "
                "worker)"
            ]
        served = {name for w in workers for name in w.handlers}
        return [
            f"no live worker serves handler {name!r}: its Task will wait until a worker "
            "with it starts (SFN_HANDLER_MODULES names the module that registers it)"
            for name in sorted({h for h in handlers if h is not None} - served)
        ]

    def warn(self, handlers: Iterable[str | None]) -> list[str]:
        """`problems`, each also issued as a NoWorkerWarning (advice: a Redis error here
        is swallowed, never failing the start that asked)."""
        try:
            found = self.problems(handlers)
        except RedisError:
            return []
        for problem in found:
            warnings.warn(problem, NoWorkerWarning, stacklevel=3)
        return found

    def warn_stalled(self, eid: str, arn: str) -> list[str]:
        """For an execution still running: a NoWorkerWarning for each reason it may not be
        moving (no live worker at all; Tasks waiting for a handler no live worker serves)."""
        try:
            found = self.problems([]) + [t.describe() for t in self.waiting(eid)]
        except RedisError:
            return []
        for problem in found:
            warnings.warn(f"{arn}: {problem}", NoWorkerWarning, stacklevel=3)
        return found

    def waiting(self, eid: str, served: Counter[str] | None = None) -> list[WaitingTask]:
        """The Tasks of execution `eid` scheduled for a handler no live worker serves."""
        served = self.served() if served is None else served
        return _waiting(self.r.hvals(keys.outbox(eid)), served)

    def waiting_by_handler(self, limit: int = WAITING_SCAN_LIMIT) -> Counter[str]:
        """Handler -> Tasks waiting for a worker that serves it, over the executions with
        pending work (the sweep's index; at most `limit` of them)."""
        served = self.served()
        eids = [_text(e) for e in self.r.zrange(keys.due_index(), 0, limit - 1)]
        pipe = self.r.pipeline(transaction=False)
        for eid in eids:
            pipe.hvals(keys.outbox(eid))
        counts: Counter[str] = Counter()
        for values in pipe.execute() if eids else []:
            counts.update(t.handler for t in _waiting(values, served))
        return counts


def _waiting(raw_messages: Iterable[Any], served: Counter[str]) -> list[WaitingTask]:
    found: list[WaitingTask] = []
    for raw in raw_messages:
        message = json.loads(_text(raw))
        handler = message.get("h")
        if message.get("k") == "task" and isinstance(handler, str) and not served[handler]:
            found.append(WaitingTask(str(message.get("s", "")), handler))
    return found


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class FleetCollector(Collector):
    """Prometheus gauges of the live fleet, computed at scrape time (engine/metrics.py
    registers it beside the store's collectors):

        sfn_workers_live                           gauge  workers whose announcement is live
        sfn_handler_workers{handler}               gauge  live workers serving the handler
        sfn_tasks_waiting_for_worker{handler}      gauge  Tasks scheduled for a handler no
                                                          live worker serves
    """

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        workers = self.fleet.live()
        live = GaugeMetricFamily("sfn_workers_live", "Workers whose announcement is live.")
        live.add_metric([], len(workers))
        yield live
        serving = GaugeMetricFamily(
            "sfn_handler_workers", "Live workers serving each handler.", labels=["handler"]
        )
        counts: Counter[str] = Counter()
        for worker in workers:
            counts.update(worker.handlers.keys())
        for name, count in sorted(counts.items()):
            serving.add_metric([name], count)
        yield serving
        waiting = GaugeMetricFamily(
            "sfn_tasks_waiting_for_worker",
            "Tasks scheduled for a handler no live worker serves (they run once one starts).",
            labels=["handler"],
        )
        for name, count in sorted(self.fleet.waiting_by_handler().items()):
            waiting.add_metric([name], count)
        yield waiting
