"""The web view's routes and pages as a WSGI application, over real executions run by the
inline runner (no Redis, no browser). The drawing needs Graphviz's `dot`
(scripts/ensure-system-deps.sh); the tests that look at the SVG are skipped without it."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest

from engine.handlers import Registry, TaskFailure
from engine.runtime.inline import InlineRunner
from engine.ui import app as ui_app
from engine.ui import pages, render

L = "arn:aws:lambda:us-east-1:000000000000:function:"
needs_dot = pytest.mark.skipif(not render.dot_available(), reason="Graphviz `dot` not installed")

PARALLEL = {
    "StartAt": "Fan",
    "States": {
        "Fan": {"Type": "Parallel", "Branches": [
            {"StartAt": "A",
             "States": {"A": {"Type": "Task", "Resource": L + "Ok", "End": True}}},
            {"StartAt": "M", "States": {"M": {
                "Type": "Map", "ItemsPath": "$.items", "End": True,
                "ItemProcessor": {"StartAt": "I",
                                  "States": {"I": {"Type": "Pass", "End": True}}}}}},
        ], "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}
FAILING = {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": L + "Boom", "Retry": [
    {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 1}], "End": True}}}


@pytest.fixture
def runner() -> InlineRunner:
    registry = Registry()
    registry.register("Ok", lambda event, context: {"ok": event})

    def boom(event: Any, context: Any) -> Any:
        raise TaskFailure("Boom", "always")

    registry.register("Boom", boom)
    r = InlineRunner(registry)
    r.create_state_machine("Fan", PARALLEL)
    r.create_state_machine("Failing", FAILING)
    return r


def call(app: Any, path: str, query: str = "", method: str = "GET",
         script_name: str = "/ui") -> tuple[str, dict[str, str], bytes]:
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        captured["status"], captured["headers"] = status, dict(headers)

    environ = {"REQUEST_METHOD": method, "SCRIPT_NAME": script_name, "PATH_INFO": path,
               "QUERY_STRING": query, "wsgi.input": io.BytesIO(b"")}
    body = b"".join(app(environ, start_response))
    return captured["status"], captured["headers"], body


def embedded(html: bytes) -> dict[str, Any]:
    m = re.search(rb'<script type="application/json" id="sfn-data">(.*?)</script>', html, re.S)
    assert m, "the page embeds its data"
    return json.loads(m.group(1))  # type: ignore[no-any-return]


def test_list_newest_first_filtered_and_paginated(runner: InlineRunner) -> None:
    names = []
    for i in range(5):
        runner.now += 1
        names.append(runner.run("Fan", input={"items": [i]}, name=f"fan-{i}").name)
    runner.now += 1
    runner.run("Failing", name="bad-1")
    app = ui_app.UiApp(runner.client, page_size=2)

    status, headers, body = call(app, "/")
    assert status.startswith("200") and headers["Content-Type"].startswith("text/html")
    text = body.decode()
    assert text.index("bad-1") < text.index("fan-4")  # newest first
    assert "fan-3" not in text and 'id="next-page"' in text

    # Follow the cursor to the end: every execution once, in order.
    seen: list[str] = []
    query = ""
    while True:
        _, _, body = call(app, "/", query)
        seen += re.findall(r'href="/ui/executions/[^:"]+:([^"]+)"', body.decode())
        m = re.search(r'id="next-page" href="/ui/\?([^"]+)"', body.decode())
        if not m:
            break
        query = m.group(1).replace("&amp;", "&")
    assert seen == ["bad-1", "fan-4", "fan-3", "fan-2", "fan-1", "fan-0"]

    _, _, body = call(app, "/", "status=FAILED")
    assert "bad-1" in body.decode() and "fan-" not in body.decode()
    _, _, body = call(app, "/", "machine=Fan&status=SUCCEEDED")
    found = re.findall(r'href="/ui/executions/([^"]+)"', body.decode())
    assert found == ["Fan:fan-4", "Fan:fan-3"]
    _, _, body = call(app, "/", "machine=Nope")
    assert "State Machine Does Not Exist" in body.decode()


def test_the_list_orders_by_start_not_by_end(runner: InlineRunner) -> None:
    # ListExecutions orders an ended execution by its stop (AWS); the view by its start: a
    # long execution that ends after a short one started later stays below it.
    runner.create_state_machine("Slow", {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 100, "End": True}}})
    runner.now = 1000.0
    long = runner.run("Slow", name="long")
    runner.now = 1050.0  # the simulated clock: "short" starts while "long" waits
    short = runner.run("Fan", input={"items": []}, name="short")
    assert (long.start, long.stop, short.start) == (1000.0, 1100.0, 1050.0)
    listed, _ = runner.client.list_executions_page(None)
    assert [r.name for r in listed] == ["long", "short"]  # the API: by stop, as AWS
    app = ui_app.UiApp(runner.client, page_size=1)
    _, _, body = call(app, "/")
    assert re.findall(r'href="/ui/executions/[^:"]+:([^"]+)"', body.decode()) == ["short"]
    m = re.search(r'id="next-page" href="/ui/\?([^"]+)"', body.decode())
    assert m is not None
    _, _, body = call(app, "/", m.group(1).replace("&amp;", "&"))
    assert re.findall(r'href="/ui/executions/[^:"]+:([^"]+)"', body.decode()) == ["long"]
    assert 'id="next-page"' not in body.decode()


def test_execution_page_and_its_json(runner: InlineRunner) -> None:
    record = runner.run("Fan", input={"items": [1, 2]}, name="fan-a")
    app = ui_app.make_app(runner.client, flower_url="http://flower.example:5555/")
    status, _, body = call(app, f"/executions/{record.eid}")
    assert status.startswith("200")
    data = embedded(body)
    assert data["mode"] == "execution" and data["flowerUrl"] == "http://flower.example:5555"
    payload = data["payload"]
    assert payload["execution"]["status"] == "SUCCEEDED"
    states = payload["view"]["states"]
    assert {k: v["status"] for k, v in states.items()} == {
        "Fan": "succeeded", "A": "succeeded", "M": "succeeded", "I": "succeeded",
        "Done": "succeeded"}
    assert payload["taskNames"]["A"] == "Fan.A"  # Flower's name for the state's Celery task
    assert [it["status"] for it in payload["view"]["maps"]["M"][0]] == ["succeeded", "succeeded"]
    names = {n["name"] for n in data["graph"]["nodes"] if n["name"]}
    assert names == {"Fan", "A", "M", "I", "Done"}
    # The ARN works as well as the id, and the JSON endpoint serves the same payload.
    _, _, body = call(app, f"/executions/{record.arn}")
    assert embedded(body)["payload"]["execution"]["eid"] == record.eid
    status, headers, body = call(app, f"/api/executions/{record.eid}")
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["view"]["states"]["Done"]["status"] == "succeeded"


def test_failed_execution_shows_the_error(runner: InlineRunner) -> None:
    record = runner.run("Failing", name="bad")
    app = ui_app.make_app(runner.client)
    _, _, body = call(app, f"/api/executions/{record.eid}")
    payload = json.loads(body)
    assert payload["execution"]["error"] == "Boom"
    b = payload["view"]["states"]["B"]
    assert b["status"] == "failed" and b["retries"] == 1 and len(b["visits"][0]["attempts"]) == 2


@needs_dot
def test_the_page_inlines_the_graphviz_drawing(runner: InlineRunner) -> None:
    record = runner.run("Fan", input={"items": [1]}, name="fan-svg")
    _, _, body = call(ui_app.make_app(runner.client), f"/executions/{record.eid}")
    html = body.decode()
    assert "<svg" in html and "<?xml" not in html
    data = embedded(body)
    for node in data["graph"]["nodes"]:
        assert f'id="sm&#45;{node["id"]}"' in html or f'id="sm-{node["id"]}"' in html
    # Nested boxes: the Parallel, its two branches and the Map.
    assert len(re.findall(r'class="cluster group', html)) == 4


def test_state_machine_pages(runner: InlineRunner) -> None:
    runner.run("Fan", input={"items": []}, name="x")
    app = ui_app.make_app(runner.client)
    _, _, body = call(app, "/state-machines")
    assert 'href="/ui/state-machines/Fan"' in body.decode()
    status, _, body = call(app, "/state-machines/Fan")
    assert status.startswith("200") and embedded(body)["mode"] == "machine"
    assert "&quot;StartAt&quot;: &quot;Fan&quot;" in body.decode()


def test_errors_static_files_and_mounting(runner: InlineRunner) -> None:
    app = ui_app.make_app(runner.client)
    assert call(app, "/executions/Fan:nope")[0].startswith("404")
    assert call(app, "/executions/not-an-id")[0].startswith("404")
    assert call(app, "/state-machines/Nope")[0].startswith("404")
    assert call(app, "/nowhere")[0].startswith("404")
    assert call(app, "/", method="POST")[0].startswith("405")
    status, headers, _ = call(app, "", script_name="/ui")
    assert status.startswith("302") and headers["Location"] == "/ui/"
    status, headers, body = call(app, "/static/ui.js")
    assert status.startswith("200") and "javascript" in headers["Content-Type"]
    assert b"sfn-data" in body
    status, headers, body = call(app, "/static/zoom.js")
    assert status.startswith("200") and b"window.sfnZoom" in body
    status, headers, _ = call(app, "/static/ui.css")
    assert headers["Content-Type"].startswith("text/css")
    assert call(app, "/static/../app.py")[0].startswith("404")
    # Mounted elsewhere, links follow the prefix.
    _, _, body = call(app, "/", script_name="/console")
    assert 'href="/console/state-machines"' in body.decode()


def test_embedded_json_cannot_close_its_script() -> None:
    text = pages.json_script({"x": "</script><script>alert(1)</script>"}, "d")
    assert "</script><script>" not in text and text.endswith("</script>")
    assert json.loads(text[text.index(">") + 1: -len("</script>")]) == {
        "x": "</script><script>alert(1)</script>"}


def test_dot_text_has_ids_and_boxes() -> None:
    dot = render.to_dot(render.build(json.dumps(PARALLEL)))
    assert dot.count("subgraph cluster_") == 4
    assert 'id="sm-g0"; class="group group-parallel"' in dot
    assert re.search(r'id="sm-n\d+", class="state type-Map"', dot)


def test_sfn_serve_mounts_the_view_and_the_metrics(runner: InlineRunner) -> None:
    from engine.api import server

    router = server.build_app(runner.client)
    status, headers, _ = call(router, "/ui/state-machines", script_name="")
    assert status.startswith("200") and headers["Content-Type"].startswith("text/html")
    status, _, body = call(router, "/metrics", script_name="")
    assert status.startswith("200") and b"sfn_executions_started_total" in body
    status, headers, _ = call(router, "/ui", script_name="")
    assert status.startswith("302") and headers["Location"] == "/ui/"
