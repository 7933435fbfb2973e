"""The step watchdog (engine/runtime/watchdog.py): a soft CPU-time limit raised into the
step's Python code, a hard one that ends a process stuck in C code, nothing once disarmed."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from engine.asl.budget import BudgetExceeded
from engine.runtime.watchdog import StepWatchdog
from tests.conftest import ROOT


def spin(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_the_soft_limit_raises_the_budget_error_into_python_code() -> None:
    watchdog = StepWatchdog(0.1, soft_seconds=0.2, hard_seconds=30.0)
    with pytest.raises(BudgetExceeded) as raised, watchdog():
        spin(20.0)
    assert "(stopped by the step watchdog)" in raised.value.cause


def test_a_step_within_its_limits_is_left_alone_and_nothing_fires_afterwards() -> None:
    watchdog = StepWatchdog(0.1, soft_seconds=0.3, hard_seconds=30.0)
    with watchdog():
        spin(0.05)
    spin(0.5)  # past the soft limit, disarmed: no BudgetExceeded here
    assert signal.getitimer(signal.ITIMER_VIRTUAL) == (0.0, 0.0)
    assert signal.getitimer(signal.ITIMER_PROF) == (0.0, 0.0)


def test_the_hard_limit_ends_a_process_stuck_in_c_code() -> None:
    # sum() over a range runs in C and never looks at signals: the soft limit cannot reach
    # it (checked first, with the hard limit out of the way), the hard limit ends it.
    program = (
        "import sys\n"
        "from engine.runtime.watchdog import StepWatchdog\n"
        "soft, hard = float(sys.argv[1]), float(sys.argv[2])\n"
        "with StepWatchdog(0.1, soft_seconds=soft, hard_seconds=hard)():\n"
        "    sum(range(10**11))\n"
    )
    stuck = subprocess.run(
        [sys.executable, "-c", program, "0.2", "1.0"], cwd=ROOT, timeout=120,
        capture_output=True,
    )
    assert stuck.returncode == -signal.SIGPROF, stuck.stderr


#: Runs a JSONata state that allocates 400 MB (a padded string) and one that
#: allocates little, on the inline runner, each step under a watchdog with a 128 MiB memory
#: budget; prints each execution's status, error and cause, then the address-space limit
#: left afterwards. A subprocess: the limit is the process's own.
MEMORY_PROGRAM = """
import json, resource
from engine.handlers import Registry
from engine.runtime.inline import InlineRunner
from engine.runtime.watchdog import StepWatchdog

runner = InlineRunner(Registry())
runner.driver.step_guard = StepWatchdog(
    30.0, soft_seconds=30.0, hard_seconds=60.0, memory_bytes=128 * 2**20)
states = (("Hog", "{% $length($pad('x', 400000000)) %}"), ("Lean", "{% $count([1..1000]) %}"))
for name, expression in states:
    runner.create_state_machine(name, json.dumps({
        "QueryLanguage": "JSONata", "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Output": expression, "End": True}}}))
    record = runner.run(name, input={})
    print(json.dumps([record.status, record.error, record.cause, record.output]))
print(json.dumps(resource.getrlimit(resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY))
"""


def test_a_step_past_its_memory_budget_fails_its_state_and_the_limit_is_lifted() -> None:
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_PROGRAM], cwd=ROOT, timeout=120, capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    import json

    hog, lean, lifted = (json.loads(line) for line in done.stdout.splitlines()[-3:])
    status, error, cause, _ = hog
    assert status == "FAILED", hog
    assert error in ("States.Runtime", "States.QueryEvaluationError"), hog
    assert "memory" in (cause or "").lower(), hog
    assert lean[0] == "SUCCEEDED" and json.loads(lean[3]) == 1000, lean
    assert lifted is True  # restored once each step ended
