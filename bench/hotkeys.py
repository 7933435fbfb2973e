"""Writes to the store's keys that carry no execution hash tag, per state transition.

In a Redis Cluster each execution's keys share its hash tag and spread over the shards; the
few indexes across executions (`sfn:due`, `sfn:executions`, `sfn:recent`, `sfn:ended`,
`sfn:closed`, the metrics hashes, ...) are single keys, each on one slot, and every write to
them lands on that slot's primary whatever the number of shards. This counts those writes
without MONITOR: Redis's keyspace notifications (`notify-keyspace-events KA`) for exactly
these keys' channels, during one round. A notification fires only when a command changed
its key (a `ZADD ... LT` that keeps an earlier score fires none), so the counts are the
writes that changed an index: a lower bound of the commands sent to those slots.
`commands_per_transition` adds the `ZADD sfn:due ... LT` that change nothing: the Task's
claim and its commit each send one (engine/store/redis_store.py, `claim_task`, `commit`).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import redis

from engine.store import keys

PREFIX = "__keyspace@0__:"


#: `ZADD sfn:due LT` sent per Task state: one by its claim, one by its commit.
DUE_ZADDS_PER_TASK = 2.0


def commands_per_transition(writes: dict[str, float], task_share: float = 1.0) -> float:
    """Commands per transition to the indexes' slots: the counted writes, with `sfn:due`'s
    raised to the ZADDs every Task sends (`task_share`: the share of transitions that are
    Task states; all of them in the bench's chains)."""
    due = max(writes.get(keys.due_index(), 0.0), DUE_ZADDS_PER_TASK * task_share)
    return due + sum(v for k, v in writes.items() if k != keys.due_index())


def global_keys(machine: str) -> list[str]:
    return [keys.due_index(), keys.executions(), keys.sm_executions(machine), keys.recent(),
            keys.recent(machine), keys.ended(), keys.closed(), keys.waiting(),
            keys.handlers(), keys.state_machines()]


def count_writes(url: str, machine: str, transitions: int,
                 work: Callable[[], None]) -> dict[str, float]:
    """Run `work` with the notifications on; writes per transition, by key."""
    r = redis.Redis.from_url(url, decode_responses=True)
    old = str(r.config_get("notify-keyspace-events").get("notify-keyspace-events") or "")
    pubsub = r.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
    pubsub.subscribe(*(PREFIX + k for k in global_keys(machine)))
    pubsub.psubscribe(PREFIX + keys.metrics("*"))
    counts: Counter[str] = Counter()
    stop = threading.Event()

    def listen() -> None:
        while not stop.is_set():
            message = pubsub.get_message(timeout=0.1)
            if message is not None:
                channel = str(message["channel"]).removeprefix(PREFIX)
                counts["sfn:metrics:*" if channel.startswith("sfn:metrics:") else channel] += 1

    thread = threading.Thread(target=listen, daemon=True, name="bench-hotkeys")
    thread.start()
    r.config_set("notify-keyspace-events", "KA")
    try:
        work()
    finally:
        r.config_set("notify-keyspace-events", old)
        stop.set()
        thread.join(timeout=5)
        pubsub.close()
    return {k: v / transitions for k, v in counts.most_common()}
