"""The harness as an API user: boto3 against `sfn serve` on the api host, and a starter
that keeps a bounded number of executions running (as chaos.harness does through the
client, here over HTTP from another host)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import boto3
import redis
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from chaos import workload
from engine.store import keys
from engine.store.base import TERMINAL

log = logging.getLogger(__name__)


def sfn_client(endpoint: str) -> Any:
    """A Step Functions client for our own API address only: no proxy (a proxy from the
    environment would be an address this harness did not create), short timeouts."""
    return boto3.client(
        "stepfunctions", endpoint_url=endpoint, region_name=workload.REGION,
        aws_access_key_id="multihost", aws_secret_access_key="multihost",  # noqa: S106
        config=BotoConfig(proxies={}, connect_timeout=5, read_timeout=30,
                          retries={"max_attempts": 1}),
    )


class Starter:
    """Starts the plan's executions through the API and sees them finish in the store."""

    def __init__(self, sfn: Any, arns: dict[str, str], status: redis.Redis,
                 plan: list[workload.Planned]) -> None:
        self.sfn, self.arns, self.status, self.plan = sfn, arns, status, plan
        self.started = 0
        self.running: dict[str, float] = {}
        self.finished: dict[str, float] = {}
        self.start_errors = 0
        self.began = time.time()
        self.began_monotonic = time.monotonic()

    def start_next(self) -> bool:
        planned = self.plan[self.started]
        try:
            self.sfn.start_execution(stateMachineArn=self.arns[planned.machine],
                                     name=planned.name, input=json.dumps(planned.input))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
                self.start_errors += 1
                log.warning("start %s: %s", planned.eid, exc)
                return False
        except BotoCoreError as exc:
            self.start_errors += 1
            log.warning("start %s: %s", planned.eid, exc)
            return False
        self.running[planned.eid] = time.time()
        self.started += 1
        return True

    def poll(self) -> None:
        eids = list(self.running)
        if not eids:
            return
        pipe = self.status.pipeline(transaction=False)
        for eid in eids:
            pipe.hget(keys.meta(eid), "status")
        now = time.time()
        for eid, status in zip(eids, pipe.execute(), strict=True):
            if status in TERMINAL:
                self.finished[eid] = now - self.running.pop(eid)

    @property
    def all_done(self) -> bool:
        return self.started == len(self.plan) and not self.running
