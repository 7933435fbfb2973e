"""The web view as a WSGI application, mounted by `sfn serve` under /ui/.

    GET  /                          executions, newest started first (?machine= &status= &after=)
    GET  /state-machines            state machines
    GET  /state-machines/<name>     a state machine's graph and definition; with a coverage
                                    file (`sfn serve --coverage-file`), its test coverage
                                    drawn on the graph (?coverage=ENTRY: another entry's)
    GET  /executions/<eid or ARN>   an execution: graph coloured by status, events
    GET  /api/executions/<eid>      the same as JSON (the page polls it while running)
    GET  /static/<file>             ui.js, zoom.js, ui.css (package data; nothing from a CDN)

    POST /api/executions/<eid>/redrive   RedriveExecution, only when enabled (`allow_redrive`,
                                    SFN_UI_REDRIVE=1) and with the header `X-Sfn-Ui:
                                    redrive` (the page's button sends it; a form or link
                                    of another site cannot, so no cross-site redrive)

Otherwise read-only: nothing here changes an execution. Paths are relative to where the
app is mounted (`SCRIPT_NAME`), so it works under any prefix.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Final
from urllib.parse import parse_qs, unquote

from engine import errors
from engine.client import Client
from engine.ui import coverage, data, pages, render

log = logging.getLogger("engine.ui")

StartResponse = Callable[..., Any]

_STATIC: Final = {"ui.js", "zoom.js", "ui.css"}
PAGE_SIZE: Final = 50


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class UiApp:
    client: Client
    links: pages.Links = field(default_factory=pages.Links)
    page_size: int = PAGE_SIZE
    #: A coverage file of `sfn test --coverage-file` / `pytest --sfn-coverage-json`.
    coverage_file: str | None = None
    #: The execution page offers a Redrive button (the one write the view does).
    allow_redrive: bool = False

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        base = environ.get("SCRIPT_NAME", "").rstrip("/")
        path = _path_info(environ)
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            if method == "POST" and self.allow_redrive and path.endswith("/redrive"):
                status, ctype, body, headers = self.redrive(path, environ)
                start_response(_status(status), [
                    ("Content-Type", ctype), ("Content-Length", str(len(body))), *headers,
                ])
                return [body]
            if method not in ("GET", "HEAD"):
                raise HttpError(405, "The web view is read-only (GET)")
            if path == "":
                return _redirect(start_response, f"{base}/")
            status, ctype, body, headers = self.route(base, path, _query(environ))
        except HttpError as exc:
            status, ctype, headers = exc.status, "text/html; charset=utf-8", []
            body = pages.not_found(base, exc.message, self.links).encode()
        except Exception:  # a bug: a plain 500, and keep serving
            log.exception("UI request %s failed", path)
            status, ctype, headers = 500, "text/plain; charset=utf-8", []
            body = b"Internal error; see the server log."
        start_response(_status(status), [
            ("Content-Type", ctype), ("Content-Length", str(len(body))), *headers,
        ])
        return [] if method == "HEAD" else [body]

    # --- routes --------------------------------------------------------------------------

    def route(
        self, base: str, path: str, query: dict[str, str]
    ) -> tuple[int, str, bytes, list[tuple[str, str]]]:
        html = "text/html; charset=utf-8"
        no_store = [("Cache-Control", "no-store")]
        if path == "/":
            return 200, html, self.executions(base, query).encode(), no_store
        if path == "/state-machines":
            machines = [data.machine_summary(self.client, m)
                        for m in self.client.list_state_machines()]
            return 200, html, pages.machines_page(base, machines, self.links).encode(), no_store
        if path.startswith("/state-machines/"):
            name = path.removeprefix("/state-machines/")
            return 200, html, self.machine(base, name, query).encode(), no_store
        if path.startswith("/executions/"):
            eid = path.removeprefix("/executions/")
            return 200, html, self.execution(base, eid).encode(), no_store
        if path.startswith("/api/executions/"):
            payload = self._payload(path.removeprefix("/api/executions/"))
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
            return 200, "application/json", body, no_store
        if path.startswith("/static/"):
            return self.static(path.removeprefix("/static/"))
        raise HttpError(404, f"No page at {path}")

    def executions(self, base: str, query: dict[str, str]) -> str:
        machine = query.get("machine") or None
        status = query.get("status") or None
        if status is not None and status not in data.STATUSES:
            status = None
        after = data.decode_cursor(query.get("after"))
        problem = None
        try:
            records, cursor = data.list_newest_started(
                self.client, machine, status=status, limit=self.page_size, after=after
            )
        except (errors.StateMachineDoesNotExist, errors.InvalidArn) as exc:
            records, cursor, problem = [], None, str(exc)
        names = [m.name for m in self.client.list_state_machines()]
        if machine and machine not in names:
            names.append(machine)
        return pages.executions_page(
            base, records, names, machine=machine, status=status,
            next_cursor=data.encode_cursor(cursor), is_first=after is None, links=self.links,
            error=problem,
        )

    def machine(self, base: str, name: str, query: dict[str, str] | None = None) -> str:
        try:
            record = self.client.describe_state_machine(name)
        except (errors.StateMachineDoesNotExist, errors.InvalidArn) as exc:
            raise HttpError(404, str(exc)) from None
        svg, problem = _draw(record.definition)
        block = ""
        if self.coverage_file:
            entries, unreadable = coverage.read(self.coverage_file)
            entry = (query or {}).get("coverage") or record.name
            found = entries.get(entry)
            if found is not None:
                try:
                    svg = render.render_coverage_svg(record.definition, found)
                except (render.RenderError, ValueError) as exc:
                    svg, problem = None, str(exc)
            block = pages.coverage_block(base, record.name, entry, found, sorted(entries),
                                         unreadable)
        return pages.machine_page(
            base, data.machine_summary(self.client, record), record.definition, svg, problem,
            _graph(record.definition), self.links, coverage=block,
        )

    def _payload(self, eid: str) -> dict[str, Any]:
        try:
            return data.execution_payload(self.client, eid)
        except (errors.ExecutionDoesNotExist, errors.InvalidArn) as exc:
            raise HttpError(404, str(exc)) from None

    def execution(self, base: str, eid: str) -> str:
        payload = self._payload(eid)
        definition = self.client.describe_state_machine_for_execution(
            payload["execution"]["eid"]
        ).definition
        svg, problem = _draw(definition)
        return pages.execution_page(
            base, payload, svg, problem, _graph(definition), self.links,
            redrive=self.allow_redrive,
        )

    def redrive(
        self, path: str, environ: dict[str, Any]
    ) -> tuple[int, str, bytes, list[tuple[str, str]]]:
        """The page's Redrive button (engine/runtime/redrive.py): JSON in, JSON out."""
        def answer(status: int, value: dict[str, Any]) -> tuple[int, str, bytes, list[Any]]:
            body = json.dumps(value, separators=(",", ":")).encode()
            return status, "application/json", body, [("Cache-Control", "no-store")]

        eid = path.removeprefix("/api/executions/").removesuffix("/redrive")
        if environ.get("HTTP_X_SFN_UI") != "redrive" or not path.startswith("/api/executions/"):
            return answer(403, {"error": "a redrive needs the page's X-Sfn-Ui header"})
        try:
            record = self.client.redrive_execution(unquote(eid))
        except errors.EngineError as exc:
            status = 404 if isinstance(exc, errors.ExecutionDoesNotExist) else 409
            return answer(status, {"error": exc.code, "message": exc.message})
        return answer(200, {"status": record.status, "redriveCount": record.redrive_count})

    def static(self, name: str) -> tuple[int, str, bytes, list[tuple[str, str]]]:
        if name not in _STATIC:
            raise HttpError(404, f"No file {name}")
        body = resources.files("engine.ui").joinpath("static", name).read_bytes()
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype.endswith("javascript"):
            ctype += "; charset=utf-8"
        return 200, ctype, body, [("Cache-Control", "no-cache")]


