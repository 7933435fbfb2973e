"""The HTTP layer without Redis: the AWS JSON protocol's parsing and errors, the server's
robustness against bad requests, the routing hook, optional SigV4 checking.

The server runs on a thread over the in-memory store; requests are raw HTTP where the point
is a request no SDK would send, and boto3 where the point is what an SDK sees.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from engine.api import auth, pagination, server
from engine.api.protocol import ApiError, Field, check, parse
from engine.client import Client
from engine.runtime.messages import Message
from engine.store.memory import MemoryStore

PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
ROLE = "arn:aws:iam::000000000000:role/R"


class _Drop:
    """A dispatcher that sends nothing: no worker runs in these tests."""

    def send(self, message: Message, *, countdown: float = 0.0) -> None:
        pass


def _client() -> Client:
    return Client(MemoryStore(), _Drop())


@pytest.fixture
def api() -> Iterator[server.Running]:
    running = server.start_background(server.build_app(_client(), max_body=64 * 1024))
    yield running
    running.stop()


def call(
    running: server.Running,
    body: bytes | str,
    target: str | None = "AWSStepFunctions.ListStateMachines",
    method: str = "POST",
    path: str = "/",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection(*running.server.server_address[:2], timeout=10)
    h = {"Content-Type": "application/x-amz-json-1.0", **(headers or {})}
    if target is not None:
        h["X-Amz-Target"] = target
    conn.request(method, path, body=body, headers=h)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, json.loads(data) if data else {}


def read_all(sock: socket.socket) -> str:
    """Everything the server sends until it closes the connection (HTTP/1.0)."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    sock.close()
    return b"".join(chunks).decode()


# --- parsing and member checks (pure) --------------------------------------------------------


def test_parse_reads_the_action_and_the_json_object() -> None:
    request = parse("AWSStepFunctions.StartExecution", b'{"name": "x"}')
    assert (request.action, request.params) == ("StartExecution", {"name": "x"})
    assert parse("AWSStepFunctions.ListStateMachines", b"").params == {}


@pytest.mark.parametrize(
    ("target", "body", "code"),
    [
        ("AWSStepFunctions.ListStateMachines", b"{not json", "SerializationException"),
        ("AWSStepFunctions.ListStateMachines", b"[1, 2]", "SerializationException"),
        ("AWSStepFunctions.ListStateMachines", b"\xff\xfe", "SerializationException"),
        (None, b"{}", "UnknownOperationException"),
        ("AWSStepFunctions.", b"{}", "UnknownOperationException"),
        ("DynamoDB_20120810.ListTables", b"{}", "UnknownOperationException"),
    ],
)
def test_parse_refuses_what_is_not_the_protocol(target: str | None, body: bytes, code: str) -> None:
    with pytest.raises(ApiError) as error:
        parse(target, body)
    assert error.value.code == code and error.value.status == 400


def test_check_lists_every_violation_in_awss_words() -> None:
    spec = {"name": Field(required=True, min=1, max=3), "arn": Field(required=True),
            "status": Field(enum=("A", "B"))}
    with pytest.raises(ApiError) as error:
        check({"name": "toolong", "status": "C"}, spec)
    assert error.value.code == "ValidationException"
    message = error.value.message
    assert message.startswith("3 validation errors detected: ")
    assert ("Value 'toolong' at 'name' failed to satisfy constraint: "
            "Member must have length less than or equal to 3") in message
    assert "Value null at 'arn' failed to satisfy constraint: Member must not be null" in message
    assert "Member must satisfy enum value set: [A, B]" in message


def test_check_refuses_a_value_of_the_wrong_json_type() -> None:
    with pytest.raises(ApiError) as error:
        check({"maxResults": "10"}, {"maxResults": Field("integer")})
    assert error.value.code == "SerializationException"
    with pytest.raises(ApiError):
        check({"maxResults": True}, {"maxResults": Field("integer")})  # a bool is no integer
    assert check({"maxResults": None, "other": 1}, {"maxResults": Field("integer")}) == {}


def test_page_tokens_are_opaque_and_checked() -> None:
    token = pagination.encode("ListExecutions", m="M", s=1.5)
    assert pagination.decode(token, "ListExecutions", m="M") is not None
    for bad, action, expected in [("garbage!", "ListExecutions", {}),
                                  (token, "GetExecutionHistory", {}),
                                  (token, "ListExecutions", {"m": "Other"})]:
        with pytest.raises(ApiError) as error:
            pagination.decode(bad, action, **expected)
        assert error.value.code == "InvalidToken"


# --- the server answers every bad request with an AWS error ---------------------------------


def test_malformed_json_is_a_serialization_exception(api: server.Running) -> None:
    status, body = call(api, "{not json")
    assert status == 400 and body["__type"] == "SerializationException"


