"""Prometheus metrics, served by `sfn serve` at /metrics.

    from engine.metrics import make_app
    router.mount("/metrics", make_app(client.store))   # engine/api/server.py's routing hook

Names follow Prometheus's conventions: a `sfn_` namespace, base units (seconds), `_total`
on counters, and no unbounded labels: never an execution id or name, only the state
machine, the state, its type, a status or an error name (bounded by the definitions).

Derived from the store at scrape time (so every `sfn serve` process reports the same
numbers, and a restart loses nothing):

    sfn_executions_started_total{state_machine}            counter
    sfn_executions_finished_total{state_machine,status}    counter  SUCCEEDED|FAILED|
                                                                    TIMED_OUT|ABORTED
    sfn_executions_running{state_machine}                  gauge
    sfn_state_machines                                     gauge

Recorded by the workers as they run states (`MetricsRecorder`, which tasks/worker.py hands to
the Driver; the inline runner's Driver records nothing):

    sfn_state_transitions_total{state_machine,state_type}       counter  a state entered
    sfn_state_duration_seconds{state_machine,state_type}        histogram entered -> exited
    sfn_state_retries_total{state_machine,state,error}          counter  a Retry taken
    sfn_timer_lag_seconds{kind}                                 histogram fired - due
                                                                 (wait|retry|task_timeout)
    sfn_checkpoint_duration_seconds{outcome}                    histogram one store commit
                                                                 (ok|conflict|refused)

Where each comes from, all in `Driver.step` / `Driver._handle`: transitions from the
*StateEntered events of a committed step; durations from its *StateExited events, measured
from the state's EnteredTime in the run's snapshot (`entered`) to the step's time (the
history's own timestamps: a state entered and left in one step takes 0 s); retries from a
committed retry timer (the error: the step's last event naming one, else the failure
delivered); timer lag from a timer message (`d`, its due time, set when the driver builds
it) that applied, as the handling worker's clock minus `d` (so it includes clock skew
between hosts and a re-delivery by the sweep); checkpoint durations around each
`store.commit` of a step ("refused": the execution ended or a branch was aborted).

Each worker process counts in memory and adds its counts to the `sfn:metrics:<family>`
hashes every ~5 s in one round trip (`RedisSink`); /metrics reads those hashes, so the
numbers are the sums over every worker process, and survive `sfn serve` restarts. A worker
process that dies loses at most its last ~5 s of samples.

How the store is read: the first scrape reads every execution record once; later scrapes
read only the executions started since (newest first, down to the newest one already
counted) and the ones still running. The total is checked against the store's index
count on every scrape; when they disagree (an index rebuilt, executions removed, a start
time older than the newest counted one) the tally is rebuilt from scratch.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import threading
import time
import weakref
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from engine.interpreter.types import (
    ChildrenFailed,
    Occurrence,
    StartTimer,
    TaskFailed,
    TimerFired,
    Transition,
)
from engine.store import keys
from engine.store.base import TERMINAL, CommitResult, ExecutionRecord, Store
from engine.store.redis_client import is_cluster, is_redis

log = logging.getLogger(__name__)

NAMESPACE: Final = "sfn"
#: Executions read per store call while tallying.
PAGE: Final = 500

#: State durations span milliseconds (Pass, Choice) to hours (Wait, long Tasks).
STATE_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
                        900, 3600)
#: Timer lag: how late a Wait/Retry/timeout fired; the sweep interval (0.2 s) is the floor.
LAG_BUCKETS: Final = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)
#: One store commit (a Lua script round trip).
CHECKPOINT_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1)


class ExecutionTally:
    """Counts of executions by state machine and status, kept up to date from the store
    incrementally (see the module docstring). Thread-safe."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.started: Counter[str] = Counter()
        self.finished: Counter[tuple[str, str]] = Counter()
        #: eid -> state machine of the executions counted while RUNNING
        self.running: dict[str, str] = {}
        #: (start, eid) of the newest execution counted
        self.newest: tuple[float, str] | None = None
        self.seen = 0

    def refresh(self) -> None:
        with self._lock:
            self._read_new()
            self._read_running()
            if self.seen != self.store.count_executions(None):
                self._reset()
                self._read_new()
                self._read_running()

    def _read_new(self) -> None:
        cursor: tuple[float, str] | None = None
        newest: tuple[float, str] | None = None
        while True:
            page = self.store.list_executions_after(None, cursor, PAGE)
            for record in page:
                key = (record.start, record.eid)
                if self.newest is not None and key <= self.newest:
                    page = []
                    break
                newest = newest or key
                self._count(record)
            if len(page) < PAGE:
                break
            cursor = (page[-1].start, page[-1].eid)
        if newest is not None:
            self.newest = newest

    def _count(self, record: ExecutionRecord) -> None:
        self.seen += 1
        self.started[record.state_machine_name] += 1
        if record.status in TERMINAL:
            self.finished[(record.state_machine_name, record.status)] += 1
        else:
            self.running[record.eid] = record.state_machine_name

    def _read_running(self) -> None:
        for eid in list(self.running):
            record = self.store.get_execution(eid)
            if record is None:
                continue  # removed: the count check rebuilds the tally
            if record.status in TERMINAL:
                del self.running[eid]
                self.finished[(record.state_machine_name, record.status)] += 1

    def running_by_machine(self) -> Counter[str]:
        return Counter(self.running.values())


