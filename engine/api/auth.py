"""Optional check of AWS Signature Version 4 against one shared access key.

By default the server accepts any request, signed or not (SDKs always sign; the signature
is simply not verified), which is what a local or private deployment wants. Given an
access key id and secret (`sfn serve --access-key-id ... --secret-access-key ...`), every
request must carry a valid SigV4 `Authorization` header made with that key, so only
clients configured with the secret can call the API. Errors are AWS's:
MissingAuthenticationTokenException, UnrecognizedClientException,
InvalidSignatureException, IncompleteSignatureException (all HTTP 403).

The signature must cover `Host` and `X-Amz-Target` (else one signed request could be
replayed as another action, or against another server) and the body: the canonical
request carries the hash of the body as received, and a declared `x-amz-content-sha256`
must match it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import parse_qsl, quote

from engine.api.protocol import ApiError

ALGORITHM: Final = "AWS4-HMAC-SHA256"
#: Headers a signature must cover (lower case, as in SignedHeaders).
REQUIRED_SIGNED_HEADERS: Final = ("host", "x-amz-target")
#: How far a request's X-Amz-Date may be from our clock (AWS allows 15 minutes).
MAX_SKEW_SECONDS: Final = 15 * 60
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<cred>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),"
    r"\s*Signature=(?P<sig>[0-9a-f]{64})\s*$"
)


@dataclass(frozen=True)
class SharedKey:
    access_key_id: str
    secret_access_key: str


def verify(environ: dict[str, Any], body: bytes, key: SharedKey, now: float) -> None:
    """Raise an `ApiError` unless the request is signed with `key`."""
    header = environ.get("HTTP_AUTHORIZATION")
    if not header:
        raise ApiError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
    m = _AUTH.match(header)
    if not m:
        raise ApiError("IncompleteSignatureException", "Malformed Authorization header", 403)
    parts = m.group("cred").split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise ApiError("IncompleteSignatureException", "Malformed credential scope", 403)
    access_key, date, region, service, _ = parts
    if not hmac.compare_digest(access_key, key.access_key_id):
        raise ApiError(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
            403,
        )
    amz_date = environ.get("HTTP_X_AMZ_DATE", "")
    try:
        when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise ApiError("IncompleteSignatureException", "Missing or bad X-Amz-Date", 403) from None
    if abs(when.timestamp() - now) > MAX_SKEW_SECONDS or not amz_date.startswith(date):
        raise ApiError("InvalidSignatureException", "Signature expired or not yet valid", 403)
    signed = m.group("signed").split(";")
    # A signature that leaves out the action or the host could be replayed for another
    # action or another server; SDKs (botocore, the AWS CLI) sign both.
    missing = [h for h in REQUIRED_SIGNED_HEADERS if h not in signed]
    if missing:
        raise ApiError(
            "IncompleteSignatureException",
            f"The signature must cover the headers {', '.join(REQUIRED_SIGNED_HEADERS)}: "
            f"SignedHeaders lacks {', '.join(missing)}",
            403,
        )
    payload_hash = hashlib.sha256(body).hexdigest()
    declared = environ.get("HTTP_X_AMZ_CONTENT_SHA256")
    if declared is not None and declared != payload_hash:
        # The body hash in the canonical request is always the body's own (computed
        # here), so the body is signed; a declared hash that differs (or
        # UNSIGNED-PAYLOAD) is refused rather than trusted.
        raise ApiError("InvalidSignatureException",
                       "x-amz-content-sha256 does not match the request body", 403)
    canonical = "\n".join(
        [
            environ.get("REQUEST_METHOD", "POST"),
            quote(environ.get("PATH_INFO", "/") or "/", safe="/~"),
            _canonical_query(environ.get("QUERY_STRING", "")),
            "".join(f"{h}:{_header(environ, h)}\n" for h in signed),
            ";".join(signed),
            payload_hash,
        ]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        [ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    signing_key = _signing_key(key.secret_access_key, date, region, service)
    expected = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, m.group("sig")):
        raise ApiError(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.",
            403,
        )


def _header(environ: dict[str, Any], name: str) -> str:
    """A header's value as SigV4 canonicalises it (trimmed, inner spaces collapsed)."""
    if name == "content-type":
        value = environ.get("CONTENT_TYPE", "")
    elif name == "content-length":
        value = environ.get("CONTENT_LENGTH", "")
    else:
        value = environ.get("HTTP_" + name.upper().replace("-", "_"), "")
    return " ".join(str(value).split())


def _canonical_query(query: str) -> str:
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in pairs)


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k
