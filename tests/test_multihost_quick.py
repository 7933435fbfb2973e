"""Several hosts, short: Redis, the API and two worker hosts in network namespaces joined
by a bridge, the chaos workload started through the API, one worker host's link set down
mid-run and up again (multihost/). `make multihost` runs the longer version."""

from __future__ import annotations

import signal
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from multihost import netns
from multihost.harness import PRESETS, run

pytestmark = [pytest.mark.redis, pytest.mark.worker]


@pytest.fixture(scope="module")
def can_build_namespaces() -> None:
    why = netns.check_capability()
    if why:
        pytest.skip(f"this machine cannot build the hosts: {why}")
    # Another test session on this machine may be running the harness: its namespaces
    # are the lock; wait for them to go (never touch them).
    if not netns.wait_until_free(240):
        pytest.skip(f"another multihost run holds {netns.existing()} for over 240 s")


@pytest.mark.timeout(600)  # the wait for another session's run, then ours
def test_a_cut_worker_host_loses_nothing_and_its_work_resumes_elsewhere(
    can_build_namespaces: None, tmp_path: Path
) -> None:
    outcome = run(replace(PRESETS["quick"], results_dir=tmp_path))
    report, cut = outcome.report, outcome.cut
    problems = report.details.get("problems", [])
    assert report.executions == PRESETS["quick"].executions
    assert report.lost == 0, problems
    assert report.wrong == 0, problems
    assert report.duplicate_transitions == 0, problems
    assert report.succeeded == report.executions
    # The cut happened while the host ran handlers, and each of them started again on the
    # other host while the link was still down (not when the cut host came back), but for
    # one that returned and committed in the instant before the cut (never run again).
    assert cut["held_at_cut"] - cut["finished_at_cut"] >= 1, cut
    assert (cut["resumed_elsewhere_before_reconnect"] + cut["finished_at_cut"]
            == cut["held_at_cut"]), cut
    # ...and not while the cut host's leases were still valid: the store read at the cut
    # shows its Task leases, and no held handler started elsewhere before one ran out.
    assert cut["leases_at_cut"] >= 1, cut
    assert min(cut["resume_after_s"]) >= min(cut["lease_ends_after_cut_s"]), cut
    assert all(report.details["workers_alive_at_end"].values())
    assert netns.existing() == []  # nothing of ours is left


def test_a_second_run_refuses_names_that_already_exist(can_build_namespaces: None) -> None:
    # A namespace of ours left behind (another run going on, or a killed one): the harness
    # refuses before creating anything, and --clean removes it.
    netns.run(["netns", "add", netns.HOSTS[0].netns])  # raises if another run holds it
    # A process left running in it, as by a run that was SIGKILLed.
    left = subprocess.Popen([*netns.HOSTS[0].exec_prefix(), "sleep", "120"])
    try:
        with pytest.raises(netns.NetnsError, match="already exist"):
            netns.create()
        assert netns.existing() == [netns.HOSTS[0].netns]  # untouched by the refusal
        assert left.poll() is None
    finally:
        netns.destroy()  # what `python -m multihost --clean` does
    assert netns.existing() == []
    assert left.wait(timeout=10) == -signal.SIGKILL
