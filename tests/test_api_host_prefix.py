"""The `sync-` host prefix: SDKs send TestState and StartSyncExecution to `sync-<host>`,
which does not resolve for a local endpoint. The documented settings (docs/api.md) make
boto3 and the AWS CLI keep the endpoint as configured: each is checked here against a real
server, and so is the failure without them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.api import server
from engine.connect import connect
from engine.settings import Settings

boto3 = pytest.importorskip("boto3")
from botocore.exceptions import EndpointConnectionError  # noqa: E402

pytestmark = [pytest.mark.redis]

PASS = json.dumps({"Type": "Pass", "Result": {"ok": True}, "End": True})
AWS = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")


@pytest.fixture(scope="module")
def endpoint(redis_server: Any) -> Iterator[str]:
    running = server.start_background(
        server.build_app(connect(Settings(redis_url=redis_server.url)), ui=False))
    yield running.url  # http://127.0.0.1:PORT
    running.stop()


@pytest.fixture
def no_user_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No AWS configuration of the user's leaks in; the config file path is ours to write."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    config = tmp_path / "config"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    return config


def client(endpoint: str) -> Any:
    """boto3 with no Config: whatever the environment or config file says applies (a
    session of its own: a session reads the config file once)."""
    return boto3.session.Session().client(
        "stepfunctions", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test")


def test_by_default_the_sdk_goes_to_the_sync_prefixed_host(
    endpoint: str, no_user_config: Path
) -> None:
    with pytest.raises(EndpointConnectionError) as e:
        client(endpoint).test_state(definition=PASS)
    assert "sync-127.0.0.1" in str(e.value)


def test_the_environment_variable_keeps_the_endpoint(
    endpoint: str, no_user_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DISABLE_HOST_PREFIX_INJECTION", "true")
    found = client(endpoint).test_state(definition=PASS)
    assert (found["status"], json.loads(found["output"])) == ("SUCCEEDED", {"ok": True})


def test_the_shared_config_file_setting_keeps_the_endpoint(
    endpoint: str, no_user_config: Path
) -> None:
    no_user_config.write_text("[default]\ndisable_host_prefix_injection = true\n")
    assert client(endpoint).test_state(definition=PASS)["status"] == "SUCCEEDED"


@pytest.mark.skipif(AWS is None, reason="the AWS CLI is not installed (pip install awscli)")
@pytest.mark.parametrize("disable", [False, True])
def test_the_aws_cli_with_and_without_the_environment_variable(
    endpoint: str, tmp_path: Path, disable: bool
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_MAX_ATTEMPTS="1")
    if disable:
        env["AWS_DISABLE_HOST_PREFIX_INJECTION"] = "true"
    assert AWS is not None
    done = subprocess.run(
        [AWS, "stepfunctions", "test-state", "--definition", PASS, "--endpoint-url", endpoint,
         "--output", "json"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    if disable:
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["status"] == "SUCCEEDED"
    else:
        assert done.returncode != 0
        assert "sync-127.0.0.1" in done.stderr
