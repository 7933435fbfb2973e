"""The items a Map Run never started, for its ResultWriter's PENDING files: when the Map
Run fails before its source is read to the end (its failures past the tolerance), AWS
lists the children that were not started in `PENDING_n.json`. Here those are the items
after the recorded position: the source is read on from there a window at a time (the
same reader, ItemSelector and ItemBatcher as the admitter's), each window's entries handed
to the writer and dropped, so a large remainder is streamed, never held."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

from engine.asl.failure import StatesFailure
from engine.interpreter import map_runs as plan_of
from engine.interpreter.result_files import pending_entry

if TYPE_CHECKING:
    from engine.runtime.driver import Driver

log = logging.getLogger(__name__)

#: Items read per window while listing the items never started.
READ: Final = 1000


def never_started(driver: Driver, eid: str, rid: str, c: dict[str, str]) -> Iterator[Any]:
    """The PENDING entries of the Map Run `rid` (`c`: its counters): nothing once its
    source's end was read (every item was admitted)."""
    from engine.integrations.readers import ReaderError
    from engine.runtime.map_runs import _plan, _read, store_of

    if int(c["total"]) >= 0:
        return
    mr = store_of(driver)
    assert mr is not None
    plan = _plan(mr, eid, rid)
    settings = driver.settings
    prefix = f"arn:aws:states:{settings.region}:{settings.account}"
    machine = plan["_machine"]
    machine_arn = f"{prefix}:stateMachine:{machine}"
    position: Any = json_or_none(c.get("pos"))
    base, index = int(c["items"]), int(c["admitted"])
    while True:
        try:
            window = _read(driver, mr, eid, rid, plan, position, READ)
            inputs = plan_of.window_inputs(plan, window.items, base)
        except (ReaderError, StatesFailure) as exc:  # the listing ends where reading fails
            log.warning("Map Run %s: PENDING items listed up to item %d: %s", rid, base, exc)
            return
        for group in plan_of.groups(plan, inputs, True):
            name = plan_of.child_name(plan["arn"], index)
            yield pending_entry(f"{prefix}:execution:{machine}:{name}", name, machine_arn,
                                plan_of.batch(plan, group))
            index += 1
        base += len(window.items)
        position = window.position
        if window.eof or not window.items:
            return


def json_or_none(text: str | None) -> Any:
    import json

    return None if not text else json.loads(text)


__all__ = ["never_started"]
