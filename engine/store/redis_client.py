"""The store's Redis client from a REDIS_URL: one Redis, or a Redis Cluster.

    redis://[:PASSWORD@]HOST:PORT/0             one Redis (a primary, with or without replicas)
    rediss://...                                the same over TLS
    redis+cluster://[:PASSWORD@]HOST:PORT[,HOST:PORT...]
    rediss+cluster://...                        a Redis Cluster (over TLS): the store on
                                                redis-py's RedisCluster client

A cluster URL names one or more seed nodes; the client learns the whole topology (slots,
primaries, replicas) from the first that answers, and again after a failover. Give several
seeds so that a process started while one of them is down still finds the cluster. A
cluster has one database only: a path other than `/0` is refused.

Every script the store runs touches one slot (the keys of one execution share its `{eid}`
hash tag: engine/store/keys.py); the indexes across executions are single-key commands
sent to whichever primary holds them (engine/store/scripts.py runs both).

A cluster cannot be Celery's broker (kombu's Redis transport has no cluster support):
with a cluster URL, BROKER_URL must name a plain Redis or RabbitMQ (engine/settings.py).
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.cluster import ClusterNode, RedisCluster

#: URL schemes of a Redis Cluster, and the plain scheme each stands for.
CLUSTER_SCHEMES: Final = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


def is_cluster_url(url: str | None) -> bool:
    return bool(url) and urlsplit(str(url)).scheme.lower() in CLUSTER_SCHEMES


def is_cluster(client: Any) -> bool:
    """Whether `client` talks to a Redis Cluster (commands that span slots differ)."""
    return isinstance(client, RedisCluster)


def is_redis(client: Any) -> bool:
    """Whether `client` is a Redis client, of one Redis or of a cluster."""
    return isinstance(client, (redis.Redis, RedisCluster))


def cluster_seeds(url: str) -> tuple[str, list[tuple[str, int]]]:
    """A cluster URL as a plain URL on its first seed, and every seed as (host, port).
    ValueError names what is wrong with it."""
    parts = urlsplit(url)
    scheme = CLUSTER_SCHEMES.get(parts.scheme.lower())
    if scheme is None:
        raise ValueError(f"not a cluster URL (redis+cluster:// or rediss+cluster://): {url}")
    userinfo, _, hosts = parts.netloc.rpartition("@")
    seeds: list[tuple[str, int]] = []
    for item in hosts.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host:
            host, port = item.strip(), "6379"
        try:
            seeds.append((host.strip("[]") or "localhost", int(port)))
        except ValueError:
            raise ValueError(f"bad host:port {item!r} in the cluster URL") from None
    if parts.path not in ("", "/", "/0"):
        raise ValueError("a Redis Cluster has one database only: drop the /N from the URL")
    first = f"{seeds[0][0]}:{seeds[0][1]}"
    if ":" in seeds[0][0]:
        first = f"[{seeds[0][0]}]:{seeds[0][1]}"
    netloc = f"{userinfo}@{first}" if userinfo else first
    return urlunsplit((scheme, netloc, "", parts.query, "")), seeds


def client_from_url(url: str, **options: Any) -> Any:
    """A decoding-or-not client (as `options` say) on a Redis or a Redis Cluster URL.

    `options` are redis-py's connection options; for a cluster, `retry` also drives the
    client's own retries after MOVED, a failover or a dropped node (it re-reads the
    topology between attempts)."""
    if not is_cluster_url(url):
        return redis.Redis.from_url(url, **options)
    plain, seeds = cluster_seeds(url)
    options.pop("health_check_interval", None)
    return RedisCluster.from_url(
        plain,
        startup_nodes=[ClusterNode(host, port) for host, port in seeds],  # type: ignore[no-untyped-call]
        **options,
    )
