"""One frozen settings object, built from the environment once and passed down.

    REDIS_URL            the execution store (and the broker unless BROKER_URL is set);
                         unset: the embedded redis-server (see engine/embedded.py)
    BROKER_URL           a separate Celery broker (e.g. amqp://... for RabbitMQ)
    SFN_REGION           region in ARNs (default us-east-1)
    SFN_ACCOUNT          account in ARNs (default 000000000000)
    SFN_HANDLER_MODULES  comma-separated modules whose @handler functions workers serve
                         (default: workflows.order_processing)
    SFN_LEASE_SECONDS    a claimed Task's lease; bounds recovery after a worker dies (20)
    SFN_REDELIVER_SECONDS  an unconsumed message is sent again after this (30)
    SFN_SWEEP_INTERVAL   how often each worker's recovery sweep looks for due work (0.2)
    SFN_DATA_DIR         where the embedded redis-server keeps its AOF (./.sfn)
    SFN_AWS_INTEGRATIONS 1: Tasks no handler serves call AWS through boto3 (default 0)
    SFN_HTTP_CONNECTIONS a JSON file of the HTTP Tasks' connections (engine/integrations)
    SFN_ITEM_READER_ROOT a directory a Distributed Map's ItemReader reads (BUCKET/KEY)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from engine.runtime.driver import DriverSettings


@dataclass(frozen=True)
class Settings:
    redis_url: str | None = None
    broker_url: str | None = None
    region: str = "us-east-1"
    account: str = "000000000000"
    handler_modules: tuple[str, ...] = ("workflows.order_processing",)
    lease_seconds: float = 20.0
    redeliver_seconds: float = 30.0
    sweep_interval: float = 0.2
    data_dir: Path = field(default_factory=lambda: Path(".sfn"))
    aws_integrations: bool = False
    http_connections: str | None = None
    item_reader_root: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        modules = e.get("SFN_HANDLER_MODULES")
        return cls(
            redis_url=e.get("REDIS_URL") or None,
            broker_url=e.get("BROKER_URL") or None,
            region=e.get("SFN_REGION", cls.region),
            account=e.get("SFN_ACCOUNT", cls.account),
            handler_modules=(
                tuple(m.strip() for m in modules.split(",") if m.strip())
                if modules is not None
                else cls.handler_modules
            ),
            lease_seconds=float(e.get("SFN_LEASE_SECONDS", cls.lease_seconds)),
            redeliver_seconds=float(e.get("SFN_REDELIVER_SECONDS", cls.redeliver_seconds)),
            sweep_interval=float(e.get("SFN_SWEEP_INTERVAL", cls.sweep_interval)),
            data_dir=Path(e.get("SFN_DATA_DIR", ".sfn")),
            aws_integrations=e.get("SFN_AWS_INTEGRATIONS", "0").strip().lower()
            in ("1", "true", "yes", "on"),
            http_connections=e.get("SFN_HTTP_CONNECTIONS") or None,
            item_reader_root=e.get("SFN_ITEM_READER_ROOT") or None,
        )

    def with_redis(self, url: str) -> Settings:
        return replace(self, redis_url=url)

    @property
    def broker(self) -> str:
        url = self.broker_url or self.redis_url
        if url is None:
            raise ValueError("no Redis configured: set REDIS_URL or start the embedded one")
        return url

    def driver_settings(self) -> DriverSettings:
        return DriverSettings(
            lease_seconds=self.lease_seconds,
            redeliver_seconds=self.redeliver_seconds,
            region=self.region,
            account=self.account,
            aws_integrations=self.aws_integrations,
            http_connections=self.http_connections,
            item_reader_root=self.item_reader_root,
        )
