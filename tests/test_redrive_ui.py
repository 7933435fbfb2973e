"""The web view's Redrive button: offered only when enabled, and only to the page (its
header), over executions run by the inline runner."""

from __future__ import annotations

import io
import json
from typing import Any

from engine.handlers import Registry, TaskFailure
from engine.runtime.inline import InlineRunner
from engine.ui import app as ui_app
from tests.test_ui_app import embedded

L = "arn:aws:lambda:us-east-1:000000000000:function:"


def post(app: Any, path: str, headers: dict[str, str] | None = None) -> tuple[str, Any]:
    captured: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        captured["status"] = status

    environ = {"REQUEST_METHOD": "POST", "SCRIPT_NAME": "/ui", "PATH_INFO": path,
               "QUERY_STRING": "", "wsgi.input": io.BytesIO(b""), **(headers or {})}
    body = b"".join(app(environ, start_response))
    return captured["status"], json.loads(body) if body.startswith(b"{") else body


def test_the_redrive_button_redrives_only_when_enabled_and_asked_by_the_page() -> None:
    broken = {"on": True}

    def flaky(event: Any, context: Any) -> Any:
        if broken["on"]:
            raise TaskFailure("Down", "the partner is down")
        return {"ok": True}

    registry = Registry()
    registry.register("Flaky", flaky)
    runner = InlineRunner(registry)
    runner.create_state_machine("F", {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": L + "Flaky", "End": True}}})
    failed = runner.run("F", name="f-1")
    assert failed.status == "FAILED"
    path = f"/api/executions/{failed.eid}/redrive"
    ask = {"HTTP_X_SFN_UI": "redrive"}

    read_only = ui_app.make_app(runner.client, allow_redrive=False)
    assert post(read_only, path, ask)[0].startswith("405")
    status, body = ui_app_page(read_only, failed.eid)
    assert status.startswith("200") and embedded(body)["redriveUrl"] is None

    app = ui_app.make_app(runner.client, allow_redrive=True)
    assert embedded(ui_app_page(app, failed.eid)[1])["redriveUrl"] == f"/ui{path}"
    status, answer = post(app, path)  # no header: another site's form cannot redrive
    assert status.startswith("403")
    assert runner.client.describe_execution(failed.arn).status == "FAILED"
    broken["on"] = False
    status, answer = post(app, path, ask)
    assert status.startswith("200") and answer == {"status": "RUNNING", "redriveCount": 1}
    runner.drain(failed.eid)
    assert runner.client.describe_execution(failed.arn).status == "SUCCEEDED"
    status, answer = post(app, path, ask)
    assert status.startswith("409") and answer["error"] == "ExecutionNotRedrivable"
    status, answer = post(app, "/api/executions/F:nope/redrive", ask)
    assert status.startswith("404") and answer["error"] == "ExecutionDoesNotExist"


def ui_app_page(app: Any, eid: str) -> tuple[str, bytes]:
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        captured["status"] = status

    environ = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/ui", "PATH_INFO": f"/executions/{eid}",
               "QUERY_STRING": "", "wsgi.input": io.BytesIO(b"")}
    body = b"".join(app(environ, start_response))
    return captured["status"], body
