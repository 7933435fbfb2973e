"""The handlers of the other kind of worker in the fleet tests (tests/test_fleets.py)."""

from __future__ import annotations

from typing import Any

from engine.handlers import TaskContext, handler


@handler("FleetShipItem")
def ship_item(event: dict[str, Any], context: TaskContext) -> dict[str, Any]:
    return {**event, "shipped": True}

