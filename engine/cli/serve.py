"""`sfn serve`: the AWS-compatible HTTP API over the configured Redis."""

from __future__ import annotations

import ipaddress
import logging
import os

import typer

from engine.cli import app
from engine.cli.common import interrupt_on_sigterm
from engine.cli.output import err, fail


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@app.command()
def serve(
    port: int = typer.Option(8083, envvar="SFN_API_PORT", help="Port to listen on."),
    host: str = typer.Option(
        "127.0.0.1", envvar="SFN_API_HOST",
        help="Address to listen on (0.0.0.0: every interface, e.g. in a container).",
    ),
    access_key_id: str = typer.Option(
        None, envvar="SFN_API_ACCESS_KEY_ID",
        help="With --secret-access-key: accept only requests SigV4-signed with this key.",
    ),
    secret_access_key: str = typer.Option(None, envvar="SFN_API_SECRET_ACCESS_KEY"),
    worker: bool = typer.Option(
        None, "--worker/--no-worker",
        help="Also run a Celery worker process (default: only when no REDIS_URL is set).",
    ),
    sync_timeout: float = typer.Option(300.0, help="Seconds StartSyncExecution waits."),
    allow_reveal_secrets: bool = typer.Option(
        False, envvar="SFN_API_ALLOW_REVEAL_SECRETS",
        help="Let TestState answer revealSecrets=true (AWS: the states:RevealSecrets permission).",
    ),
    threads: int = typer.Option(
        16, envvar="SFN_API_THREADS", min=1,
        help="Threads serving requests (the Redis connection pool is sized to match).",
    ),
    request_timeout: float = typer.Option(
        30.0, envvar="SFN_API_REQUEST_TIMEOUT",
        help="Seconds a request may take to arrive whole (headers and body).",
    ),
    log_level: str = typer.Option("INFO", help="DEBUG logs every HTTP request line."),
    coverage_file: str = typer.Option(
        None, envvar="SFN_COVERAGE_FILE",
        help="A coverage file of `sfn test --coverage-file` or `pytest --sfn-coverage-json`: "
             "the view draws it on each state machine's graph (read again at each request).",
    ),
) -> None:
    """Serve the AWS Step Functions API for boto3 and the AWS CLI (--endpoint-url).

    Uses REDIS_URL like the workers (none: the embedded Redis, and a worker process).
    """
    from engine.api import auth
    from engine.api.guard import VIEW_TOKEN_ENV, Access, allowed_hosts
    from engine.api.server import build_app
    from engine.api.serving import ServerLimits, make
    from engine.cli.executions import _start_worker
    from engine.connect import connect, resolve
    from engine.redis_safety import mask_url

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    if (access_key_id is None) != (secret_access_key is None):
        fail("--access-key-id and --secret-access-key go together")
    key = None
    if access_key_id and secret_access_key:
        key = auth.SharedKey(access_key_id, secret_access_key)
    interrupt_on_sigterm()
    if coverage_file:
        from engine.ui.coverage import ENV

        os.environ[ENV] = os.path.abspath(coverage_file)  # read by engine/ui's make_app
    settings = resolve()
    start_worker = worker if worker is not None else (
        os.environ.get("REDIS_URL") is None or bool(os.environ.get("SFN_START_WORKER"))
    )
    limits = ServerLimits(threads=threads, request_timeout=request_timeout)
    # Checked before anything starts: an evicting Redis, a wrong password or an unreachable
    # host ends here in one line (engine/redis_safety.py). One Redis connection per thread,
    # and a few for the view's and the metrics' reads beside them.
    client = connect(settings, max_connections=threads + 8)
    proc = _start_worker(settings.redis_url or "", None) if start_worker else None
    try:
        # /ui/ and /metrics: the Host allow-list, and credentials when there are any
        # (the SigV4 key, or SFN_VIEW_TOKEN); see engine/api/guard.py.
        access = Access(allowed_hosts(host, os.environ), key,
                        os.environ.get(VIEW_TOKEN_ENV) or None)
        app = build_app(client, shared_key=key, sync_timeout=sync_timeout, access=access,
                        reveal_secrets=allow_reveal_secrets)
        server = make(app, host, port, limits)
    except OSError as exc:
        if proc is not None:
            proc.terminate()
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    if key is None and not _loopback(host):
        err.print(f"[yellow]warning:[/] listening on {host} without --access-key-id: anyone "
                  "who can reach this port can start and stop executions",
                  highlight=False, soft_wrap=True)
    redis_url = mask_url(settings.redis_url)  # never the password
    err.print(f"sfn API on http://{host}:{server.server_port} (Redis {redis_url}, "
              f"region {settings.region}, account {settings.account}); web view on "
              f"http://{host}:{server.server_port}/ui/", highlight=False, soft_wrap=True)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)
