"""Composition root: settings -> store -> driver -> Celery app.

    celery -A tasks.worker worker -Q sfn --concurrency 2   # REDIS_URL, or the embedded Redis
    celery -A worker worker ...                            # the same, from a checkout

Inside the package, so that `sfn run`/`sfn serve` can start a worker from any directory
(the top-level `worker.py` of a checkout only re-exports this `app`).

The handler modules named by SFN_HANDLER_MODULES (default: the two examples in workflows/)
are imported so their @handler functions are served; the workers announce them in Redis so
that clients elsewhere can check a definition's resources at creation.
"""

from __future__ import annotations

import importlib
import os
import socket
from typing import Any

from celery.signals import (
    celeryd_after_setup,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)

from engine.celery_app import CeleryDispatcher, HandlerQueues, build_app
from engine.connect import resolve
from engine.embedded import register_worker, unregister_worker
from engine.fleet import Fleet, default_node_name
from engine.handlers import default_registry
from engine.metrics import MetricsRecorder, RedisSink
from engine.redis_safety import preflight_worker
from engine.routing import CONTROL_QUEUE, worker_queues
from engine.runtime.driver import Driver
from engine.runtime.poison import PoisonGuard
from engine.runtime.recovery import Sweeper
from engine.runtime.watchdog import StepWatchdog
from engine.settings import WATCHDOG_SOFT_GRACE_SECONDS, Settings
from engine.store.deliveries import RedisDeliveries
from engine.store.redis_store import RedisStore
from tasks import install

# No REDIS_URL: this worker serves the project's embedded Redis, so `sfn down` (which
# stops that server) stops this worker too.
on_embedded = Settings.from_env().redis_url is None
settings = resolve()
for module in settings.handler_modules:
    importlib.import_module(module)

assert settings.redis_url is not None
# Refuse an evicting maxmemory-policy, a wrong password or a TLS mismatch in one line at
# once; warn when AOF is off; wait for a Redis that is not up yet (engine/redis_safety.py).
preflight_worker(settings.redis_url)
# Steps wait for memory while Redis answers OOM (back-pressure) instead of failing.
store = RedisStore.from_url(
    settings.redis_url, retry_oom=True, retention_seconds=settings.retention_seconds,
    wait_replicas=settings.redis_wait_replicas, wait_ms=settings.redis_wait_ms,
)
app = build_app(settings.broker)
queues = HandlerQueues(default_registry.names(), store.announced_handlers)
dispatcher = CeleryDispatcher(app, queues)
# Each worker process counts transitions, durations, retries, timer lag and commits in
# memory and adds them to Redis every few seconds (engine/metrics.py; /metrics sums them).
recorder = MetricsRecorder(RedisSink(store.r))
driver = Driver(
    store,
    dispatcher,
    default_registry,
    settings=settings.driver_settings(),
    owner=socket.gethostname(),
    metrics=recorder,
    # Each engine step runs under a watchdog in the pool process: a soft limit shortly after
    # the budget, a CPU-time hard limit that ends the process (engine/runtime/watchdog.py).
    step_guard=StepWatchdog(
        settings.step_budget_seconds,
        soft_seconds=settings.step_budget_seconds + WATCHDOG_SOFT_GRACE_SECONDS,
        hard_seconds=max(
            settings.step_hard_seconds,
            settings.step_budget_seconds + WATCHDOG_SOFT_GRACE_SECONDS + 1.0,
        ),
        memory_bytes=settings.step_memory_mb * 2**20,
    ),
)
# A message whose step keeps failing the engine ends its execution after a bounded number of
# deliveries (engine/runtime/poison.py).
poison = PoisonGuard(store, RedisDeliveries(store.r), max_deliveries=settings.max_deliveries)
# The worker's main process runs the recovery sweep and the handler announcements in
# threads, and prefork forks pool processes from it at any time (at start, and to replace
# one that died) while those threads may be inside a Redis call. A client whose lock a
# thread holds at that instant stays locked forever in the child (redis-py resets its
# connection pool after a fork, not its event dispatcher's lock): a pool process hung on
# its first Task, seen once. So the main process's threads get a client and a dispatcher
# of their own, which the pool processes never use.
main_store = RedisStore.from_url(
    settings.redis_url, retry_oom=True, retention_seconds=settings.retention_seconds,
    wait_replicas=settings.redis_wait_replicas, wait_ms=settings.redis_wait_ms,
)
# The sweep keeps an ended execution's child runs while it can be redriven.
main_store.redrive_seconds = settings.redrive_seconds
sweeper = Sweeper(
    main_store,
    CeleryDispatcher(app, HandlerQueues(default_registry.names(), main_store.announced_handlers)),
    redeliver_seconds=settings.redeliver_seconds,
    interval=settings.sweep_interval,
)


fleet = Fleet(main_store.r)


class _Node:
    """This worker's node name and the queues it consumes, known once Celery set it up."""

    name = default_node_name()
    queues = [CONTROL_QUEUE]


def _consume_handler_queues(sender: str, instance: Any, **_: Any) -> None:
    """Add the queue of each handler served here whose group this worker was started on
    (engine/routing.py): Tasks reach only workers that serve their handler."""
    queues = instance.app.amqp.queues
    selected = list(queues.consume_from or {CONTROL_QUEUE: None})
    for queue in worker_queues(default_registry.names(), selected):
        queues.select_add(queue)
    _Node.name = str(sender)
    _Node.queues = sorted(queues.consume_from or selected)


celeryd_after_setup.connect(_consume_handler_queues, weak=False)


def _announce() -> None:
    main_store.announce_handlers(default_registry.names())
    fleet.announce(_Node.name, default_registry.names(), _Node.queues)


def _withdraw(**_: object) -> None:
    """A worker that stops cleanly leaves the live fleet at once (engine/fleet.py)."""
    try:
        fleet.withdraw(_Node.name)
    except Exception:  # noqa: BLE001 - never fail a shutdown on this; it expires anyway
        pass


def _known(handler: str) -> bool:
    """Has any worker ever announced `handler` (asked afresh: rare, only for a Task this
    worker lacks)?"""
    return handler in store.announced_handlers()


install(app, driver, sweeper, announce=_announce, poison=poison, known=_known)


def _flush_metrics(**_: object) -> None:
    """A pool process (or the worker itself) that stops cleanly adds what it counted."""
    try:
        recorder.flush()
    except Exception:  # noqa: BLE001 - never fail a shutdown on metrics
        pass


worker_process_shutdown.connect(_flush_metrics, weak=False)
worker_shutdown.connect(_flush_metrics, weak=False)


def _register(**_: object) -> None:
    register_worker(settings.data_dir, os.getpid())


def _unregister(**_: object) -> None:
    unregister_worker(settings.data_dir, os.getpid())


if on_embedded:
    worker_ready.connect(_register, weak=False)
    worker_shutdown.connect(_unregister, weak=False)


worker_shutdown.connect(_withdraw, weak=False)
