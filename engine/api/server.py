"""The HTTP server: WSGI applications (no web framework needed for one JSON endpoint),
served by waitress with bounded threads, connections and request times
(engine/api/serving.py).

    from engine.api.server import build_app, serve
    app = build_app(client)                 # a Router; "/" speaks the AWS JSON protocol
    app.mount("/ui/", ui_wsgi_app)          # e.g. a web UI, on the same server
    app.mount("/metrics", metrics_wsgi_app)  # e.g. prometheus_client.make_wsgi_app()
    serve(app, host="127.0.0.1", port=8083)

Routing hook: `Router.routes` maps a path prefix to any WSGI application; the longest
matching prefix wins. The mounted application sees the prefix in `SCRIPT_NAME` and the rest
in `PATH_INFO` (PEP 3333's convention), so ordinary WSGI apps mount unchanged. `/` is the
Step Functions API (`AwsJsonApp`; with the view mounted, a browser's `GET /` is redirected to
`/ui/`), `/healthz` a liveness probe.

Robustness: a request body over `max_body` bytes is refused with 413 before it is parsed;
a request must arrive whole within the server's request timeout (a client that stops
sending holds no thread, and is dropped); Redis full (OOM) or every Redis connection busy
is answered as AWS's ThrottlingException, which SDKs retry; every failure, expected or
not, is answered as an AWS error.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import redis
from redis.exceptions import ClusterDownError, RedisClusterException, TryAgainError

from engine import metrics
from engine.api import auth
from engine.api.actions import Context, dispatch
from engine.api.guard import Access, ViewGuard
from engine.api.protocol import CONTENT_TYPE, ApiError, encode, parse
from engine.api.serving import DEFAULT_MAX_BODY, Server, ServerLimits, make
from engine.client import Client
from engine.ui import make_app as make_ui

log = logging.getLogger("engine.api")

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

#: How much of an oversized body is read and thrown away so the client sees the 413.
_DRAIN_LIMIT: Final = 64 * 1024 * 1024

_REASONS: Final = {200: "OK", 302: "Found", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
                   413: "Request Entity Too Large", 500: "Internal Server Error",
                   503: "Service Unavailable"}


def _status(code: int) -> str:
    return f"{code} {_REASONS.get(code, 'Error')}"


class Router:
    """Path prefix -> WSGI application (the mounting hook; see the module docstring)."""

    def __init__(self, routes: dict[str, WSGIApp] | None = None) -> None:
        self.routes: dict[str, WSGIApp] = dict(routes or {})

    def mount(self, prefix: str, app: WSGIApp) -> None:
        if not prefix.startswith("/"):
            raise ValueError(f"a mount prefix starts with '/': {prefix!r}")
        self.routes[prefix] = app

    def match(self, path: str) -> tuple[str, WSGIApp] | None:
        for prefix in sorted(self.routes, key=len, reverse=True):
            base = prefix.rstrip("/")
            if prefix == "/" or path == base or path.startswith(base + "/"):
                return base, self.routes[prefix]
        return None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        found = self.match(path)
        if found is None:
            error = ApiError("UnknownOperationException", f"No route for {path}", 404)
            body = encode(error.body())
            start_response(_status(404), [("Content-Type", CONTENT_TYPE),
                                          ("Content-Length", str(len(body)))])
            return [body]
        base, app = found
        if base:
            environ = {**environ, "SCRIPT_NAME": environ.get("SCRIPT_NAME", "") + base,
                       "PATH_INFO": path[len(base):]}
        return app(environ, start_response)


@dataclass
class AwsJsonApp:
    """The Step Functions JSON protocol as a WSGI application: `POST /` with
    `X-Amz-Target: AWSStepFunctions.<Action>`."""

    context: Context
    max_body: int = DEFAULT_MAX_BODY
    #: With a key, every request must be SigV4-signed with it (see engine/api/auth.py).
    shared_key: auth.SharedKey | None = None
    clock: Callable[[], float] = field(default=time.time)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        action = "-"
        status = 200
        try:
            path = environ.get("PATH_INFO", "/")
            if environ.get("REQUEST_METHOD") != "POST" or path not in ("", "/"):
                raise ApiError(
                    "UnknownOperationException",
                    "The Step Functions API answers POST / (AWS JSON 1.0 protocol)",
                    404,
                )
            body = self._read_body(environ)
            if self.shared_key is not None:
                auth.verify(environ, body, self.shared_key, self.clock())
            request = parse(environ.get("HTTP_X_AMZ_TARGET"), body)
            action = request.action
            payload = dispatch(self.context, request)
        except ApiError as error:
            status, payload = error.status, error.body()
        except (redis.OutOfMemoryError, redis.ConnectionError, redis.TimeoutError,
                redis.BusyLoadingError, *CLUSTER_UNAVAILABLE) as exc:
            status, payload = _redis_error(exc)
            log.warning("%s throttled (request %s): %s", action, request_id, exc)
        except Exception as exc:  # a bug: answer like AWS's InternalFailure, keep serving
            log.exception("%s failed (request %s)", action, request_id)
            status = 500
            payload = {"__type": "InternalFailure", "message": f"{type(exc).__name__}: {exc}"}
        data = encode(payload)
        log.info("%s %s %d %.1fms", action, payload.get("__type", "OK"), status,
                 (time.monotonic() - started) * 1000)
        start_response(_status(status), [
            ("Content-Type", CONTENT_TYPE),
            ("Content-Length", str(len(data))),
            ("x-amzn-RequestId", request_id),
        ])
        return [data]

    def _read_body(self, environ: dict[str, Any]) -> bytes:
        raw = environ.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw)
        except ValueError:
            raise ApiError("SerializationException", f"Bad Content-Length: {raw!r}") from None
        if length < 0:
            raise ApiError("SerializationException", f"Bad Content-Length: {raw!r}")
        stream = environ["wsgi.input"]
        if length > self.max_body:
            _drain(stream, length)
            raise ApiError(
                "RequestEntityTooLargeException",
                f"Request body of {length} bytes exceeds the limit of {self.max_body} bytes",
                413,
            )
        chunks: list[bytes] = []
        remaining = length
        try:
            while remaining > 0:
                chunk = stream.read(min(remaining, 65536))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
        except OSError as exc:  # includes the socket timeout of a silent client
            raise ApiError("SerializationException", f"Could not read the request: {exc}") from None
        if remaining:
            raise ApiError(
                "SerializationException",
                f"The request body ended after {length - remaining} of {length} bytes",
            )
        return b"".join(chunks)


#: A Redis Cluster store that cannot answer for now (a failover, every seed down): as a
#: Redis that is down, 503 (engine/store/redis_client.py).
CLUSTER_UNAVAILABLE = (RedisClusterException, ClusterDownError, TryAgainError)


def _redis_error(exc: Exception) -> tuple[int, dict[str, Any]]:
    """Redis full or every connection busy is back-pressure: AWS's ThrottlingException
    (HTTP 400, as Step Functions sends it; SDKs retry it with backoff). Redis unreachable
    is the service being unavailable (503, retried too). Neither is a 500."""
    if isinstance(exc, redis.OutOfMemoryError):
        message = "Rate exceeded: the store is full (Redis maxmemory); retry later"
    elif isinstance(exc, redis.ConnectionError) and "No connection available" in str(exc):
        message = "Rate exceeded: every store connection is busy; retry later"
    else:
        return 503, {"__type": "ServiceUnavailable",
                     "message": "The store (Redis) is unavailable; retry later"}
    return 400, {"__type": "ThrottlingException", "message": message}


def _drain(stream: Any, length: int) -> None:
    """Read an oversized body away (up to a bound), so the client, still sending, gets to
    read our 413 instead of a reset connection."""
    remaining = min(length, _DRAIN_LIMIT)
    try:
        while remaining > 0:
            chunk = stream.read(min(remaining, 65536))
            if not chunk:
                return
            remaining -= len(chunk)
    except OSError:
        return


@dataclass
class ViewRedirect:
    """`/` when the web view is mounted: a browser's GET (or HEAD) of `/` is sent on to the
    view; every other request, the AWS JSON protocol's `POST /` among them, goes to the API
    unchanged (no SDK sends a GET)."""

    api: WSGIApp
    view: str = "/ui/"

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD") and environ.get(
            "PATH_INFO", "/"
        ) in ("", "/"):
            location = environ.get("SCRIPT_NAME", "").rstrip("/") + self.view
            start_response(_status(302), [("Location", location), ("Content-Length", "0")])
            return []
        return self.api(environ, start_response)


def healthz(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """Liveness: the process is up and serving."""
    body = b'{"status":"ok"}'
    start_response(_status(200), [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])
    return [body]


def build_app(
    client: Client,
    *,
    max_body: int = DEFAULT_MAX_BODY,
    shared_key: auth.SharedKey | None = None,
    sync_timeout: float = 300.0,
    ui: bool = True,
    reveal_secrets: bool = False,
    access: Access | None = None,
) -> Router:
    """`access`: who may see /ui/ and /metrics (engine/api/guard.py); by default the
    loopback Host names, and the SigV4 key's credentials when there is one."""
    context = Context(client, sync_timeout=sync_timeout, reveal_secrets=reveal_secrets)
    api = AwsJsonApp(context, max_body, shared_key)
    router = Router({"/": api, "/healthz": healthz})
    if ui:  # the execution view (engine/ui) and Prometheus metrics (engine/metrics.py)
        access = access or Access(key=shared_key)
        router.mount("/", ViewRedirect(api, "/ui/"))
        router.mount("/ui/", ViewGuard(make_ui(client), access))
        router.mount("/metrics", ViewGuard(metrics.make_app(client.store), access))
    return router


# --- serving (engine/api/serving.py: waitress, bounded) -------------------------------


def serve(app: WSGIApp, host: str = "127.0.0.1", port: int = 8083,
          limits: ServerLimits | None = None) -> None:
    """Serve until interrupted."""
    server = make(app, host, port, limits)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@dataclass
class Running:
    """A server running on a background thread (tests, embedding)."""

    server: Server
    thread: threading.Thread

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.server.server_close()
        self.thread.join(timeout=10)


def start_background(app: WSGIApp, host: str = "127.0.0.1", port: int = 0,
                     limits: ServerLimits | None = None) -> Running:
    server = make(app, host, port, limits)
    thread = threading.Thread(target=server.serve_forever, name="sfn-api", daemon=True)
    thread.start()
    return Running(server, thread)
