"""The store on a Redis Cluster: what a cluster URL gives, the start-up checks that name a
wrong kind of server, and WAIT after a commit (tests/redis_cluster.py starts the cluster)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.redis_safety import RedisSetupError, preflight
from engine.settings import Settings
from engine.store.base import Commit, DocWrite, ExecutionRecord
from engine.store.redis_client import cluster_seeds, is_cluster
from engine.store.redis_store import RedisStore
from tests.redis_cluster import ClusterNode, LocalCluster, cluster_port

pytestmark = [pytest.mark.redis]

ROOT = Path(__file__).resolve().parent.parent
BROKER = {"BROKER_URL": "redis://127.0.0.1:1/0"}


def test_a_cluster_url_names_its_seeds() -> None:
    plain, seeds = cluster_seeds("redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7001/0")
    assert plain == "redis://:pw@10.0.0.1:7000"
    assert seeds == [("10.0.0.1", 7000), ("10.0.0.2", 7001)]
    assert cluster_seeds("rediss+cluster://h")[0] == "rediss://h:6379"
    with pytest.raises(ValueError, match="one database only"):
        cluster_seeds("redis+cluster://h:7000/3")
    with pytest.raises(ValueError, match="bad host:port"):
        cluster_seeds("redis+cluster://h:port")


def test_a_cluster_cannot_be_the_broker() -> None:
    settings = Settings(redis_url="redis+cluster://127.0.0.1:7000")
    with pytest.raises(ValueError, match="cannot be Celery's broker: set BROKER_URL"):
        _ = settings.broker
    assert Settings(redis_url="redis+cluster://h:1", broker_url="amqp://b//").broker == (
        "amqp://b//"
    )
    with pytest.raises(RedisSetupError, match="cannot be Celery's broker"):
        preflight("redis+cluster://127.0.0.1:7000", env={})


def test_the_store_on_a_cluster_url_uses_the_cluster_client(redis_cluster: LocalCluster) -> None:
    assert preflight(redis_cluster.url, env=BROKER) == []
    store = RedisStore.from_url(redis_cluster.url)
    assert is_cluster(store.r)
    assert not is_cluster(RedisStore.from_url(redis_cluster.nodes[0].url).r)


def test_a_plain_url_on_a_cluster_node_is_refused(redis_cluster: LocalCluster) -> None:
    node = redis_cluster.nodes[0]
    with pytest.raises(RedisSetupError) as caught:
        preflight(node.url, env={})
    message = caught.value.message
    assert f"127.0.0.1:{node.port} is a node of a Redis Cluster" in message
    assert "MOVED" in message
    assert f"redis+cluster://127.0.0.1:{node.port}" in message


def test_a_cluster_url_on_a_plain_redis_is_refused(redis_url: str) -> None:
    url = redis_url.replace("redis://", "redis+cluster://").rsplit("/", 1)[0]
    with pytest.raises(RedisSetupError, match="is not in cluster mode"):
        preflight(url, env=BROKER)


@pytest.fixture
def partial_cluster(tmp_path: Path) -> Iterator[ClusterNode]:
    """A one-node cluster that serves every slot but the last."""
    node = ClusterNode(tmp_path / "node", cluster_port())
    node.start()
    node.client().execute_command("CLUSTER ADDSLOTSRANGE", 0, 16382)
    yield node
    node.stop()


def test_a_cluster_with_a_slot_uncovered_is_refused(partial_cluster: ClusterNode) -> None:
    url = f"redis+cluster://127.0.0.1:{partial_cluster.port}"
    with pytest.raises(RedisSetupError) as caught:
        preflight(url, env=BROKER)
    assert "does not serve every slot: 16383 of 16384 slots served" in caught.value.message


def test_a_worker_on_a_plain_url_to_a_cluster_node_exits_naming_it(
    redis_cluster: LocalCluster,
) -> None:
    node = redis_cluster.nodes[0]
    done = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "worker", "worker", "-Q", "sfn",
         "--without-gossip", "--without-mingle"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "REDIS_URL": node.url, "BROKER_URL": "redis://127.0.0.1:1/0",
             "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "is a node of a Redis Cluster" in done.stderr


# --- WAIT -------------------------------------------------------------------------------


def _record(eid: str) -> ExecutionRecord:
    return ExecutionRecord(
        eid=eid, arn=f"arn:aws:states:us-east-1:0:execution:{eid}", name=eid.split(":")[1],
        state_machine_arn="arn:aws:states:us-east-1:0:stateMachine:W",
        state_machine_name="W", definition_sha="abc", status="RUNNING", input="{}",
        start=1000.0,
    )


def _start_and_commit(store: RedisStore, eid: str) -> None:
    created, _ = store.create_execution(
        _record(eid), DocWrite("run", "0", 0, {"p": 0}, "new", 0),
        [{"timestamp": "t", "type": "ExecutionStarted"}], [],
    )
    assert created
    result = store.commit(eid, Commit(writes=[DocWrite("run", "0", 1, {"p": 1}, "ready", 0)],
                                      events=[{"timestamp": "t", "type": "PassStateEntered"}]))
    assert result.ok, result.reason


def test_commits_wait_for_the_replica_of_their_primary(
    redis_cluster: LocalCluster, unique: str
) -> None:
    eid = f"W:{unique}"
    primary = redis_cluster.primary_of(f"sfn:x:{{{eid}}}:meta")
    replica = redis_cluster.replica_of(primary)
    store = RedisStore.from_url(redis_cluster.url, wait_replicas=1, wait_ms=300)
    unwaited = RedisStore.from_url(redis_cluster.url)
    _start_and_commit(store, f"W:{unique}-warm")
    assert store._runner.short_waits == 0  # the replica acknowledges in time
    assert replica.process is not None
    os.kill(replica.process.pid, signal.SIGSTOP)  # the replica stops acknowledging
    try:
        _start_and_commit(unwaited, f"{eid}-nowait")
        assert unwaited._runner.short_waits == 0
        _start_and_commit(store, eid)
        # The start and the commit each WAITed on the connection that wrote them, and
        # saw no replica hold the write in time (a WAIT on any other connection would
        # count the replica's last acknowledgement as enough).
        assert store._runner.short_waits == 2
    finally:
        os.kill(replica.process.pid, signal.SIGCONT)
    redis_cluster.wait_healthy()


def test_a_single_redis_waits_when_asked(redis_url: str, unique: str) -> None:
    """WAIT on a plain Redis: no replica there, so every durable write is counted short."""
    store = RedisStore.from_url(redis_url, wait_replicas=1, wait_ms=10)
    _start_and_commit(store, f"W:{unique}")
    assert store._runner.short_waits == 2


def test_worker_metrics_and_the_fleet_are_read_from_a_cluster(
    redis_cluster: LocalCluster, unique: str
) -> None:
    from engine.fleet import Fleet
    from engine.metrics import RedisSink, build_registry, sink_for

    store = RedisStore.from_url(redis_cluster.url)
    sink = sink_for(store)
    assert isinstance(sink, RedisSink)
    # Two families: two hashes in different slots, one MULTI each on a cluster.
    sink.add({("state_transitions", (f"M{unique}", "Pass"), ""): 2.0,
              ("state_duration_seconds", (f"M{unique}", "Pass"), "sum"): 0.5})
    read = sink.read()
    assert read["state_transitions"][json_field(f"M{unique}", "Pass")] == 2.0
    assert read["state_duration_seconds"][json_field(f"M{unique}", "Pass", "sum")] == 0.5
    fleet = Fleet(store.r)
    fleet.announce(f"n{unique}", {"Echo": "sfn"}, ["sfn"], ttl=30)
    fleet.announce(f"m{unique}", {"Ship": "sfn"}, ["sfn"], ttl=30)
    assert {f"n{unique}", f"m{unique}"} <= {w.node for w in fleet.live()}
    fleet.withdraw(f"n{unique}")
    fleet.withdraw(f"m{unique}")
    # /metrics on a cluster store has the workers' samples and the fleet's gauges.
    names = {m.name for m in build_registry(store).collect()}
    assert {"sfn_state_transitions", "sfn_workers_live"} <= names


def json_field(*labels: str) -> str:
    import json

    return json.dumps(list(labels), ensure_ascii=False, separators=(",", ":"))


def test_the_api_answers_503_while_the_cluster_cannot_answer(
    tmp_path: Path, redis_url: str
) -> None:
    """A cluster store that cannot answer (here: every node stopped) is the store being
    unavailable, as a Redis that is down: 503 ServiceUnavailable, not a 500."""
    from botocore.exceptions import ClientError
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from engine.api import server
    from engine.connect import connect
    from tests.api_stack import sfn_client

    cluster = LocalCluster(tmp_path / "cluster", primaries=3, replicas=0).start()
    client = connect(Settings(redis_url=cluster.url, broker_url=redis_url))
    store_client = client.store.r  # type: ignore[attr-defined]
    store_client.set_retry(Retry(NoBackoff(), 0))  # fail at once, not after ~30 s
    for node in store_client.get_nodes():
        node.redis_connection.connection_pool.connection_kwargs["retry"] = Retry(NoBackoff(), 0)
    running = server.start_background(server.build_app(client))
    try:
        cluster.stop()
        with pytest.raises(ClientError) as caught:
            sfn_client(running.url).list_state_machines()
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert caught.value.response["Error"]["Code"] == "ServiceUnavailable"
    finally:
        running.stop()
        cluster.stop()
