"""Metrics of the Tasks that wait on the outside world, derived from the store at scrape
time (registered by `engine.metrics.build_registry`):

    sfn_tasks_waiting{kind}              gauge  Tasks waiting for a task token (callback),
                                                an activity worker or its answer (activity),
                                                or a `.sync` child execution (child)
    sfn_activity_tasks_queued{activity}  gauge  activity tasks no worker has taken yet

The first reads the waiting-Tasks index (engine/store/keys.py, `waiting`), pruned of ended
executions as it is read; the second the activities' queues.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any, Final

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from engine.store.activities import ActivityStore

KINDS: Final = ("callback", "activity", "child")
#: Activities are few (like state machines); the gauge lists at most this many.
MAX_ACTIVITIES: Final = 1000


class WaitingCollector(Collector):
    def __init__(self, store: Any) -> None:
        self.store = store

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        tasks = GaugeMetricFamily(
            "sfn_tasks_waiting",
            "Tasks waiting for a task token, an activity worker or a child execution, "
            "by kind (callback, activity, child).",
            labels=["kind"],
        )
        queued = GaugeMetricFamily(
            "sfn_activity_tasks_queued",
            "Activity tasks no worker has taken yet, by activity.",
            labels=["activity"],
        )
        read = getattr(self.store, "waiting_tasks", None)
        counts = Counter(m.rsplit("|", 1)[1] for m in (read() if read else []))
        for kind in KINDS:
            tasks.add_metric([kind], counts.get(kind, 0))
        yield tasks
        client = getattr(self.store, "r", None)
        if client is not None:  # activities live in Redis only
            activities = ActivityStore(client)
            for record in activities.page(0, MAX_ACTIVITIES):
                queued.add_metric([record.name], activities.waiting(record.name))
            yield queued


__all__ = ["WaitingCollector"]
