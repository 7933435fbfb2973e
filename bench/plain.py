"""Plain Celery: the substrate the engine runs on, with nothing of the engine in the way.

    celery -A bench.plain worker -Q bench-plain --concurrency 2     # REDIS_URL set

The app is built by `engine.celery_app.build_app`, so its configuration is the engine's to
the letter (JSON only, acks_late, reject on worker lost, prefetch 1, task events on), except
the broker channel: plain Celery gets kombu's stock Redis channel, as a user writing Celery
chains by hand would. A second plain worker (`BENCH_PLAIN_CHANNEL=engine`, its own queue)
gets the engine's channel (engine/broker.py): the like-for-like comparison, in the same run.
The tasks are no-ops; `bench.stamp` records `time.time()` like the engine's `BenchStamp` handler;
`bench.count` counts itself done (a group's tasks). Chains are Celery's own `chain`: each
task's return value is the next task's argument.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, chain, group

from bench.workloads import record, stamp_client
from engine.celery_app import build_app

QUEUE = "bench-plain"
#: The queue of the plain worker on the engine's channel.
CHANNEL_QUEUE = "bench-plain-channel"


def queue_for(channel: str) -> str:
    return QUEUE if channel == "stock" else CHANNEL_QUEUE


def make_app(broker_url: str, channel: str | None = None) -> Celery:
    """The plain app on kombu's stock channel ("stock") or the engine's ("engine");
    None: as BENCH_PLAIN_CHANNEL says (the worker's environment), else stock."""
    channel = channel or os.environ.get("BENCH_PLAIN_CHANNEL", "stock")
    app = build_app(broker_url, name="bench-plain")
    app.conf.task_default_queue = queue_for(channel)
    if channel == "stock":
        app.conf.broker_transport = None  # kombu's own choice for the URL

    @app.task(name="bench.noop", shared=False)  # type: ignore[untyped-decorator]
    def noop(previous: Any = None) -> Any:
        return previous

    @app.task(name="bench.stamp", shared=False)  # type: ignore[untyped-decorator]
    def stamp(previous: Any) -> Any:
        record(previous["key"])
        return previous

    @app.task(name="bench.count", shared=False)  # type: ignore[untyped-decorator]
    def count(key: str) -> None:
        stamp_client().incr(key)

    return app


def task_chain(app: Celery, length: int, payload: Any, *, task: str = "bench.noop",
               last: str | None = None) -> Any:
    """A chain of `length` tasks; the first gets `payload`, each next one the result."""
    queue = app.conf.task_default_queue
    names = [last if (i == length - 1 and last) else task for i in range(length)]
    first = app.signature(names[0], args=(payload,), queue=queue)
    rest = [app.signature(name, queue=queue) for name in names[1:]]
    return chain(first, *rest)


def task_group(app: Celery, items: int, key: str) -> Any:
    """A group of `items` tasks, each counting itself done under `key`."""
    queue = app.conf.task_default_queue
    return group(app.signature("bench.count", args=(key,), queue=queue) for _ in range(items))


#: `celery -A bench.plain` finds this (the worker is started with REDIS_URL set).
app = make_app(os.environ["REDIS_URL"]) if "REDIS_URL" in os.environ else None
