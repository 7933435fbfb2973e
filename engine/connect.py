"""Wiring for application code: a `Client` that talks to the configured Redis and sends
through Celery, without starting a worker.

    from engine.connect import connect
    client = connect()   # REDIS_URL, or the embedded redis-server
"""

from __future__ import annotations

import logging

from engine.celery_app import CeleryDispatcher, HandlerQueues, build_app
from engine.client import Client
from engine.embedded import ensure_embedded
from engine.fleet import Fleet
from engine.handlers import Registry
from engine.redis_safety import preflight
from engine.runtime.redrive import RedriveRules
from engine.settings import Settings
from engine.store.redis_store import RedisStore


def resolve(settings: Settings | None = None) -> Settings:
    """The settings with a Redis URL: the configured one, else the embedded server's."""
    settings = settings or Settings.from_env()
    if settings.redis_url is None:
        settings = settings.with_redis(ensure_embedded(settings.data_dir))
    return settings


def connect(
    settings: Settings | None = None, *, registry: Registry | None = None, check: bool = True,
    max_connections: int | None = None,
) -> Client:
    """`check`: probe Redis first and refuse an evicting policy (engine/redis_safety.py),
    raising RedisSetupError in seconds instead of riding out a "restart" that never ends.
    `max_connections`: a blocking pool of that size (a server's threads share it)."""
    settings = resolve(settings)
    assert settings.redis_url is not None
    if check:
        for warning in preflight(settings.redis_url, broker_url=settings.broker_url):
            logging.getLogger("engine.redis").warning("%s", warning)
    store = RedisStore.from_url(
        settings.redis_url, max_connections=max_connections,
        retention_seconds=settings.retention_seconds,
        wait_replicas=settings.redis_wait_replicas, wait_ms=settings.redis_wait_ms,
    )
    app = build_app(settings.broker)
    local = registry.names() if registry else {}
    dispatcher = CeleryDispatcher(app, HandlerQueues(local, store.announced_handlers))
    store.redrive_seconds = settings.redrive_seconds
    client = Client(
        store,
        dispatcher,
        region=settings.region,
        account=settings.account,
        registry=registry,
        redeliver_seconds=settings.redeliver_seconds,
        fleet=Fleet(store.r),
    )
    client.redrive_rules = RedriveRules(
        window_seconds=settings.redrive_seconds,
        max_history_events=settings.max_history_events,
        redeliver_seconds=settings.redeliver_seconds,
    )
    return client
