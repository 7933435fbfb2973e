"""How the Redis store writes a JSON value: compact, non-ASCII kept, and JSON only (NaN or
Infinity here is an engine fault: what comes in is checked, engine/asl/jsonvalues.py), never
text that is not JSON in Redis."""

from __future__ import annotations

import json
from typing import Any

from engine.asl.jsonvalues import storable

#: One encoder for every call: `json.dumps` builds a new encoder each time.
_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def encode(value: Any) -> str:
    # A lone surrogate (a string from a handler or an expression) cannot be sent as UTF-8:
    # it is written as its \uXXXX escape, which reads back as the same string.
    return storable(_encoder.encode(value))
