"""The serving path of `sfn serve`: waitress, with bounds on everything a client controls.

Why waitress (a well-kept, pure-Python WSGI server from the Pylons project) rather than the
standard library's `wsgiref` with a thread per connection: waitress reads requests (headers
and body) on one asynchronous loop and hands a *complete* request to a fixed pool of
threads. A client that trickles a header line every 20 s (slowloris) holds a socket, never
a thread; the thread count stays fixed however many clients connect; keep-alive and
pipelining come with it. cheroot, the other candidate, reads each request's headers on a
pool thread, so a slow client ties up a thread again.

What is added here, on waitress's documented extension points (its channel, task and
server classes):

- `request_timeout`: a request must arrive whole (request line, headers and body) within
  this many seconds of its first byte, or the connection is closed. waitress alone only
  drops a connection *idle* for `channel_timeout`, which one byte every few seconds
  defeats.
- Overload: when more than `max_queue` complete requests wait for a thread, the excess is
  answered at once, by a thread of its own, with HTTP 503 and the AWS error
  `ThrottlingException` (`Retry-After: 1`), which SDKs retry with backoff, instead of
  queueing without bound or failing with 500s.
- waitress's own error answers (a malformed request line, a bad Content-Length, headers
  or a body over the limits) are AWS JSON errors, as every answer of the API is.

    server = make(app, "127.0.0.1", 8083, ServerLimits(threads=16))
    server.serve_forever()
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Final

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher, WSGITask

from engine.api.protocol import CONTENT_TYPE, encode

log = logging.getLogger("engine.api")
# waitress warns on every request queued behind busy threads; the bound below is ours.
logging.getLogger("waitress.queue").setLevel(logging.ERROR)

#: AWS caps a request at 1 MB; definitions may be 1 MiB of text, so allow for escaping.
DEFAULT_MAX_BODY: Final = 2 * 1024 * 1024

_ERROR_TYPES: Final = {
    400: "SerializationException",
    408: "RequestTimeoutException",
    413: "RequestEntityTooLargeException",
    431: "SerializationException",
    500: "InternalFailure",
    501: "UnknownOperationException",
    503: "ThrottlingException",
}


@dataclass(frozen=True)
class ServerLimits:
    """What one server process lets its clients use (`sfn serve` options)."""

    #: Threads that run requests (and the size the Redis connection pool is given).
    threads: int = 16
    #: Open connections at most; past it the server stops accepting until some close.
    connection_limit: int = 512
    #: Seconds from a request's first byte to its last (headers and body) before the
    #: connection is closed: slowloris protection.
    request_timeout: float = 30.0
    #: Seconds an idle keep-alive connection is kept.
    idle_timeout: float = 60.0
    #: Complete requests that may wait for a thread; past it: 503 ThrottlingException.
    max_queue: int = 256
    max_body: int = DEFAULT_MAX_BODY
    max_header: int = 64 * 1024


def _aws_error(status: int, reason: str, message: str) -> tuple[str, list[tuple[str, str]], bytes]:
    body = encode({"__type": _ERROR_TYPES.get(status, "InternalFailure"), "message": message})
    return f"{status} {reason}", [("Content-Type", CONTENT_TYPE),
                                  ("Content-Length", str(len(body)))], body


class _ErrorTask(ErrorTask):  # type: ignore[misc]
    """waitress's answer to a request it could not parse, as an AWS JSON error."""

    def execute(self) -> None:
        error = self.request.error
        message = " ".join(str(error.body).split()) or error.reason
        status, headers, body = _aws_error(error.code, error.reason, message)
        self.status = status
        self.response_headers.extend(headers)
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _Task(WSGITask):  # type: ignore[misc]
    """A request; one refused for overload gets its 503 without reaching the app."""

    def execute(self) -> None:
        if not getattr(self.request, "sfn_overloaded", False):
            super().execute()
            return
        status, headers, body = _aws_error(
            503, "Service Unavailable",
            "Rate exceeded: the server has too many requests waiting; retry later",
        )
        body_headers = [*headers, ("Retry-After", "1")]
        self.complete = True  # what start_response marks: the status line is set
        self.status = status
        self.response_headers.extend(body_headers)
        self.content_length = len(body)
        self.write(body)


class _Channel(HTTPChannel):  # type: ignore[misc]
    """A connection that remembers when its current request began to arrive."""

    task_class = _Task
    error_task_class = _ErrorTask
    request_began: float | None = None

    def received(self, data: bytes) -> bool:
        if self.request_began is None and data:
            self.request_began = time.monotonic()
        result: bool = super().received(data)
        if self.request is None:  # nothing partial left: the next byte starts a request
            self.request_began = None
        return result


