"""Planning a Map: its items, each iteration's input, concurrency and tolerance.

ASL spec, "Map State": ItemsPath selects the array, applied after
InputPath; ItemSelector (legacy: Parameters) builds each iteration's input with
`$$.Map.Item.Index` and `$$.Map.Item.Value`; ItemBatcher groups items as
`{"BatchInput": ..., "Items": [...]}`.

AWS's order, as its histories show: the items and MaxConcurrency are read before
MapStateStarted (a bad MaxConcurrencyPath fails the state without it); a Distributed Map's
Map Run reads its tolerated failure thresholds after MapStateStarted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from engine.asl import errors, jsonpath
from engine.asl.failure import StatesFailure
from engine.asl.model import MapState, is_set
from engine.interpreter import dataflow as df
from engine.interpreter.history import to_json_text

#: AWS's inline Map runs at most 40 iterations at once (MaxConcurrency 0 or more than 40
#: still means 40); a Distributed Map at most 10,000 child executions. Here also the bound
#: on the messages one Map puts in flight.
INLINE_MAX_CONCURRENCY: Final = 40
DISTRIBUTED_MAX_CONCURRENCY: Final = 10_000
#: All the iteration inputs of one Map together (an ItemSelector can make each item as big
#: as the state input): the engine's own bound on what one Map stores, 40 payloads.
MAX_MAP_INPUTS_BYTES: Final = 40 * df.MAX_PAYLOAD_BYTES

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def exceeds(values: list[Any], limit: int) -> bool:
    """Whether the JSON array of `values` is over `limit` bytes (UTF-8), looking at no more
    items than it takes to know: a million small items cost as much as the first ~100,000."""
    total = 2 + max(0, len(values) - 1)  # brackets and commas
    for value in values:
        text = _encode(value)
        total += len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
        if total > limit:
            return True
    return total > limit


def check_items(found: list[Any], state: str) -> None:
    """The items array is part of the state's data: at most 256 KiB, as AWS bounds every
    state input and output (States.DataLimitExceeded)."""
    if exceeds(found, df.MAX_PAYLOAD_BYTES):
        raise StatesFailure(
            errors.DATA_LIMIT_EXCEEDED,
            f"The Map state '{state}' has items with a size exceeding the maximum number of "
            "bytes service limit.",
        )


def check_inputs(inputs: list[Any], state: str) -> None:
    if exceeds(inputs, MAX_MAP_INPUTS_BYTES):
        raise StatesFailure(
            errors.DATA_LIMIT_EXCEEDED,
            f"The Map state '{state}' has iteration inputs with a combined size exceeding "
            f"{MAX_MAP_INPUTS_BYTES} bytes, this engine's limit for one Map.",
        )


@dataclass
class MapPlan:
    """Everything a Map needs to start its iterations (the JSONata side plans in one go)."""

    inputs: list[Any]
    max_concurrency: int
    tolerated_failure_count: int | None
    tolerated_failure_percentage: float | None


def items(state: MapState, value: Any, env: df.Env) -> list[Any]:
    if state.item_reader is not None:
        return reader_items(state, value, env)
    path = state.items_path if state.items_path is not None else "$"
    try:
        found = jsonpath.get_path(path, value, context=env.context, variables=env.variables)
    except jsonpath.PathNotFound as exc:
        raise StatesFailure(errors.RUNTIME, f"Invalid path '{path}' : {exc.detail}") from None
    if not isinstance(found, list):
        # AWS names a context path with a single `$` here.
        shown = "$" + path[2:] if path.startswith("$$") else path
        raise StatesFailure(errors.RUNTIME, f'Reference path "{shown}" must point to array.')
    return found


def reader_items(state: MapState, value: Any, env: df.Env) -> list[Any]:
    """The items an ItemReader yields: its Parameters are rendered (their failures are the
    state's), then ReaderConfig.MaxItems / MaxItemsPath caps what was read."""
    reader, config = reader_parts(state)
    if isinstance(reader.get("Parameters"), dict):
        df.render(reader["Parameters"], value, env, "ItemReader.Parameters")
    limit = config.get("MaxItems")
    if isinstance(config.get("MaxItemsPath"), str):
        limit = _lookup_int(config["MaxItemsPath"], "MaxItemsPath", value, env)
    return read(reader, env.reader_items, limit)


def reader_parts(state: MapState) -> tuple[dict[str, Any], dict[str, Any]]:
    """(ItemReader, its ReaderConfig), each {} when absent."""
    reader: dict[str, Any] = state.item_reader if isinstance(state.item_reader, dict) else {}
    config = reader.get("ReaderConfig")
    return reader, config if isinstance(config, dict) else {}


def read(reader: dict[str, Any], available: list[Any] | None, limit: Any) -> list[Any]:
    """What was read (`available`), at most `limit` items (0 or None: all). Without data
    the reader fails: this engine does not read S3 objects itself."""
    if available is None:
        raise StatesFailure(
            errors.ITEM_READER_FAILED,
            f"The ItemReader resource '{reader.get('Resource')}' cannot be read: "
            "this engine has no reader for it.",
        )
    found = list(available)
    if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
        found = found[:limit]
    return found


def max_concurrency(state: MapState, value: Any, env: df.Env) -> int:
    found = _optional_int(state, "MaxConcurrency", value, env)
    return 0 if found is None else found


def tolerance(state: MapState, value: Any, env: df.Env) -> tuple[int | None, float | None]:
    """ToleratedFailureCount and ToleratedFailurePercentage (None: not set)."""
    return _optional_int(state, "ToleratedFailureCount", value, env), _percentage(state, value, env)


def iteration_inputs(state: MapState, value: Any, found: list[Any], env: df.Env) -> list[Any]:
    has_selector = is_set(state, "ItemSelector") or is_set(state, "Parameters")
    if not has_selector:
        return list(found)
    selector = state.selector
    inputs: list[Any] = []
    for index, item in enumerate(found):
        item_env = df.Env(
            context={**env.context, "Map": {"Item": {"Index": index, "Value": item}}},
            variables=env.variables,
            rng=env.rng,
        )
        inputs.append(df.render(selector, value, item_env, "ItemSelector"))
    return inputs


def batches(state: MapState, value: Any, inputs: list[Any], env: df.Env) -> list[Any]:
    batcher = state.item_batcher
    assert batcher is not None
    size = batcher.max_items_per_batch
    if batcher.max_items_per_batch_path is not None:
        size = _lookup_int(batcher.max_items_per_batch_path, "MaxItemsPerBatchPath", value, env)
    max_bytes = batcher.max_input_bytes_per_batch
    if batcher.max_input_bytes_per_batch_path is not None:
        max_bytes = _lookup_int(
            batcher.max_input_bytes_per_batch_path, "MaxInputBytesPerBatchPath", value, env
        )
    if not isinstance(size, int) or size <= 0:
        size = len(inputs) or 1
    batch_input = None
    if batcher.batch_input is not None:
        batch_input = df.render(batcher.batch_input, value, env, "BatchInput")
    cut = batch_groups(inputs, size, max_bytes, lambda group: _batch(batch_input, group))
    return [_batch(batch_input, group) for group in cut]


def batch_groups(
    inputs: list[Any], size: int, max_bytes: Any, envelope: Callable[[list[Any]], Any]
) -> list[list[Any]]:
    """ItemBatcher's cut, the one rule of every Map (inline, in-execution Distributed, a
    Map Run's windows): a batch closes at `size` items (MaxItemsPerBatch), or before its
    child input `envelope(items)` (`{"BatchInput"?, "Items"}`, compact UTF-8 JSON) would
    pass `max_bytes` (MaxInputBytesPerBatch). An item bigger than `max_bytes` on its own is
    a batch of its own: a batch is never empty, and the child input's own 256 KiB limit
    is the only bound left on it.

    Sizes are added up item by item (the envelope's bytes once, then each item's and a
    comma): exactly the length of the serialised batch, without serialising it again per
    item, so that a batch of thousands of small items costs as many encodings."""
    limit = max_bytes if isinstance(max_bytes, int) and max_bytes > 0 else None
    empty = _utf8_length(envelope([])) if limit is not None else 0
    found: list[list[Any]] = []
    current: list[Any] = []
    used = empty
    for item in inputs:
        cost = _utf8_length(item) if limit is not None else 0
        grown = used + cost + (1 if current else 0)
        if current and (len(current) >= size or (limit is not None and grown > limit)):
            found.append(current)
            current = []
            grown = empty + cost
        current.append(item)
        used = grown
    if current:
        found.append(current)
    return found


def _utf8_length(value: Any) -> int:
    return len(to_json_text(value).encode())


def _batch(batch_input: Any, items_: list[Any]) -> dict[str, Any]:
    batch: dict[str, Any] = {}
    if batch_input is not None:
        batch["BatchInput"] = batch_input
    batch["Items"] = items_
    return batch


def _shown(value: Any) -> str:
    # AWS prints a string value as it is, anything else as JSON.
    return value if isinstance(value, str) else to_json_text(value)


def _lookup_int(path: str, field: str, value: Any, env: df.Env) -> int:
    try:
        found = jsonpath.get_path(path, value, context=env.context, variables=env.variables)
    except jsonpath.PathNotFound as exc:
        raise StatesFailure(errors.RUNTIME, f"Invalid path '{path}' : {exc.detail}") from None
    found = _numeric_text(found, int)
    if isinstance(found, bool) or not isinstance(found, int | float) or int(found) != found:
        raise StatesFailure(
            errors.RUNTIME,
            f'The {field} field refers to value "{_shown(found)}" '
            f"which is not a valid integer: {path}",
        )
    return int(found)


def _numeric_text(found: Any, kind: type) -> Any:
    """AWS also takes a number written as a string ("1") in these *Path fields."""
    if isinstance(found, str):
        try:
            return kind(found.strip())
        except ValueError:
            return found
    return found


def _optional_int(state: MapState, field: str, value: Any, env: df.Env) -> int | None:
    literal = getattr(state, _snake(field))
    if isinstance(literal, int) and not isinstance(literal, bool):
        return literal
    path = getattr(state, _snake(field) + "_path")
    if path is None:
        return None
    found = _lookup_int(path, f"{field}Path", value, env)
    if found < 0:
        raise StatesFailure(errors.RUNTIME, f"{field} cannot be negative.")
    return found


def _percentage(state: MapState, value: Any, env: df.Env) -> float | None:
    literal = state.tolerated_failure_percentage
    if isinstance(literal, int | float) and not isinstance(literal, bool):
        return float(literal)
    path = state.tolerated_failure_percentage_path
    if path is None:
        return None
    try:
        found = jsonpath.get_path(path, value, context=env.context, variables=env.variables)
    except jsonpath.PathNotFound as exc:
        raise StatesFailure(errors.RUNTIME, f"Invalid path '{path}' : {exc.detail}") from None
    found = _numeric_text(found, float)
    if isinstance(found, bool) or not isinstance(found, int | float):
        raise StatesFailure(
            errors.RUNTIME,
            f'The ToleratedFailurePercentagePath field refers to value "{_shown(found)}" '
            f"which is not a valid float: {path}",
        )
    if not 0 <= found <= 100:
        raise StatesFailure(errors.RUNTIME, "ToleratedFailurePercentage must be between 0 and 100.")
    return float(found)


def _snake(field: str) -> str:
    out = "".join("_" + c.lower() if c.isupper() else c for c in field)
    return out.lstrip("_")
