"""Running the store's Lua scripts and the index updates beside them, in one round trip on
one Redis, or one per node on a Redis Cluster.

A store method queues its commands on a `Batch` (an execution's script first, then the
updates of the indexes across executions); `ScriptRunner.run` sends them:

- one Redis: one pipeline (no MULTI), as before;
- a Redis Cluster: redis-py's cluster pipeline refuses EVALSHA, so each script goes in a
  pipeline of its own to the primary that holds its slot (every script touches one slot:
  the keys of one execution share its `{eid}` hash tag), and the other commands through the
  cluster pipeline, which sends each to the primary of its key. A script answered MOVED,
  ASK, TRYAGAIN or CLUSTERDOWN, or a primary that does not answer (a failover), is sent
  again once the topology has been read again, for up to `failover_seconds`.

`wait_replicas` (SFN_REDIS_WAIT_REPLICAS): a durable run (a commit, a start) ends with
`WAIT n ms` on the connection that ran its script, so that its reply (and with it the
acknowledgement of the broker message whose step it ends) comes only once `n` replicas
hold the write: a failover then cannot lose a commit the engine acted on. A WAIT that times
out with fewer replicas (one is down) is counted and logged, and the step goes on: the
engine stays available with a replica down, and that window is the one asynchronous
replication always had (docs/fleets.md).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from importlib import resources as importlib_resources
from typing import Any

import redis
from redis.exceptions import (
    AskError,
    ClusterDownError,
    NoScriptError,
    TryAgainError,
)

from engine.store.redis_client import is_cluster

log = logging.getLogger("engine.redis")

#: Answers after which a script on a cluster is sent again once the topology is re-read
#: (MovedError is an AskError; nothing ran).
_REROUTE = (AskError, ClusterDownError, TryAgainError)
#: Raised by a node that does not answer: its primary is failing over, or restarting.
_UNREACHABLE = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError)


def script_text(name: str) -> str:
    return importlib_resources.files("engine.store").joinpath(f"lua/{name}.lua").read_text()


class Lua:
    """A script run by EVALSHA inside a pipeline. redis-py's own `Script` makes a pipeline
    ask `SCRIPT EXISTS` before every execute (one more round trip per commit); here a
    NOSCRIPT reply (a restarted or flushed Redis, a replica just promoted) loads the script
    and runs the pipeline again, which is safe: a NOSCRIPT script ran nothing, and the other
    commands queued beside scripts are index updates that may be applied twice."""

    def __init__(self, name: str) -> None:
        self.text = script_text(name)
        self.sha = hashlib.sha1(self.text.encode()).hexdigest()  # noqa: S324 - Redis's id

    def queue(self, pipe: Any, keys: list[str], args: list[Any]) -> None:
        pipe.evalsha(self.sha, len(keys), *keys, *args)


class Batch:
    """Commands a store method queues (`batch.zadd(...)`, `script.queue(batch, ...)`),
    replayed by `ScriptRunner` on whichever pipelines the deployment needs."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Callable[..., None]:
        if name.startswith("_"):
            raise AttributeError(name)

        def queue(*args: Any, **kwargs: Any) -> None:
            self.commands.append((name, args, kwargs))

        return queue


def _replay(pipe: Any, batch: Batch, indexes: list[int]) -> None:
    for i in indexes:
        name, args, kwargs = batch.commands[i]
        getattr(pipe, name)(*args, **kwargs)


