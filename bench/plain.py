"""Plain Celery: the substrate the engine runs on, with nothing of the engine in the way.

    celery -A bench.plain worker -Q bench-plain --concurrency 2     # REDIS_URL set

The app is built by `engine.celery_app.build_app`, so its configuration is the engine's to
the letter (JSON only, acks_late, reject on worker lost, prefetch 1, task events on), except
the broker channel: plain Celery gets kombu's stock Redis channel, as a user writing Celery
chains by hand would; `BENCH_PLAIN_CHANNEL=engine` (`python -m bench --plain-channel
engine`) gives it the engine's (engine/broker.py) to show what that channel alone is worth.
The tasks are no-ops; `bench.stamp` records `time.time()` like the engine's `BenchStamp` handler.
Chains are Celery's own `chain`: each task's return value is the next task's argument.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, chain

from bench.workloads import record
from engine.celery_app import build_app

QUEUE = "bench-plain"


def make_app(broker_url: str) -> Celery:
    app = build_app(broker_url, name="bench-plain")
    app.conf.task_default_queue = QUEUE
    if os.environ.get("BENCH_PLAIN_CHANNEL", "stock") == "stock":
        app.conf.broker_transport = None  # kombu's own choice for the URL

    @app.task(name="bench.noop")  # type: ignore[untyped-decorator]
    def noop(previous: Any = None) -> Any:
        return previous

    @app.task(name="bench.stamp")  # type: ignore[untyped-decorator]
    def stamp(previous: Any) -> Any:
        record(previous["key"])
        return previous

    return app


def task_chain(app: Celery, length: int, payload: Any, *, task: str = "bench.noop",
               last: str | None = None) -> Any:
    """A chain of `length` tasks; the first gets `payload`, each next one the result."""
    names = [last if (i == length - 1 and last) else task for i in range(length)]
    first = app.signature(names[0], args=(payload,), queue=QUEUE)
    rest = [app.signature(name, queue=QUEUE) for name in names[1:]]
    return chain(first, *rest)


#: `celery -A bench.plain` finds this (the worker is started with REDIS_URL set).
app = make_app(os.environ["REDIS_URL"]) if "REDIS_URL" in os.environ else None