class StoreCollector(Collector):
    """The store-derived metrics, computed on each scrape."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.tally = ExecutionTally(store)
        self.clock = clock

    def describe(self) -> Iterable[Metric]:
        return []  # computed at scrape time; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        self.tally.refresh()
        t = self.tally
        started = CounterMetricFamily(
            f"{NAMESPACE}_executions_started", "Executions started, by state machine.",
            labels=["state_machine"],
        )
        for machine, count in sorted(t.started.items()):
            started.add_metric([machine], count)
        finished = CounterMetricFamily(
            f"{NAMESPACE}_executions_finished",
            "Executions that ended, by state machine and final status "
            "(SUCCEEDED, FAILED, TIMED_OUT, ABORTED).",
            labels=["state_machine", "status"],
        )
        for (machine, status), count in sorted(t.finished.items()):
            finished.add_metric([machine, status], count)
        running = GaugeMetricFamily(
            f"{NAMESPACE}_executions_running", "Executions running now, by state machine.",
            labels=["state_machine"],
        )
        by_machine = t.running_by_machine()
        for machine in sorted(set(t.started)):
            running.add_metric([machine], by_machine.get(machine, 0))
        machines = GaugeMetricFamily(
            f"{NAMESPACE}_state_machines", "State machines defined."
        )
        machines.add_metric([], len(self.store.list_state_machines()))
        yield from (started, finished, running, machines)


# --- what the workers record ------------------------------------------------------------


@dataclass(frozen=True)
class Family:
    """A family the workers record: its name (without `sfn_` and `_total`), type, labels and
    (a histogram's) bucket bounds."""

    name: str
    kind: str  # "counter" | "histogram"
    help: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] = ()

    @property
    def le(self) -> tuple[str, ...]:
        """The buckets' `le` label values, +Inf last."""
        return (*(repr(float(b)) for b in self.buckets), "+Inf")  # as prometheus_client


TRANSITIONS: Final = Family(
    "state_transitions", "counter",
    "State transitions: states entered, by state machine and state type.",
    ("state_machine", "state_type"),
)
STATE_DURATION: Final = Family(
    "state_duration_seconds", "histogram",
    "Time from entering a state to leaving it (as the history's timestamps show it).",
    ("state_machine", "state_type"), STATE_BUCKETS,
)
RETRIES: Final = Family(
    "state_retries", "counter",
    "Retries taken (a Retry rule matched and another attempt was scheduled), by state and "
    "error name.",
    ("state_machine", "state", "error"),
)
TIMER_LAG: Final = Family(
    "timer_lag_seconds", "histogram",
    "How late a durable timer (Wait, Retry interval, Task timeout) fired after it was due.",
    ("kind",), LAG_BUCKETS,
)
CHECKPOINT: Final = Family(
    "checkpoint_duration_seconds", "histogram",
    "Duration of one atomic store commit (snapshot, events, outbox), by outcome (ok, "
    "conflict, refused).",
    ("outcome",), CHECKPOINT_BUCKETS,
)
WORKER_FAMILIES: Final = (TRANSITIONS, STATE_DURATION, RETRIES, TIMER_LAG, CHECKPOINT)

