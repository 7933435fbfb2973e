"""Engine records -> the response shapes of botocore's Step Functions model.

Timestamps are epoch seconds (JSON numbers), as the AWS JSON protocol sends them; SDKs turn
them into datetimes. Optional members are left out rather than sent as null, as AWS does.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Final

from engine.asl.variable_references import variable_references
from engine.store.base import ExecutionRecord, StateMachineRecord

#: AWS's defaults, answered for a machine that never set its logging or tracing.
LOGGING_OFF: Final = {"level": "OFF", "includeExecutionData": False}
TRACING_OFF: Final = {"enabled": False}
INCLUDED: Final = {"included": True}


def epoch(iso: str) -> float:
    """An event's ISO-8601 timestamp (`2024-05-01T12:00:00.123Z`) as epoch seconds."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def state_machine(record: StateMachineRecord, *, include_data: bool = True) -> dict[str, Any]:
    """DescribeStateMachine (`include_data` False: METADATA_ONLY, no definition)."""
    out: dict[str, Any] = {
        "stateMachineArn": record.arn,
        "name": record.name,
        "status": record.status,
        "definition": record.definition,
        "roleArn": record.role_arn,
        "type": record.type,
        "creationDate": record.created,
        "revisionId": str(record.revision),
    }
    return _described(out, record, include_data)


def state_machine_for_execution(
    record: StateMachineRecord, *, include_data: bool = True
) -> dict[str, Any]:
    """DescribeStateMachineForExecution."""
    out: dict[str, Any] = {
        "stateMachineArn": record.arn,
        "name": record.name,
        "definition": record.definition,
        "roleArn": record.role_arn,
        "updateDate": record.updated,
        "revisionId": str(record.revision),
    }
    return _described(out, record, include_data)


def _described(
    out: dict[str, Any], record: StateMachineRecord, include_data: bool
) -> dict[str, Any]:
    """The members both descriptions share: the configurations as stored (AWS's defaults
    when never set), the variables each JSONata state reads, the definition or not."""
    out["loggingConfiguration"] = record.logging or LOGGING_OFF
    out["tracingConfiguration"] = record.tracing or TRACING_OFF
    if record.encryption is not None:
        out["encryptionConfiguration"] = record.encryption
    references = _variable_references(record.definition)
    if references:
        out["variableReferences"] = references
    if not include_data:
        del out["definition"]
    return out


def _variable_references(definition: str) -> dict[str, list[str]]:
    try:
        parsed = json.loads(definition)
    except ValueError:
        return {}
    return variable_references(parsed) if isinstance(parsed, dict) else {}


def state_machine_item(record: StateMachineRecord) -> dict[str, Any]:
    """An entry of ListStateMachines."""
    return {
        "stateMachineArn": record.arn,
        "name": record.name,
        "type": record.type,
        "creationDate": record.created,
    }


def execution(record: ExecutionRecord, *, include_data: bool = True) -> dict[str, Any]:
    """DescribeExecution. `output` only when SUCCEEDED, `error`/`cause` only when set, as
    AWS does. The redrive status here is what the status alone says; the API's action
    completes it with the client's judgement (engine/api/actions_redrive.py)."""
    out: dict[str, Any] = {
        "executionArn": record.arn,
        "stateMachineArn": record.state_machine_arn,
        "name": record.name,
        "status": record.status,
        "startDate": record.start,
    }
    if record.stop is not None:
        out["stopDate"] = record.stop
    if include_data:
        out["input"] = record.input
        out["inputDetails"] = INCLUDED
        if record.status == "SUCCEEDED" and record.output is not None:
            out["output"] = record.output
            out["outputDetails"] = INCLUDED
    if record.error is not None:
        out["error"] = record.error
    if record.cause is not None:
        out["cause"] = record.cause
    out.update(_started_through(record))
    out["redriveCount"] = record.redrive_count
    if record.redrive_date is not None:
        out["redriveDate"] = record.redrive_date
    if record.status in ("RUNNING", "SUCCEEDED"):
        out["redriveStatus"] = "NOT_REDRIVABLE"
        out["redriveStatusReason"] = f"Execution is {record.status} and cannot be redriven"
    else:
        out["redriveStatus"] = "REDRIVABLE"
    return out


def execution_item(record: ExecutionRecord) -> dict[str, Any]:
    """An entry of ListExecutions."""
    out: dict[str, Any] = {
        "executionArn": record.arn,
        "stateMachineArn": record.state_machine_arn,
        "name": record.name,
        "status": record.status,
        "startDate": record.start,
    }
    if record.stop is not None:
        out["stopDate"] = record.stop
    out.update(_started_through(record))
    if record.redrive_count:
        out["redriveCount"] = record.redrive_count
    if record.redrive_date is not None:
        out["redriveDate"] = record.redrive_date
    return out


def _started_through(record: ExecutionRecord) -> dict[str, str]:
    """The version and alias an execution was started through (engine/versions.py)."""
    out = {}
    if record.version_arn is not None:
        out["stateMachineVersionArn"] = record.version_arn
    if record.alias_arn is not None:
        out["stateMachineAliasArn"] = record.alias_arn
    if record.map_run_arn is not None:  # a Map Run's child execution
        out["mapRunArn"] = record.map_run_arn
    return out


#: The payload members of event details that includeExecutionData=false leaves out.
_DATA_MEMBERS: Final = ("input", "output")


def history_event(event: dict[str, Any], *, include_data: bool = True) -> dict[str, Any]:
    """A stored event (AWS-shaped, ISO timestamp) as GetExecutionHistory returns it."""
    out = dict(event)
    out["timestamp"] = epoch(event["timestamp"])
    if not include_data:
        for key, details in event.items():
            if key.endswith("EventDetails") and isinstance(details, dict):
                out[key] = {k: v for k, v in details.items() if k not in _DATA_MEMBERS}
    return out


def sync_execution(record: ExecutionRecord, *, include_data: bool = True) -> dict[str, Any]:
    """StartSyncExecution: SUCCEEDED, FAILED or TIMED_OUT (an aborted run is reported as
    FAILED: the sync status set has no ABORTED), with zero billing."""
    status = record.status if record.status in ("SUCCEEDED", "FAILED", "TIMED_OUT") else "FAILED"
    stop = record.stop if record.stop is not None else record.start
    out: dict[str, Any] = {
        "executionArn": record.arn,
        "stateMachineArn": record.state_machine_arn,
        "name": record.name,
        "startDate": record.start,
        "stopDate": stop,
        "status": status,
        "billingDetails": {
            "billedMemoryUsedInMB": 0,
            "billedDurationInMilliseconds": int(max(0.0, stop - record.start) * 1000),
        },
    }
    if include_data:
        out["input"] = record.input
        out["inputDetails"] = INCLUDED
        if status == "SUCCEEDED" and record.output is not None:
            out["output"] = record.output
            out["outputDetails"] = INCLUDED
    if record.error is not None:
        out["error"] = record.error
    if record.cause is not None:
        out["cause"] = record.cause
    return out


def tags(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in values.items()]
