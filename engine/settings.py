"""One frozen settings object, built from the environment once and passed down.

    REDIS_URL            the execution store (and the broker unless BROKER_URL is set);
                         unset: the embedded redis-server (see engine/embedded.py);
                         redis+cluster://HOST:PORT[,HOST:PORT...]: a Redis Cluster
                         (engine/store/redis_client.py), which needs BROKER_URL
    BROKER_URL           a separate Celery broker (e.g. amqp://... for RabbitMQ)
    SFN_REDIS_WAIT_REPLICAS  commits and starts wait for this many replicas to hold them
                         (Redis WAIT) before the step is acknowledged (0: none)
    SFN_REDIS_WAIT_MS    how long that WAIT may take, in milliseconds (1000)
    SFN_REGION           region in ARNs (default us-east-1)
    SFN_ACCOUNT          account in ARNs (default 000000000000)
    SFN_HANDLER_MODULES  comma-separated modules whose @handler functions workers serve
                         (default: the two examples, workflows.order_processing and
                         workflows.order_jsonata, so that any worker runs either)
    SFN_LEASE_SECONDS    a claimed Task's lease; bounds recovery after a worker dies (20)
    SFN_REDELIVER_SECONDS  an unconsumed message is sent again after this (30)
    SFN_SWEEP_INTERVAL   how often each worker's recovery sweep looks for due work (0.2)
    SFN_DATA_DIR         where the embedded redis-server keeps its AOF, port and log
                         (default: .sfn in the project root, see `project_root`)
    SFN_STEP_BUDGET_SECONDS  the time one engine step (expressions, intrinsics, regular
                         expressions, JSON parsing) may compute before its state fails (5)
    SFN_STEP_HARD_SECONDS  CPU seconds after which a step that cannot be interrupted ends
                         its worker process (20; docs/reliability.md)
    SFN_STEP_MEMORY_MB   memory one engine step may allocate beyond its worker process's
                         size before its state fails with States.Runtime (1024; 0: none)
    SFN_MAX_DELIVERIES   deliveries of a step that keeps failing the engine before its
                         execution fails with States.Runtime (5)
    SFN_MAX_HISTORY_EVENTS  an execution's history cap; reaching it fails the execution
                         with States.Runtime, as AWS does (25000, AWS's quota; 0: none)
    SFN_CHAIN_MAX_TASKS  Tasks one worker runs one after another in one Celery task (the
                         delivered one included), when it serves their handlers, before the
                         next goes back through the broker (32; 1: no chaining, only the first
                         Task of a start, timer or join runs inline; 0: none inline)
    SFN_CHAIN_MAX_SECONDS  no further Task is chained once a delivery has run this long (0.5)
    SFN_RETENTION_SECONDS   how long a closed execution stays readable before it expires
                         with its history (7776000: AWS's 90 days; 0: forever)
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
from engine.store.redis_client import is_cluster_url

#: What marks a project's root folder, looked for upward from the current directory.
PROJECT_MARKERS = (".sfn", "pyproject.toml", ".git")


def project_root(start: Path | None = None) -> Path:
    """The nearest folder, from `start` (the current directory) upward, holding `.sfn`,
    `pyproject.toml` or `.git`; `start` itself when none does. Every `sfn` command run in
    a project's subfolders thus shares the project's one embedded Redis."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if any((folder / marker).exists() for marker in PROJECT_MARKERS):
            return folder
    return here


def default_data_dir() -> Path:
    return project_root() / ".sfn"


