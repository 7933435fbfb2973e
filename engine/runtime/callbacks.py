"""Task tokens: issuing them, and answering them (SendTaskSuccess/Failure/Heartbeat).

A token is `T1.<address>.<secret>`: the base64url of the (execution, run) it answers, and
192 random bits from `secrets`. The run's snapshot holds the whole token of the attempt
waiting for it (`task.token`), so answering needs no index: decode the address, load the
run, compare the token in constant time. It is valid for one attempt only (a retry or a
later visit of the state gets a new token), and an answer is a transition like any other:
committed with the run's version as compare-and-set, so a token answered twice (or
answered while its timeout fires) changes the run once.

Errors, as AWS answers:
    InvalidToken       not a token at all (characters or length a token cannot have)
    TaskDoesNotExist   no such task: a token this engine did not issue, or whose
                       execution does not exist
    TaskTimedOut       the task no longer waits for it: answered already, timed out, a
                       later attempt, the execution ended or was stopped
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from engine.asl import resources
from engine.errors import InvalidOutput, InvalidToken, TaskDoesNotExist, TaskTimedOut
from engine.interpreter.dataflow import MAX_PAYLOAD_BYTES
from engine.interpreter.types import TaskFailed, TaskSucceeded
from engine.runtime import messages
from engine.runtime.messages import Message
from engine.store.base import Commit, LoadedRun
from engine.store.tokens import heartbeats

if TYPE_CHECKING:
    from engine.runtime.driver import Driver

_PREFIX: Final = "T1"
#: What AWS accepts as a token (the API's taskToken member: 1-2048 characters).
_SYNTAX: Final = re.compile(r"^[\x21-\x7e]{1,2048}$")
_TIMED_OUT: Final = "Task Timed Out: 'Provided task does not exist anymore'"


def new_token(eid: str, run: str) -> str:
    """A fresh, unguessable token for a callback Task of `run` (192 random bits)."""
    address = base64.urlsafe_b64encode(json.dumps([eid, run]).encode()).decode().rstrip("=")
    return f"{_PREFIX}.{address}.{secrets.token_urlsafe(24)}"


def token_address(token: str) -> tuple[str, str] | None:
    """(execution id, run) a token of ours names; None if it is not one of ours."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != _PREFIX:
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    if (
        not isinstance(decoded, list)
        or len(decoded) != 2
        or not all(isinstance(x, str) for x in decoded)
    ):
        return None
    return decoded[0], decoded[1]


@dataclass(frozen=True)
class Waiting:
    """A task found waiting for the token being answered."""

    eid: str
    run: str
    loaded: LoadedRun
    attempt: int


