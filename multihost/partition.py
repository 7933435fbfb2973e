"""The cut: which handlers were running on the host when it lost the network, and where and
when each ran again.

A handler's start is recorded in the ledger with its process group, which is its worker's
main process (each worker leads its own group; the namespaces share one process table), so
the starts of the cut host are known exactly. The work the host held at the cut is every
start of its group not yet ended then; it has resumed elsewhere when the same idempotency
key (the same attempt of the same state) starts in another group after the cut.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chaos.ledger import Start


@dataclass
class Cut:
    host: str
    pgid: int
    t: float  # wall clock of the link going down
    held: list[Start] = field(default_factory=list)  # handlers running there at the cut
    restored: float | None = None


@dataclass(frozen=True)
class Resumed:
    key: str
    elsewhere_after: float | None  # seconds from the cut to the first start elsewhere
    pgid: int | None  # the group it ran in


def running_on(starts: list[Start], ends: set[str], pgid: int) -> list[Start]:
    """Handlers of one worker that have started and not ended."""
    return [s for s in starts if s.pgid == pgid and s.inv not in ends]


def resumed(cut: Cut, starts: list[Start]) -> list[Resumed]:
    out: list[Resumed] = []
    for held in cut.held:
        later = sorted((s for s in starts
                        if s.key == held.key and s.pgid != cut.pgid and s.t > cut.t),
                       key=lambda s: s.t)
        first = later[0] if later else None
        out.append(Resumed(held.key, first.t - cut.t if first else None,
                           first.pgid if first else None))
    return out


def all_resumed(cut: Cut, starts: list[Start]) -> bool:
    return all(r.elsewhere_after is not None for r in resumed(cut, starts))


def summary(cut: Cut, starts: list[Start], lease_seconds: float) -> dict[str, Any]:
    found = resumed(cut, starts)
    after = [r.elsewhere_after for r in found if r.elsewhere_after is not None]
    back = [s for s in starts if s.pgid == cut.pgid and cut.restored and s.t > cut.restored]
    return {
        "host": cut.host,
        "cut_seconds": round((cut.restored or cut.t) - cut.t, 1),
        "held_at_cut": len(found),
        "resumed_elsewhere": len(after),
        "resumed_elsewhere_before_reconnect": sum(
            1 for a in after if cut.restored is None or cut.t + a < cut.restored),
        "resume_after_s": sorted(round(a, 2) for a in after),
        "max_resume_after_s": round(max(after), 2) if after else None,
        "lease_seconds": lease_seconds,
        "handler_starts_on_host_after_reconnect": len(back),
        "held": [{"key": r.key, "after_s": r.elsewhere_after and round(r.elsewhere_after, 2)}
                 for r in found],
    }


def line(s: dict[str, Any]) -> str:
    return (
        f"host {s['host']} cut for {s['cut_seconds']}s: {s['held_at_cut']} handler(s) running "
        f"there at the cut, {s['resumed_elsewhere']} resumed on the other host "
        f"(before the link came back: {s['resumed_elsewhere_before_reconnect']}) after "
        f"{s['resume_after_s']} s (SFN_LEASE_SECONDS={s['lease_seconds']:g}); "
        f"handler starts on {s['host']} after reconnecting: "
        f"{s['handler_starts_on_host_after_reconnect']}"
    )
