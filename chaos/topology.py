"""Where the chaos run keeps its truth and sends its messages, and which of those it restarts.

- `redis` (make chaos): one redis-server is the store and the broker; the faults restart it.
- `rabbitmq` (make chaos-rabbitmq): the store on a redis-server, RabbitMQ the broker
  (tests/rabbitmq_server.py, quorum queues: engine/celery_app.py); the faults restart
  RabbitMQ (SIGTERM, then started again on its port and data) at the restart points.
  Messages are not duplicated by reading the broker (the duplicator reads Redis lists): the
  broker's own redelivery after the restarts and worker kills is what duplicates.
- `cluster` (make chaos-cluster): the store on a 6-node Redis Cluster (tests/redis_cluster.py)
  with commits WAITing for one replica, a plain redis-server the broker; at the restart
  points a primary is SIGKILLed, its replica takes over, and the killed node comes back as a
  replica. The duplicator copies messages from the broker Redis as in `redis`.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from engine.embedded import RedisServer

log = logging.getLogger(__name__)

TOPOLOGIES = ("redis", "rabbitmq", "cluster")
#: The summary line's name for the restarts each topology makes.
RESTART_LABEL = {"redis": "redis restarts", "rabbitmq": "rabbitmq restarts",
                 "cluster": "primary failovers"}


class _RabbitFault:
    """RabbitMQ as `RedisRestarter` restarts a server: kill, then start."""

    def __init__(self, server: Any) -> None:
        self.server = server

    def kill(self) -> None:
        self.server.stop()

    def start(self, timeout: float = 120.0) -> None:
        self.server.start(timeout=timeout)


class _FailoverFault:
    """A primary of the cluster as `RedisRestarter` restarts a server: `kill` SIGKILLs the
    primary of a random slot; `start` waits for its replica's promotion, then starts the
    killed node again (it rejoins as a replica) and waits for the cluster to be whole."""

    def __init__(self, cluster: Any, rng: random.Random) -> None:
        self.cluster, self.rng = cluster, rng
        self.killed: Any = None
        self.replica: Any = None
        #: Seconds from the kill to the replica serving the slots, per failover.
        self.failovers: list[float] = []
        self._at = 0.0

    def kill(self) -> None:
        primary = self.cluster.primary_of(f"chaos-{self.rng.random()}")
        self.replica = self.cluster.replica_of(primary)
        self.killed = primary
        self._at = time.monotonic()
        self.cluster.kill(primary)

    def start(self, timeout: float = 120.0) -> None:
        self.cluster.wait_promoted(self.replica, timeout=timeout)
        self.failovers.append(round(time.monotonic() - self._at, 2))
        self.cluster.restart(self.killed)
        self.cluster.wait_healthy(timeout)


class NoDuplicates(threading.Thread):
    """The duplicator's place when the broker is not a Redis it can read."""

    def __init__(self) -> None:
        super().__init__(daemon=True, name="chaos-no-duplicator")
        self.sent: Counter[str] = Counter()

    def run(self) -> None:
        return


class Topology:
    def __init__(self, name: str, run_dir: Path) -> None:
        if name not in TOPOLOGIES:
            raise ValueError(f"unknown topology {name!r}: one of {', '.join(TOPOLOGIES)}")
        self.name = name
        self.run_dir = run_dir
        self.redis: RedisServer | None = None
        self.broker_redis: RedisServer | None = None
        self.rabbit: Any = None
        self.cluster: Any = None
        self.failover: _FailoverFault | None = None

    def start(self) -> None:
        if self.name == "cluster":
            from tests.redis_cluster import LocalCluster

            self.cluster = LocalCluster(self.run_dir / "cluster").start()
            self.broker_redis = RedisServer(self.run_dir / "broker").start()
            return
        self.redis = RedisServer(self.run_dir / "redis")  # AOF, appendfsync everysec
        self.redis.start()
        if self.name == "rabbitmq":
            from tests.rabbitmq_server import RabbitServer

            self.rabbit = RabbitServer(self.run_dir / "rabbitmq").start()

    @property
    def store_url(self) -> str:
        if self.cluster is not None:
            return str(self.cluster.url)
        assert self.redis is not None
        return self.redis.url

    @property
    def broker_url(self) -> str | None:
        """BROKER_URL (None: the store's Redis is the broker)."""
        if self.rabbit is not None:
            return str(self.rabbit.url)
        return self.broker_redis.url if self.broker_redis is not None else None

    @property
    def queue_redis_url(self) -> str | None:
        """The Redis whose lists hold Celery's queues (the duplicator reads them)."""
        if self.rabbit is not None:
            return None
        return self.broker_url or self.store_url

    def worker_env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        if self.broker_url is not None:
            env["BROKER_URL"] = self.broker_url
        if self.cluster is not None:
            # Commits WAIT for the replica: a killed primary loses no acknowledged step.
            env["SFN_REDIS_WAIT_REPLICAS"] = "1"
        return env

    def restartable(self, rng: random.Random) -> Any:
        """What the restart points restart (see the module's doc)."""
        if self.rabbit is not None:
            return _RabbitFault(self.rabbit)
        if self.cluster is not None:
            self.failover = _FailoverFault(self.cluster, rng)
            return self.failover
        return self.redis

    def details(self) -> dict[str, Any]:
        found: dict[str, Any] = {"topology": self.name}
        if self.failover is not None:
            found["failover_seconds"] = self.failover.failovers
        return found

    def stop(self) -> None:
        if self.rabbit is not None:
            self.rabbit.close()
        if self.cluster is not None:
            self.cluster.stop()
        for server in (self.redis, self.broker_redis):
            if server is not None:
                server.stop()