def test_missing_required_member_is_a_validation_exception(api: server.Running) -> None:
    request = json.dumps({"definition": PASS})
    status, body = call(api, request, "AWSStepFunctions.CreateStateMachine")
    assert status == 400 and body["__type"] == "ValidationException"
    assert "'name'" in body["message"] and "'roleArn'" in body["message"]


def test_unknown_action_and_missing_target(api: server.Running) -> None:
    status, body = call(api, "{}", "AWSStepFunctions.LaunchRockets")
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    assert "LaunchRockets" in body["message"]
    status, body = call(api, "{}", None)
    assert (status, body["__type"]) == (400, "UnknownOperationException")


def test_oversized_body_is_refused_and_the_server_keeps_serving(api: server.Running) -> None:
    status, body = call(api, "x" * (64 * 1024 + 1))
    assert status == 413 and body["__type"] == "RequestEntityTooLargeException"
    assert call(api, "{}")[0] == 200


def test_a_bad_content_length_or_method_or_path_gets_an_aws_error(api: server.Running) -> None:
    sock = socket.create_connection(api.server.server_address[:2], timeout=10)
    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n"
                 b"X-Amz-Target: AWSStepFunctions.ListStateMachines\r\n\r\n{}")
    reply = read_all(sock)
    assert " 400 " in reply.splitlines()[0] and "SerializationException" in reply
    status, body = call(api, "", method="PUT")
    assert status == 404 and body["__type"] == "UnknownOperationException"
    status, body = call(api, "", method="GET", path="/nowhere")
    assert status == 404 and body["__type"] == "UnknownOperationException"


def test_a_browser_at_the_root_is_sent_to_the_view_and_the_api_is_unchanged(
    api: server.Running,
) -> None:
    for method in ("GET", "HEAD"):
        conn = http.client.HTTPConnection(*api.server.server_address[:2], timeout=10)
        conn.request(method, "/")
        response = conn.getresponse()
        response.read()
        assert (response.status, response.getheader("Location")) == (302, "/ui/")
        conn.close()
    # The AWS JSON protocol on POST / answers as before.
    status, body = call(api, "{}")
    assert status == 200 and body == {"stateMachines": []}
    # Without the view there is nothing to send a browser to: GET / is the API's 404.
    bare = server.start_background(server.build_app(_client(), ui=False))
    try:
        status, body = call(bare, "", method="GET")
        assert status == 404 and body["__type"] == "UnknownOperationException"
    finally:
        bare.stop()


def test_a_client_that_stops_sending_cannot_hang_the_server() -> None:
    limits = server.ServerLimits(threads=2, request_timeout=1, idle_timeout=5)
    running = server.start_background(server.build_app(_client()), limits=limits)
    try:
        stalled = socket.create_connection(running.server.server_address[:2], timeout=20)
        stalled.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                        b"X-Amz-Target: AWSStepFunctions.ListStateMachines\r\n\r\n{")
        # Other clients are served meanwhile (the stalled request holds no thread) ...
        assert call(running, "{}")[0] == 200
        # ... and the silent one is dropped once its request is overdue (no answer: it
        # never finished asking).
        assert read_all(stalled) == ""
    finally:
        running.stop()


def test_unexpected_failures_are_internal_failures_and_not_fatal(
    api: server.Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(self: Client) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Client, "list_state_machines", boom)
    status, body = call(api, "{}")
    assert status == 500 and body["__type"] == "InternalFailure"
    monkeypatch.undo()
    assert call(api, "{}")[0] == 200


def test_responses_use_the_protocols_content_type_and_epoch_dates(api: server.Running) -> None:
    status, created = call(
        api, json.dumps({"name": "M", "definition": PASS, "roleArn": ROLE}),
        "AWSStepFunctions.CreateStateMachine",
    )
    assert status == 200
    assert created["stateMachineArn"] == "arn:aws:states:us-east-1:000000000000:stateMachine:M"
    assert isinstance(created["creationDate"], float)
    conn = http.client.HTTPConnection(*api.server.server_address[:2], timeout=10)
    conn.request("POST", "/", body="{}",
                 headers={"X-Amz-Target": "AWSStepFunctions.ListStateMachines"})
    response = conn.getresponse()
    response.read()
    assert response.getheader("Content-Type") == "application/x-amz-json-1.0"
    assert response.getheader("x-amzn-RequestId")
    conn.close()


# --- routing hook --------------------------------------------------------------------------


