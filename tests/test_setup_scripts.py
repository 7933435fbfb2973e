"""`make setup`'s installers wait for a busy package manager (with a bound) and say so.

The scripts run for real, on a PATH where the programs they check for are missing and
`apt-get` is a stand-in that answers as apt-get does while another process holds dpkg's
lock (nothing is installed)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCKED = ("E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 "
          "(apt-get)\nE: Unable to acquire the dpkg frontend lock "
          "(/var/lib/dpkg/lock-frontend), is another process using it?")
TOOLS = ("bash", "env", "date", "sleep", "grep", "head", "dirname", "id", "cat", "echo")


def _path_without_the_programs(tmp_path: Path, busy_tries: int) -> Path:
    """A bin folder with the shell tools, a stand-in apt-get busy for `busy_tries` calls,
    and a sudo that just runs its command; no redis-server, dot, chromium or ip."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    calls = tmp_path / "calls"
    (bin_dir / "apt-get").write_text(
        "#!/usr/bin/env bash\n"
        f'echo "$*" >> {calls}\n'
        f'if [ "$(cat {calls} | grep -c .)" -le {busy_tries} ]; then\n'
        f"  echo '{LOCKED}' >&2; exit 100\n"
        "fi\n"
        "exit 0\n"
    )
    (bin_dir / "sudo").write_text('#!/usr/bin/env bash\nexec "$@"\n')
    for name in ("apt-get", "sudo"):
        (bin_dir / name).chmod(0o755)
    return bin_dir


def _run(script: str, bin_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SFN_")}
    return subprocess.run(
        [str(ROOT / "scripts" / script)],
        env={**clean, "PATH": str(bin_dir), "SFN_APT_RETRY_SECONDS": "0.1", **env},
        capture_output=True, text=True, timeout=60, check=False,
    )


@pytest.mark.parametrize("script",
                         ["ensure-redis.sh", "ensure-system-deps.sh", "ensure-iproute2.sh"])
def test_a_busy_package_manager_is_waited_for(tmp_path: Path, script: str) -> None:
    bin_dir = _path_without_the_programs(tmp_path, busy_tries=3)
    result = _run(script, bin_dir)
    assert result.returncode == 0, result.stderr
    assert "the package manager is busy (held by process 4242 (apt-get))" in result.stderr
    assert "waiting up to 300s" in result.stderr
    assert result.stderr.count("is busy") == 1  # said once, not at every try
    calls = (tmp_path / "calls").read_text().splitlines()
    # Three busy answers to `update`, then update and install went through.
    assert [" update " in c for c in calls[:5]] == [True, True, True, True, False]
    assert "install" in calls[-1] and all("DPkg::Lock::Timeout=" in c for c in calls)
    if script == "ensure-redis.sh":
        assert calls[-1].endswith("redis-server")
    if script == "ensure-iproute2.sh":
        assert calls[-1].endswith("iproute2")


def test_the_wait_is_bounded_and_says_rerunning_is_safe(tmp_path: Path) -> None:
    bin_dir = _path_without_the_programs(tmp_path, busy_tries=10_000)
    result = _run("ensure-redis.sh", bin_dir, SFN_APT_LOCK_TIMEOUT="1")
    assert result.returncode != 0
    assert "Could not get lock" in result.stderr
    assert "still busy after 1s" in result.stderr
    assert "Re-running `make setup` is safe" in result.stderr
