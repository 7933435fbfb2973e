"""The handlers of one kind of worker in the fleet tests (tests/test_fleets.py)."""

from __future__ import annotations

from typing import Any

from engine.handlers import TaskContext, handler


@handler("FleetPriceItem")
def price_item(event: dict[str, Any], context: TaskContext) -> dict[str, Any]:
    return {**event, "price": 10 * int(event.get("quantity", 1))}
