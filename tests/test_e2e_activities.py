"""Activities end to end: real redis-server, real Celery worker, `sfn serve`'s application,
and activity workers written only with boto3 running as separate processes
(tests/activity_worker.py). Each task goes to exactly one poller; events as AWS logs them;
HeartbeatSeconds/TimeoutSeconds bound a task no worker answers."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.api import server
from engine.connect import connect
from engine.settings import Settings
from tests.api_stack import api_server, sfn_client

boto3 = pytest.importorskip("boto3")

pytestmark = [pytest.mark.redis, pytest.mark.worker]
ROOT = Path(__file__).resolve().parent.parent
ROLE = "arn:aws:iam::000000000000:role/StepFunctionsRole"


@pytest.fixture(scope="module")
def api(worker: Any, redis_server: Any) -> Iterator[server.Running]:
    with api_server(redis_server.url) as running:
        yield running


@pytest.fixture(scope="module")
def sfn(api: server.Running) -> Any:
    return sfn_client(api.url, read_timeout=70)  # GetActivityTask polls up to 60 s


def machine(activity_arn: str, **task: Any) -> str:
    return json.dumps({
        "StartAt": "Work",
        "States": {"Work": {"Type": "Task", "Resource": activity_arn, "End": True, **task}},
    })


def wait_done(sfn: Any, arn: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        assert time.monotonic() < deadline, f"{arn} still RUNNING"
        time.sleep(0.1)


def workers(api: server.Running, activity_arn: str, counts: list[int]) -> list[Any]:
    return [
        subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "activity_worker.py"), api.url, activity_arn,
             f"w{i}", str(count)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for i, count in enumerate(counts)
    ]


def test_crud_and_pagination(sfn: Any, unique: str) -> None:
    x = sfn.exceptions
    arns = [sfn.create_activity(name=f"A{unique}-{i}")["activityArn"] for i in range(3)]
    again = sfn.create_activity(name=f"A{unique}-0")  # idempotent
    assert again["activityArn"] == arns[0]
    described = sfn.describe_activity(activityArn=arns[1])
    assert described["name"] == f"A{unique}-1" and described["creationDate"]
    listed: list[str] = []
    page = sfn.list_activities(maxResults=2)
    listed += [a["activityArn"] for a in page["activities"]]
    while "nextToken" in page:
        page = sfn.list_activities(maxResults=2, nextToken=page["nextToken"])
        listed += [a["activityArn"] for a in page["activities"]]
    assert [a for a in listed if f"A{unique}-" in a] == arns
    sfn.delete_activity(activityArn=arns[2])
    with pytest.raises(x.ActivityDoesNotExist):
        sfn.describe_activity(activityArn=arns[2])
    with pytest.raises(x.ActivityDoesNotExist):
        sfn.get_activity_task(activityArn=arns[2])
    with pytest.raises(x.InvalidName):
        sfn.create_activity(name="has space")
    with pytest.raises(x.InvalidArn):
        sfn.describe_activity(activityArn="not-an-arn")


def test_boto3_workers_in_other_processes_serve_each_task_once(
    api: server.Running, sfn: Any, unique: str
) -> None:
    activity = sfn.create_activity(name=f"Square{unique}")["activityArn"]
    sm = sfn.create_state_machine(
        name=f"Sq{unique}", definition=machine(activity, HeartbeatSeconds=30), roleArn=ROLE
    )["stateMachineArn"]
    total = 12
    procs = workers(api, activity, [4, 4, 4])  # three pollers at once
    executions = [
        sfn.start_execution(stateMachineArn=sm, input=json.dumps({"n": n}))["executionArn"]
        for n in range(total)
    ]
    outputs = [wait_done(sfn, arn) for arn in executions]
    for proc in procs:
        proc.wait(timeout=60)
    assert [json.loads(o["output"])["square"] for o in outputs] == [n * n for n in range(total)]
    served = [line for p in procs for line in (p.stdout.read() if p.stdout else "").splitlines()]
    assert len(served) == total  # each task went to exactly one poller
    events = sfn.get_execution_history(executionArn=executions[0])["events"]
    types = [e["type"] for e in events]
    assert types == ["ExecutionStarted", "TaskStateEntered", "ActivityScheduled",
                     "ActivityStarted", "ActivitySucceeded", "TaskStateExited",
                     "ExecutionSucceeded"]
    scheduled = events[2]["activityScheduledEventDetails"]
    assert scheduled["resource"] == activity and scheduled["heartbeatInSeconds"] == 30
    assert events[3]["activityStartedEventDetails"]["workerName"].startswith("w")


def test_failure_heartbeats_and_a_timeout(api: server.Running, sfn: Any, unique: str) -> None:
    activity = sfn.create_activity(name=f"Beat{unique}")["activityArn"]
    sm = sfn.create_state_machine(
        name=f"Bt{unique}", definition=machine(activity, HeartbeatSeconds=2), roleArn=ROLE
    )["stateMachineArn"]
    # Heartbeats for 4 s (twice HeartbeatSeconds) keep it alive; then a failure.
    kept = sfn.start_execution(stateMachineArn=sm, input='{"beats": 4, "fail": true}')
    procs = workers(api, activity, [1])
    done = wait_done(sfn, kept["executionArn"])
    procs[0].wait(timeout=60)
    assert (done["status"], done["error"], done["cause"]) == ("FAILED", "WorkFailed", "by w0")
    types = [e["type"] for e in sfn.get_execution_history(executionArn=kept["executionArn"])
             ["events"]]
    assert "ActivityFailed" in types
    # A task a poller takes and never answers: the missed heartbeat times it out.
    lost = sfn.start_execution(stateMachineArn=sm, input="{}")
    task = sfn.get_activity_task(activityArn=activity, workerName="gone")
    assert json.loads(task["input"]) == {}
    done = wait_done(sfn, lost["executionArn"])
    assert (done["status"], done["error"]) == ("FAILED", "States.Timeout")
    with pytest.raises(sfn.exceptions.TaskTimedOut):
        sfn.send_task_success(taskToken=task["taskToken"], output="{}")
    history = sfn.get_execution_history(executionArn=lost["executionArn"])["events"]
    assert [e["type"] for e in history][-2:] == ["ActivityTimedOut", "ExecutionFailed"]


def test_a_task_on_a_missing_activity_fails_to_schedule(sfn: Any, unique: str) -> None:
    missing = f"arn:aws:states:us-east-1:000000000000:activity:Nope{unique}"
    sm = sfn.create_state_machine(
        name=f"Miss{unique}", definition=machine(missing), roleArn=ROLE
    )["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=sm)["executionArn"]
    done = wait_done(sfn, arn)
    assert (done["status"], done["error"]) == ("FAILED", "States.Runtime")
    types = [e["type"] for e in sfn.get_execution_history(executionArn=arn)["events"]]
    assert types[-2:] == ["ActivityScheduleFailed", "ExecutionFailed"]


def test_a_long_poll_blocks_no_other_request_and_ends_when_a_task_comes(
    api: server.Running, sfn: Any, unique: str
) -> None:
    import threading

    activity = sfn.create_activity(name=f"Poll{unique}")["activityArn"]
    got: list[dict[str, Any]] = []
    poller = threading.Thread(
        target=lambda: got.append(
            sfn_client(api.url, read_timeout=70).get_activity_task(activityArn=activity)
        )
    )
    poller.start()
    time.sleep(0.5)  # the poll is waiting on the server now
    # Other requests are answered meanwhile (the poll holds its own connection only).
    assert sfn.describe_activity(activityArn=activity)["name"] == f"Poll{unique}"
    sm = sfn.create_state_machine(
        name=f"Pl{unique}", definition=machine(activity), roleArn=ROLE
    )["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=sm, input='{"k": 1}')["executionArn"]
    poller.join(timeout=30)
    assert not poller.is_alive() and json.loads(got[0]["input"]) == {"k": 1}
    sfn.send_task_success(taskToken=got[0]["taskToken"], output='{"done": true}')
    assert wait_done(sfn, arn)["status"] == "SUCCEEDED"


def test_a_poll_with_no_task_ends_empty_after_its_wait(redis_url: str, unique: str) -> None:
    client = connect(Settings(redis_url=redis_url))
    record = client.activities.create(f"Idle{unique}")
    started = time.monotonic()
    assert client.activities.get_task(record.arn, "w", wait=0.5) is None
    assert time.monotonic() - started >= 0.5


def test_the_queue_gauge_counts_tasks_no_worker_took(
    api: server.Running, sfn: Any, unique: str
) -> None:
    import urllib.request

    activity = sfn.create_activity(name=f"Gauge{unique}")["activityArn"]
    sm = sfn.create_state_machine(
        name=f"Gg{unique}", definition=machine(activity), roleArn=ROLE
    )["stateMachineArn"]
    arns = [sfn.start_execution(stateMachineArn=sm)["executionArn"] for _ in range(2)]
    line = f'sfn_activity_tasks_queued{{activity="Gauge{unique}"}}'

    def queued() -> float:
        text = urllib.request.urlopen(f"{api.url}/metrics").read().decode()  # noqa: S310
        found = [ln for ln in text.splitlines() if ln.startswith(line)]
        return float(found[0].split()[-1]) if found else -1.0

    deadline = time.monotonic() + 30
    while queued() != 2.0:
        assert time.monotonic() < deadline, queued()
        time.sleep(0.1)
    for _ in arns:
        task = sfn.get_activity_task(activityArn=activity, workerName="g")
        sfn.send_task_success(taskToken=task["taskToken"], output="{}")
    assert queued() == 0.0
    assert all(wait_done(sfn, arn)["status"] == "SUCCEEDED" for arn in arns)
