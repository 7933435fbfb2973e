"""An AWS API emulator for the integration tests: `moto` in server mode, a separate process
on a free port, reached by boto3 over HTTP exactly as AWS would be (nothing patched
in-process). boto3 finds it through AWS_ENDPOINT_URL, as a deployment would point it at a
private endpoint."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

#: What boto3 needs to talk to the emulator (fake credentials: moto accepts any).
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AwsEmulator:
    def __init__(self, url: str, process: subprocess.Popen[bytes]) -> None:
        self.url = url
        self.process = process

    @property
    def env(self) -> dict[str, str]:
        return {**FAKE_AWS, "AWS_ENDPOINT_URL": self.url}

    def reset(self) -> None:
        """Forget every resource (moto's own reset endpoint): each test starts clean."""
        request = urllib.request.Request(self.url + "/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).close()

    def configure(self, config: dict[str, object]) -> None:
        """moto's own switches (`/moto-api/config`), e.g. Batch without Docker."""
        request = urllib.request.Request(
            self.url + "/moto-api/config", data=json.dumps(config).encode(), method="POST"
        )
        urllib.request.urlopen(request, timeout=10).close()

    def client(self, service: str) -> object:
        import boto3

        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture(scope="session")
def aws_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsEmulator]:
    yield from emulator(tmp_path_factory, {})


def emulator(
    tmp_path_factory: pytest.TempPathFactory, extra_env: dict[str, str]
) -> Iterator[AwsEmulator]:
    """Start a moto server (with `extra_env`: moto's own settings), yield it, stop it."""
    binary = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    if binary is None:
        pytest.skip("moto[server] is not installed (pip install -e '.[dev]')")
    port = _free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "ab")  # noqa: SIM115
    process = subprocess.Popen(
        [binary, "-H", "127.0.0.1", "-p", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **FAKE_AWS, **extra_env},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("moto_server did not start") from None
            time.sleep(0.2)
    yield AwsEmulator(url, process)
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


@pytest.fixture
def aws_env(aws_emulator: AwsEmulator, monkeypatch: pytest.MonkeyPatch) -> AwsEmulator:
    """The emulator, emptied, with this process's boto3 configuration pointing at it."""
    aws_emulator.reset()
    for key, value in aws_emulator.env.items():
        monkeypatch.setenv(key, value)
    return aws_emulator
