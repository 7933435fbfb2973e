"""A Map Run's next window of children, read from the recorded position: the items read,
each child's input built (ItemSelector), cut into the children's batches by the rule of
the in-execution Map (`maps.batch_groups`), and the position of the first item NOT
admitted, which is where the next window starts.

A window that ends inside a batch (cut by MaxInputBytesPerBatch: whether the batch is
full is known only once the next item is seen) admits the batches before it; the next
window starts at that batch's first item, whose position the reader reports
(`Window.at`: a byte offset with the CSV headers for JSON Lines and CSV, the key before
it for a listing, an index for a JSON array or a spool). So every batch is cut exactly as
the in-execution Map cuts the whole source, whatever the windows, and an admitter that
dies re-reads the same window from the same position and finds the same batches under
the same child names.

Reading is bounded: at most `READ_ITEMS` items a window (or MaxItemsPerBatch, if more),
read again twice as many while not one batch is complete (a batch of very many small
items), so a window holds a few thousand items, never the source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from engine.interpreter import map_runs as plan_of

if TYPE_CHECKING:  # the readers load when a window is read (map_runs.py `_read`)
    from engine.integrations.item_windows import Window

#: Items read at first for one window of batches (the window's children are cut from
#: them); more only while they do not complete one batch.
READ_ITEMS: Final = 10_000

Reader = Callable[[dict[str, Any] | None, int], "Window"]


@dataclass
class Admission:
    """One window's children: each batch's inputs (one input each without ItemBatcher),
    the position after their items and whether the source ends with them."""

    groups: list[list[Any]]
    position: dict[str, Any]
    eof: bool

    @property
    def items(self) -> int:
        return sum(len(g) for g in self.groups)


def read_count(plan: dict[str, Any], want: int, read_items: int = READ_ITEMS) -> int:
    """How many items to read for `want` children: `want` batches' worth, at most
    `read_items` (or one MaxItemsPerBatch batch when that is more)."""
    size = plan_of.batch_size(plan)
    if plan.get("batcher") is None:
        return want
    per_batch = int((plan.get("batcher") or {}).get("size") or 0)
    return max(1, min(want * size, max(read_items, per_batch)))


def next_window(plan: dict[str, Any], read: Reader, position: dict[str, Any] | None,
                want: int, first: int, *, read_items: int = READ_ITEMS) -> Admission:
    """The next (at most `want`) children after `position`; `first` is the index, in the
    whole source, of the first item there (`$$.Map.Item.Index`). Raises StatesFailure
    when ItemSelector fails, the reader's error when it cannot read."""
    count = read_count(plan, want, read_items)
    while True:
        window = read(position, count)
        inputs = plan_of.window_inputs(plan, window.items, first)
        groups = plan_of.groups(plan, inputs, window.eof)[:want]
        if groups or window.eof:
            break
        count *= 2  # not one batch is complete in what was read: read further
    used = sum(len(g) for g in groups)
    if used >= len(window.items):
        return Admission(groups, window.position, window.eof)
    after = window.at(used)
    if after is None:  # a reader that reports no item positions: read just those items
        after = read(position, used).position
    return Admission(groups, after, False)


__all__ = ["READ_ITEMS", "Admission", "next_window", "read_count"]
