"""The AWS API in tests: boto3's Step Functions client for a test server, and the server
itself on a real Redis (the tests start both; nothing is mocked)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config

from engine.api import server
from engine.connect import connect
from engine.settings import Settings


def sfn_client(url: str, **config: Any) -> Any:
    """Fixed credentials and region, no retries, and the endpoint kept as it is
    (StartSyncExecution and TestState are modeled with the host prefix "sync-")."""
    return boto3.client(
        "stepfunctions", endpoint_url=url, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, inject_host_prefix=False, **config),
    )


@contextmanager
def api_server(redis_url: str, **build: Any) -> Iterator[server.Running]:
    """`sfn serve`'s application in a background thread, on the Redis at `redis_url`."""
    running = server.start_background(
        server.build_app(connect(Settings(redis_url=redis_url)), **build)
    )
    try:
        yield running
    finally:
        running.stop()
