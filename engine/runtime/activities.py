"""Activities: tasks served by workers outside the engine, which poll for them.

A Task on `arn:aws:states:REGION:ACCOUNT:activity:NAME` is scheduled like any Task (its
message is in the committed outbox); the worker that gets the message does not run code,
it queues the task for the activity's pollers (`hand_off`). `GetActivityTask` takes the
oldest queued task for one poller, logs ActivityStarted and answers its token and input;
the poller answers with SendTaskSuccess/SendTaskFailure/SendTaskHeartbeat like any
callback (engine/runtime/callbacks.py). The steps and why each is safe to repeat:
engine/store/activities.py.

A long poll holds no Redis connection while it waits: it polls the queue (one short
script per look, from the connection pool) with a growing pause, up to the poll's end.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from engine import arns
from engine.asl import errors, resources
from engine.errors import ActivityDoesNotExist, InvalidArn, ValidationException
from engine.interpreter import history as h
from engine.interpreter.types import TaskFailed, iso_timestamp
from engine.runtime import messages
from engine.runtime.callbacks import rearm
from engine.runtime.messages import Message
from engine.store.activities import ActivityRecord, ActivityStore, TaskRef
from engine.store.base import LoadedRun

if TYPE_CHECKING:
    from engine.runtime.driver import Driver

#: How long a queued task's message rests before the sweep sends it again (which finds it
#: queued and does nothing, or queues it again if a poller lost it).
PARK_SECONDS: Final = 300.0
#: Once a poller has it, the message rests this long: its timers bound the task.
STARTED_PARK_SECONDS: Final = 366 * 86400.0
#: GetActivityTask's long poll, as AWS's (seconds).
POLL_SECONDS: Final = 60.0
_ARN = re.compile(r"^arn:aws[\w-]*:states:([^:]*):([^:]*):activity:([^:]+)$")


def activity_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:states:{region}:{account}:activity:{name}"


def activity_name(arn: str) -> str:
    m = _ARN.match(arn) if isinstance(arn, str) else None
    if m is None:
        raise InvalidArn(f"Invalid Arn: '{arn}'")
    return m.group(3)


def is_activity_task(message: Message) -> bool:
    ref = resources.parse_resource(str(message.get("res", "")))
    return ref is not None and ref.family == "activity"


def activity_store(store: Any) -> ActivityStore:
    client = getattr(store, "r", None)
    if client is None:
        # The in-memory store (tests, the inline runner) keeps no activity queues: a request
        # for them is the caller's error, answered as such, never an engine fault (a 500).
        raise ValidationException(
            f"Activities need the Redis store; this one is {type(store).__name__}"
        )
    return ActivityStore(client)


def hand_off(driver: Driver, message: Message) -> str:
    """A worker got an activity Task's message: queue it for the activity's pollers. An
    activity that does not exist fails the state as AWS does (ActivityScheduleFailed,
    States.Runtime)."""
    eid, run, version, attempt = message["x"], message["r"], message["v"], message["a"]
    loaded = driver.store.load_run(eid, run)
    if (
        loaded is None
        or loaded.version != version
        or loaded.doc.get("phase") != "task"
        or loaded.doc.get("attempt") != attempt
    ):
        return "stale"
    resource = loaded.doc["task"]["resource"]
    ref = TaskRef(eid, run, version, attempt, messages.entry_id(message))
    store = activity_store(driver.store)
    if store.push(activity_name(resource), ref) == -1:
        failed = TaskFailed(
            attempt, errors.RUNTIME, f"Activity does not exist: '{resource}'", scheduling=True
        )
        return driver.step(eid, run, loaded, failed, consumed=ref.entry)
    store.park(ref, driver.clock() + PARK_SECONDS)
    return "queued for pollers"


def rearm_timeout(driver: Driver, message: Message, loaded: LoadedRun) -> bool:
    """An activity Task's TimeoutSeconds timer fired. AWS counts TimeoutSeconds "after the
    task has been started, for example, when ActivityStarted ... [is] logged" (the Task
    state's reference), but the timer was set at scheduling: while no poller has taken the
    task, wait another TimeoutSeconds; once one has, wait until its start plus
    TimeoutSeconds. True when re-armed; False: the Task times out now (or this is not an
    activity, or a store without activity queues, where no poller can ever start it)."""
    task = loaded.doc.get("task") or {}
    ref = resources.parse_resource(str(task.get("resource", "")))
    seconds = task.get("timeout")
    if ref is None or ref.family != "activity" or seconds is None:
        return False
    if getattr(driver.store, "r", None) is None:
        return False
    eid, run = message["x"], message["r"]
    started = activity_store(driver.store).started_at(eid, run, loaded.version)
    now = driver.clock()
    due = (started if started is not None else now) + float(seconds)
    if due <= now:
        return False
    rearm(driver, message, due)
    return True


class Activities:
    """CreateActivity, DescribeActivity, ListActivities, DeleteActivity, GetActivityTask."""

    def __init__(
        self,
        store: ActivityStore,
        *,
        region: str,
        account: str,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.region = region
        self.account = account
        self.clock = clock
        self.sleep = sleep

    def create(self, name: str) -> ActivityRecord:
        arns.check_name(name, "activity name")
        record = ActivityRecord(
            name, activity_arn(self.region, self.account, name), round(self.clock(), 3)
        )
        return self.store.create(record)

    def describe(self, arn: str) -> ActivityRecord:
        found = self.store.get(activity_name(arn))
        if found is None:
            raise ActivityDoesNotExist(f"Activity Does Not Exist: '{arn}'")
        return found

    def list(self, offset: int, limit: int) -> tuple[list[ActivityRecord], bool]:
        """A page, oldest first, and whether more follow."""
        page = self.store.page(offset, limit)
        return page, offset + limit < self.store.count()

    def delete(self, arn: str) -> None:
        self.store.delete(activity_name(arn))

    def get_task(
        self, arn: str, worker_name: str | None = None, *, wait: float = POLL_SECONDS
    ) -> tuple[str, str] | None:
        """The next task of the activity for this poller, as (token, input JSON text), or
        None when none came within `wait` seconds (AWS answers an empty token then)."""
        name = activity_name(arn)
        deadline = time.monotonic() + wait
        pause = 0.02
        while True:
            found = self.store.pop(name)
            if found is False:
                raise ActivityDoesNotExist(f"Activity Does Not Exist: '{arn}'")
            if isinstance(found, TaskRef):
                started = self._start(found, worker_name)
                if started is not None:
                    return started
                continue  # it moved on (timed out, stopped): take the next one
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sleep(min(pause, left))
            pause = min(pause * 2, 0.5)

    def _start(self, ref: TaskRef, worker_name: str | None) -> tuple[str, str] | None:
        now = self.clock()
        event = h.event(
            iso_timestamp(now), "ActivityStarted", "activityStartedEventDetails",
            workerName=worker_name,
        )
        doc = self.store.start(ref, event, now, now + STARTED_PARK_SECONDS)
        if doc is None:
            return None
        task = doc["task"]
        return str(task["token"]), h.to_json_text(task["input"])


__all__ = [
    "Activities",
    "activity_arn",
    "activity_name",
    "activity_store",
    "hand_off",
    "is_activity_task",
    "rearm_timeout",
]
