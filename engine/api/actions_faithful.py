"""Where the actions of actions.py answer as AWS answers beyond their plain path, by wrapping
the registered action (imported last by actions.py, after actions_versions):

    DescribeStateMachine, DescribeStateMachineForExecution
                        `includedData=METADATA_ONLY` leaves the definition out
    DescribeExecution, GetExecutionHistory, StopExecution
                        an EXPRESS execution's ARN is InvalidArn ("Resource type not valid
                        in this context: express"): AWS keeps no history of EXPRESS
                        executions and does not stop them; DescribeExecution answers for
                        an EXPRESS child a Map Run dispatched, as AWS does
    ListExecutions      neither stateMachineArn nor mapRunArn: AWS's message; an EXPRESS
                        machine: StateMachineTypeNotSupported
    ListStateMachines   pages with a cursor (the last machine's creation and name), so a
                        machine deleted between two pages makes none skipped
"""

from __future__ import annotations

from typing import Any, Final

from engine import arns
from engine.api import pagination, shapes
from engine.api.actions import ACTIONS, Context, _execution, action
from engine.errors import InvalidArn, StateMachineTypeNotSupported, ValidationException

_describe = ACTIONS["DescribeStateMachine"]
_for_execution = ACTIONS["DescribeStateMachineForExecution"]
_describe_execution = ACTIONS["DescribeExecution"]
_history = ACTIONS["GetExecutionHistory"]
_stop = ACTIONS["StopExecution"]
_list_executions = ACTIONS["ListExecutions"]
_list_machines = ACTIONS["ListStateMachines"]

_EXPRESS_MARK: Final = ":express:"


def _metadata_only(p: dict[str, Any], out: dict[str, Any]) -> dict[str, Any]:
    if p.get("includedData") == "METADATA_ONLY":
        out.pop("definition", None)
    return out


@action("DescribeStateMachine", **_describe.fields)
def describe_state_machine(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    return _metadata_only(p, _describe.run(ctx, p))


@action("DescribeStateMachineForExecution", **_for_execution.fields)
def describe_state_machine_for_execution(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    return _metadata_only(p, _for_execution.run(ctx, p))


def _not_express(arn: str) -> None:
    """AWS's answer to an EXPRESS execution's ARN where only Standard ones are served."""
    if arn.startswith("arn:") and _EXPRESS_MARK in arn:
        _execution(arn)  # a malformed one is InvalidArn with its own message first
        raise InvalidArn("Invalid Arn: 'Resource type not valid in this context: express'")


def _map_run_child(arn: str) -> bool:
    """An EXPRESS execution a Map Run dispatched: its machine is `MACHINE/LABEL` (no state
    machine's own name holds a slash)."""
    return arn.startswith("arn:") and _EXPRESS_MARK in arn and "/" in arn.split(":")[6]


@action("DescribeExecution", **_describe_execution.fields)
def describe_execution(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    # AWS: "Executions of an EXPRESS state machine aren't supported by DescribeExecution
    # unless a Map Run dispatched them."
    if not _map_run_child(p["executionArn"]):
        _not_express(p["executionArn"])
    return _describe_execution.run(ctx, p)


@action("GetExecutionHistory", **_history.fields)
def get_execution_history(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    _not_express(p["executionArn"])
    return _history.run(ctx, p)


@action("StopExecution", **_stop.fields)
def stop_execution(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    _not_express(p["executionArn"])
    return _stop.run(ctx, p)


@action("ListExecutions", **_list_executions.fields)
def list_executions(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    arn = p.get("stateMachineArn")
    if arn is None and p.get("mapRunArn") is None:
        raise ValidationException(
            "1 validation error detected: Must provide a StateMachine ARN or MapRun ARN"
        )
    if arn is not None and p.get("mapRunArn") is None:
        if not arn.startswith("arn:"):
            raise InvalidArn(f"Invalid Arn: '{arn}'")
        machine = ctx.client.describe_state_machine(arns.qualified_state_machine(arn)[0])
        if machine.type == "EXPRESS":
            raise StateMachineTypeNotSupported(
                "This operation is not supported by this type of state machine"
            )
    return _list_executions.run(ctx, p)


@action("ListStateMachines", **_list_machines.fields)
def list_state_machines(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    # Oldest first, as the store lists them; the cursor is the last machine's (creation,
    # name), so deleting or creating machines between pages shifts nothing.
    state = pagination.decode(p.get("nextToken"), "ListStateMachines")
    after = (float(state["c"]), str(state["n"])) if state and "c" in state else None
    size = pagination.page_size(p.get("maxResults"))
    records = sorted(ctx.client.list_state_machines(), key=lambda r: (r.created, r.name))
    if after is not None:
        records = [r for r in records if (r.created, r.name) > after]
    page = records[:size]
    out: dict[str, Any] = {"stateMachines": [shapes.state_machine_item(r) for r in page]}
    if len(records) > size:
        last = page[-1]
        out["nextToken"] = pagination.encode("ListStateMachines", c=last.created, n=last.name)
    return out