#: One pending increment: (family name, label values, slot). The slot is "" for a counter,
#: a bucket's `le` or "sum" for a histogram (a histogram's count is its +Inf bucket).
SampleKey = tuple[str, tuple[str, ...], str]

#: How often a worker process adds what it counted to Redis.
FLUSH_SECONDS: Final = 5.0


class MetricsSink(Protocol):
    """Where recorders add their counts, and where /metrics reads the sums."""

    def add(self, counts: dict[SampleKey, float]) -> None: ...
    def read(self) -> dict[str, dict[str, float]]:
        """family name -> field (see `field`) -> value."""
        ...


def field(labels: tuple[str, ...], slot: str) -> str:
    """A sample's field in its family's hash: the JSON array of its label values, then the
    slot for a histogram (label values are free text: JSON keeps them apart)."""
    return json.dumps([*labels, slot] if slot else list(labels), ensure_ascii=False,
                      separators=(",", ":"))


class RedisSink:
    """The `sfn:metrics:<family>` hashes (engine/store/keys.py): every worker process adds
    to them, so they hold the sums over all of them."""

    def __init__(self, client: Any) -> None:
        self.r = client

    def add(self, counts: dict[SampleKey, float]) -> None:
        # One round trip. MULTI/EXEC: a connection dropped mid-way applies all or nothing
        # (the recorder keeps refused counts for the next flush; only a reply lost after
        # EXEC, then retried by the client, could count a flush twice).
        # On a Redis Cluster a transaction may not span slots: one per family's hash
        # there (each family's samples stay all or nothing).
        cluster = is_cluster(self.r)
        by_family: dict[str, list[tuple[str, str, float]]] = {}
        for (family, labels, slot), value in counts.items():
            by_family.setdefault(family, []).append((field(labels, slot), slot, value))
        pipe = self.r.pipeline(transaction=True)
        for family, samples in by_family.items():
            key = keys.metrics(family)
            for name, slot, value in samples:
                if slot == "sum":
                    pipe.hincrbyfloat(key, name, value)
                else:
                    pipe.hincrby(key, name, int(value))
            if cluster:
                pipe.execute()
                pipe = self.r.pipeline(transaction=True)
        if not cluster:
            pipe.execute()

    def read(self) -> dict[str, dict[str, float]]:
        pipe = self.r.pipeline(transaction=False)
        for family in WORKER_FAMILIES:
            pipe.hgetall(keys.metrics(family.name))
        return {
            family.name: {str(k): float(v) for k, v in raw.items()}
            for family, raw in zip(WORKER_FAMILIES, pipe.execute(), strict=True)
        }


class MemorySink:
    """The same sums in this process (tests; a single-process setup)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.hashes: dict[str, dict[str, float]] = {}

    def add(self, counts: dict[SampleKey, float]) -> None:
        with self._lock:
            for (family, labels, slot), value in counts.items():
                h = self.hashes.setdefault(family, {})
                name = field(labels, slot)
                h[name] = h.get(name, 0.0) + value

    def read(self) -> dict[str, dict[str, float]]:
        with self._lock:
            return {k: dict(v) for k, v in self.hashes.items()}


def sink_for(store: Store) -> MetricsSink | None:
    """The sink beside `store`: its Redis (a RedisStore), else none."""
    client = getattr(store, "r", None)
    return RedisSink(client) if is_redis(client) else None


class NullRecorder:
    """Records nothing: the Driver's default (the inline runner, tests)."""

    def committed(self, machine: str, before: dict[str, Any], tr: Transition,
                  occurrence: Occurrence, now: float) -> None:
        pass

    def checkpoint(self, result: CommitResult, seconds: float) -> None:
        pass

    def timer_fired(self, kind: str, lag: float) -> None:
        pass

    def flush(self) -> None:
        pass


