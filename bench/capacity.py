"""Capacity on paper, from measured per-transition costs (bench/scale.py).

Redis runs commands on one thread, so one Redis can carry at most 1000 / (its CPU ms per
transition) transitions a second, and its network link at most (bytes per second) / (bytes
per transition). A worker process needs (its CPU ms per transition) of a core for each. The
store's keys carry each execution's hash tag, so a Redis Cluster spreads the store's work
over its primaries by execution, except the writes to the few indexes across executions
(`sfn:due`, `sfn:recent`, ...), single keys each on one slot. A Celery queue is one Redis
list, on one node, whatever the number of shards: the broker's share does not spread.

These are ceilings at 100% of a Redis thread; plan for well below (70% leaves headroom for
bursts, AOF rewrites and the sweeps). The per-transition costs were measured on a small
machine at low Redis load, where each command pays its full per-call overhead; a busier
Redis batches more per event-loop turn, so a real ceiling is likely higher, not lower.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: A 1 Gbit/s link, in bytes per second.
GIGABIT = 125_000_000.0
#: The share of a Redis thread one should plan to use.
HEADROOM = 0.7


@dataclass(frozen=True)
class Costs:
    """Per state transition, measured."""

    store_cpu_ms: float
    broker_cpu_ms: float
    store_commands: float
    broker_commands: float
    store_bytes: float  # network, in + out
    broker_bytes: float
    worker_cpu_ms: float  # all worker processes together, per transition
    #: Redis CPU of the writes to keys without an execution's hash tag (bench/hotkeys.py):
    #: in a cluster they all land on the primaries of those few keys' slots.
    hot_cpu_ms: float = 0.0

    def describe(self) -> str:
        return (f"store Redis {self.store_commands:.1f} commands, {self.store_bytes:,.0f} "
                f"bytes, {self.store_cpu_ms:.3f} ms CPU; broker Redis "
                f"{self.broker_commands:.1f} commands, {self.broker_bytes:,.0f} bytes, "
                f"{self.broker_cpu_ms:.3f} ms CPU; worker {self.worker_cpu_ms:.2f} ms CPU")


def per_second(ms: float) -> float:
    return 1000.0 / ms if ms > 0 else float("inf")


def estimate(c: Costs, *, shards: tuple[int, ...] = (3, 6, 12), workers: int = 100,
             link_bytes_per_s: float = GIGABIT) -> dict[str, Any]:
    one_redis_cpu = per_second(c.store_cpu_ms + c.broker_cpu_ms)
    one_redis_net = link_bytes_per_s / (c.store_bytes + c.broker_bytes)
    store_cpu = per_second(c.store_cpu_ms)
    store_net = link_bytes_per_s / c.store_bytes
    broker_cpu = per_second(c.broker_cpu_ms)
    broker_net = link_bytes_per_s / c.broker_bytes if c.broker_bytes else float("inf")
    one_redis = min(one_redis_cpu, one_redis_net)
    per_shard = min(store_cpu, store_net)
    # The primary that holds the indexes' slots carries its share of the executions and
    # every index write besides.
    cluster = {n: min(per_second(c.store_cpu_ms / n + c.hot_cpu_ms), n * store_net)
               for n in shards}
    broker = min(broker_cpu, broker_net)
    per_worker = per_second(c.worker_cpu_ms)  # one worker process with a core to itself
    demand = workers * per_worker
    # Each topology's ceiling and what sets it: the lowest of its parts.
    topologies: dict[str, tuple[float, str]] = {
        "one Redis": (one_redis, "the Redis thread" if one_redis_cpu <= one_redis_net
                      else "the Redis link"),
    }
    for n, v in cluster.items():
        topologies[f"{n}-shard store + Redis broker"] = (
            (v, f"the {n} store shards") if v <= broker else (broker, "the broker Redis"))
        topologies[f"{n}-shard store + RabbitMQ"] = (v, f"the {n} store shards")
    lines = [
        f"one Redis, store and broker: {one_redis_cpu:,.0f} transitions/s by CPU, "
        f"{one_redis_net:,.0f} by a 1 Gbit/s link; plan for {HEADROOM * one_redis:,.0f}",
        f"store alone (the broker elsewhere): {store_cpu:,.0f}/s per primary by CPU, "
        f"{store_net:,.0f} by the link",
        "Redis Cluster store, " + ", ".join(
            f"{n} shards: {v:,.0f}/s" for n, v in cluster.items())
        + f" (even spread; the indexes' primary also takes {c.hot_cpu_ms:.3f} ms of index "
        f"writes per transition, so no number of shards passes "
        f"{per_second(c.hot_cpu_ms):,.0f}/s)",
        f"a Redis broker: {broker:,.0f}/s, however many store shards there are",
        f"one worker process: {per_worker:,.0f} transitions/s of no-op handlers per core; "
        f"{workers} would ask for {demand:,.0f}/s",
        *(f"  {name}: {cap:,.0f}/s, set by {limit}; "
          + (f"saturated by about {cap / per_worker:,.0f} busy worker processes"
             if cap < demand else f"carries {workers} worker processes")
          for name, (cap, limit) in topologies.items()),
    ]
    return {
        "one_redis_per_s": one_redis, "one_redis_cpu_per_s": one_redis_cpu,
        "one_redis_net_per_s": one_redis_net, "store_primary_per_s": per_shard,
        "cluster_per_s": cluster, "redis_broker_per_s": broker,
        "worker_process_per_s": per_worker, "demand_per_s": demand,
        "topologies": {k: {"per_s": v, "limit": why} for k, (v, why) in topologies.items()},
        "lines": lines,
    }