class ScriptRunner:
    def __init__(
        self,
        client: Any,
        scripts: list[Lua],
        *,
        oom_wait: float = 0.0,
        wait_replicas: int = 0,
        wait_ms: int = 1000,
        failover_seconds: float = 30.0,
    ) -> None:
        self.r = client
        self.scripts = scripts
        self.oom_wait = oom_wait
        self.wait_replicas = wait_replicas
        self.wait_ms = wait_ms
        self.failover_seconds = failover_seconds
        self.cluster = is_cluster(client)
        #: Durable runs whose WAIT returned before `wait_replicas` replicas had the write.
        self.short_waits = 0

    def run(self, build: Callable[[Any], None], *, durable: bool = False) -> list[Any]:
        """Run the commands `build` queues (see the module's doc); their replies in order.

        An OOM answer (Redis full under noeviction) is waited out for `oom_wait` seconds
        and the batch sent again: a refused script wrote nothing (Redis checks memory
        before a script's first write), and the index updates beside it are idempotent."""
        batch = Batch()
        build(batch)
        wait = self.wait_replicas if durable else 0
        deadline = time.monotonic() + self.oom_wait
        delay = 0.1
        attempts = 0
        while attempts < 3:
            results = self._cluster(batch, wait) if self.cluster else self._single(batch, wait)
            if any(isinstance(x, redis.OutOfMemoryError) for x in results) and (
                time.monotonic() + delay < deadline
            ):
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            attempts += 1
            if not any(isinstance(x, NoScriptError) for x in results):
                for x in results:
                    if isinstance(x, Exception):
                        raise x
                return results
            self._load_scripts()
        raise RuntimeError("Redis keeps answering NOSCRIPT for the store's scripts")

    def _load_scripts(self) -> None:
        # On a cluster, SCRIPT LOAD goes to every primary (redis-py routes it so).
        for script in self.scripts:
            script.sha = str(self.r.script_load(script.text))

    def _note_wait(self, acked: Any, wait: int, replies: list[Any]) -> None:
        # (Not after a NOSCRIPT: the run is sent again, and its WAIT counted then.)
        if any(isinstance(x, NoScriptError) for x in replies):
            return
        if isinstance(acked, int) and acked < wait:
            self.short_waits += 1
            log.warning("WAIT %d %d: %d replica(s) acknowledged a commit in time", wait,
                        self.wait_ms, acked)

    # --- one Redis ------------------------------------------------------------------

    def _single(self, batch: Batch, wait: int) -> list[Any]:
        pipe = self.r.pipeline(transaction=False)
        _replay(pipe, batch, list(range(len(batch.commands))))
        if wait:
            # On the pipeline's one connection: WAIT counts the writes made on it.
            pipe.execute_command("WAIT", wait, self.wait_ms)
        results = list(pipe.execute(raise_on_error=False))
        if wait:
            self._note_wait(results.pop(), wait, results)
        return results

    # --- a Redis Cluster --------------------------------------------------------------

    def _cluster(self, batch: Batch, wait: int) -> list[Any]:
        results: list[Any] = [None] * len(batch.commands)
        scripts = [i for i, c in enumerate(batch.commands) if c[0] == "evalsha"]
        others = [i for i, c in enumerate(batch.commands) if c[0] != "evalsha"]
        if scripts:
            self._scripts_on_nodes(batch, scripts, wait, results)
        if others:
            pipe = self.r.pipeline(transaction=False)
            _replay(pipe, batch, others)
            for i, reply in zip(others, pipe.execute(raise_on_error=False), strict=True):
                results[i] = reply
        return results

    def _scripts_on_nodes(
        self, batch: Batch, pending: list[int], wait: int, results: list[Any]
    ) -> None:
        """Each script on the primary of its slot (its first key's), a pipeline per node;
        those answered with a redirection or met by a node that is down are sent again,
        alone, after the topology is read again."""
        deadline = time.monotonic() + self.failover_seconds
        delay = 0.05
        while True:
            by_node: dict[str, list[int]] = {}
            nodes: dict[str, Any] = {}
            for i in pending:
                key = batch.commands[i][1][2]  # evalsha(sha, numkeys, key, ...)
                node = self.r.get_node_from_key(key)
                by_node.setdefault(node.name, []).append(i)
                nodes[node.name] = node
            again: list[int] = []
            failure: Exception | None = None
            for name, indexes in by_node.items():
                try:
                    replies = self._on_node(nodes[name], batch, indexes, wait)
                except _UNREACHABLE as exc:
                    again.extend(indexes)
                    failure = exc
                    continue
                for i, reply in zip(indexes, replies, strict=True):
                    if isinstance(reply, _REROUTE):
                        again.append(i)
                        failure = reply
                    else:
                        results[i] = reply
            if not again:
                return
            if time.monotonic() + delay > deadline:
                assert failure is not None
                raise failure
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
            try:
                self.r.nodes_manager.initialize()
            except (redis.RedisError, OSError) as exc:  # every seed down for now
                log.debug("cluster topology not readable yet: %r", exc)
            pending = again

    def _on_node(self, node: Any, batch: Batch, indexes: list[int], wait: int) -> list[Any]:
        client = node.redis_connection or self.r.get_redis_connection(node)
        pipe = client.pipeline(transaction=False)
        _replay(pipe, batch, indexes)
        if wait:
            pipe.execute_command("WAIT", wait, self.wait_ms)
        replies = list(pipe.execute(raise_on_error=False))
        if wait:
            self._note_wait(replies.pop(), wait, replies)
        for reply in replies:
            if isinstance(reply, _UNREACHABLE):
                raise reply
        return replies
