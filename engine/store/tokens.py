"""What the store keeps beside the runs for waiting Tasks: the last heartbeat of each
waiting callback, and the links between a parent execution and the child executions its
Tasks started (key schema: `engine/store/keys.py`, `heartbeats`, `parent`, `children`).

A heartbeat is not a transition: it moves no run's version (that would make the run's
pending timers stale), it only records when the worker last said it was alive. The shell
reads it when the heartbeat timer fires and re-arms the timer if the deadline moved.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Protocol, runtime_checkable

from engine.store import keys


@runtime_checkable
class Heartbeats(Protocol):
    def record_heartbeat(self, eid: str, run: str, token: str, at: float) -> None: ...
    def last_heartbeat(self, eid: str, run: str) -> tuple[str, float] | None:
        """The token and time of the run's last heartbeat (None: none recorded)."""
        ...
    def heartbeats_of(self, eid: str) -> dict[str, tuple[str, float]]:
        """Every run's last heartbeat (run -> (token, time))."""
        ...
    def link_child(self, parent_eid: str, child_eid: str, link: dict[str, Any]) -> None: ...
    def mark_waiting(self, member: str, since: float | None) -> None:
        """Add to the index of waiting Tasks (`since`) or remove from it (None)."""
        ...
    def parent_of(self, child_eid: str) -> dict[str, Any] | None: ...
    def children_of(self, parent_eid: str) -> list[str]: ...


def heartbeats(store: object) -> Heartbeats:
    """The store's heartbeats (both stores keep them; see RedisHeartbeats/MemoryHeartbeats)."""
    if not isinstance(store, Heartbeats):
        raise TypeError(f"{type(store).__name__} keeps no task heartbeats")
    return store


def _parse(value: str | None) -> tuple[str, float] | None:
    if value is None:
        return None
    token, at = json.loads(value)
    return str(token), float(at)


class RedisHeartbeats:
    """Mixed into `RedisStore` (it provides `self.r`)."""

    r: Any

    def record_heartbeat(self, eid: str, run: str, token: str, at: float) -> None:
        self.r.hset(keys.heartbeats(eid), run, json.dumps([token, at]))

    def last_heartbeat(self, eid: str, run: str) -> tuple[str, float] | None:
        return _parse(self.r.hget(keys.heartbeats(eid), run))

    def heartbeats_of(self, eid: str) -> dict[str, tuple[str, float]]:
        raw = self.r.hgetall(keys.heartbeats(eid))
        return {str(run): found for run, v in raw.items() if (found := _parse(v)) is not None}

    def link_child(self, parent_eid: str, child_eid: str, link: dict[str, Any]) -> None:
        self.r.set(keys.parent(child_eid), json.dumps(link))
        self.r.sadd(keys.children(parent_eid), child_eid)

    def mark_waiting(self, member: str, since: float | None) -> None:
        if since is None:
            self.r.zrem(keys.waiting(), member)
        else:
            self.r.zadd(keys.waiting(), {member: since}, nx=True)

    def waiting_tasks(self) -> list[str]:
        """The waiting Tasks' members, pruned of executions that have ended."""
        members = [str(m) for m in self.r.zrange(keys.waiting(), 0, -1)]
        pipe = self.r.pipeline(transaction=False)
        for member in members:
            pipe.hget(keys.meta(member.split("|", 1)[0]), "status")
        statuses = pipe.execute()
        ended = [m for m, s in zip(members, statuses, strict=True) if s != "RUNNING"]
        if ended:
            self.r.zrem(keys.waiting(), *ended)
        return [m for m in members if m not in set(ended)]

    def parent_of(self, child_eid: str) -> dict[str, Any] | None:
        found = self.r.get(keys.parent(child_eid))
        return None if found is None else dict(json.loads(found))

    def children_of(self, parent_eid: str) -> list[str]:
        return sorted(str(c) for c in self.r.smembers(keys.children(parent_eid)))


class MemoryHeartbeats:
    """Mixed into `MemoryStore`."""

    _beats: dict[tuple[str, str], str]
    _beats_lock = threading.Lock()

    def record_heartbeat(self, eid: str, run: str, token: str, at: float) -> None:
        with self._beats_lock:
            if not hasattr(self, "_beats"):
                self._beats = {}
            self._beats[(eid, run)] = json.dumps([token, at])

    def last_heartbeat(self, eid: str, run: str) -> tuple[str, float] | None:
        return _parse(getattr(self, "_beats", {}).get((eid, run)))

    def heartbeats_of(self, eid: str) -> dict[str, tuple[str, float]]:
        beats = getattr(self, "_beats", {})
        return {
            run: found
            for (x, run), v in list(beats.items())
            if x == eid and (found := _parse(v)) is not None
        }

    def link_child(self, parent_eid: str, child_eid: str, link: dict[str, Any]) -> None:
        with self._beats_lock:
            if not hasattr(self, "_links"):
                self._links: dict[str, str] = {}
                self._children: dict[str, set[str]] = {}
            self._links[child_eid] = json.dumps(link)
            self._children.setdefault(parent_eid, set()).add(child_eid)

    def mark_waiting(self, member: str, since: float | None) -> None:
        pass  # the in-memory store serves no metrics

    def parent_of(self, child_eid: str) -> dict[str, Any] | None:
        found = getattr(self, "_links", {}).get(child_eid)
        return None if found is None else dict(json.loads(found))

    def children_of(self, parent_eid: str) -> list[str]:
        return sorted(getattr(self, "_children", {}).get(parent_eid, set()))
