"""What stands in front of the web view (/ui/) and /metrics: a Host allow-list, credentials
when the server has them, and the browser's security headers.

    guarded = ViewGuard(ui_app, Access(hosts=allowed_hosts("127.0.0.1"), key=key, token=t))

- Host allow-list (DNS rebinding): a page on evil.example whose name is made to resolve to
  127.0.0.1 reaches a local server as the same origin, and could read the view. A request
  whose Host is not on the list is refused (403). Default: the address the server is bound
  to, `localhost`, `127.0.0.1` and `::1`; `SFN_ALLOWED_HOSTS` (comma-separated names, `*`
  for any) replaces it, e.g. a container's service name.
- Credentials: with SigV4 checking on (`sfn serve --access-key-id/--secret-access-key`),
  the view and /metrics show every execution's input and output, so they need credentials
  too: HTTP Basic with the access key id as user and the secret access key as password
  (a browser asks for them), or `Authorization: Bearer <SFN_VIEW_TOKEN>` (e.g. for
  Prometheus' `authorization` setting; Basic with that token as password also works). A
  token alone (no SigV4 key) protects the view and /metrics the same way.
- Headers on every answer: a Content-Security-Policy that allows only the view's own files
  (ui.js, ui.css: no inline script or style, nothing from elsewhere), X-Frame-Options DENY
  (no framing, so no clickjacking), X-Content-Type-Options nosniff, Referrer-Policy
  no-referrer (execution ARNs in URLs stay here).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from engine.api.auth import SharedKey

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

ALLOWED_HOSTS_ENV: Final = "SFN_ALLOWED_HOSTS"
VIEW_TOKEN_ENV: Final = "SFN_VIEW_TOKEN"
_LOCAL: Final = ("localhost", "127.0.0.1", "::1")

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS: Final = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
)


def allowed_hosts(bound: str | None = None, env: Mapping[str, str] | None = None
                  ) -> frozenset[str] | None:
    """The Host names the view answers (None: any): SFN_ALLOWED_HOSTS, else the bound
    address and the loopback names."""
    value = (env or {}).get(ALLOWED_HOSTS_ENV, "").strip()
    if value:
        names = {v.strip().lower() for v in value.split(",") if v.strip()}
        return None if "*" in names else frozenset(names)
    hosts = set(_LOCAL)
    if bound and bound not in ("0.0.0.0", "::", ""):
        hosts.add(bound.lower())
    return frozenset(hosts)


def host_name(header: str) -> str:
    """`example.com:8083` -> `example.com`; `[::1]:8083` -> `::1`."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    if header.count(":") == 1:
        return header.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(header))
    except ValueError:
        return header


@dataclass(frozen=True)
class Access:
    """Who may see the view: Host names (None: any), and the credentials it asks for
    (none: anyone who passes the Host check)."""

    hosts: frozenset[str] | None = frozenset(_LOCAL)
    key: SharedKey | None = None
    token: str | None = None

    @property
    def needs_credentials(self) -> bool:
        return self.key is not None or bool(self.token)

    def authorized(self, header: str | None) -> bool:
        if not self.needs_credentials:
            return True
        if not header:
            return False
        scheme, _, value = header.strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer":
            return bool(self.token) and _same(value, self.token or "")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        if self.key is not None and _same(user, self.key.access_key_id) and _same(
            password, self.key.secret_access_key
        ):
            return True
        return bool(self.token) and _same(password, self.token or "")


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


@dataclass
class ViewGuard:
    """A WSGI middleware: the Host check, the credentials check, the security headers."""

    app: WSGIApp
    access: Access

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        # Browsers always send Host; a request without one (HTTP/1.0, a direct WSGI call)
        # is no DNS-rebinding page, and its SERVER_NAME is the server's own.
        header = environ.get("HTTP_HOST")
        host = host_name(header) if header is not None else None
        if host is not None and self.access.hosts is not None and host not in self.access.hosts:
            return _plain(start_response, "403 Forbidden",
                          f"Host {host!r} is not allowed (set {ALLOWED_HOSTS_ENV} to allow it)")
        if not self.access.authorized(environ.get("HTTP_AUTHORIZATION")):
            return _plain(start_response, "401 Unauthorized",
                          "Credentials required: the access key id and secret access key "
                          "(HTTP Basic), or the view token (Bearer)",
                          [("WWW-Authenticate", 'Basic realm="sfn", charset="UTF-8"')])

        def with_headers(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            names = {name.lower() for name, _ in headers}
            extra = [(n, v) for n, v in SECURITY_HEADERS if n.lower() not in names]
            return start_response(status, [*headers, *extra], *exc)

        return self.app(environ, with_headers)


def _plain(start_response: StartResponse, status: str, message: str,
           headers: list[tuple[str, str]] | None = None) -> list[bytes]:
    body = (message + "\n").encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body))), ("Cache-Control", "no-store"),
                            *(headers or []), *SECURITY_HEADERS])
    return [body]
