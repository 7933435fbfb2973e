"""Versions and aliases of state machines in Redis (keys: `engine/store/keys.py`).

A mixin of `RedisStore`: publishing a version, writing an alias and deleting a version are
each one Lua script over the machine's four keys (one hash tag), so an alias never routes
to a deleted version and one revision is never published twice. Documents are JSON;
`engine/versions.py` gives them meaning.
"""

from __future__ import annotations

import json
from importlib import resources as importlib_resources
from typing import Any

from engine.store import keys

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _script(name: str) -> str:
    return importlib_resources.files("engine.store").joinpath(f"lua/{name}.lua").read_text()


class RedisVersions:
    """Needs `self.r`: a redis-py client with decoded responses."""

    r: Any
    _version_scripts: dict[str, Any] | None = None

    def _vscript(self, name: str) -> Any:
        if self._version_scripts is None:
            self._version_scripts = {
                n: self.r.register_script(_script(n))
                for n in ("publish_version", "put_alias", "delete_version")
            }
        return self._version_scripts[name]

    def publish_version(
        self, name: str, revision: int, version: dict[str, Any], limit: int
    ) -> tuple[int, bool]:
        number, created = self._vscript("publish_version")(
            keys=[keys.versions(name), keys.version_seq(name), keys.version_revisions(name)],
            args=[revision, _encode(version), limit],
        )
        return int(number), bool(int(created))

    def get_version(self, name: str, number: int) -> dict[str, Any] | None:
        value = self.r.hget(keys.versions(name), str(number))
        return None if value is None else dict(json.loads(value))

    def list_versions(self, name: str) -> list[tuple[int, dict[str, Any]]]:
        found = self.r.hgetall(keys.versions(name))
        return sorted(
            ((int(n), dict(json.loads(v))) for n, v in found.items()), key=lambda x: -x[0]
        )

    def delete_version(self, name: str, number: int) -> bool:
        deleted = self._vscript("delete_version")(
            keys=[keys.versions(name), keys.aliases(name)], args=[number]
        )
        return bool(int(deleted))

    def put_alias(
        self, name: str, alias: str, doc: dict[str, Any], *, create: bool, limit: int
    ) -> str:
        routed = [int(route[0]) for route in doc["routing"]]
        return str(
            self._vscript("put_alias")(
                keys=[keys.aliases(name), keys.versions(name)],
                args=[alias, _encode(doc), "1" if create else "0", limit, *routed],
            )
        )

    def get_alias(self, name: str, alias: str) -> dict[str, Any] | None:
        value = self.r.hget(keys.aliases(name), alias)
        return None if value is None else dict(json.loads(value))

    def list_aliases(self, name: str) -> list[tuple[str, dict[str, Any]]]:
        found = self.r.hgetall(keys.aliases(name))
        return [(a, dict(json.loads(v))) for a, v in found.items()]

    def delete_alias(self, name: str, alias: str) -> bool:
        return bool(self.r.hdel(keys.aliases(name), alias))

    def _drop_versions(self, name: str) -> None:
        """A deleted state machine takes its versions and aliases with it, as on AWS."""
        self.r.delete(
            keys.versions(name), keys.version_seq(name), keys.version_revisions(name),
            keys.aliases(name),
        )