@dataclass(frozen=True)
class Settings:
    redis_url: str | None = None
    broker_url: str | None = None
    region: str = "us-east-1"
    account: str = "000000000000"
    handler_modules: tuple[str, ...] = ("workflows.order_processing", "workflows.order_jsonata")
    lease_seconds: float = 20.0
    redeliver_seconds: float = 30.0
    sweep_interval: float = 0.2
    data_dir: Path = field(default_factory=default_data_dir)
    step_budget_seconds: float = 5.0
    step_hard_seconds: float = 20.0
    step_memory_mb: int = 1024
    max_deliveries: int = 5
    max_history_events: int = 25_000
    retention_seconds: float = 90 * 86400.0
    #: How long an ended execution can be redriven (AWS: 14 days); its child runs are
    #: kept that long (engine/store/retention.py, engine/runtime/redrive.py).
    redrive_seconds: float = 14 * 86400.0
    aws_integrations: bool = False
    http_connections: str | None = None
    item_reader_root: str | None = None
    #: The most children one Map Run runs at once (AWS's quota: 10,000); a Distributed
    #: Map without MaxConcurrency runs AWS's default 1,000, or this if lower.
    map_run_max_concurrency: int = 10_000
    chain_max_tasks: int = 32
    chain_max_seconds: float = 0.5
    redis_wait_replicas: int = 0
    redis_wait_ms: int = 1000

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
            data_dir=Path(e["SFN_DATA_DIR"]) if e.get("SFN_DATA_DIR") else default_data_dir(),
            step_budget_seconds=_positive(e, "SFN_STEP_BUDGET_SECONDS", cls.step_budget_seconds),
            step_hard_seconds=_positive(e, "SFN_STEP_HARD_SECONDS", cls.step_hard_seconds),
            step_memory_mb=int(e.get("SFN_STEP_MEMORY_MB", cls.step_memory_mb)),
            max_deliveries=int(_positive(e, "SFN_MAX_DELIVERIES", cls.max_deliveries)),
            max_history_events=int(e.get("SFN_MAX_HISTORY_EVENTS", cls.max_history_events)),
            retention_seconds=float(e.get("SFN_RETENTION_SECONDS", cls.retention_seconds)),
            redrive_seconds=_not_negative(e, "SFN_REDRIVE_SECONDS", cls.redrive_seconds),
            aws_integrations=e.get("SFN_AWS_INTEGRATIONS", "0").strip().lower()
            in ("1", "true", "yes", "on"),
            http_connections=e.get("SFN_HTTP_CONNECTIONS") or None,
            item_reader_root=e.get("SFN_ITEM_READER_ROOT") or None,
            map_run_max_concurrency=int(_positive(
                e, "SFN_MAP_RUN_MAX_CONCURRENCY", cls.map_run_max_concurrency)),
            chain_max_tasks=int(_not_negative(e, "SFN_CHAIN_MAX_TASKS", cls.chain_max_tasks)),
            chain_max_seconds=_not_negative(e, "SFN_CHAIN_MAX_SECONDS", cls.chain_max_seconds),
            redis_wait_replicas=int(
                _not_negative(e, "SFN_REDIS_WAIT_REPLICAS", cls.redis_wait_replicas)),
            redis_wait_ms=int(_not_negative(e, "SFN_REDIS_WAIT_MS", cls.redis_wait_ms)),
        )

    def with_redis(self, url: str) -> Settings:
        return replace(self, redis_url=url)

    @property
    def broker(self) -> str:
        url = self.broker_url or self.redis_url
        if url is None:
            raise ValueError("no Redis configured: set REDIS_URL or start the embedded one")
        if self.broker_url is None and is_cluster_url(url):
            # kombu's Redis transport speaks to one Redis: it has no cluster client.
            raise ValueError(
                "REDIS_URL names a Redis Cluster, which cannot be Celery's broker: set "
                "BROKER_URL to a plain Redis (redis://...) or RabbitMQ (amqp://...)"
            )
        return url

    def driver_settings(self) -> DriverSettings:
        return DriverSettings(
            lease_seconds=self.lease_seconds,
            redeliver_seconds=self.redeliver_seconds,
            step_budget_seconds=self.step_budget_seconds,
            region=self.region,
            account=self.account,
            max_history_events=self.max_history_events,
            aws_integrations=self.aws_integrations,
            http_connections=self.http_connections,
            item_reader_root=self.item_reader_root,
            map_run_max_concurrency=self.map_run_max_concurrency,
            chain_max_tasks=self.chain_max_tasks,
            chain_max_seconds=self.chain_max_seconds,
        )


#: The step watchdog's soft limit (engine/runtime/watchdog.py) comes this long after the
#: budget: the budget's own checks normally end a step first.
WATCHDOG_SOFT_GRACE_SECONDS = 2.0


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds or a count, not {text!r}") from None
    if not value > 0:
        raise ValueError(f"{name} must be greater than 0, not {text!r}")
    return value


def _not_negative(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds or a count, not {text!r}") from None
    if not value >= 0:
        raise ValueError(f"{name} must be 0 or more, not {text!r}")
    return value
