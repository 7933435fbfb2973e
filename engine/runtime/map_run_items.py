"""A Map Run's items when they come with the state's input (ItemsPath, or `Items` in
JSONata) rather than from an ItemReader: AWS runs such a Distributed Map as a Map Run too.

The parent's plan carries the items (at most 256 KiB, the payload limit the Map already
checked); the Map Run keeps them in its spool once, at its creation, and admits them from
there by position like a reader handler's items (engine/runtime/map_runs.py `_read`). The
plan it stores keeps no copy of them, so each window reads a chunk of the spool rather
than the whole list.
"""

from __future__ import annotations

import json
from typing import Any

from engine.store.map_runs import RedisMapRuns


def has_input_items(plan: dict[str, Any]) -> bool:
    """Whether the plan's items came with the state's input (no ItemReader)."""
    return plan.get("reader") is None and isinstance(plan.get("items"), list)


def stored_plan(plan: dict[str, Any]) -> dict[str, Any]:
    """The plan as the Map Run record keeps it: without the items (they are spooled)."""
    return {k: v for k, v in plan.items() if k != "items"}


def spool_input_items(mr: RedisMapRuns, eid: str, rid: str, plan: dict[str, Any]) -> None:
    """Keep the input's items in the Map Run's spool, a chunk a call (written twice, the
    spool is replaced whole: a repeated creation finds the same items)."""
    items = plan.get("items") or []
    mr.spool(eid, rid, [json.dumps(i, separators=(",", ":"), ensure_ascii=False)
                        for i in items])


__all__ = ["has_input_items", "spool_input_items", "stored_plan"]
