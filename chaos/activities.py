"""Activities in the chaos workload.

`ChaosActivity` schedules a Task on the activity `chaos-pack`, served by pollers written
with boto3 only, in processes of their own (chaos/activity_poller.py), through the HTTP API
(`sfn serve`'s application, which the harness serves in-process). They answer in time and
then again (`ok`, `fail`: the second answer must be refused), or only after the Task has
timed out (`late`: refused too).

The fault-free result: the in-memory store has no activity queues, so the plain inline
runner cannot serve an activity. The test harness can (engine/testing/waiting.py): the same
production driver and interpreter, with the activity's answer given as the pollers give it
(`worker_name` included): success with `answer_of(key)`, failure with `Chaos.Rejected`, or
no answer (the Task times out). So each activity execution is compared with its own exact
expected history, like every other execution.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chaos import callbacks
from engine.handlers import Invocation, Registry
from engine.testing.harness import Answer, Execution, Workflow

ACTIVITY = "chaos-pack"
#: The `late` Task's TimeoutSeconds (counted from ActivityStarted, as AWS counts it).
LATE_TIMEOUT_SECONDS = 8
#: ActivityStarted's workerName: chaos/activity_poller.py's WORKER_NAME.
WORKER_NAME = "chaos-poller"
POLLER = Path(__file__).resolve().parent / "activity_poller.py"


def activity_arn(region: str, account: str) -> str:
    return f"arn:aws:states:{region}:{account}:activity:{ACTIVITY}"


def definition(region: str, account: str, finish: dict[str, Any]) -> dict[str, Any]:
    def pack(timeout: int, catch: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "Type": "Task", "Resource": activity_arn(region, account),
            "Parameters": {"key.$": "$.pack.key", "mode.$": "$.pack.mode",
                           "execution.$": "$$.Execution.Id"},
            "TimeoutSeconds": timeout, "ResultPath": "$.answer", "Catch": catch,
            "Next": "Finish",
        }

    return {
        "StartAt": "Mode",
        "States": {
            "Mode": {"Type": "Choice", "Default": "Pack", "Choices": [
                {"Variable": "$.pack.mode", "StringEquals": "late", "Next": "PackLate"}]},
            # Long enough for a task re-queued after a lost hand-off; never reached.
            "Pack": pack(3600, [{"ErrorEquals": [callbacks.REJECTED], "ResultPath": "$.why",
                                 "Next": "Rejected"}]),
            "PackLate": pack(LATE_TIMEOUT_SECONDS, [
                {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.why", "Next": "Rejected"}]),
            "Rejected": {"Type": "Pass", "Result": {"n": 0}, "ResultPath": "$.answer",
                         "Next": "Finish"},
            "Finish": finish,
        },
    }


def poller_answer(task: Mapping[str, Any]) -> Answer:
    """What the pollers answer for a task, as the test harness takes it."""
    work = task["input"]
    if work["mode"] == "ok":
        return Answer(Invocation(True, result=callbacks.answer_of(work["key"])),
                      worker_name=WORKER_NAME)
    if work["mode"] == "fail":
        return Answer(Invocation(False, error=callbacks.REJECTED, cause=work["key"]),
                      worker_name=WORKER_NAME)
    return Answer(Invocation(False), unanswered=True, worker_name=WORKER_NAME)


def fault_free(machine: str, text: str, name: str, input: Any, registry: Registry,
               region: str, account: str) -> Execution:
    """The execution without faults, its activity answered as the pollers answer it."""
    flow = Workflow(text, name=machine, registry=registry, region=region, account=account,
                    responder=lambda state, n, task: (
                        poller_answer(task) if state in ("Pack", "PackLate") else None))
    return flow.run(input, name=name)


class Pollers:
    """The poller processes: started against the API's URL, stopped at the end; their
    counts summed."""

    def __init__(self, endpoint: str, arn: str, folder: Path, processes: int = 2) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.files = [folder / f"poller-{i}.json" for i in range(processes)]
        self.logs = [open(folder / f"poller-{i}.log", "w") for i in range(processes)]  # noqa: SIM115
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # boto3 only
        self.procs = [
            subprocess.Popen([sys.executable, str(POLLER), endpoint, arn, str(path)],
                             stdout=log, stderr=subprocess.STDOUT, env=env)
            for path, log in zip(self.files, self.logs, strict=True)
        ]

    def stop(self) -> None:
        """Idempotent: the harness stops them at the end, and again on its way out."""
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        for log in self.logs:
            log.close()

    def counts(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for path in self.files:
            try:
                total.update(json.loads(path.read_text()))
            except (OSError, ValueError):
                total["unreadable_counts"] += 1
        return dict(total)


__all__ = ["ACTIVITY", "Pollers", "activity_arn", "definition", "fault_free", "poller_answer"]
