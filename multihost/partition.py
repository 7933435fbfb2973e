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
from pathlib import Path
from typing import Any

import redis

from chaos.ledger import Start
from engine.store import keys


@dataclass
class Cut:
    host: str
    pgid: int
    t: float  # wall clock of the link going down
    held: list[Start] = field(default_factory=list)  # handlers running there at the cut
    restored: float | None = None
    #: When the Task leases the host's processes held at the cut run out (epoch s).
    lease_ends: list[float] = field(default_factory=list)
    #: Held handlers whose end the ledger had when it was read just after the cut (the cut
    #: host can write nothing after it): they returned in the instant between the look at
    #: the ledger and the cut, and if their commit landed too, nothing is left to resume.
    ended_at_cut: set[str] = field(default_factory=set)


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
    return all(r.elsewhere_after is not None or r.key in cut.ended_at_cut
               for r in resumed(cut, starts))


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
        "leases_at_cut": len(cut.lease_ends),
        "lease_ends_after_cut_s": [round(t - cut.t, 2) for t in cut.lease_ends],
        "handler_starts_on_host_after_reconnect": len(back),
        # Ended just before the cut and never started again anywhere: its commit landed
        # (else the run would have lost it, which the report checks).
        "finished_at_cut": sum(1 for r in found
                               if r.elsewhere_after is None and r.key in cut.ended_at_cut),
        "held": [{"key": r.key, "after_s": r.elsewhere_after and round(r.elsewhere_after, 2)}
                 for r in found],
    }


def line(s: dict[str, Any]) -> str:
    return (
        f"host {s['host']} cut for {s['cut_seconds']}s: {s['held_at_cut']} handler(s) running "
        f"there at the cut, {s['resumed_elsewhere']} resumed on the other host "
        f"(before the link came back: {s['resumed_elsewhere_before_reconnect']}) after "
        f"{s['resume_after_s']} s; its {s['leases_at_cut']} Task lease(s) ran out "
        f"{s['lease_ends_after_cut_s']} s after the cut (SFN_LEASE_SECONDS="
        f"{s['lease_seconds']:g}); "
        f"handler starts on {s['host']} after reconnecting: "
        f"{s['handler_starts_on_host_after_reconnect']}"
    )


def leases_of(r: redis.Redis, pids: set[int], now: float) -> list[float]:
    """When the Task leases held by these processes run out (epoch s), read from the store
    at the cut: a lease's owner is `<name>:<pid>` (engine/runtime/driver.py)."""
    out: list[float] = []
    for key in r.scan_iter(match=keys.run("*", "*"), count=500):
        owner, until = r.hmget(key, "lo", "lu")
        if owner and until and float(until) > now:
            pid = str(owner).rsplit(":", 1)[-1]
            if pid.isdigit() and int(pid) in pids:
                out.append(float(until))
    return sorted(out)


def group_pids(pgid: int) -> set[int]:
    """The processes of one process group (a worker and its pool), from /proc."""
    found: set[int] = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            found.add(int(stat.parent.name))
    return found
