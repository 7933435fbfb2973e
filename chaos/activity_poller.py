"""The activity workers of the chaos run: a separate process written with boto3 only (no
code of the engine), serving `ChaosActivity`'s Task through the HTTP API while workers are
killed and Redis restarts under it (chaos/activities.py starts it):

    python chaos/activity_poller.py ENDPOINT ACTIVITY_ARN COUNTS_FILE [THREADS]

Each thread long-polls GetActivityTask and answers by the task's `mode`:

    ok    SendTaskSuccess with `answer_of(key)`, then the same answer again (must be refused)
    fail  SendTaskFailure (Chaos.Rejected, cause = key), then again (must be refused)
    late  no answer: once the execution's history shows ActivityTimedOut (its TimeoutSeconds,
          counted from ActivityStarted), SendTaskSuccess anyway (must be refused)

Every call is retried through the API's errors while Redis is down, until it applies or is
refused (TaskTimedOut). What happened is counted in COUNTS_FILE (JSON, rewritten at each
change); an answer that should have been refused and applied counts as
`late_or_duplicate_applied`, which fails the chaos run.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import sys
import threading
import time
import zlib
from collections import Counter
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

#: The `workerName` of every poll (the fault-free run's ActivityStarted shows the same).
WORKER_NAME = "chaos-poller"
REJECTED = "Chaos.Rejected"


def answer_of(key: str) -> dict[str, Any]:
    """What the worker answers for a task (chaos/callbacks.py's `answer_of`, again: this
    process imports nothing of the engine)."""
    return {"n": zlib.crc32(key.encode()) % 1000, "by": "answerer"}


class Poller:
    def __init__(self, endpoint: str, activity_arn: str, counts_file: str) -> None:
        self.sfn = boto3.client(
            "stepfunctions", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id="chaos", aws_secret_access_key="chaos",
            config=Config(read_timeout=70, connect_timeout=5, retries={"max_attempts": 1}),
        )
        self.arn = activity_arn
        self.counts_file = counts_file
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.late: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.stop = threading.Event()

    def count(self, what: str) -> None:
        with self.lock:
            self.counts[what] += 1
            tmp = f"{self.counts_file}.{os.getpid()}.tmp"
            with open(tmp, "w") as f:
                json.dump(dict(self.counts), f)
            os.replace(tmp, self.counts_file)

    def poll_forever(self) -> None:
        while not self.stop.is_set():
            try:
                task = self.sfn.get_activity_task(activityArn=self.arn, workerName=WORKER_NAME)
            except (ClientError, BotoCoreError):
                self.stop.wait(0.5)  # the API answers errors while Redis restarts
                continue
            token = task.get("taskToken")
            if not token:
                continue
            work = json.loads(task["input"])
            self.count("taken")
            if work["mode"] == "late":
                self.late.put((token, work))
                continue
            how = "success" if work["mode"] == "ok" else "failure"
            self.count(f"answered_{self.send(token, how, work)}")
            second = self.send(token, how, work)
            self.count("late_or_duplicate_applied" if second == "applied"
                       else "duplicate_refused")

    def answer_late(self) -> None:
        pending: list[tuple[str, dict[str, Any]]] = []
        while not self.stop.is_set():
            try:
                pending.append(self.late.get(timeout=0.5))
            except queue.Empty:
                pass
            for item in list(pending):
                token, work = item
                if not self.timed_out(work["execution"]):
                    continue  # not yet: the answer must come after the timeout
                pending.remove(item)
                outcome = self.send(token, "success", work)
                self.count("late_or_duplicate_applied" if outcome == "applied"
                           else "late_refused")

    def timed_out(self, execution_arn: str) -> bool:
        try:
            events = self.sfn.get_execution_history(
                executionArn=execution_arn, maxResults=1000)["events"]
        except (ClientError, BotoCoreError):
            return False
        return any(e["type"] == "ActivityTimedOut" for e in events)

    def send(self, token: str, how: str, work: dict[str, Any]) -> str:
        """"applied" or "refused" (TaskTimedOut), retried through the API's errors."""
        for _ in range(600):
            try:
                if how == "success":
                    self.sfn.send_task_success(taskToken=token,
                                               output=json.dumps(answer_of(work["key"])))
                else:
                    self.sfn.send_task_failure(taskToken=token, error=REJECTED,
                                               cause=work["key"])
                return "applied"
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "TaskTimedOut":
                    return "refused"
                self.count("answer_retries")
            except BotoCoreError:
                self.count("answer_retries")
            time.sleep(0.5)
        return "gave_up"


def main(argv: list[str]) -> int:
    endpoint, arn, counts_file = argv[:3]
    threads = int(argv[3]) if len(argv) > 3 else 3
    poller = Poller(endpoint, arn, counts_file)
    poller.count("started")
    signal.signal(signal.SIGTERM, lambda *_: poller.stop.set())
    workers = [threading.Thread(target=poller.poll_forever, daemon=True)
               for _ in range(threads)]
    workers.append(threading.Thread(target=poller.answer_late, daemon=True))
    for t in workers:
        t.start()
    while not poller.stop.wait(0.5):
        pass
    # A long poll in progress may hold its thread up to 60 s: leave it (daemon threads).
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
