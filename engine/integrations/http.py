"""`arn:aws:states:::http:invoke`: a real HTTP request, as AWS's HTTP Task makes it.

Parameters (AWS's): `ApiEndpoint`, `Method` (GET, POST, PUT, DELETE, PATCH, HEAD,
OPTIONS), `Authentication.ConnectionArn`, optional `Headers`, `QueryParameters`,
`RequestBody`, and `Transform` (`RequestBodyEncoding`: `NONE` | `URL_ENCODED`, with
`RequestEncodingOptions.ArrayFormat`: `INDICES` (default) | `BRACKETS` | `REPEAT` |
`COMMAS`).

Credentials never come from the definition. On AWS the ConnectionArn names an EventBridge
connection holding them; here a JSON file (SFN_HTTP_CONNECTIONS) maps each connection, by
its ARN or its name, to the same shape EventBridge's CreateConnection takes:

    {"Stripe": {"AuthorizationType": "API_KEY",
                "AuthParameters": {"ApiKeyAuthParameters": {"ApiKeyName": "Authorization",
                                                            "ApiKeyValue": "Bearer sk_..."},
                                   "InvocationHttpParameters": {"HeaderParameters": [
                                       {"Key": "X-Team", "Value": "orders"}]}}}}

(`BASIC` takes `BasicAuthParameters` `Username`/`Password`; `NONE` adds nothing.)

The answer: `{"Headers": {name: [values]}, "ResponseBody": JSON or text, "StatusCode":
"200", "StatusText": "OK"}`. A status outside 2xx fails the state with
`States.Http.StatusCode.NNN` (the response as the cause); no answer within the Task's
timeout (at most 60 s, AWS's limit for HTTP Tasks) or no connection at all fails it with
`States.Http.Socket`.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from http.client import responses as reasons
from pathlib import Path
from typing import Any, Final

from engine.handlers import Invocation

MAX_SECONDS: Final = 60.0
METHODS: Final = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"})
SOCKET: Final = "States.Http.Socket"


class HttpCaller:
    def __init__(self, connections_file: str | None) -> None:
        self.connections_file = connections_file

    def connection(self, arn: str) -> dict[str, Any] | None:
        """The connection configured for `arn` (by the ARN, or by the connection's name:
        `arn:aws:events:REGION:ACCOUNT:connection/NAME/ID`)."""
        if not self.connections_file:
            return None
        # Read at each call: an operator may rotate a secret without restarting workers.
        table = json.loads(Path(self.connections_file).read_text())
        if not isinstance(table, dict):
            return None
        name = arn.split("connection/", 1)[-1].split("/", 1)[0]
        found = table.get(arn, table.get(name))
        return found if isinstance(found, dict) else None

    def invoke(self, parameters: Any, *, timeout: float | None = None) -> Invocation:
        params = parameters if isinstance(parameters, dict) else {}
        endpoint, method = params.get("ApiEndpoint"), str(params.get("Method", "")).upper()
        if not isinstance(endpoint, str) or not endpoint:
            return _failed("States.Runtime", "The HTTP Task needs an ApiEndpoint (a URL).")
        if method not in METHODS:
            return _failed("States.Runtime", f"Unsupported HTTP method '{method}'.")
        auth = params.get("Authentication")
        arn = auth.get("ConnectionArn") if isinstance(auth, dict) else None
        if not isinstance(arn, str):
            return _failed("States.Runtime", "The HTTP Task needs Authentication.ConnectionArn.")
        conn = self.connection(arn)
        if conn is None:
            return _failed(
                "States.TaskFailed",
                f"No connection is configured for '{arn}': add it (by ARN or name) to the "
                "JSON file SFN_HTTP_CONNECTIONS names on the workers.",
            )
        try:
            request = build_request(endpoint, method, params, conn)
        except ValueError as exc:
            return _failed("States.Runtime", str(exc))
        seconds = min(float(timeout), MAX_SECONDS) if timeout else MAX_SECONDS
        try:
            with urllib.request.urlopen(request, timeout=seconds) as answer:  # noqa: S310
                return _answer(answer.status, answer.reason, answer.headers, answer.read())
        except urllib.error.HTTPError as answer:
            return _answer(answer.code, answer.reason, answer.headers, answer.read())
        except TimeoutError:
            return _failed(SOCKET, f"No response from {endpoint} within {seconds:g} seconds.")
        except (urllib.error.URLError, OSError) as exc:
            return _failed(SOCKET, f"Could not reach {endpoint}: {exc}")


def build_request(
    endpoint: str, method: str, params: dict[str, Any], conn: dict[str, Any]
) -> urllib.request.Request:
    """The request the HTTP Task sends: the definition's part, then the connection's."""
    auth_params: dict[str, Any] = _object(conn.get("AuthParameters"))
    extra = _object(auth_params.get("InvocationHttpParameters"))
    headers: dict[str, str] = {}
    for key, value in (params.get("Headers") or {}).items():
        headers[str(key)] = _text(value)
    query: list[tuple[str, str]] = []
    for key, value in (params.get("QueryParameters") or {}).items():
        query.extend(_form_pairs(str(key), value, "INDICES"))
    for pair in extra.get("QueryStringParameters") or ():
        query.append((str(pair["Key"]), _text(pair["Value"])))
    for pair in extra.get("HeaderParameters") or ():
        headers[str(pair["Key"])] = _text(pair["Value"])
    kind = str(conn.get("AuthorizationType", "NONE")).upper()
    if kind == "API_KEY":
        key = auth_params.get("ApiKeyAuthParameters") or {}
        headers[str(key["ApiKeyName"])] = _text(key["ApiKeyValue"])
    elif kind == "BASIC":
        basic = auth_params.get("BasicAuthParameters") or {}
        token = base64.b64encode(f"{basic['Username']}:{basic['Password']}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    elif kind != "NONE":
        raise ValueError(f"Connection authorization '{kind}' is not supported here.")
    body = _body(params, headers, extra)
    url = endpoint
    if query:
        url += ("&" if "?" in endpoint else "?") + urllib.parse.urlencode(query)
    return urllib.request.Request(url, data=body, headers=headers, method=method)


def _body(params: dict[str, Any], headers: dict[str, str], extra: dict[str, Any]) -> bytes | None:
    if "RequestBody" not in params:
        return None
    body = params["RequestBody"]
    if isinstance(body, dict):
        for pair in extra.get("BodyParameters") or ():
            body = {**body, str(pair["Key"]): pair["Value"]}
    transform = _object(params.get("Transform"))
    lowered = {k.lower() for k in headers}
    if str(transform.get("RequestBodyEncoding", "NONE")).upper() == "URL_ENCODED":
        options = transform.get("RequestEncodingOptions") or {}
        style = str(options.get("ArrayFormat", "INDICES")).upper()
        pairs: list[tuple[str, str]] = []
        if isinstance(body, dict):
            for key, value in body.items():
                pairs.extend(_form_pairs(str(key), value, style))
        if "content-type" not in lowered:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return urllib.parse.urlencode(pairs).encode()
    if isinstance(body, str):
        return body.encode()
    if "content-type" not in lowered:
        headers["Content-Type"] = "application/json; charset=UTF-8"
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _form_pairs(key: str, value: Any, style: str) -> list[tuple[str, str]]:
    """Form/query pairs of one field; arrays as the ArrayFormat says, objects as key[sub]."""
    if isinstance(value, dict):
        out: list[tuple[str, str]] = []
        for sub, inner in value.items():
            out.extend(_form_pairs(f"{key}[{sub}]", inner, style))
        return out
    if isinstance(value, list):
        if style == "COMMAS":
            return [(key, ",".join(_text(v) for v in value))]
        if style == "BRACKETS":
            return [(f"{key}[]", _text(v)) for v in value]
        if style == "REPEAT":
            return [(key, _text(v)) for v in value]
        return [(f"{key}[{i}]", _text(v)) for i, v in enumerate(value)]
    return [(key, _text(value))]


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def _answer(status: int, reason: str | None, headers: Any, raw: bytes) -> Invocation:
    grouped: dict[str, list[str]] = {}
    for name, value in headers.items():
        grouped.setdefault(name.lower(), []).append(value)
    text = raw.decode("utf-8", errors="replace")
    body: Any = text
    if text:
        try:
            body = json.loads(text)
        except ValueError:
            body = text
    response = {
        "Headers": grouped,
        "ResponseBody": body,
        "StatusCode": str(status),
        "StatusText": reason or reasons.get(status, ""),
    }
    if 200 <= status < 300:
        return Invocation(True, result=response)
    return _failed(
        f"States.Http.StatusCode.{status}",
        json.dumps(response, separators=(",", ":"), ensure_ascii=False),
    )


def _failed(error: str, cause: str) -> Invocation:
    return Invocation(False, error=error, cause=cause)
