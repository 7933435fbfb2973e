"""Callback Tasks (`.waitForTaskToken`): the token, the submission, the durable wait. A
`.sync` job the engine runs itself (a child execution) is submitted the same way and waits
for the job's end (a "poll" timer the shell handles).

A callback Task gets a fresh task token per attempt (`$$.Task.Token`, JSONata
`$states.context.Task.Token`), which the shell draws from a secure source and passes in
`Ctx.task_token` (this module stays pure). The Task is scheduled as any other; when its
handler returns, the task is *submitted* (a `TaskSubmitted` event with what the handler
returned) and the run stays parked in phase "task" until the token is answered: the
answer comes in as `TaskSucceeded`/`TaskFailed` of the same attempt and flows through
ResultSelector/ResultPath/Output or Retry/Catch like any Task's outcome.

TimeoutSeconds and HeartbeatSeconds are durable timers. A commit moves the run's version
and so makes the timers sent for the previous version stale: the submission issues them
again, the timeout for what remains until the task's deadline. A heartbeat only moves a
time kept beside the run (the shell re-arms the heartbeat timer when it finds a newer
heartbeat); an expired one fails the Task with `States.Timeout` in a `TaskTimedOut`
event, as AWS reports it (reference, section 15.3).
"""

from __future__ import annotations

from typing import Any

from engine.asl import resources
from engine.asl.model import TaskState
from engine.interpreter import history as h
from engine.interpreter.step import STOP, Next, StepBase
from engine.interpreter.types import StartTimer, TaskSubmitted

#: How often a `.sync` job (a child execution) is looked at while the Task waits for it.
#: Its end also wakes the Task at once; this bounds the wait if that wake-up is lost.
JOB_POLL_SECONDS = 30.0


def waits_for_token(ref: resources.ResourceRef) -> bool:
    """Whether a Task on this resource waits for its token to be answered."""
    return ref.pattern == "callback"  # `.waitForTaskToken`, and activities


class CallbackTasks(StepBase):
    def issue_token(self) -> None:
        """Give the attempt being entered its token (before its fields are evaluated, so
        that they can read it from the Context Object)."""
        token = self.ctx.task_token
        if token is None:  # TestState: no shell to draw one; not a token anyone answers
            token = f"{self.ctx.random.getrandbits(128):032x}"
        self.doc["token"] = token

    def callback_timers(self, task: dict[str, Any]) -> None:
        """Record the callback's deadline and start its heartbeat timer (the timeout timer
        is the Task's own)."""
        task["token"] = self.doc["token"]
        if task["timeout"] is not None:
            task["deadline"] = self.ctx.now + float(task["timeout"])
        if task["heartbeat"] is not None:
            self.tr.commands.append(
                StartTimer("heartbeat", self.doc["attempt"], float(task["heartbeat"]))
            )

    def task_submitted(self, occ: TaskSubmitted) -> Next | None:
        """The handler returned: log what it returned and wait for the token's answer."""
        state = self.current()
        assert isinstance(state, TaskState)
        ref = resources.parse_resource(state.resource)
        assert ref is not None
        task = dict(self.doc["task"])
        result = occ.result
        lambda_invoke = (ref.resource_type, ref.resource.split(".")[0]) == ("lambda", "invoke")
        if lambda_invoke and not occ.response:
            # What the Lambda API answered (an asynchronous-looking invoke response).
            request_id = f"{self.ctx.random.getrandbits(128):032x}"
            result = resources.lambda_invoke_response(
                result, request_id, resources.http_date(self.ctx.now)
            )
        self.emit(
            h.event(
                self.ts,
                "TaskSubmitted",
                "taskSubmittedEventDetails",
                resourceType=ref.resource_type,
                resource=ref.resource,
                output=h.to_json_text(result),
                outputDetails={"truncated": False},
            )
        )
        task["submitted"] = True
        if ref.pattern == "sync":
            # A job (a child execution) runs now; its result comes when it ends.
            task["job"] = occ.result
            self.tr.commands.append(
                StartTimer("poll", self.doc["attempt"], JOB_POLL_SECONDS)
            )
        self.doc["task"] = task
        # This commit makes the timers of the previous version stale: start them again.
        attempt = self.doc["attempt"]
        deadline = task.get("deadline")
        if deadline is not None:
            remaining = max(0.0, float(deadline) - self.ctx.now)
            self.tr.commands.append(StartTimer("task_timeout", attempt, remaining))
        if task.get("heartbeat") is not None:
            self.tr.commands.append(StartTimer("heartbeat", attempt, float(task["heartbeat"])))
        return STOP


__all__ = ["CallbackTasks", "waits_for_token"]