class TaskTokens:
    """Answers task tokens through the driver (the same load -> advance -> commit ->
    dispatch as a worker's step), so the answer is durable and exactly once."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver

    def find(self, token: str) -> Waiting:
        if not isinstance(token, str) or not _SYNTAX.match(token):
            raise InvalidToken("Invalid Token: 'Invalid token'")
        address = token_address(token)
        if address is None:
            raise TaskDoesNotExist("Task Does Not Exist: no task was issued this token")
        eid, run = address
        store = self.driver.store
        if store.get_execution(eid) is None:
            raise TaskDoesNotExist("Task Does Not Exist: its execution does not exist")
        loaded = store.load_run(eid, run)
        if loaded is None:
            raise TaskDoesNotExist("Task Does Not Exist: no task was issued this token")
        task = loaded.doc.get("task") or {}
        issued = task.get("token")
        if (
            loaded.status != "RUNNING"
            or loaded.doc.get("phase") != "task"
            or not isinstance(issued, str)
            or not hmac.compare_digest(issued.encode(), token.encode())
        ):
            raise TaskTimedOut(_TIMED_OUT)
        return Waiting(eid, run, loaded, int(loaded.doc.get("attempt", 0)))

    def send_success(self, token: str, output: str) -> None:
        if len(output.encode()) > MAX_PAYLOAD_BYTES:
            raise InvalidOutput(
                f"Invalid Output: the output is {len(output.encode())} bytes, more than "
                f"the {MAX_PAYLOAD_BYTES} bytes allowed"
            )
        try:
            value = json.loads(output)
        except ValueError as exc:
            raise InvalidOutput(f"Invalid Output: the output is not JSON ({exc})") from None
        waiting = self.find(token)
        self._answer(waiting, TaskSucceeded(waiting.attempt, value))

    def send_failure(self, token: str, error: str | None, cause: str | None) -> None:
        waiting = self.find(token)
        self._answer(waiting, TaskFailed(waiting.attempt, error, cause))

    def send_heartbeat(self, token: str) -> None:
        waiting = self.find(token)
        heartbeats(self.driver.store).record_heartbeat(
            waiting.eid, waiting.run, token, self.driver.clock()
        )

    def _answer(self, waiting: Waiting, occurrence: TaskSucceeded | TaskFailed) -> None:
        consumed = f"answer|{waiting.run}|{waiting.loaded.version}"
        outcome = self.driver.step(
            waiting.eid, waiting.run, waiting.loaded, occurrence, consumed=consumed
        )
        if outcome != "applied":
            # Another answer, the timeout or a stop committed first.
            raise TaskTimedOut(_TIMED_OUT)


def rearm_heartbeat(driver: Driver, message: Message, loaded: LoadedRun) -> bool:
    """The heartbeat timer of a waiting callback fired: when a heartbeat came since it
    was set, set it again for the new deadline (the same outbox entry, a later due time)
    and say so; False when the heartbeat is missed (the Task times out)."""
    eid, run = message["x"], message["r"]
    task = loaded.doc.get("task") or {}
    seconds = task.get("heartbeat")
    last = heartbeats(driver.store).last_heartbeat(eid, run)
    now = driver.clock()
    if seconds is None:
        return False
    if last is None or last[0] != task.get("token"):
        if not _activity(task):
            return False
        # An activity's heartbeat clock starts when a poller takes it (its start is
        # recorded as the first heartbeat): not taken yet, keep waiting.
        last = (str(task.get("token")), now)
    due = last[1] + float(seconds)
    if due <= now:
        return False
    rearm(driver, message, due)
    return True


def rearm(driver: Driver, message: Message, due: float) -> None:
    """Set a fired timer again for `due`: the same outbox entry (so the run's next commit
    still consumes it), a later deadline. Moves no run's version."""
    now = driver.clock()
    again: dict[str, Any] = {**message, "d": round(due, 3)}
    entry = driver.entry(again, now, max(0.0, due - now))
    assert entry.id == messages.entry_id(message)
    if not driver.store.commit(message["x"], Commit(outbox_add=[entry])).ok:
        return  # the execution ended meanwhile: nothing to wait for
    if entry.immediate:
        driver.dispatcher.send(again, countdown=max(0.0, due - now))


def _activity(task: dict[str, Any]) -> bool:
    ref = resources.parse_resource(str(task.get("resource", "")))
    return ref is not None and ref.family == "activity"


__all__ = [
    "TaskTokens",
    "index_waiting",
    "new_token",
    "rearm",
    "rearm_heartbeat",
    "token_address",
    "waiting_kind",
]


def waiting_kind(doc: dict[str, Any]) -> str | None:
    """What a run's snapshot waits for, as the waiting-Tasks index counts it: "callback"
    (a token), "activity" (a poller or its answer), "child" (a .sync child execution);
    None when it waits for none of them."""
    task = doc.get("task") or {}
    if doc.get("phase") != "task" or not (task.get("token") or task.get("job")):
        return None
    if _activity(task):
        return "activity"
    return "child" if task.get("job") else "callback"


def index_waiting(driver: Driver, eid: str, run: str, before: dict[str, Any],
                  after: dict[str, Any], now: float) -> None:
    """Keep the waiting-Tasks index (metrics) in step with a committed transition."""
    was, now_kind = waiting_kind(before), waiting_kind(after)
    if was == now_kind and (before.get("task") or {}).get("token") == (
        after.get("task") or {}
    ).get("token"):
        return
    store = heartbeats(driver.store)
    if was is not None:
        store.mark_waiting(f"{eid}|{run}|{was}", None)
    if now_kind is not None:
        store.mark_waiting(f"{eid}|{run}|{now_kind}", now)