def _draw(definition: str) -> tuple[str | None, str | None]:
    try:
        return render.render_svg(definition), None
    except (render.RenderError, ValueError) as exc:
        log.warning("could not draw a state machine: %s", exc)
        return None, str(exc)


def _graph(definition: str) -> dict[str, Any]:
    try:
        return render.graph_data(definition)
    except ValueError:
        return {"nodes": [], "groups": []}


def _path_info(environ: dict[str, Any]) -> str:
    raw = environ.get("PATH_INFO", "")
    # PEP 3333: PATH_INFO is decoded bytes as latin-1; execution names may be UTF-8.
    try:
        raw = raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    return unquote(raw) if "%" in raw else raw


def _query(environ: dict[str, Any]) -> dict[str, str]:
    parsed = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=False)
    return {k: v[-1] for k, v in parsed.items() if v}


_REASONS: Final = {200: "OK", 302: "Found", 404: "Not Found", 405: "Method Not Allowed",
                   500: "Internal Server Error"}


def _status(code: int) -> str:
    return f"{code} {_REASONS.get(code, 'Error')}"


def _redirect(start_response: StartResponse, location: str) -> Iterable[bytes]:
    start_response(_status(302), [("Location", location), ("Content-Length", "0")])
    return []


def make_app(client: Client, *, flower_url: str | None = None,
             metrics_url: str | None = "/metrics", coverage_file: str | None = None,
             allow_redrive: bool | None = None) -> UiApp:
    """The web view over `client`; `flower_url` (default: $SFN_FLOWER_URL) adds links to
    Flower; `coverage_file` (default: $SFN_COVERAGE_FILE) draws test coverage;
    `allow_redrive` (default: $SFN_UI_REDRIVE=1) offers the Redrive button."""
    if allow_redrive is None:
        allow_redrive = os.environ.get("SFN_UI_REDRIVE", "").strip().lower() in ("1", "true")
    flower = flower_url if flower_url is not None else (os.environ.get("SFN_FLOWER_URL") or None)
    cov = coverage_file if coverage_file is not None else (os.environ.get(coverage.ENV) or None)
    return UiApp(client, pages.Links(flower=flower.rstrip("/") if flower else None,
                                     metrics=metrics_url), coverage_file=cov,
                 allow_redrive=allow_redrive)