def test_apps_mount_under_a_prefix_beside_the_api(api: server.Running) -> None:
    seen: dict[str, str] = {}

    def ui(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        seen.update(script=environ["SCRIPT_NAME"], path=environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ui"]

    router = api.server.get_app()
    assert isinstance(router, server.Router)
    router.mount("/ui/", ui)
    conn = http.client.HTTPConnection(*api.server.server_address[:2], timeout=10)
    conn.request("GET", "/ui/executions/x")
    response = conn.getresponse()
    assert (response.status, response.read()) == (200, b"ui")
    assert seen == {"script": "/ui", "path": "/executions/x"}
    conn.close()
    assert call(api, "{}")[0] == 200  # the API is still at /
    status, body = call(api, "", method="GET", path="/healthz")
    assert (status, body) == (200, {"status": "ok"})


# --- what boto3 sees ------------------------------------------------------------------------


boto3 = pytest.importorskip("boto3")


def _boto(url: str, key: str = "test", secret: str = "test") -> Any:
    from botocore.config import Config

    return boto3.client(
        "stepfunctions", endpoint_url=url, region_name="us-east-1",
        aws_access_key_id=key, aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )


def test_boto3_raises_its_modeled_exceptions(api: server.Running) -> None:
    sfn = _boto(api.url)
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.describe_state_machine(stateMachineArn="arn:aws:states:us-east-1:000000000000:stateMachine:nope")
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.describe_state_machine(stateMachineArn="nope")
    with pytest.raises(sfn.exceptions.InvalidDefinition) as invalid:
        sfn.create_state_machine(name="Bad", definition='{"StartAt": "X", "States": {}}',
                                 roleArn=ROLE)
    assert "Invalid State Machine Definition" in str(invalid.value)
    for bad in ["bad name", "bad\ufffename"]:  # U+FFFE: one of AWS's control characters
        with pytest.raises(sfn.exceptions.InvalidName):
            sfn.create_state_machine(name=bad, definition=PASS, roleArn=ROLE)
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.create_state_machine(name="NoRole", definition=PASS, roleArn="notanarn")
    arn = sfn.create_state_machine(name="Ok", definition=PASS, roleArn=ROLE)["stateMachineArn"]
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.update_state_machine(stateMachineArn=arn, roleArn="arn:aws:s3:::bucket")


def test_an_executions_dates_are_whole_milliseconds_like_its_events(api: server.Running) -> None:
    sfn = _boto(api.url)
    machine = sfn.create_state_machine(name="Ms", definition=PASS, roleArn=ROLE)
    started = sfn.start_execution(stateMachineArn=machine["stateMachineArn"])
    described = sfn.describe_execution(executionArn=started["executionArn"])
    first = sfn.get_execution_history(executionArn=started["executionArn"])["events"][0]
    assert first["type"] == "ExecutionStarted"
    assert described["startDate"] == started["startDate"] == first["timestamp"]
    assert described["startDate"].microsecond % 1000 == 0


def test_sigv4_is_checked_against_a_shared_key_when_one_is_configured() -> None:
    key = auth.SharedKey("AKIDLOCAL", "s3cret")
    running = server.start_background(server.build_app(_client(), shared_key=key))
    try:
        signed = _boto(running.url, "AKIDLOCAL", "s3cret")
        assert signed.list_state_machines()["stateMachines"] == []
        for access, secret, code in [("AKIDLOCAL", "wrong", "InvalidSignatureException"),
                                     ("OTHER", "s3cret", "UnrecognizedClientException")]:
            with pytest.raises(Exception) as error:
                _boto(running.url, access, secret).list_state_machines()
            assert error.value.response["Error"]["Code"] == code  # type: ignore[attr-defined]
        status, body = call(running, "{}")
        assert (status, body["__type"]) == (403, "MissingAuthenticationTokenException")
    finally:
        running.stop()


def test_list_executions_pages_over_the_memory_store_too(api: server.Running) -> None:
    sfn = _boto(api.url)
    arn = sfn.create_state_machine(name="Paged", definition=PASS, roleArn=ROLE)["stateMachineArn"]
    names = [f"e{i}" for i in range(5)]
    for name in names:  # nothing runs them here: they stay RUNNING
        sfn.start_execution(stateMachineArn=arn, name=name)
    pages = list(sfn.get_paginator("list_executions").paginate(
        stateMachineArn=arn, PaginationConfig={"PageSize": 2}))
    assert [len(p["executions"]) for p in pages] == [2, 2, 1]
    assert [e["name"] for p in pages for e in p["executions"]] == list(reversed(names))
    running = sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]
    assert len(running) == 5
    assert sfn.list_executions(stateMachineArn=arn, statusFilter="SUCCEEDED")["executions"] == []


def test_list_executions_puts_a_finished_execution_by_its_stop_date(api: server.Running) -> None:
    sfn = _boto(api.url)
    arn = sfn.create_state_machine(name="Order", definition=PASS, roleArn=ROLE)[
        "stateMachineArn"
    ]
    first = sfn.start_execution(stateMachineArn=arn, name="first")["executionArn"]
    time.sleep(0.01)
    sfn.start_execution(stateMachineArn=arn, name="second")
    time.sleep(0.01)
    sfn.stop_execution(executionArn=first)  # no worker here: both were still running
    listed = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert [e["name"] for e in listed] == ["first", "second"]
    assert listed[0]["stopDate"] > listed[1]["startDate"]
