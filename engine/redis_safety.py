"""Start-up checks of the Redis the engine stores its truth in, and the masking of its URL.

    from engine.redis_safety import preflight, mask_url
    warnings = preflight(url)        # raises RedisSetupError (one line) or returns warnings
    print(mask_url(url))             # redis://:****@host:6379/0

Three things are checked before a worker, `sfn serve` or the CLI builds its store:

- Reachable, with the right password and TLS, within seconds: the store's own client rides
  out a Redis restart by retrying for about half a minute, which turned a wrong password
  or a TLS mismatch into a 38-100 s hang and a traceback. The probe here uses short
  timeouts and no retry, and names the problem in one line.
- `maxmemory-policy`: an evicting policy (`allkeys-lru`, `volatile-ttl`, ...) makes Redis
  delete keys when it is full, and with them state machines and executions, silently. The
  engine refuses to run on one unless `SFN_ALLOW_EVICTION=1` says the operator knows.
- `appendonly`: without AOF a Redis restart loses everything since the last RDB save (or
  everything, with saving off): a warning says so, and the engine carries on.

A Redis with CONFIG disabled (renamed away, as managed services do) cannot be asked; that
is said in a warning and the engine carries on.

And the kind of server the URL's scheme promises (engine/store/redis_client.py):

- `redis://` on a node of a Redis Cluster: refused (its keys would be answered MOVED
  whenever they live on another node), naming the cluster URL to use instead;
- `redis+cluster://` on a Redis that is not in cluster mode: refused;
- a cluster whose slots are not all served (a primary down with no replica to take over, or
  slots never assigned): refused, with how many of the 16384 slots are served;
- a cluster URL with no BROKER_URL: refused (a cluster cannot be Celery's broker).
  Every primary's configuration is checked as above.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import redis

from engine.store.redis_client import cluster_seeds, is_cluster_url

#: The environment variable that lets the engine run on an evicting `maxmemory-policy`.
ALLOW_EVICTION_ENV: Final = "SFN_ALLOW_EVICTION"
#: Seconds the probe waits to connect and for an answer.
PROBE_TIMEOUT: Final = 5.0
#: The hash slots of a Redis Cluster, every one of which must be served.
CLUSTER_SLOTS: Final = 16384
#: The policies under which Redis never deletes a key to make room.
SAFE_POLICIES: Final = frozenset({"noeviction"})


class RedisSetupError(Exception):
    """The configured Redis cannot hold the engine's truth safely (or cannot be reached).
    A start-up fault of the deployment, not an answer to a request: not an EngineError, so
    that commands do not handle it as one (the CLI's `main` prints it in one line)."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        #: Nothing answered (yet): a worker waits for it, a command gives up.
        self.unreachable = unreachable


def mask_url(url: str | None) -> str:
    """`url` with its password (and a user's password) replaced by `****`."""
    if not url:
        return str(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable Redis URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = f"{user}:****@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def where(url: str) -> str:
    """`host:port` of a Redis URL, for messages."""
    try:
        parts = urlsplit(url)
        return f"{parts.hostname or 'localhost'}:{parts.port or 6379}"
    except ValueError:
        return "<unparsable Redis URL>"


def probe(url: str, *, timeout: float = PROBE_TIMEOUT) -> redis.Redis:
    """A client on `url` that has answered PING, or RedisSetupError naming the problem.
    A cluster URL: a client on the first of its seeds that answers."""
    if is_cluster_url(url):
        return _probe_seeds(url, timeout)
    at = where(url)
    try:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout,
            decode_responses=True, retry_on_error=[], retry=None,
        )
    except ValueError as exc:
        raise RedisSetupError(f"bad Redis URL {mask_url(url)}: {exc}") from None
    try:
        client.ping()
    except redis.AuthenticationError as exc:
        if "HELLO must be called" in str(exc) or "NOAUTH" in str(exc):
            raise RedisSetupError(
                f"Redis at {at} needs a password: put it in REDIS_URL "
                "(redis://:PASSWORD@host:port/0)"
            ) from None
        raise RedisSetupError(
            f"Redis at {at} refused the password in REDIS_URL ({_one_line(str(exc))})"
        ) from None
    except redis.ResponseError as exc:
        if "NOAUTH" in str(exc) or "WRONGPASS" in str(exc):
            raise RedisSetupError(
                f"Redis at {at} needs a password: put it in REDIS_URL "
                "(redis://:PASSWORD@host:port/0)"
            ) from None
        raise RedisSetupError(f"Redis at {at} answered PING with an error: {exc}") from None
    except redis.TimeoutError:
        hint = (" (is it a TLS port? use rediss://)" if url.startswith("redis://")
                else " (rediss:// given: does this Redis speak TLS?)")
        raise RedisSetupError(
            f"Redis at {at} did not answer within {timeout:g} s{hint}", unreachable=True
        ) from None
    except redis.ConnectionError as exc:
        text = str(exc)
        if "SSL" in text or "ssl" in text or "TLS" in text:
            raise RedisSetupError(f"TLS to Redis at {at} failed: {_one_line(text)}") from None
        if url.startswith("redis://") and ("reset" in text or "closed" in text):
            text += " (is it a TLS port? use rediss://)"
        raise RedisSetupError(
            f"cannot reach Redis at {at}: {_one_line(text)}", unreachable=True
        ) from None
    except (redis.InvalidResponse, redis.RedisError) as exc:
        raise RedisSetupError(
            f"{at} does not answer like Redis ({_one_line(str(exc))})"
        ) from None
    return client


def check_config(
    client: Any, *, allow_eviction: bool = False
) -> list[str]:
    """Warnings about `client`'s persistence; RedisSetupError on an evicting policy."""
    warnings: list[str] = []
    try:
        policy = _config(client, "maxmemory-policy")
        appendonly = _config(client, "appendonly")
    except redis.ResponseError as exc:
        return [f"cannot read the Redis configuration (CONFIG GET: {_one_line(str(exc))}); "
                "make sure maxmemory-policy is noeviction and appendonly is yes"]
    if policy is not None and policy not in SAFE_POLICIES:
        message = (f"Redis maxmemory-policy is {policy}: Redis would delete state machines and "
                   "executions when full; set it to noeviction "
                   f"(or {ALLOW_EVICTION_ENV}=1 to run anyway)")
        if not allow_eviction:
            raise RedisSetupError(message)
        warnings.append(message.replace(f" (or {ALLOW_EVICTION_ENV}=1 to run anyway)",
                                        f" ({ALLOW_EVICTION_ENV}=1: running anyway)"))
    if appendonly is not None and appendonly != "yes":
        warnings.append("Redis appendonly is no: a Redis restart loses every write since its "
                        "last snapshot (executions, their histories, timers); "
                        "set appendonly yes")
    return warnings


def preflight(
    url: str, env: Mapping[str, str] | None = None, *, broker_url: str | None = None
) -> list[str]:
    """Probe `url` and check its configuration: the warnings, or RedisSetupError.
    `broker_url`: the broker configured (else BROKER_URL in `env`)."""
    e = os.environ if env is None else env
    allow = e.get(ALLOW_EVICTION_ENV, "").strip().lower() in ("1", "true", "yes")
    if is_cluster_url(url) and not (broker_url or e.get("BROKER_URL")):
        raise RedisSetupError(
            f"REDIS_URL names a Redis Cluster ({mask_url(url)}), which cannot be Celery's "
            "broker: set BROKER_URL to a plain Redis (redis://...) or RabbitMQ (amqp://...)"
        )
    client = probe(url)
    try:
        primaries = check_mode(client, url)
        if not primaries:
            return check_config(client, allow_eviction=allow)
    finally:
        client.close()
    warnings: list[str] = []
    for at in primaries:  # each primary keeps its share of the truth: each is checked
        node = probe(_on(url, at))
        try:
            warnings.extend(
                f"{at}: {w}" for w in check_config(node, allow_eviction=allow)
            )
        finally:
            node.close()
    return warnings


def check_mode(client: Any, url: str) -> list[str]:
    """RedisSetupError when the server is not the kind `url`'s scheme says (see the
    module's doc); for a cluster, its primaries as host:port."""
    at = where(_on(url, None) if is_cluster_url(url) else url)
    try:
        enabled = str(client.info("cluster").get("cluster_enabled", 0)) == "1"
    except redis.ResponseError:
        enabled = False  # INFO disabled: a managed Redis, taken at its URL's word
    if not is_cluster_url(url):
        if enabled:
            raise RedisSetupError(
                f"Redis at {at} is a node of a Redis Cluster: the store would be answered "
                f"MOVED for keys on other nodes; use REDIS_URL=redis+cluster://{at}"
            )
        return []
    if not enabled:
        raise RedisSetupError(
            f"Redis at {at} is not in cluster mode (cluster_enabled:0) but REDIS_URL says "
            f"redis+cluster://: use redis://{at}/0, or enable cluster mode"
        )
    info = client.cluster("info")
    ok = int(info.get("cluster_slots_ok", 0))
    if info.get("cluster_state") != "ok" or ok < CLUSTER_SLOTS:
        raise RedisSetupError(
            f"the Redis Cluster at {at} does not serve every slot: {ok} of {CLUSTER_SLOTS} "
            f"slots served, cluster_state:{info.get('cluster_state')} (a primary down with "
            "no replica, or slots never assigned: see CLUSTER NODES)",
            # A failover in progress looks the same for a second or two: a worker waits
            # for the slots to be served again (saying so), a command gives up.
            unreachable=True,
        )
    return sorted(
        address.split("@", 1)[0]
        for address, entry in client.cluster("nodes").items()
        if "master" in entry["flags"] and "fail" not in entry["flags"] and entry["slots"]
    )


def _on(url: str, address: str | None) -> str:
    """A plain redis:// URL on `address` (host:port; None: the first seed) with `url`'s
    credentials and TLS."""
    plain, seeds = cluster_seeds(url)
    if address is None:
        return plain
    parts = urlsplit(plain)
    userinfo = parts.netloc.rpartition("@")[0]
    return urlunsplit((parts.scheme, f"{userinfo}@{address}" if userinfo else address,
                       "", parts.query, ""))


def _probe_seeds(url: str, timeout: float) -> redis.Redis:
    try:
        _, seeds = cluster_seeds(url)
    except ValueError as exc:
        raise RedisSetupError(f"bad Redis Cluster URL {mask_url(url)}: {exc}") from None
    failure: RedisSetupError | None = None
    for host, port in seeds:
        try:
            return probe(_on(url, f"{host}:{port}"), timeout=timeout)
        except RedisSetupError as exc:
            if not exc.unreachable:
                raise
            failure = exc
    assert failure is not None
    raise failure


def preflight_worker(url: str, *, retry_every: float = 2.0) -> None:
    """A worker's start-up check: print the warnings; on a misconfiguration (evicting
    policy, wrong password, not Redis), print one line and exit with status 2. A Redis
    that does not answer yet is waited for (a worker started during a Redis restart must
    come up with it, not crash-loop), saying so once."""
    said = False
    while True:
        try:
            warnings = preflight(url)
        except RedisSetupError as exc:
            if not exc.unreachable:
                sys.stderr.write(f"error: {exc.message}\n")
                sys.stderr.flush()
                raise SystemExit(2) from None
            if not said:
                sys.stderr.write(f"warning: {exc.message}; waiting for it\n")
                sys.stderr.flush()
                said = True
            time.sleep(retry_every)
            continue
        for warning in warnings:
            sys.stderr.write(f"warning: {warning}\n")
        sys.stderr.flush()
        return


def _config(client: Any, name: str) -> str | None:
    value = client.config_get(name)
    found = value.get(name) if isinstance(value, dict) else None
    return None if found is None else str(found)


def _one_line(text: str) -> str:
    return " ".join(text.split())
