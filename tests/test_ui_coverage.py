"""Test coverage drawn on a state machine's graph in the web view (engine/ui/coverage.py):
the coverage file written by the test tools, read by the view (`sfn serve --coverage-file`,
`SFN_COVERAGE_FILE`), states and Choice/Catch edges coloured exercised or not. Over the
inline runner; the last test looks at the page in Chromium."""

from __future__ import annotations

import io
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from engine.handlers import Registry, TaskFailure
from engine.runtime.inline import InlineRunner
from engine.testing import Workflow
from engine.testing.coverage import Coverage
from engine.ui import make_app, render

needs_dot = pytest.mark.skipif(not render.dot_available(), reason="Graphviz `dot` not installed")

ROUTER = {
    "StartAt": "Route",
    "States": {
        "Route": {"Type": "Choice", "Choices": [
            {"Variable": "$.kind", "StringEquals": "a", "Next": "A"},
            {"Variable": "$.kind", "StringEquals": "b", "Next": "B"}],
            "Default": "Other"},
        "A": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:Work",
              "Retry": [
            {"ErrorEquals": ["Busy"], "IntervalSeconds": 1, "MaxAttempts": 2}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Other"}], "End": True},
        "B": {"Type": "Pass", "End": True},
        "Other": {"Type": "Pass", "End": True},
    },
}


@pytest.fixture
def coverage_file(tmp_path: Path) -> Path:
    """Two test executions: kind "a" (retried once) and kind "z" (Default)."""
    cov = Coverage()
    answers = iter([TaskFailure("Busy", "later"), {"ok": True}])

    def work(event: Any, ctx: Any) -> Any:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    flow = Workflow(ROUTER, name="Router", registry=Registry(), handlers={"Work": work},
                    observers=[lambda run: cov.add(run.definition, run.history, name="Router")])
    flow.run({"kind": "a"}, name="t1").assert_succeeded()
    flow.run({"kind": "z"}, name="t2").assert_succeeded()
    path = tmp_path / "sfn-coverage.json"
    cov.write_json(path)
    return path


def page(app: Any, path: str, query: str = "") -> str:
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        captured["status"] = status

    environ = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/ui", "PATH_INFO": path,
               "QUERY_STRING": query, "wsgi.input": io.BytesIO(b"")}
    body = b"".join(app(environ, start_response)).decode()
    assert captured["status"] == "200 OK", body[:500]
    return body


def drawn(html: str) -> tuple[dict[str, tuple[str, str]], list[tuple[str, str]]]:
    """The SVG's states (first label line -> (classes, all label text)) and the measured
    edges ((classes, label text)); Graphviz writes "-" as "&#45;"."""
    svg = html.replace("&#45;", "-")
    states = {}
    for classes, body in re.findall(
            r'<g id="sm-n\d+" class="node state ([^"]*)">\s*<title>n\d+</title>(.*?)</g>',
            svg, re.S):
        words = re.findall(r">([^<]+)</text>", body)
        states[words[0]] = (classes, " ".join(words))
    edges = [(cls, " ".join(re.findall(r">([^<]+)</text>", body)))
             for cls, body in re.findall(r'<g id="edge\d+" class="edge ([^"]*)">(.*?)</g>',
                                         svg, re.S) if "cov-" in cls]
    return states, sorted(edges)


def machine_runner() -> InlineRunner:
    runner = InlineRunner(Registry())
    runner.create_state_machine("Router", ROUTER)
    return runner


@needs_dot
def test_the_state_machine_page_draws_the_coverage_file(coverage_file: Path) -> None:
    app = make_app(machine_runner().client, coverage_file=str(coverage_file))
    html = page(app, "/state-machines/Router")
    states, edges = drawn(html)
    assert states["Route"] == ("type-Choice cov-hit", "Route Choice 2 hits")
    assert states["A"] == ("type-Task cov-hit", "A Task 1 hit · Retry[0] ×1")
    assert states["B"] == ("type-Pass cov-miss", "B Pass not covered")
    assert states["Other"] == ("type-Pass cov-hit", "Other Pass 1 hit")
    assert edges == [
        ("edge-catch cov-miss", "States.ALL (not covered)"),
        ("edge-choice cov-hit", "$.kind == &quot;a&quot; (1 hit)"),
        ("edge-choice cov-miss", "$.kind == &quot;b&quot; (not covered)"),
        ("edge-default cov-hit", "Default (1 hit)"),
    ]
    # The summary and what the tests never exercised, under the graph.
    assert "Test coverage: Router (2 executions)" in html
    assert "<td>States</td><td>3/4</td>" in html
    for item in ("State B", "Choice rule Route.Choices[1]", "Catcher A.Catch[0]"):
        assert f"<li>{item}</li>" in html


@needs_dot
def test_another_entry_a_missing_entry_and_a_missing_file(coverage_file: Path,
                                                          tmp_path: Path) -> None:
    runner = machine_runner()
    runner.create_state_machine("Router2", ROUTER)
    app = make_app(runner.client, coverage_file=str(coverage_file))
    plain = page(app, "/state-machines/Router2").replace("&#45;", "-")
    assert "class=\"node state" in plain and "cov-hit" not in plain
    assert "no entry named Router2" in plain
    assert "?coverage=Router" in plain  # a link to the file's entry
    chosen = page(app, "/state-machines/Router2", "coverage=Router").replace("&#45;", "-")
    assert "cov-miss" in chosen and "Test coverage: Router" in chosen
    gone = make_app(runner.client, coverage_file=str(tmp_path / "nope.json"))
    assert "not found" in page(gone, "/state-machines/Router")
    # Without a coverage file the page is as before.
    assert "Test coverage" not in page(make_app(runner.client, coverage_file=""),
                                       "/state-machines/Router")


def test_sfn_serve_passes_its_coverage_file_to_the_view(
        coverage_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFN_COVERAGE_FILE", str(coverage_file))
    assert make_app(machine_runner().client).coverage_file == str(coverage_file)


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def served(coverage_file: Path) -> Iterator[str]:
    from wsgiref.util import shift_path_info

    app = make_app(machine_runner().client, coverage_file=str(coverage_file))

    def mounted(environ: dict[str, Any], start_response: Any) -> Any:
        shift_path_info(environ)  # /ui/... -> SCRIPT_NAME=/ui
        return app(environ, start_response)

    httpd = make_server("127.0.0.1", 0, mounted, handler_class=_Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


@needs_dot
def test_in_a_browser_covered_states_are_green_and_missed_ones_red(served: str) -> None:
    if os.environ.get("SFN_SKIP_BROWSER"):
        pytest.skip("SFN_SKIP_BROWSER is set")
    chromium = os.environ.get("SFN_CHROMIUM", "/usr/bin/chromium")
    if not Path(chromium).exists():
        pytest.fail(f"{chromium} is missing: run scripts/ensure-system-deps.sh")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True,
                                    args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            pg = browser.new_page()
            errors: list[str] = []
            pg.on("pageerror", lambda exc: errors.append(str(exc)))
            pg.goto(f"{served}/ui/state-machines/Router")
            pg.wait_for_selector("body[data-ready='1']")
            fills = pg.evaluate("""() => Object.fromEntries(
                [...document.querySelectorAll('.graph g.state')].map(g => [
                    g.querySelector('text').textContent,
                    getComputedStyle(g.querySelector('path, polygon')).fill]))""")
            assert not errors
        finally:
            browser.close()
    green, red = "rgb(220, 252, 231)", "rgb(254, 226, 226)"  # #dcfce7, #fee2e2
    assert fills == {"Route": green, "A": green, "B": red, "Other": green}
