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
    def link_child(self, parent_eid: str, child_eid: str, link: dict[str, Any]) -> None: ...
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

    def link_child(self, parent_eid: str, child_eid: str, link: dict[str, Any]) -> None:
        self.r.set(keys.parent(child_eid), json.dumps(link))
        self.r.sadd(keys.children(parent_eid), child_eid)

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

    def link_child(self, parent_eid: str, child_eid: str, link: dict[str, Any]) -> None:
        with self._beats_lock:
            if not hasattr(self, "_links"):
                self._links: dict[str, str] = {}
                self._children: dict[str, set[str]] = {}
            self._links[child_eid] = json.dumps(link)
            self._children.setdefault(parent_eid, set()).add(child_eid)

    def parent_of(self, child_eid: str) -> dict[str, Any] | None:
        found = getattr(self, "_links", {}).get(child_eid)
        return None if found is None else dict(json.loads(found))

    def children_of(self, parent_eid: str) -> list[str]:
        return sorted(getattr(self, "_children", {}).get(parent_eid, set()))
