"""DeleteStateMachine as AWS documents it: "an asynchronous operation. It sets the state
machine's status to DELETING and begins the deletion process. A state machine is deleted
only when all its executions are completed. On the next state transition, the state
machine's executions are terminated."

Here: `delete` marks the machine DELETING and flags each of its RUNNING executions
(`Store.mark_stopping`); the worker that takes an execution's next step finds the flag in
the snapshot it loads anyway (no extra round trip) and, instead of the transition, aborts
the execution (ABORTED, an ExecutionAborted event whose cause names the deletion) —
`stop_for_deletion`. While DELETING the machine is described with that status and refuses
new executions, updates and a re-creation (StateMachineDeleting); `finish` deletes it (with
its versions and aliases) once none of its executions is running, which every action that
reads the machine through `current` checks. The executions stay readable afterwards, as on
AWS.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from engine.errors import EngineError
from engine.interpreter import history as h
from engine.interpreter.types import epoch_millis, iso_timestamp
from engine.store.base import Commit, OutboxEntry, StateMachineRecord, Store

if TYPE_CHECKING:
    from engine.client import Client


class StateMachineDeleting(EngineError):
    code = "StateMachineDeleting"


def deleted_cause(machine_arn: str) -> str:
    return f"The state machine '{machine_arn}' was deleted"


def _running(client: Client, name: str) -> list[str]:
    """The ids of the machine's RUNNING executions (by start, from the store itself)."""
    found: list[str] = []
    after: tuple[float, str] | None = None
    while True:
        page = client.store.list_executions_after(name, after, 500)
        found.extend(r.eid for r in page if r.status == "RUNNING")
        if len(page) < 500:
            return found
        after = (page[-1].start, page[-1].eid)


def delete(client: Client, name: str) -> bool:
    """DeleteStateMachine: False when there is no such machine (AWS: success all the
    same). With no execution running the machine goes at once."""
    record = client.store.get_state_machine(name)
    if record is None:
        return False
    if record.status != "DELETING":
        client.store.put_state_machine(replace(record, status="DELETING"), create=False)
    for eid in _running(client, name):
        client.store.mark_stopping(eid)
    finish(client, name)
    return True


def finish(client: Client, name: str) -> bool:
    """Delete a DELETING machine whose executions have all ended; whether it is gone."""
    record = client.store.get_state_machine(name)
    if record is None:
        return True
    if record.status != "DELETING" or _running(client, name):
        return False
    client.store.delete_state_machine(name)
    return True


def current(client: Client, name: str) -> StateMachineRecord | None:
    """The machine as the API shows it: None once a DELETING one has no execution left."""
    record = client.store.get_state_machine(name)
    if record is not None and record.status == "DELETING" and finish(client, name):
        return None
    return record


def refuse_if_deleting(record: StateMachineRecord) -> None:
    if record.status == "DELETING":
        raise StateMachineDeleting(f"State Machine is being deleted: '{record.arn}'")


def stop_for_deletion(store: Store, eid: str, machine_arn: str, now: float,
                      stops: list[OutboxEntry] | None = None) -> Any:
    """The commit that aborts an execution whose machine is being deleted (with the stop
    requests of its `.sync` jobs, engine/runtime/job_stops.py)."""
    stop = epoch_millis(now)
    cause = deleted_cause(machine_arn)
    commit = Commit(
        events=[h.execution_aborted(iso_timestamp(stop), None, cause)],
        execution={"status": "ABORTED", "cause": cause, "stop": stop},
        clear_outbox=True,
        outbox_add=list(stops or []),
    )
    return commit, store.commit(eid, commit)
