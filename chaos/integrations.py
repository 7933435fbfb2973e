"""The integration workload: the engine's own AWS integrations under the chaos harness.

    ChaosJobs   dynamodb:putItem (an optimized call) -> codebuild:startBuild.sync (a job,
                polled on a durable timer) -> Task

The AWS API is moto in server mode, a separate process started here (as the integration
tests start it), reached by the workers' boto3 over HTTP through `SlowProxy`: a proxy of
ours that forwards each request to moto at once and hands the answer back only 1-2.5 s
later. So the worker killer's SIGKILLs land between a call (done at moto) and its commit,
and the re-run that follows calls again: PutItem writes the same item, StartBuild carries
the same idempotency token (the proxy counts the calls per token, reported at the end).

Each answer's volatile parts (ids, dates) stay out of the comparison: the states keep only
their stable fields (ResultSelector), and `masked` hides the raw outputs of the AWS
Tasks' TaskSubmitted/TaskSucceeded events from the event keys of chaos/checks.py.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from engine.handlers import Registry
from engine.integrations import Integrations, IntegrationSettings

log = logging.getLogger(__name__)

MACHINE = "ChaosJobs"
TABLE = "ChaosJobs"
PROJECT = "chaos-build"
#: The resource types whose raw answers differ between two correct runs.
VOLATILE_RESOURCES = frozenset({"codebuild", "dynamodb"})
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing", "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}
#: How long the proxy holds each answer (uniform, seconds).
DELAY = (1.0, 2.5)


def definition(finish: dict[str, Any]) -> dict[str, Any]:
    return {
        "StartAt": "Save",
        "States": {
            "Save": {
                "Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {"TableName": TABLE, "Item": {
                    "id": {"S.$": "$.id"}, "amount": {"N.$": "States.Format('{}', $.amount)"}}},
                "ResultSelector": {"status.$": "$.SdkHttpMetadata.HttpStatusCode"},
                "ResultPath": "$.saved", "Next": "Build",
            },
            "Build": {
                "Type": "Task", "Resource": "arn:aws:states:::codebuild:startBuild.sync",
                "Parameters": {"ProjectName": PROJECT, "EnvironmentVariablesOverride": [
                    {"Name": "ORDER", "Value.$": "$.id", "Type": "PLAINTEXT"}]},
                "ResultSelector": {"status.$": "$.Build.BuildStatus",
                                   "project.$": "$.Build.ProjectName"},
                "ResultPath": "$.built", "Next": "Finish",
            },
            "Finish": finish,
        },
    }


def input_of(name: str, rng: random.Random) -> dict[str, Any]:
    return {"id": name, "amount": rng.randrange(1, 1000),
            "finish": {"key": f"{name}/finish", "ms": rng.randrange(100, 600)}}


def masked(event: dict[str, Any]) -> dict[str, Any]:
    """The event with the raw answer of an AWS Task (ids, dates) masked."""
    for key in ("taskSubmittedEventDetails", "taskSucceededEventDetails"):
        details = event.get(key)
        if isinstance(details, dict) and details.get("resourceType") in VOLATILE_RESOURCES:
            return {**event, key: {**details, "output": "<aws>"}}
    return event


def expected_integrations(registry: Registry) -> Integrations:
    """The fault-free run's integrations: the same AWS calls (this process's environment
    points boto3 at the emulator: `Emulator.export`)."""
    return Integrations(registry, IntegrationSettings(aws=True, job_poll_seconds=5.0))


def available() -> bool:
    return _binary() is not None


def _binary() -> str | None:
    return shutil.which("moto_server", path=str(Path(sys.executable).parent))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SlowProxy:
    """Forwards every request to `target` and answers after a random delay; counts the
    AWS operations (X-Amz-Target or Action) and StartBuild's idempotency tokens."""

    def __init__(self, target: str, seed: int) -> None:
        self.target = urllib.parse.urlparse(target)
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.operations: Counter[str] = Counter()
        self.tokens: Counter[str] = Counter()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                proxy.forward(self)

            def do_GET(self) -> None:  # noqa: N802
                proxy.forward(self)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       name="chaos-aws-proxy")

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def forward(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        self._count(request.headers.get("X-Amz-Target") or "", body)
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        conn = http.client.HTTPConnection(str(self.target.hostname), self.target.port,
                                          timeout=30)
        try:
            conn.request(request.command, request.path, body=body, headers=headers)
            answer = conn.getresponse()
            data = answer.read()
        finally:
            conn.close()
        with self.lock:
            delay = self.rng.uniform(*DELAY)
        time.sleep(delay)  # the call is done at moto; its answer is late
        try:
            request.send_response(answer.status)
            for key, value in answer.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    request.send_header(key, value)
            request.send_header("Content-Length", str(len(data)))
            request.send_header("Connection", "close")
            request.end_headers()
            request.wfile.write(data)
        except OSError:
            pass  # the worker was killed while it waited: the call happened all the same

    def _count(self, target: str, body: bytes) -> None:
        operation = target.rsplit(".", 1)[-1]
        with self.lock:
            self.operations[operation or "?"] += 1
            if operation == "StartBuild":
                try:
                    token = json.loads(body).get("idempotencyToken", "")
                except ValueError:
                    token = ""
                self.tokens[str(token)] += 1

    def counts(self) -> dict[str, Any]:
        with self.lock:
            return {
                "calls": dict(self.operations),
                "start_build_tokens": len(self.tokens),
                "start_builds_again_with_the_same_token": sum(c - 1 for c in
                                                               self.tokens.values()),
            }


class Emulator:
    """moto_server (a separate process) and the proxy in front of it."""

    def __init__(self, folder: Path, seed: int) -> None:
        self.folder = folder
        self.seed = seed
        self.process: subprocess.Popen[bytes] | None = None
        self.proxy: SlowProxy | None = None
        self.direct = ""

    def start(self) -> None:
        binary = _binary()
        if binary is None:
            raise RuntimeError("moto_server is not installed (pip install -e '.[dev]')")
        self.folder.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        log_file = open(self.folder / "moto.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [binary, "-H", "127.0.0.1", "-p", str(port)], stdout=log_file,
            stderr=subprocess.STDOUT, env={**os.environ, **FAKE_AWS},
        )
        self.direct = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.direct + "/moto-api/", timeout=1).close()
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.2)
        try:
            self.proxy = SlowProxy(self.direct, self.seed)
            self.proxy.start()
            self._resources()
        except BaseException:
            self.stop()
            raise

    def _resources(self) -> None:
        import boto3

        def client(service: str) -> Any:
            return boto3.client(service, endpoint_url=self.direct, region_name="us-east-1",
                                aws_access_key_id="testing", aws_secret_access_key="testing")

        client("dynamodb").create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
        client("codebuild").create_project(
            name=PROJECT, source={"type": "S3", "location": "chaos/source.zip"},
            artifacts={"type": "NO_ARTIFACTS"}, serviceRole="arn:aws:iam::123456789012:role/cb",
            environment={"type": "LINUX_CONTAINER", "image": "chaos",
                         "computeType": "BUILD_GENERAL1_SMALL"})

    @property
    def env(self) -> dict[str, str]:
        """What a process needs to call AWS through the proxy."""
        assert self.proxy is not None
        return {**FAKE_AWS, "AWS_ENDPOINT_URL": self.proxy.url, "SFN_AWS_INTEGRATIONS": "1"}

    def export(self) -> None:
        """Point this process's boto3 at the emulator (directly: the fault-free run)."""
        os.environ.update({**FAKE_AWS, "AWS_ENDPOINT_URL": self.direct})

    def counts(self) -> dict[str, Any]:
        return self.proxy.counts() if self.proxy is not None else {}

    def saved_items(self) -> int:
        import boto3

        ddb = boto3.client("dynamodb", endpoint_url=self.direct, region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        return int(ddb.scan(TableName=TABLE, Select="COUNT")["Count"])

    def stop(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
