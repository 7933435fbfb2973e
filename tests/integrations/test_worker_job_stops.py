"""Durable job stops, end to end: real Celery workers (SFN_AWS_INTEGRATIONS=1), a real
redis-server, the AWS API emulator (moto server) over HTTP. A StopExecution while a
CodeBuild build or a Batch job is being polled stops the job even when the stop request's
broker message is lost (the process that stopped the execution died right after its
commit) or the worker pool process making the stop call is SIGKILLed in the middle of it:
the request is in the execution's committed outbox and the recovery sweep sends it again.
A deletion `.sync` whose pool process is killed after the call and before its commit
ends as deleted on its re-run. Each test asks the emulator what became of the job (for
CodeBuild, whose describe call moto answers SUCCEEDED whatever happened, its answer to the
StopBuild call)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from engine.client import Client
from engine.connect import connect
from engine.runtime import job_stops
from engine.runtime.messages import Message
from engine.settings import Settings
from engine.store import keys
from tests.conftest import Worker
from tests.integrations.conftest import AwsEmulator

pytestmark = [pytest.mark.redis, pytest.mark.worker]

CODEBUILD = "arn:aws:states:::codebuild:startBuild.sync"
BATCH = "arn:aws:states:::batch:submitJob.sync"
STOP_BUILD = "CodeBuild_20161006.StopBuild"


class HoldingProxy:
    """Forwards calls to the emulator, except the first StopBuild, held (its caller waits
    for an answer) until `released`, then answered 503; and, with `hold_deletes`, the first
    EKS DeleteCluster, forwarded (the cluster is deleted) and its answer held likewise.
    Keeps the emulator's answers to StopBuild (moto's BatchGetBuilds cannot tell: it
    answers every build SUCCEEDED, and marks it so)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.held = threading.Event()
        self.released = threading.Event()
        self.stop_calls = 0
        self.delete_calls = 0
        self.hold_deletes = False
        #: (build id, its status) from each StopBuild the emulator answered
        self.stopped: list[tuple[str, str]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's names
                proxy.forward(self, "POST")

            def do_GET(self) -> None:  # noqa: N802
                proxy.forward(self, "GET")

            def do_DELETE(self) -> None:  # noqa: N802
                proxy.forward(self, "DELETE")

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _hold(self, request: BaseHTTPRequestHandler) -> None:
        self.held.set()
        self.released.wait(60)
        request.send_error(503)

    def forward(self, request: BaseHTTPRequestHandler, method: str) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        stop_build = request.headers.get("X-Amz-Target") == STOP_BUILD
        if stop_build:
            self.stop_calls += 1
            if self.stop_calls == 1:
                self._hold(request)
                return
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        upstream = urllib.request.Request(self.target + request.path, data=body or None,
                                          headers=headers, method=method)
        try:
            with urllib.request.urlopen(upstream, timeout=30) as answer:
                status, payload, answer_headers = answer.status, answer.read(), answer.headers
        except urllib.error.HTTPError as exc:
            status, payload, answer_headers = exc.code, exc.read(), exc.headers
        if stop_build and status == 200:
            build = json.loads(payload)["build"]
            self.stopped.append((build["id"], build["buildStatus"]))
        if method == "DELETE" and request.path.startswith("/clusters/"):
            self.delete_calls += 1
            if self.hold_deletes and self.delete_calls == 1:
                self._hold(request)  # deleted, but its caller never hears of it
                return
        request.send_response(status)
        for name in ("Content-Type", "x-amzn-RequestId", "x-amzn-ErrorType"):
            if answer_headers.get(name):
                request.send_header(name, answer_headers[name])
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()


class Dropping:
    """A dispatcher whose messages never reach the broker (its process died after the
    commit, or the broker was away)."""

    def __init__(self) -> None:
        self.dropped: list[Message] = []

    def send(self, message: Message, *, countdown: float = 0.0) -> None:
        self.dropped.append(message)


@pytest.fixture(scope="module")
def proxy(aws_emulator: AwsEmulator) -> Iterator[HoldingProxy]:
    p = HoldingProxy(aws_emulator.url)
    yield p
    p.close()


@pytest.fixture(scope="module")
def stop_worker(redis_server: Any, aws_emulator: AwsEmulator, proxy: HoldingProxy,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    log = tmp_path_factory.mktemp("job-stop-worker") / "worker.log"
    env = {**aws_emulator.env, "SFN_AWS_INTEGRATIONS": "1", "SFN_REDELIVER_SECONDS": "2",
           "SFN_LEASE_SECONDS": "3", "AWS_ENDPOINT_URL_CODEBUILD": proxy.url,
           "AWS_ENDPOINT_URL_EKS": proxy.url}
    w = Worker(redis_server.url, env=env, queues="sfn", log_path=log).start()
    yield w
    w.stop()


def codebuild_project(aws: AwsEmulator, name: str) -> Any:
    codebuild: Any = aws.client("codebuild")
    codebuild.create_project(
        name=name, source={"type": "S3", "location": "bucket/key"},
        artifacts={"type": "NO_ARTIFACTS"}, serviceRole="arn:aws:iam::123456789012:role/cb",
        environment={"type": "LINUX_CONTAINER", "image": "img",
                     "computeType": "BUILD_GENERAL1_SMALL"})
    return codebuild


def start_job(client: Client, name: str, resource: str, parameters: dict[str, Any]) -> str:
    """Start a one-Task execution and wait until its job is submitted (the build is polled
    every 5 s: the tests stop the execution before the first poll)."""
    client.create_state_machine(name, {"StartAt": "Job", "States": {"Job": {
        "Type": "Task", "Resource": resource, "Parameters": parameters, "End": True}}})
    arn = client.start_execution(name, {}).arn
    deadline = time.monotonic() + 30
    while not any(e["type"] == "TaskSubmitted" for e in client.get_history(arn)):
        assert time.monotonic() < deadline, "the job was never submitted"
        time.sleep(0.1)
    return arn


def stops_pending(redis_client: Any, eid: str) -> list[str]:
    return [k for k in redis_client.hkeys(keys.outbox(eid)) if k.startswith(job_stops.KIND)]


def wait_settled(redis_client: Any, eid: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while stops_pending(redis_client, eid):
        assert time.monotonic() < deadline, "the stop request was never settled"
        time.sleep(0.2)


def pool_children(pid: int) -> list[int]:
    """The prefork pool processes of a worker (its children, from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def test_a_lost_stop_message_still_stops_the_codebuild_build(
    stop_worker: Worker, aws_emulator: AwsEmulator, redis_url: str, redis_client: Any,
    unique: str, proxy: HoldingProxy,
) -> None:
    proxy.stop_calls = 1  # this test's StopBuild goes through
    codebuild = codebuild_project(aws_emulator, f"site-{unique}")
    client = connect(Settings(redis_url=redis_url))
    arn = start_job(client, f"Build{unique}", CODEBUILD, {"ProjectName": f"site-{unique}"})
    eid = client.describe_execution(arn).eid
    client.dispatcher = dropping = Dropping()
    client.stop_execution(arn)
    # The stop request was committed with the stop, and its message never sent.
    assert [m["k"] for m in dropping.dropped] == [job_stops.KIND]
    assert len(stops_pending(redis_client, eid)) == 1
    wait_settled(redis_client, eid)
    [build_id] = codebuild.list_builds_for_project(projectName=f"site-{unique}")["ids"]
    assert (build_id, "STOPPED") in proxy.stopped


def test_a_stop_call_whose_pool_process_is_killed_is_made_again(
    stop_worker: Worker, aws_emulator: AwsEmulator, redis_url: str, redis_client: Any,
    unique: str, proxy: HoldingProxy,
) -> None:
    proxy.stop_calls = 0
    proxy.held.clear()
    proxy.released.clear()
    proxy.hold_deletes = False
    codebuild = codebuild_project(aws_emulator, f"app-{unique}")
    client = connect(Settings(redis_url=redis_url))
    arn = start_job(client, f"Killed{unique}", CODEBUILD, {"ProjectName": f"app-{unique}"})
    eid = client.describe_execution(arn).eid
    client.stop_execution(arn)
    assert proxy.held.wait(30), "no worker made the stop call"
    assert stop_worker.process is not None
    for child in pool_children(stop_worker.process.pid):
        os.kill(child, signal.SIGKILL)  # the pool process waiting on StopBuild dies
    proxy.released.set()
    wait_settled(redis_client, eid)
    assert proxy.stop_calls >= 2
    [build_id] = codebuild.list_builds_for_project(projectName=f"app-{unique}")["ids"]
    assert (build_id, "STOPPED") in proxy.stopped


def test_stopping_a_batch_job_that_already_ended_is_settled(
    stop_worker: Worker, aws_emulator: AwsEmulator, redis_url: str, redis_client: Any,
    unique: str,
) -> None:
    """moto's Batch (without Docker) ends a job at its submission: TerminateJob answers it
    as AWS does a finished job (success, its reason kept), and the request is settled."""
    aws_emulator.configure({"batch": {"use_docker": False}})
    iam: Any = aws_emulator.client("iam")
    batch: Any = aws_emulator.client("batch")
    role = iam.create_role(RoleName=f"batch-{unique}",
                           AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    env = batch.create_compute_environment(
        computeEnvironmentName=f"cenv-{unique}", type="UNMANAGED", state="ENABLED",
        serviceRole=role)["computeEnvironmentArn"]
    queue = batch.create_job_queue(
        jobQueueName=f"queue-{unique}", state="ENABLED", priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env}])["jobQueueArn"]
    definition = batch.register_job_definition(
        jobDefinitionName=f"nightly-{unique}", type="container",
        containerProperties={"image": "busybox", "vcpus": 1, "memory": 128},
    )["jobDefinitionArn"]
    client = connect(Settings(redis_url=redis_url))
    arn = start_job(client, f"Batch{unique}", BATCH, {
        "JobName": "nightly", "JobQueue": queue, "JobDefinition": definition})
    eid = client.describe_execution(arn).eid
    submitted = next(e for e in client.get_history(arn) if e["type"] == "TaskSubmitted")
    job_id = json.loads(submitted["taskSubmittedEventDetails"]["output"])["JobId"]
    client.dispatcher = Dropping()
    client.stop_execution(arn)
    wait_settled(redis_client, eid)
    [job] = batch.describe_jobs(jobs=[job_id])["jobs"]
    assert job["status"] == "SUCCEEDED"
    assert "was aborted" in job["statusReason"] and arn in job["statusReason"]


def test_a_deletion_whose_pool_process_is_killed_after_the_call_ends_as_deleted(
    stop_worker: Worker, aws_emulator: AwsEmulator, redis_url: str, unique: str,
    proxy: HoldingProxy,
) -> None:
    """`eks:deleteCluster.sync`: the pool process is SIGKILLed once the emulator deleted
    the cluster and before the call's answer came back. The Task is claimed again after
    the lease (a re-run); its DeleteCluster meets ResourceNotFoundException, which means
    the deletion happened: the Task polls, finds the cluster gone, and succeeds."""
    proxy.held.clear()
    proxy.released.clear()
    proxy.delete_calls = 0
    proxy.hold_deletes = True
    eks: Any = aws_emulator.client("eks")
    name = f"c-{unique}"
    eks.create_cluster(name=name, roleArn="arn:aws:iam::123456789012:role/r",
                       resourcesVpcConfig={"subnetIds": ["subnet-1"]})
    client = connect(Settings(redis_url=redis_url))
    client.create_state_machine(f"Drop{unique}", {"StartAt": "Drop", "States": {"Drop": {
        "Type": "Task", "Resource": "arn:aws:states:::eks:deleteCluster.sync",
        "Parameters": {"Name": name}, "End": True}}})
    arn = client.start_execution(f"Drop{unique}", {}).arn
    assert proxy.held.wait(30), "no worker called DeleteCluster"
    assert name not in eks.list_clusters()["clusters"]
    assert stop_worker.process is not None
    for child in pool_children(stop_worker.process.pid):
        os.kill(child, signal.SIGKILL)
    proxy.released.set()
    done = client.wait(arn, timeout=90)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    assert json.loads(done.output or "") == {"Cluster": {"Name": name}}
    assert proxy.delete_calls >= 2  # called again by the re-run, answered not found
