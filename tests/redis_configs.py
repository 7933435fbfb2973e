"""A real redis-server with extra configuration (a password, a small maxmemory, an evicting
policy, AOF off), for the tests of the engine's Redis safety checks."""

from __future__ import annotations

from pathlib import Path

from engine.embedded import RedisServer


class ConfiguredRedis(RedisServer):
    """`RedisServer` with extra `redis-server` arguments, e.g.
    `["--maxmemory-policy", "allkeys-lru"]` or `["--requirepass", "s3cret"]`."""

    def __init__(self, data_dir: Path, extra: list[str], *, password: str | None = None,
                 appendonly: bool = True) -> None:
        super().__init__(data_dir, appendonly=appendonly)
        self.extra = list(extra) + (["--requirepass", password] if password else [])
        self.password = password

    def command(self) -> list[str]:
        return super().command() + self.extra

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def wait_ready(self, timeout: float = 10.0) -> None:
        if self.password is None:
            super().wait_ready(timeout)
            return
        import time

        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, password=self.password,
                             socket_timeout=1)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if client.ping():
                    return
            except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)