class MetricsRecorder(NullRecorder):
    """Counts what the driver does in this process's memory and, every `interval` seconds,
    adds it to `sink` in one round trip (Redis: one MULTI/EXEC pipeline of HINCRBY and
    HINCRBYFLOAT into the `sfn:metrics:*` hashes), so /metrics shows the sums over every
    worker process. Nothing is read or written on the hot path: a hop costs a few dict
    updates under a lock (see docs/ui.md for the measured cost).

    The flushing thread starts with the first sample; after a fork (a prefork pool child)
    the child starts with nothing counted and a thread of its own, so the parent's counts
    are never added twice. A worker process that dies loses what it counted since its last
    flush: at most `interval` (~5 s) of samples. `flush()` adds them at once (tasks/worker.py
    calls it when a pool process shuts down). If the sink fails the counts are kept for
    the next flush."""

    def __init__(self, sink: MetricsSink, *, interval: float = FLUSH_SECONDS) -> None:
        self.sink = sink
        self.interval = interval
        self._reset()
        ref = weakref.ref(self)

        def after_fork() -> None:
            recorder = ref()
            if recorder is not None:
                recorder._reset()

        os.register_at_fork(after_in_child=after_fork)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[SampleKey, float] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._warned = False

    # --- recording (the driver calls these) -------------------------------------------------

    def committed(self, machine: str, before: dict[str, Any], tr: Transition,
                  occurrence: Occurrence, now: float) -> None:
        """One committed step of a run: `before` is the run's snapshot it started from, `now`
        the time its events are stamped with. Never raises: a metrics bug must not stop the
        driver between its commit and its sends."""
        try:
            self._committed(machine, before, tr, occurrence, now)
        except Exception:  # noqa: BLE001
            if not self._warned:
                self._warned = True
                log.warning("could not record a step's metrics", exc_info=True)

    def _committed(self, machine: str, before: dict[str, Any], tr: Transition,
                   occurrence: Occurrence, now: float) -> None:
        counts: list[tuple[SampleKey, float]] = []
        entered_here: set[Any] = set()
        for event in tr.events:
            kind = event.get("type", "")
            if kind.endswith("StateEntered"):
                state_type = kind[:-12]
                counts.append((("state_transitions", (machine, state_type), ""), 1))
                entered_here.add((event.get("stateEnteredEventDetails") or {}).get("name"))
            elif kind.endswith("StateExited"):
                name = (event.get("stateExitedEventDetails") or {}).get("name")
                if name in entered_here:
                    seconds = 0.0  # entered and left in this step: one timestamp
                elif name == before.get("state") and before.get("entered"):
                    seconds = now - _epoch(before["entered"])
                else:
                    continue
                self._observe(counts, STATE_DURATION, (machine, kind[:-11]), seconds)
        for command in tr.commands:
            if isinstance(command, StartTimer) and command.kind == "retry":
                error = _retry_error(tr.events, occurrence)
                counts.append((("state_retries", (machine, tr.doc.get("state") or "", error),
                                ""), 1))
        self._add(counts)

    def checkpoint(self, result: CommitResult, seconds: float) -> None:
        outcome = "ok" if result.ok else "conflict" if result.reason == "conflict" else "refused"
        counts: list[tuple[SampleKey, float]] = []
        self._observe(counts, CHECKPOINT, (outcome,), seconds)
        self._add(counts)

    def timer_fired(self, kind: str, lag: float) -> None:
        counts: list[tuple[SampleKey, float]] = []
        self._observe(counts, TIMER_LAG, (kind,), max(0.0, lag))
        self._add(counts)

    @staticmethod
    def _observe(counts: list[tuple[SampleKey, float]], family: Family,
                 labels: tuple[str, ...], value: float) -> None:
        le = _LE[family.name]
        counts.append(((family.name, labels, le[bisect_left(family.buckets, value)]), 1))
        counts.append(((family.name, labels, "sum"), value))

    def _add(self, counts: list[tuple[SampleKey, float]]) -> None:
        if not counts:
            return
        with self._lock:
            pending = self._counts
            for key, value in counts:
                pending[key] = pending.get(key, 0) + value
            if self._thread is None:
                self._start()

    # --- flushing ------------------------------------------------------------------------

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, args=(self._stop,), daemon=True,
                                        name="sfn-metrics")
        self._thread.start()

    def _run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            self.flush()

    def flush(self) -> None:
        """Add what was counted since the last flush to the sink now."""
        with self._lock:
            counts, self._counts = self._counts, {}
        if not counts:
            return
        try:
            self.sink.add(counts)
        except Exception:  # noqa: BLE001 - Redis restarting: keep the counts for next time
            log.warning("could not add %d metric samples; keeping them", len(counts),
                        exc_info=True)
            with self._lock:
                for key, value in counts.items():
                    self._counts[key] = self._counts.get(key, 0) + value

    def close(self) -> None:
        """Stop the flushing thread and flush what is left."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.interval + 1)
        self.flush()


_LE: Final = {f.name: f.le for f in WORKER_FAMILIES if f.kind == "histogram"}


def _epoch(timestamp: str) -> float:
    """Epoch seconds of an event timestamp (`2024-05-01T12:00:00.123Z`)."""
    return datetime.fromisoformat(timestamp).timestamp()


def _retry_error(events: list[dict[str, Any]], occurrence: Occurrence) -> str:
    """The error a Retry rule matched: the step's last event naming an error (TaskFailed,
    TaskTimedOut, EvaluationFailed, ...), else the failure that was delivered."""
    for event in reversed(events):
        for key, value in event.items():
            if key.endswith("EventDetails") and isinstance(value, dict) and value.get("error"):
                return str(value["error"])
    if isinstance(occurrence, TaskFailed | ChildrenFailed) and occurrence.error:
        return occurrence.error
    if isinstance(occurrence, TimerFired) and occurrence.kind == "task_timeout":
        return "States.Timeout"
    return "unknown"


class WorkerCollector(Collector):
    """The worker-recorded families, summed from the sink on each scrape (always listed,
    with no samples until some are recorded or when there is no sink)."""

    def __init__(self, sink: MetricsSink | None) -> None:
        self.sink = sink

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        stored = self.sink.read() if self.sink is not None else {}
        for family in WORKER_FAMILIES:
            rows = stored.get(family.name, {})
            if family.kind == "counter":
                yield self._counter(family, rows)
            else:
                yield self._histogram(family, rows)

    @staticmethod
    def _parse(family: Family, rows: dict[str, float]) -> Iterator[tuple[tuple[str, ...], str,
                                                                          float]]:
        n = len(family.labels)
        for name, value in rows.items():
            try:
                parts = json.loads(name)
            except ValueError:
                continue
            want = n + (1 if family.kind == "histogram" else 0)
            if not isinstance(parts, list) or len(parts) != want:
                continue  # written by another version under other labels
            yield tuple(str(p) for p in parts[:n]), str(parts[n]) if n < len(parts) else "", value

    def _counter(self, family: Family, rows: dict[str, float]) -> Metric:
        metric = CounterMetricFamily(f"{NAMESPACE}_{family.name}", family.help,
                                     labels=list(family.labels))
        for labels, _, value in sorted(self._parse(family, rows)):
            metric.add_metric(list(labels), value)
        return metric

    def _histogram(self, family: Family, rows: dict[str, float]) -> Metric:
        metric = HistogramMetricFamily(f"{NAMESPACE}_{family.name}", family.help,
                                       labels=list(family.labels))
        bounds = (*family.buckets, math.inf)
        per_labels: dict[tuple[str, ...], tuple[list[float], list[float]]] = {}
        for labels, slot, value in self._parse(family, rows):
            buckets, total = per_labels.setdefault(labels, ([0.0] * len(bounds), [0.0]))
            if slot == "sum":
                total[0] += value
                continue
            try:
                upper = float(slot)
            except ValueError:
                continue
            # A bound this version does not have (the buckets changed): the next one up.
            buckets[bisect_left(bounds, upper)] += value
        le = family.le
        for labels in sorted(per_labels):
            buckets, total = per_labels[labels]
            cumulative = list(itertools.accumulate(buckets))
            metric.add_metric(list(labels), list(zip(le, cumulative, strict=True)), total[0])
        return metric


def build_registry(store: Store, sink: MetricsSink | None = None) -> CollectorRegistry:
    """Every family: the store-derived ones, and the worker-recorded ones summed from `sink`
    (default: the store's Redis, see `sink_for`)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))
    registry.register(WorkerCollector(sink if sink is not None else sink_for(store)))
    from engine.metrics_waiting import WaitingCollector  # callbacks, activities, children

    registry.register(WaitingCollector(store))
    client = getattr(store, "r", None)
    if is_redis(client):  # the live fleet's gauges (engine/fleet.py)
        from engine.fleet import Fleet, FleetCollector

        registry.register(FleetCollector(Fleet(client)))
    return registry


def make_app(store: Store, sink: MetricsSink | None = None) -> Any:
    """A WSGI application answering the Prometheus text format (mount it at /metrics)."""
    return make_wsgi_app(build_registry(store, sink))
