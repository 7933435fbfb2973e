"""Tasks that wait, answered in-process: callbacks (`.waitForTaskToken`), activities and
child executions (`states:startExecution`, any pattern), for the test harness.

In production such a Task is answered from outside (SendTaskSuccess, an activity poller, a
child's end). In a test the answer comes from a responder (a mock file, a recording):

- a mocked one (Step Functions Local's semantics: "a mocked Task never calls the service
  endpoint", and a `.waitForTaskToken` Task gets a generated token): nothing is called, no
  child is started, and the mocked response *is* the Task's outcome, as if the token had
  been answered with it (`Return`: SendTaskSuccess's output; `Throw`: SendTaskFailure's
  error and cause; for `.sync` the finished job's response). History: `TaskScheduled`,
  `TaskStarted`, `TaskSucceeded`/`TaskFailed` (an activity: `ActivityScheduled`,
  `ActivityStarted`, `ActivitySucceeded`/`ActivityFailed`);
- a replayed one: first the recorded submission (`TaskSubmitted`, what the handler or the
  child's start returned), then the recorded answer, each at its recorded time; or no
  answer at all, and the Task's own timeout fires as it did.

The outcome is committed through the production driver's `step`, like an answer to a
token (engine/runtime/callbacks.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from engine.handlers import Invocation, TaskContext, invoke
from engine.interpreter import history as h
from engine.interpreter.types import TaskFailed, TaskSubmitted, TaskSucceeded, iso_timestamp
from engine.runtime import messages, nested
from engine.runtime.activities import activity_name, is_activity_task
from engine.runtime.commits import started_event
from engine.runtime.messages import Message
from engine.store.base import LoadedRun

if TYPE_CHECKING:
    from engine.testing.harness import Answer, _TestDriver

#: The worker name of a mocked activity's ActivityStarted event.
MOCK_WORKER = "sfn-test"


def waits(driver: _TestDriver, message: Message, loaded: LoadedRun) -> bool:
    """Whether this Task waits for an answer from outside (callback, activity, child)."""
    task = loaded.doc.get("task") or {}
    return bool(is_activity_task(message) or task.get("token") or nested.serves(driver, message))


def answer_waiting(
    driver: _TestDriver,
    message: Message,
    ask: Callable[[str, LoadedRun], Answer | None],
) -> str | None:
    """Answer a waiting Task from `ask`; None when it is not one, or `ask` has no answer
    for it (the caller then runs it as production would)."""
    eid, run, version, attempt = message["x"], message["r"], message["v"], message["a"]
    loaded = driver.store.load_run(eid, run)
    if (
        loaded is None
        or loaded.version != version
        or loaded.doc.get("phase") != "task"
        or loaded.doc.get("attempt") != attempt
        or not waits(driver, message, loaded)
    ):
        return None
    answer = ask(eid, loaded)
    activity = is_activity_task(message)
    if answer is None:
        if not activity:
            return None
        # No poller runs in a test: a handler registered under the activity's name plays
        # it, else the task waits (and its TimeoutSeconds, if any, decides).
        found = driver.registry.get(activity_name(loaded.doc["task"]["resource"]))
        if found is None:
            return "waiting for an activity worker (none in this test)"
        from engine.testing.harness import Answer

        context = TaskContext(found.name, eid, str(loaded.doc["state"]), attempt,
                              f"{eid}/{run}/{loaded.doc['state']}/{attempt}")
        event = json.loads(json.dumps(loaded.doc["task"]["input"]))
        answer = Answer(invoke(found, event, context))
    now = driver.clock()
    entry = messages.entry_id(message)
    started = (
        h.event(iso_timestamp(now), "ActivityStarted", "activityStartedEventDetails",
                workerName=answer.worker_name or MOCK_WORKER)
        if activity else started_event(message, now)
    )
    claim = driver.store.claim_task(
        eid, run, version, attempt, now=now, lease_until=now + driver.settings.lease_seconds,
        owner=driver.owner, entry_id=entry, started_event=started,
    )
    if not claim.ok or claim.loaded is None:
        return f"dropped ({claim.reason})"
    current = claim.loaded
    consumed = entry
    if answer.submission is not None:
        driver.move_clock(answer.submitted_at)
        driver.step(eid, run, current, TaskSubmitted(attempt, answer.submission.result,
                                                     response=True), consumed=entry)
        reloaded = driver.store.load_run(eid, run)
        if reloaded is None or reloaded.doc.get("phase") != "task":
            return "submitted"
        current = reloaded
        consumed = f"answer|{run}|{current.version}"
    if answer.unanswered:
        return "left unanswered"
    driver.move_clock(answer.at)
    return driver.step(eid, run, current, _occurrence(attempt, answer.invocation),
                       consumed=consumed)


def _occurrence(attempt: int, outcome: Invocation) -> TaskSucceeded | TaskFailed:
    if outcome.ok:
        return TaskSucceeded(attempt, outcome.result, response=outcome.response)
    return TaskFailed(attempt, outcome.error, outcome.cause)


__all__ = ["MOCK_WORKER", "answer_waiting", "waits"]
