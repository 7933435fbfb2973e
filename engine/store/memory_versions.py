"""Versions and aliases of state machines in process: `RedisVersions`'s contract
(tests/test_store_contract.py), for the in-memory store."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Machine:
    versions: dict[int, str] = field(default_factory=dict)
    seq: int = 0
    revisions: dict[int, int] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)


class MemoryVersions:
    _version_lock = threading.RLock()
    _version_state: dict[str, _Machine] | None = None

    def _vm(self, name: str) -> _Machine:
        if self._version_state is None:
            self._version_state = {}
        return self._version_state.setdefault(name, _Machine())

    def publish_version(
        self, name: str, revision: int, version: dict[str, Any], limit: int
    ) -> tuple[int, bool]:
        with self._version_lock:
            m = self._vm(name)
            number = m.revisions.get(revision)
            if number is not None and number in m.versions:
                return number, False
            if len(m.versions) >= limit:
                return 0, False
            m.seq += 1
            m.versions[m.seq] = json.dumps(version)
            m.revisions[revision] = m.seq
            return m.seq, True

    def get_version(self, name: str, number: int) -> dict[str, Any] | None:
        value = self._vm(name).versions.get(number)
        return None if value is None else dict(json.loads(value))

    def list_versions(self, name: str) -> list[tuple[int, dict[str, Any]]]:
        found = dict(self._vm(name).versions)
        return [(n, dict(json.loads(found[n]))) for n in sorted(found, reverse=True)]

    def delete_version(self, name: str, number: int) -> bool:
        with self._version_lock:
            m = self._vm(name)
            for doc in m.aliases.values():
                if any(int(route[0]) == number for route in json.loads(doc)["routing"]):
                    return False
            m.versions.pop(number, None)
            return True

    def put_alias(
        self, name: str, alias: str, doc: dict[str, Any], *, create: bool, limit: int
    ) -> str:
        with self._version_lock:
            m = self._vm(name)
            if create:
                if alias in m.aliases:
                    return "exists"
                if len(m.aliases) >= limit:
                    return "quota"
            elif alias not in m.aliases:
                return "not_found"
            for route in doc["routing"]:
                if int(route[0]) not in m.versions:
                    return f"missing_version:{int(route[0])}"
            m.aliases[alias] = json.dumps(doc)
            return "ok"

    def get_alias(self, name: str, alias: str) -> dict[str, Any] | None:
        value = self._vm(name).aliases.get(alias)
        return None if value is None else dict(json.loads(value))

    def list_aliases(self, name: str) -> list[tuple[str, dict[str, Any]]]:
        return [(a, dict(json.loads(v))) for a, v in dict(self._vm(name).aliases).items()]

    def delete_alias(self, name: str, alias: str) -> bool:
        with self._version_lock:
            return self._vm(name).aliases.pop(alias, None) is not None

    def _drop_versions(self, name: str) -> None:
        with self._version_lock:
            if self._version_state is not None:
                self._version_state.pop(name, None)
