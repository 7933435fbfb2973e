"""`http:invoke` against a real HTTP server the test starts: the request AWS's HTTP Task
sends (method, URL, query, headers, body and its URL encoding, the connection's credentials
from our side), the response shape, States.Http.StatusCode.NNN and timeouts."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from typer.testing import CliRunner

from engine.cli import app, executions  # noqa: F401  (registers the commands)
from engine.handlers import Registry
from engine.integrations import Integrations, IntegrationSettings
from engine.runtime.inline import InlineRunner

HTTP = "arn:aws:states:::http:invoke"
CONNECTION = "arn:aws:events:us-east-1:123456789012:connection/Shop/0d6f1b7c"


class Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        url = urlsplit(self.path)
        Recorder.seen.append({"method": self.command, "path": url.path, "query": url.query,
                              "headers": {k.lower(): v for k, v in self.headers.items()},
                              "body": body})
        if url.path == "/slow":
            time.sleep(3)
        status = 404 if url.path.startswith("/missing") else 200
        payload = json.dumps({"ok": status == 200, "path": url.path}).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except BrokenPipeError:
            pass  # the client gave up waiting (the timeout test)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Recorder.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def connections(tmp_path: Path) -> str:
    path = tmp_path / "connections.json"
    path.write_text(json.dumps({
        "Shop": {"AuthorizationType": "API_KEY", "AuthParameters": {
            "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "s3cret"},
            "InvocationHttpParameters": {
                "HeaderParameters": [{"Key": "X-Team", "Value": "orders"}],
                "QueryStringParameters": [{"Key": "tenant", "Value": "t1"}]}}},
        CONNECTION.replace("Shop", "Basic"): {"AuthorizationType": "BASIC", "AuthParameters": {
            "BasicAuthParameters": {"Username": "u", "Password": "p"}}},
    }))
    return str(path)


def run(parameters: dict[str, Any], connections: str | None, **state: Any) -> Any:
    registry = Registry()
    runner = InlineRunner(registry, integrations=Integrations(
        registry, IntegrationSettings(http_connections=connections)))
    runner.create_state_machine("M", {"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": HTTP, "Parameters": parameters, "End": True, **state}}})
    return runner.run("M", input={})


def test_a_post_with_json_body_query_and_the_connections_credentials(
    server: str, connections: str
) -> None:
    record = run({"ApiEndpoint": server + "/orders", "Method": "POST",
                  "Authentication": {"ConnectionArn": CONNECTION},
                  "Headers": {"X-Request": "r-1"}, "QueryParameters": {"page": "2"},
                  "RequestBody": {"orderId": "42", "items": [1, 2]}}, connections)
    assert record.status == "SUCCEEDED", record.cause
    out = json.loads(record.output)
    assert out["StatusCode"] == "200" and out["StatusText"] == "OK"
    assert out["ResponseBody"] == {"ok": True, "path": "/orders"}
    assert out["Headers"]["content-type"] == ["application/json"]
    [seen] = Recorder.seen
    assert seen["method"] == "POST"
    assert dict(parse_qsl(seen["query"])) == {"page": "2", "tenant": "t1"}
    assert seen["headers"]["x-api-key"] == "s3cret"
    assert seen["headers"]["x-team"] == "orders"
    assert seen["headers"]["x-request"] == "r-1"
    assert seen["headers"]["content-type"].startswith("application/json")
    assert json.loads(seen["body"]) == {"orderId": "42", "items": [1, 2]}


@pytest.mark.parametrize("style,expected", [
    ("INDICES", "items[0]=a&items[1]=b"),
    ("BRACKETS", "items[]=a&items[]=b"),
    ("REPEAT", "items=a&items=b"),
    ("COMMAS", "items=a,b"),
])
def test_url_encoded_bodies_follow_the_array_format(
    server: str, connections: str, style: str, expected: str
) -> None:
    record = run({"ApiEndpoint": server + "/form", "Method": "PUT",
                  "Authentication": {"ConnectionArn": CONNECTION.replace("Shop", "Basic")},
                  "RequestBody": {"items": ["a", "b"]},
                  "Transform": {"RequestBodyEncoding": "URL_ENCODED",
                                "RequestEncodingOptions": {"ArrayFormat": style}}}, connections)
    assert record.status == "SUCCEEDED", record.cause
    [seen] = Recorder.seen
    assert unquote(seen["body"]) == expected
    assert seen["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert seen["headers"]["authorization"] == "Basic dTpw"


def test_a_status_outside_2xx_is_states_http_status_code_nnn(
    server: str, connections: str
) -> None:
    record = run({"ApiEndpoint": server + "/missing", "Method": "GET",
                  "Authentication": {"ConnectionArn": CONNECTION}}, connections)
    assert (record.status, record.error) == ("FAILED", "States.Http.StatusCode.404")
    cause = json.loads(record.cause)
    assert cause["StatusCode"] == "404" and cause["ResponseBody"]["ok"] is False


def test_retry_applies_to_http_errors(server: str, connections: str) -> None:
    record = run({"ApiEndpoint": server + "/missing", "Method": "GET",
                  "Authentication": {"ConnectionArn": CONNECTION}}, connections,
                 Retry=[{"ErrorEquals": ["States.Http.StatusCode.404"], "MaxAttempts": 2,
                         "IntervalSeconds": 1}])
    assert record.error == "States.Http.StatusCode.404"
    assert len(Recorder.seen) == 3


def test_no_answer_within_the_timeout_is_states_http_socket(
    server: str, connections: str
) -> None:
    record = run({"ApiEndpoint": server + "/slow", "Method": "GET",
                  "Authentication": {"ConnectionArn": CONNECTION}}, connections,
                 TimeoutSeconds=1)
    assert (record.status, record.error) == ("FAILED", "States.Http.Socket")
    assert "within 1 seconds" in record.cause


def test_credentials_come_only_from_a_configured_connection(server: str) -> None:
    record = run({"ApiEndpoint": server + "/orders", "Method": "GET",
                  "Authentication": {"ConnectionArn": CONNECTION}}, None)
    assert (record.status, record.error) == ("FAILED", "States.TaskFailed")
    assert "SFN_HTTP_CONNECTIONS" in record.cause
    assert Recorder.seen == []


def test_sfn_validate_warns_about_tasks_only_aws_serves(tmp_path: Path) -> None:
    path = tmp_path / "m.asl.json"
    path.write_text(json.dumps({"StartAt": "Get", "States": {"Get": {
        "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
        "Parameters": {"Bucket": "b", "Key": "k"}, "End": True}}}))
    result = CliRunner().invoke(app, ["validate", str(path), "--json"],
                                env={"SFN_AWS_INTEGRATIONS": "0"})
    assert result.exit_code == 0
    [warning] = json.loads(result.stdout)["warnings"]
    assert warning["location"] == "/States/Get/Resource"
    assert "SFN_AWS_INTEGRATIONS=1" in warning["message"]
    quiet = CliRunner().invoke(app, ["validate", str(path), "--json"],
                               env={"SFN_AWS_INTEGRATIONS": "1"})
    assert json.loads(quiet.stdout)["warnings"] == []


def test_the_notify_partner_example(server: str, tmp_path: Path) -> None:
    connections = tmp_path / "c.json"
    connections.write_text(json.dumps({"Partner": {"AuthorizationType": "API_KEY",
                                                   "AuthParameters": {"ApiKeyAuthParameters": {
                                                       "ApiKeyName": "x-api-key",
                                                       "ApiKeyValue": "k"}}}}))
    registry = Registry()
    runner = InlineRunner(registry, integrations=Integrations(
        registry, IntegrationSettings(http_connections=str(connections))))
    runner.create_state_machine("Notify", Path("workflows/notify_partner.asl.json"))
    record = runner.run("Notify", input={"orderId": "o-1", "carrier": "UPS",
                                         "partnerUrl": server})
    assert json.loads(record.output)["partner"] == {"status": "200", "reference": "/shipments"}
    [seen] = Recorder.seen
    assert seen["headers"]["x-order-id"] == "o-1" and seen["headers"]["x-api-key"] == "k"
    down = runner.run("Notify", input={"orderId": "o-2", "carrier": "UPS",
                                       "partnerUrl": server + "/missing"})
    assert json.loads(down.output)["error"] == "States.Http.StatusCode.404"
