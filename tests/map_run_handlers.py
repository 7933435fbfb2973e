"""A handler serving a Distributed Map's ItemReader (`s3:listObjectsV2`), loaded only by
the Map Run tests' worker (tests/test_e2e_map_runs.py)."""

from __future__ import annotations

from typing import Any

from engine.handlers import TaskContext, handler


@handler("s3:listObjectsV2")
def list_objects(event: Any, context: TaskContext) -> list[dict[str, Any]]:
    """`Count` objects named k0, k1, ... under the bucket's `Prefix`."""
    return [{"Key": f"{event.get('Prefix', '')}k{n}"} for n in range(int(event["Count"]))]


@handler("MapRunItemLambda")
def item(event: Any, context: TaskContext) -> dict[str, Any]:
    """Counts its runs per item in a ledger (a Redis hash the test names) and fails for the
    items the test marked bad (a Redis set): what a redrive runs again is countable."""
    from tests.e2e_handlers import _redis

    r = _redis()
    n = int(event["n"])
    r.hincrby(event["ledger"], str(n), 1)
    if r.sismember(event["ledger"] + ":bad", str(n)):
        raise ValueError(f"item {n} is bad")
    return {"n": n}