class _Dispatcher(ThreadedTaskDispatcher):  # type: ignore[misc]
    """waitress's thread pool, with the queue of waiting requests bounded: the excess is
    answered 503 by a thread of its own, so a full pool cannot delay the refusal."""

    def __init__(self, max_queue: int) -> None:
        super().__init__()
        self.max_queue = max_queue
        self.refused = 0
        self._rejects: deque[Any] = deque()
        self._reject_cv = threading.Condition()
        self._stopping = False
        threading.Thread(target=self._reject_loop, name="sfn-api-overload", daemon=True).start()

    def add_task(self, task: Any) -> None:
        with self.lock:
            idle = len(self.threads) - self.stop_count - self.active_count
            waiting = len(self.queue) - max(idle, 0)
        if waiting >= self.max_queue and getattr(task, "requests", None):
            task.requests[0].sfn_overloaded = True
            self.refused += 1
            with self._reject_cv:
                self._rejects.append(task)
                self._reject_cv.notify()
            return
        super().add_task(task)

    def _reject_loop(self) -> None:
        while True:
            with self._reject_cv:
                while not self._rejects and not self._stopping:
                    self._reject_cv.wait()
                if self._stopping:
                    return
                task = self._rejects.popleft()
            try:
                task.service()
            except Exception:  # noqa: BLE001 - a broken client must not end the loop
                log.debug("overload answer failed", exc_info=True)

    def shutdown(self, cancel_pending: bool = True, timeout: int = 5) -> bool:
        with self._reject_cv:
            self._stopping = True
            self._reject_cv.notify_all()
        result: bool = super().shutdown(cancel_pending, timeout)
        return result


class Server(TcpWSGIServer):  # type: ignore[misc]
    """waitress's TCP server with the request timeout, and the names the rest of the
    engine used with wsgiref (`server_address`, `server_port`, `serve_forever`)."""

    channel_class = _Channel

    def __init__(self, application: Any, limits: ServerLimits, adj: Adjustments,
                 dispatcher: _Dispatcher) -> None:
        self.limits = limits
        super().__init__(application, {}, dispatcher=dispatcher, adj=adj,
                         sockinfo=adj.listen[0])

    def maintenance(self, now: float) -> None:
        super().maintenance(now)
        cutoff = time.monotonic() - self.limits.request_timeout
        for channel in list(self.active_channels.values()):
            began = getattr(channel, "request_began", None)
            if began is not None and began < cutoff and not channel.requests:
                log.info("closing %s: its request did not arrive within %g s",
                         channel.addr, self.limits.request_timeout)
                channel.will_close = True

    @property
    def server_address(self) -> tuple[str, int]:
        return str(self.effective_host), int(self.effective_port)

    def get_app(self) -> Any:
        """The WSGI application served (e.g. a Router to mount more apps on)."""
        return self.application

    @property
    def server_port(self) -> int:
        return int(self.effective_port)

    _loop_done: threading.Event | None = None

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._loop_done = threading.Event()
        try:
            self.run()
        finally:
            self._loop_done.set()

    def server_close(self) -> None:
        """Close every connection and the listening socket, from the loop's own thread
        (another thread closing sockets under its select() would break it)."""
        done = self._loop_done
        if done is not None and not done.is_set():
            try:
                self.trigger.pull_trigger(lambda: wasyncore.close_all(self._map, True))
                done.wait(timeout=10)
            except OSError:  # the trigger is gone already: close from here
                pass
        wasyncore.close_all(self._map, True)
        self.task_dispatcher.shutdown(timeout=2)

    def shutdown(self) -> None:
        self.server_close()


def make(app: Any, host: str = "127.0.0.1", port: int = 8083,
         limits: ServerLimits | None = None) -> Server:
    """A bound server (port 0: any free port; see `server.server_port`)."""
    limits = limits or ServerLimits()
    adj = Adjustments(
        host=host, port=port, threads=limits.threads,
        connection_limit=limits.connection_limit,
        channel_timeout=int(max(1, limits.idle_timeout)),
        # How often idle and slow connections are looked for (waitress: every 30 s).
        cleanup_interval=max(1, int(min(limits.request_timeout, limits.idle_timeout) / 4)),
        max_request_body_size=limits.max_body,
        max_request_header_size=limits.max_header,
        ident="sfn",
        expose_tracebacks=False,
        log_socket_errors=False,
        clear_untrusted_proxy_headers=False,  # no proxy is trusted; the apps read none
    )
    dispatcher = _Dispatcher(limits.max_queue)
    dispatcher.set_thread_count(limits.threads)
    return Server(app, limits, adj, dispatcher)
