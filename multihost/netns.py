"""The hosts: Linux network namespaces joined by one bridge, all created by this module.

    bridge sfnmh-br0          10.203.0.1/24  (in the machine's own namespace: the harness)
    namespace sfnmh-redis     10.203.0.2     the engine's Redis and the handlers' ledger
    namespace sfnmh-api       10.203.0.3     `sfn serve`
    namespace sfnmh-w1        10.203.0.11    a Celery worker host
    namespace sfnmh-w2        10.203.0.12    another

Each namespace has its loopback and one veth pair: `eth0` inside, `sfnmh-<host>-h` on the
bridge. Cutting a host off sets that bridge-side end down: inside, `eth0` loses its carrier,
its packets go nowhere and its TCP connections hang (no reset), as when a host's switch
port or cable fails; bringing the end up again lets them resume.

Only these addresses are ever used, and the subnet is checked to be unused on this
machine before anything is created: `create` refuses to run when one of our names or an
address or route of 10.203.0.0/24 already exists (another run, or someone else's network),
and `destroy` removes exactly what carries our names.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass

PREFIX = "sfnmh-"
BRIDGE = f"{PREFIX}br0"
SUBNET = ipaddress.ip_network("10.203.0.0/24")
GATEWAY = "10.203.0.1"
PROBE = f"{PREFIX}probe"


class NetnsError(RuntimeError):
    """The namespaces cannot be built here (not root, no iproute2, names or subnet taken)."""


@dataclass(frozen=True)
class Host:
    name: str  # short: redis, api, w1, w2
    address: str

    @property
    def netns(self) -> str:
        return f"{PREFIX}{self.name}"

    @property
    def outer(self) -> str:
        """The veth end on the bridge (interface names have at most 15 characters)."""
        return f"{PREFIX}{self.name}-h"[:15]

    def exec_prefix(self) -> list[str]:
        """What to put before a command to run it on this host."""
        return [_ip(), "netns", "exec", self.netns]


HOSTS = (
    Host("redis", "10.203.0.2"),
    Host("api", "10.203.0.3"),
    Host("w1", "10.203.0.11"),
    Host("w2", "10.203.0.12"),
)


def host(name: str) -> Host:
    return next(h for h in HOSTS if h.name == name)


def _ip() -> str:
    found = shutil.which("ip")
    if found is None:
        raise NetnsError("`ip` (iproute2) is missing: run scripts/ensure-iproute2.sh")
    return found


def run(args: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(  # noqa: S603 - iproute2 with our own arguments
        [_ip(), *args], capture_output=True, text=True, timeout=30, check=False
    )
    if check and done.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done


def existing() -> list[str]:
    """Our namespaces and links that exist now (left by another run, or a run going on)."""
    names = [line.split()[0] for line in run(["netns", "list"]).stdout.splitlines() if line]
    links = [
        line.split(":")[1].strip().split("@")[0]
        for line in run(["-o", "link", "show"]).stdout.splitlines()
        if line.count(":") >= 2
    ]
    # A capability probe (check_capability) of another process is not a run.
    return sorted(n for n in {*names, *links} if n.startswith(PREFIX)
                  and not n.startswith(PROBE))


def subnet_in_use() -> list[str]:
    """Addresses and routes of this machine inside 10.203.0.0/24 (ours excluded: none yet)."""
    found: list[str] = []
    for line in run(["-o", "-4", "addr", "show"]).stdout.splitlines():
        parts = line.split()
        if "inet" in parts:
            address = parts[parts.index("inet") + 1]
            if ipaddress.ip_interface(address).network.overlaps(SUBNET):
                found.append(f"address {address} on {parts[1]}")
    for line in run(["-4", "route", "show"]).stdout.splitlines():
        target = line.split()[0] if line else ""
        if target and target != "default":
            try:
                if ipaddress.ip_network(target, strict=False).overlaps(SUBNET):
                    found.append(f"route {line.strip()}")
            except ValueError:
                continue
    return found


def check_capability() -> str | None:
    """Why namespaces cannot be created here, or None when they can (a probe that leaves
    nothing behind: a namespace of our prefix, created and deleted at once)."""
    try:
        _ip()
    except NetnsError as exc:
        return str(exc)
    probe = f"{PROBE}{os.getpid()}"[:15]
    made = run(["netns", "add", probe], check=False)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    run(["netns", "del", probe], check=False)
    return None


def create() -> None:
    """Build the bridge and the hosts; refuses when any of it (or the subnet) is taken.

    The first namespace is the claim: `ip netns add` fails when the name exists, so of two
    runs started at once only one goes on. Once it holds the claim, everything of ours is
    its own, and a failure half-way removes it all."""
    taken = existing()
    if taken:
        raise NetnsError(
            f"{', '.join(taken)} already exist (another multihost run?): refusing to touch "
            "them; if no run is going on, `python -m multihost --clean` removes them"
        )
    used = subnet_in_use()
    if used:
        raise NetnsError(f"{SUBNET} is already used on this machine ({'; '.join(used)}): "
                         "refusing to create our hosts there")
    claim = run(["netns", "add", HOSTS[0].netns], check=False)
    if claim.returncode != 0:
        raise NetnsError(f"{HOSTS[0].netns} already exists (another multihost run started "
                         f"just now?): {claim.stderr.strip()}")
    try:
        run(["link", "add", BRIDGE, "type", "bridge"])
        run(["addr", "add", f"{GATEWAY}/{SUBNET.prefixlen}", "dev", BRIDGE])
        run(["link", "set", BRIDGE, "up"])
        for h in HOSTS:
            if h is not HOSTS[0]:
                run(["netns", "add", h.netns])
            run(["link", "add", h.outer, "type", "veth", "peer", "name", "eth0",
                 "netns", h.netns])
            run(["link", "set", h.outer, "master", BRIDGE])
            run(["link", "set", h.outer, "up"])
            inside = ["-n", h.netns]
            run([*inside, "link", "set", "lo", "up"])
            run([*inside, "addr", "add", f"{h.address}/{SUBNET.prefixlen}", "dev", "eth0"])
            run([*inside, "link", "set", "eth0", "up"])
    except BaseException:
        destroy()
        raise


def wait_until_free(timeout: float) -> bool:
    """Wait for another run's namespaces to go away (two test sessions on one machine)."""
    deadline = time.monotonic() + timeout
    while existing():
        if time.monotonic() > deadline:
            return False
        time.sleep(1.0)
    return True


def destroy() -> list[str]:
    """Remove every namespace and link of ours (deleting a namespace deletes its veth pair).
    Returns what could not be removed."""
    left: list[str] = []
    for name in existing():
        is_ns = any(name == h.netns for h in HOSTS)
        if is_ns:
            _kill_inside(name)
        done = run(["netns", "del", name] if is_ns else ["link", "del", name], check=False)
        if done.returncode != 0 and "Cannot find" not in done.stderr:
            left.append(f"{name}: {done.stderr.strip()}")
    return [n for n in left if n.split(":")[0] in existing()]


def _kill_inside(netns: str) -> None:
    """SIGKILL what still runs in one of our namespaces (only this harness starts processes
    there: a run that was itself SIGKILLed leaves its Redis and workers behind). Deleting a
    namespace's name would not end them."""
    listed = run(["netns", "pids", netns], check=False)
    for pid in listed.stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, PermissionError, ValueError):
            continue


def cut(h: Host) -> None:
    """Cut the host off the network: its bridge-side veth end goes down."""
    run(["link", "set", h.outer, "down"])


def restore(h: Host) -> None:
    run(["link", "set", h.outer, "up"])

