"""Starting executions: what a start writes, and the bulk path (`Client.start_executions`).

A start writes the execution record, the root run, ExecutionStarted and the outbox (the
start message, and the execution's own timeout when it has one) in one atomic step, then
sends the start message; what is written but not sent is sent by the recovery sweep. When
the broker is the store's own Redis, the step queues the message itself
(engine/direct_starts.py): written and queued at once, one round trip.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from engine import arns, execution_logs
from engine.asl.jsonvalues import NotJson, check_json_value, loads_strict
from engine.asl.loader import load
from engine.asl.model import StateMachine
from engine.errors import ExecutionAlreadyExists, InvalidExecutionInput
from engine.interpreter import history as h
from engine.interpreter import new_root_doc
from engine.interpreter.dataflow import MAX_PAYLOAD_BYTES
from engine.interpreter.types import iso_timestamp
from engine.runtime import messages
from engine.runtime.messages import Message
from engine.store.base import DocWrite, ExecutionRecord, NewExecution, OutboxEntry

#: Executions `Client.start_executions` writes per Redis round trip.
START_BATCH = 500


def machine_of(target: Any) -> StateMachine:
    """The parsed definition of a resolved target (engine/versions.py)."""
    record = target.machine
    return load(record.definition, state_machine_type=record.type)


def new_execution(
    target: Any,
    machine: StateMachine,
    text: str,
    name: str | None,
    *,
    region: str,
    account: str,
    now: float,
    redeliver_seconds: float,
    express_id: str | None = None,
    max_seconds: int | None = None,
) -> tuple[NewExecution, Message]:
    """What starting one execution writes (record, root run, ExecutionStarted, outbox) and
    its start message. `express_id`: an EXPRESS execution's id chosen by the caller (a Map
    Run's child, found again when created twice); `max_seconds`: the longest it may run
    (an EXPRESS Map Run child's 5 minutes), whatever the definition's TimeoutSeconds."""
    machine_record = target.machine
    name = arns.check_name(name or str(uuid.uuid4()), "execution name")
    # An EXPRESS execution's name may be used again at once (AWS starts another one
    # beside it): its id and ARN carry a unique id after the name.
    if machine_record.type == "EXPRESS" and express_id is None:
        express_id = str(uuid.uuid4())
    elif machine_record.type != "EXPRESS":
        express_id = None
    eid = ":".join(p for p in (machine_record.name, name, express_id) if p)
    record = ExecutionRecord(
        eid=eid,
        arn=arns.execution_arn(region, account, machine_record.name, name, express_id),
        name=name,
        state_machine_arn=machine_record.arn,
        state_machine_name=machine_record.name,
        definition_sha=machine_record.definition_sha,
        status="RUNNING",
        input=text,
        start=now,
        role_arn=machine_record.role_arn,
        type=machine_record.type,
        version_arn=target.version_arn,
        alias_arn=target.alias_arn,
        # The machine's logging settings as the execution started (engine/execution_logs.py).
        logging=execution_logs.config_text(machine_record.logging),
    )
    started = h.execution_started(
        iso_timestamp(now), text, machine_record.role_arn, machine_record.arn
    )
    details = started["executionStartedEventDetails"]
    if target.alias_arn is not None:
        details["stateMachineAliasArn"] = target.alias_arn
    if target.version_arn is not None:
        details["stateMachineVersionArn"] = target.version_arn
    first = messages.make("start", eid, "0", 1, s=machine.start_at, m=machine_record.name)
    outbox = [OutboxEntry(messages.entry_id(first), first, now, now + redeliver_seconds, True)]
    seconds = machine.timeout_seconds
    if max_seconds is not None:
        seconds = min(seconds or max_seconds, max_seconds)
    if seconds:
        timeout = messages.make("exec_timeout", eid, "0", 0, m=machine_record.name)
        due = now + seconds
        outbox.append(OutboxEntry(messages.entry_id(timeout), timeout, due, due, False))
    root = DocWrite("run", "0", 0, new_root_doc(), "new", 0)
    return NewExecution(record, root, [started], outbox), first


def existing_or_conflict(existing: ExecutionRecord, text: str) -> ExecutionRecord:
    """StartExecution of a name already used: that execution when the input is the same
    and it still runs (idempotent, as AWS), else ExecutionAlreadyExists."""
    if existing.input == text and existing.status == "RUNNING":
        return existing
    raise ExecutionAlreadyExists(f"Execution Already Exists: '{existing.arn}'")


def create_and_send(
    store: Any, dispatcher: Any, direct: Any, batch: list[tuple[NewExecution, Message]]
) -> list[tuple[bool, ExecutionRecord]]:
    """Write `batch` (one Redis round trip) and send the start message of each execution
    it created. With `direct` (engine/direct_starts.py: the broker is this Redis) each
    message is queued by the store's script in the same atomic step as its execution;
    else the messages are sent through Celery once every execution is written, and one
    not sent is sent by the recovery sweep from the committed outbox."""
    news = [new for new, _ in batch]
    if direct is not None and direct.eligible():
        return list(store.create_executions(news, [direct.wire(m) for _, m in batch]))
    outcomes: list[tuple[bool, ExecutionRecord]] = store.create_executions(news)
    send_all(dispatcher, [m for (_, m), (created, _) in zip(batch, outcomes, strict=True)
                          if created])
    return outcomes


def start_batches(
    store: Any, dispatcher: Any, direct: Any,
    batches: Iterable[list[tuple[NewExecution, Message]]],
) -> tuple[list[ExecutionRecord], list[str]]:
    """Write each batch of `batches` (prepared as they are asked for) by `create_and_send`,
    one Redis round trip per batch. Returns the records in order (an execution of the same
    name and input that still runs stands for its start, as StartExecution answers) and
    the ARNs of the names already used with another input."""
    records: list[ExecutionRecord] = []
    conflicts: list[str] = []
    for batch in batches:
        outcomes = create_and_send(store, dispatcher, direct, batch)
        for (new, _), (created, existing) in zip(batch, outcomes, strict=True):
            if created:
                execution_logs.committed(new.record, new.events, 1)
                records.append(new.record)
            elif existing.input == new.record.input and existing.status == "RUNNING":
                records.append(existing)
            else:
                conflicts.append(existing.arn)
    return records, conflicts


def send_all(dispatcher: Any, batch: list[Message]) -> None:
    """Send `batch` through `dispatcher.send_many` when it has one (one broker connection
    for all), else (and a single start) one by one."""
    send_many = getattr(dispatcher, "send_many", None)
    if send_many is not None and len(batch) > 1:
        send_many(batch)
        return
    for message in batch:
        dispatcher.send(message)


def batch_inputs(text: str, source: str) -> list[str]:
    """The inputs of a batch file (`sfn start --batch`), as JSON texts: one JSON array of
    inputs, or JSON Lines (one input per line; blank lines skipped). A line that is not
    JSON is refused with its line number, before anything starts."""
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            values = loads_strict(stripped)
        except NotJson:
            values = None  # JSON Lines whose first input is an array: read line by line
        if isinstance(values, list):
            return [_ENCODE(v) for v in values]
    inputs: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            loads_strict(line)
        except NotJson as exc:
            raise InvalidExecutionInput(
                f"{source}, line {number}: the input is not JSON: {exc}"
            ) from None
        inputs.append(line.strip())
    return inputs


_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def checked_input(value: Any, text: str | None) -> str:
    """The execution's input as JSON text: JSON only (no NaN or Infinity, no number that
    overflows a double, valid Unicode, at most MAX_JSON_DEPTH levels deep) and at most
    256 KiB, else InvalidExecutionInput, as StartExecution answers."""
    try:
        if text is not None:
            if not isinstance(text, str):
                raise NotJson(f"the input must be JSON text, not {type(text).__name__}")
            check_input_size(text)  # before parsing: a huge text is refused unread
            loads_strict(text)
        else:
            value = {} if value is None else value
            check_json_value(value)
            text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except NotJson as exc:
        raise InvalidExecutionInput(f"Invalid State Machine Execution Input: '{exc}'") from None
    except (TypeError, ValueError) as exc:
        raise InvalidExecutionInput(f"Invalid State Machine Execution Input: '{exc}'") from None
    check_input_size(text)
    return text


def check_input_size(text: str) -> None:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_PAYLOAD_BYTES:
        raise InvalidExecutionInput(
            f"Invalid State Machine Execution Input: input is {size} bytes, "
            f"over the {MAX_PAYLOAD_BYTES}-byte limit"
        )
