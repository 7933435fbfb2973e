"""Wiring for application code: a `Client` that talks to the configured Redis and sends
through Celery, without starting a worker.

    from engine.connect import connect
    client = connect()   # REDIS_URL, or the embedded redis-server
"""

from __future__ import annotations

from engine.celery_app import CeleryDispatcher, HandlerQueues, build_app
from engine.client import Client
from engine.embedded import ensure_embedded
from engine.fleet import Fleet
from engine.handlers import Registry
from engine.settings import Settings
from engine.store.redis_store import RedisStore


def resolve(settings: Settings | None = None) -> Settings:
    """The settings with a Redis URL: the configured one, else the embedded server's."""
    settings = settings or Settings.from_env()
    if settings.redis_url is None:
        settings = settings.with_redis(ensure_embedded(settings.data_dir))
    return settings


def connect(settings: Settings | None = None, *, registry: Registry | None = None) -> Client:
    settings = resolve(settings)
    assert settings.redis_url is not None
    store = RedisStore.from_url(settings.redis_url)
    app = build_app(settings.broker)
    local = registry.names() if registry else {}
    dispatcher = CeleryDispatcher(app, HandlerQueues(local, store.announced_handlers))
    return Client(
        store,
        dispatcher,
        region=settings.region,
        account=settings.account,
        registry=registry,
        redeliver_seconds=settings.redeliver_seconds,
        fleet=Fleet(store.r),
    )
