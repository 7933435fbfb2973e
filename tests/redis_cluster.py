"""A local Redis Cluster for the tests and the chaos run: six plain `redis-server
--cluster-enabled yes` processes on free ports (AOF on, a folder each), made a cluster of
three primaries with one replica each by `redis-cli --cluster create ... --cluster-replicas 1
--cluster-yes`. Nothing outside its folder and ports is touched; `stop` ends every node."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import redis

from engine.embedded import RedisServer, free_port

#: How long a primary may be silent before its replica takes over (redis.conf's default is
#: 15 s; short here so that a failover in a test or the chaos run takes about two seconds).
NODE_TIMEOUT_MS = 2000


def cluster_port() -> int:
    """A free port whose cluster bus port (10000 higher) is free too."""
    for _ in range(200):
        port = free_port()
        if port <= 55535 and _free(port + 10000):
            return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class ClusterNode(RedisServer):
    def command(self) -> list[str]:
        return [*super().command(), "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(NODE_TIMEOUT_MS)]

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True,
                           socket_timeout=5)


class LocalCluster:
    def __init__(self, base: Path, *, primaries: int = 3, replicas: int = 1) -> None:
        self.base = base
        self.nodes = [ClusterNode(base / f"node{i}", cluster_port())
                      for i in range(primaries * (1 + replicas))]
        self.replicas = replicas

    @property
    def url(self) -> str:
        """The store's REDIS_URL: every node a seed."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def start(self, timeout: float = 60.0) -> LocalCluster:
        cli = shutil.which("redis-cli")
        if cli is None:
            raise RuntimeError("redis-cli is not installed: run `make setup`")
        try:
            self._create(cli, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _create(self, cli: str, timeout: float) -> None:
        for node in self.nodes:
            node.start()
        subprocess.run(  # noqa: S603 - the installed redis-cli
            [cli, "--cluster", "create", *(f"127.0.0.1:{n.port}" for n in self.nodes),
             "--cluster-replicas", str(self.replicas), "--cluster-yes"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout,
        )
        self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float = 60.0) -> None:
        """Every live node sees the cluster ok, and every primary has its replicas online."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._healthy():
                return
            time.sleep(0.2)
        raise RuntimeError(f"the Redis Cluster under {self.base} did not become healthy")

    def _healthy(self) -> bool:
        try:
            for node in self.live_nodes():
                client = node.client()
                if client.cluster("info").get("cluster_state") != "ok":
                    return False
                info = client.info("replication")
                if info["role"] == "master" and info["connected_slaves"] < self.replicas:
                    return False
                if info["role"] == "master" and any(
                    isinstance(v, dict) and v.get("state") != "online" for v in info.values()
                ):
                    return False
                if info["role"] == "slave" and info.get("master_link_status") != "up":
                    return False
        except (redis.RedisError, OSError):
            return False
        return True

    def live_nodes(self) -> list[ClusterNode]:
        return [n for n in self.nodes if n.process is not None and n.process.poll() is None]

    def role(self, node: ClusterNode) -> str:
        return str(node.client().info("replication")["role"])

    def _myself(self, node: ClusterNode) -> dict[str, Any]:
        for entry in node.client().cluster("nodes").values():
            if "myself" in entry["flags"]:
                return dict(entry)
        raise RuntimeError(f"node on port {node.port} does not know itself")

    def primary_of(self, key: str) -> ClusterNode:
        """The live primary that serves `key`'s slot."""
        slot = int(self.live_nodes()[0].client().cluster("keyslot", key))
        for node in self.live_nodes():
            try:
                me = self._myself(node)
            except redis.RedisError:
                continue
            if "master" in me["flags"] and any(
                int(low) <= slot <= int(high) for low, high in me["slots"]
            ):
                return node
        raise RuntimeError(f"no live primary serves slot {slot}")

    def replica_of(self, primary: ClusterNode) -> ClusterNode:
        node_id = self._myself(primary)["node_id"]
        for node in self.live_nodes():
            if node is not primary and self._myself(node)["master_id"] == node_id:
                return node
        raise RuntimeError(f"primary on port {primary.port} has no live replica")

    def kill(self, node: ClusterNode) -> None:
        """SIGKILL, as a host dies: what it had not yet sent to its replica is gone."""
        assert node.process is not None
        node.process.kill()
        node.process.wait()

    def wait_promoted(self, node: ClusterNode, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if (self.role(node) == "master"
                        and node.client().cluster("info").get("cluster_state") == "ok"):
                    return
            except redis.RedisError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"node on port {node.port} was not promoted")

    def restart(self, node: ClusterNode) -> None:
        """Start a killed node again on its port and folder: it rejoins as a replica of
        whoever took its slots."""
        node.start()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
