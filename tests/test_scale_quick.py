"""bench/scale.py, tiny: the throughput sweep and the per-transition Redis accounting run
end to end on real redis-servers and a real worker; bench/capacity.py's arithmetic."""

from __future__ import annotations

import pytest

from bench import scale
from bench.capacity import Costs, estimate


@pytest.mark.redis
@pytest.mark.worker
def test_the_sweep_measures_each_worker_count_and_what_redis_did() -> None:
    steps = scale.run(scale.ScaleConfig(workers=(1, 2), executions=6, length=3, rounds=1),
                      out=lambda text: None)
    assert [s.workers for s in steps] == [1, 2]
    for step in steps:
        (r,) = step.rounds
        assert r.transitions == 18
        assert r.transitions_per_s > 0
        assert 0 < r.machine_cpu_busy <= 1
        # Every transition went through both Redis servers: the store's scripts and the
        # broker's queue; the harness's own polling is not counted.
        store, broker = r.redis["store"], r.redis["broker"]
        assert store["commands"] >= 1 and store["calls"] >= store["commands"]
        assert broker["commands"] >= 1
        assert store["bytes_in"] > 0 and broker["bytes_out"] > 0
        assert r.cpu_ms["worker"] > 0
    # The indexes across executions are written while executions run (counted once, in the
    # first step, from Redis's keyspace notifications), and the notifications are off again.
    assert steps[0].global_writes.get("sfn:due", 0) > 0, steps[0].global_writes
    assert steps[1].global_writes == {}
    costs = scale.costs(steps)
    assert costs.store_commands > 0 and costs.broker_bytes > 0 and costs.hot_cpu_ms > 0


def test_capacity_arithmetic() -> None:
    c = Costs(store_cpu_ms=0.2, broker_cpu_ms=0.05, store_commands=10, broker_commands=5,
              store_bytes=4000, broker_bytes=1000, worker_cpu_ms=2.0)
    e = estimate(c, shards=(3,), workers=100, link_bytes_per_s=125_000_000)
    assert e["one_redis_cpu_per_s"] == pytest.approx(4000)  # 1000 ms / 0.25 ms
    assert e["one_redis_net_per_s"] == pytest.approx(25_000)  # 125 MB/s / 5 kB
    assert e["one_redis_per_s"] == pytest.approx(4000)
    assert e["cluster_per_s"] == {3: pytest.approx(15_000)}  # 3 x 1000 / 0.2
    assert e["redis_broker_per_s"] == pytest.approx(20_000)
    assert e["worker_process_per_s"] == pytest.approx(500)
    assert e["demand_per_s"] == pytest.approx(50_000)
    assert e["topologies"]["one Redis"] == {"per_s": pytest.approx(4000),
                                            "limit": "the Redis thread"}
    assert e["topologies"]["3-shard store + Redis broker"]["limit"] == "the 3 store shards"
    # A broker costlier than three shards' worth of store: it sets the ceiling, but not
    # when the broker is RabbitMQ.
    heavy = estimate(Costs(0.05, 0.5, 10, 5, 4000, 1000, 2.0), shards=(3,))
    assert heavy["topologies"]["3-shard store + Redis broker"] == {
        "per_s": pytest.approx(2000), "limit": "the broker Redis"}
    assert heavy["topologies"]["3-shard store + RabbitMQ"]["per_s"] == pytest.approx(60_000)
    # The indexes' writes land on one primary: they cap the cluster, however many shards.
    hot = estimate(Costs(0.2, 0.05, 10, 5, 4000, 1000, 2.0, hot_cpu_ms=0.01), shards=(3, 1000))
    assert hot["cluster_per_s"][3] == pytest.approx(1000 / (0.2 / 3 + 0.01))
    assert hot["cluster_per_s"][1000] < 100_000  # 1000 / 0.01
    # Link-bound: big payloads.
    fat = estimate(Costs(0.01, 0.01, 10, 5, 2_000_000, 500_000, 2.0))
    assert fat["topologies"]["one Redis"]["limit"] == "the Redis link"


def test_index_commands_count_every_due_zadd() -> None:
    from bench.hotkeys import commands_per_transition

    # Notifications saw 0.4 changed writes of sfn:due per transition: the claim's and the
    # commit's ZADD LT are sent anyway (2 per Task state).
    assert commands_per_transition({"sfn:due": 0.4, "sfn:recent": 0.2}) == pytest.approx(2.2)
    assert commands_per_transition({"sfn:due": 3.0}) == pytest.approx(3.0)
