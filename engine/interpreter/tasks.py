"""Task states: build the task's input, schedule it, and turn its outcome (a result, an
error or a timeout) into the state's output or an error that flows through Retry and Catch.

History, as AWS writes it: a Lambda function ARN gives LambdaFunctionScheduled/Started/
Succeeded/Failed/TimedOut; any other resource (including `lambda:invoke`) gives
TaskScheduled/Started/Succeeded/Failed/TimedOut with its resourceType and resource. The
Started event is appended by the shell when a worker picks the task up.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from engine.asl import errors, jsonpath, resources
from engine.asl.failure import StatesFailure
from engine.asl.jsonvalues import NotJson, loads_strict
from engine.asl.model import MapState, ParallelState, TaskState, is_set
from engine.interpreter import dataflow as df
from engine.interpreter import history as h
from engine.interpreter import jsonata_flow as jf
from engine.interpreter.callbacks import CallbackTasks, waits_for_token
from engine.interpreter.step import STOP, Next
from engine.interpreter.types import (
    JobRunning,
    ScheduleTask,
    StartTimer,
    TaskFailed,
    TaskSucceeded,
)


def is_lambda_invoke(ref: resources.ResourceRef) -> bool:
    return ref.family == "task" and (ref.resource_type, ref.resource.split(".")[0]) == (
        "lambda",
        "invoke",
    )


def lambda_event(parameters: Any) -> Any:
    """What the function receives from `lambda:invoke`: its `Payload`. AWS sends `{}` when
    there is none, and a string Payload as the raw JSON text it holds."""
    payload = parameters.get("Payload") if isinstance(parameters, dict) else None
    if payload is None:
        return {}
    if isinstance(payload, str):
        try:
            return loads_strict(payload)
        except NotJson:
            return payload
    return payload


class TaskStates(CallbackTasks):
    def enter_task(self, state: TaskState, raw: Any) -> Next | None:
        ref = resources.parse_resource(state.resource)
        if ref is not None and waits_for_token(ref):
            self.issue_token()
        env = self.env()
        if self.jsonata(state):
            jenv = self.jenv()
            parameters = jf.arguments(state, raw, jenv)
            self.inspect("afterArguments", parameters)
            timeout, heartbeat = jf.task_timeouts(state, raw, jenv)
            credentials = jf.credentials(state, raw, jenv)
        else:
            value = df.input_path(state, raw, env)
            self.inspect("afterInputPath", value)
            timeout = _seconds_field(state, "TimeoutSeconds", value, env)
            heartbeat = _seconds_field(state, "HeartbeatSeconds", value, env)
            parameters = value
            if is_set(state, "Parameters"):
                parameters = df.render(state.parameters, value, env, "Parameters")
            self.inspect("afterParameters", parameters)
            credentials = None
            if isinstance(state.credentials, dict):
                credentials = df.render(state.credentials, value, env, "Credentials")
        if ref is None:
            raise StatesFailure(errors.RUNTIME, f"Unsupported resource '{state.resource}'.")
        self.doc["task"] = {
            "resource": state.resource,
            "handler": resources.handler_name(ref, parameters),
            # What the handler receives; `parameters` is what the history shows.
            "input": lambda_event(parameters) if is_lambda_invoke(ref) else parameters,
            "parameters": parameters,
            "timeout": timeout,
            "heartbeat": heartbeat,
        }
        role = credentials.get("RoleArn") if isinstance(credentials, dict) else None
        if role is not None:
            # The role the task runs as (AWS shows it as taskCredentials.roleArn); this
            # engine assumes no roles, so it is only recorded.
            self.doc["task"]["role"] = role
        self.schedule_task(state, ref)
        return STOP

    def schedule_task(self, state: TaskState, ref: resources.ResourceRef) -> None:
        task = self.doc["task"]
        text = h.to_json_text(task.get("parameters", task["input"]))
        if ref.family == "activity":
            self.emit(
                h.event(
                    self.ts,
                    "ActivityScheduled",
                    "activityScheduledEventDetails",
                    resource=state.resource,
                    input=text,
                    inputDetails={"truncated": False},
                    timeoutInSeconds=task["timeout"],
                    heartbeatInSeconds=task["heartbeat"],
                )
            )
        elif ref.family == "lambda":
            self.emit(
                h.event(
                    self.ts,
                    "LambdaFunctionScheduled",
                    "lambdaFunctionScheduledEventDetails",
                    resource=state.resource,
                    input=text,
                    inputDetails={"truncated": False},
                    timeoutInSeconds=task["timeout"],
                    taskCredentials=_task_credentials(task),
                )
            )
        else:
            self.emit(
                h.event(
                    self.ts,
                    "TaskScheduled",
                    "taskScheduledEventDetails",
                    resourceType=ref.resource_type,
                    resource=ref.resource,
                    region=self.ctx.execution.region,
                    parameters=text,
                    timeoutInSeconds=task["timeout"],
                    heartbeatInSeconds=task["heartbeat"],
                    taskCredentials=_task_credentials(task),
                )
            )
        self.doc["phase"] = "task"
        attempt = self.doc["attempt"]
        self.tr.commands.append(ScheduleTask(attempt, state.resource))
        if task["timeout"] is not None:
            self.tr.commands.append(StartTimer("task_timeout", attempt, float(task["timeout"])))
            if ref.pattern == "sync" and not resources.starts_execution(ref):
                # A job's polls are steps of their own, each making the timers of the
                # version before stale: they start its timeout again from this deadline.
                task["deadline"] = self.ctx.now + float(task["timeout"])
        if waits_for_token(ref):
            self.callback_timers(task)

    def task_event(self, state: TaskState, what: str, **details: Any) -> None:
        ref = resources.parse_resource(state.resource)
        assert ref is not None
        if ref.family in ("lambda", "activity"):
            prefix = "LambdaFunction" if ref.family == "lambda" else "Activity"
            key = f"{prefix[0].lower()}{prefix[1:]}{what}EventDetails"
            self.emit(h.event(self.ts, f"{prefix}{what}", key, **details))
        else:
            self.emit(
                h.event(
                    self.ts,
                    f"Task{what}",
                    f"task{what}EventDetails",
                    resourceType=ref.resource_type,
                    resource=ref.resource,
                    **details,
                )
            )

    def task_outcome(self, occ: TaskSucceeded | TaskFailed) -> Next | None:
        if "reader" in self.doc["task"]:
            return self.reader_outcome(occ)
        if "writer" in self.doc["task"]:
            return self.writer_outcome(occ)
        state = self.current()
        assert isinstance(state, TaskState)
        ref = resources.parse_resource(state.resource)
        assert ref is not None
        if isinstance(occ, TaskFailed):
            cause = occ.cause
            if is_lambda_invoke(ref) and ref.pattern == "request-response":
                cause = _compact_json_text(cause)  # AWS re-serialises the function's error
            what = "ScheduleFailed" if occ.scheduling else "Failed"
            self.task_event(state, what, error=occ.error, cause=cause)
            return self.handle_error(occ.error, cause)
        result = occ.result
        text = h.to_json_text(result)
        try:
            df.check_size(text, state.resource if ref.family == "lambda" else ref.resource_type)
        except StatesFailure as failure:
            self.task_event(state, "Failed", error=failure.error, cause=failure.cause)
            return self.handle_error(failure.error, failure.cause)
        # A callback's result is the token's answer as given; lambda:invoke wraps only
        # the function's own return.
        if is_lambda_invoke(ref) and ref.pattern == "request-response" and not occ.response:
            request_id = str(uuid.UUID(int=self.ctx.random.getrandbits(128), version=4))
            result = resources.lambda_invoke_response(
                result,
                request_id,
                resources.http_date(self.ctx.now),
                log_result=_log_tail(self.doc["task"].get("parameters"), request_id),
            )
            text = h.to_json_text(result)
        self.inspect("result", result)
        self.task_event(state, "Succeeded", output=text, outputDetails={"truncated": False})
        return self.finish_execution_state(state, result)

    def reader_outcome(self, occ: TaskSucceeded | TaskFailed) -> Next | None:
        raise NotImplementedError  # a Map's (engine/interpreter/children.py)

    def writer_outcome(self, occ: TaskSucceeded | TaskFailed) -> Next | None:
        raise NotImplementedError  # a Map's (engine/interpreter/children.py)

    def job_running(self, occ: JobRunning) -> Next | None:
        """A `.sync` job runs: keep its handle in the snapshot and poll it on a durable
        timer (no worker waits meanwhile). AWS logs TaskSubmitted once, with the start
        call's response; the Task's own timeout keeps running."""
        state = self.current()
        assert isinstance(state, TaskState)
        task = self.doc["task"]
        if "job" not in task:
            text = h.to_json_text(occ.submitted)
            self.task_event(state, "Submitted", output=text, outputDetails={"truncated": False})
        task["job"] = occ.job
        self.tr.commands.append(StartTimer("job_poll", self.doc["attempt"], occ.delay))
        self.keep_job_timeout()
        return STOP

    def poll_job(self, state: TaskState) -> Next | None:
        """Ask the integration about the job again (the same attempt: no new events)."""
        self.tr.commands.append(ScheduleTask(self.doc["attempt"], state.resource))
        self.keep_job_timeout()
        return STOP

    def keep_job_timeout(self) -> None:
        """The Task's TimeoutSeconds keeps counting while its job runs: this step's commit
        makes the timer of the version before stale, so it starts again for what is left."""
        deadline = self.doc["task"].get("deadline")
        if deadline is not None:
            remaining = max(0.0, float(deadline) - self.ctx.now)
            self.tr.commands.append(StartTimer("task_timeout", self.doc["attempt"], remaining))

    def task_timed_out(self, state: TaskState) -> Next | None:
        self.task_event(state, "TimedOut", error=errors.TIMEOUT)
        return self.handle_error(errors.TIMEOUT, None, output_cause="")

    def finish_execution_state(
        self, state: TaskState | ParallelState | MapState, result: Any
    ) -> Next:
        """ResultSelector -> ResultPath -> OutputPath (Assign sees the raw result), for
        Task/Parallel/Map; JSONata: Output (default: the result) and Assign."""
        if self.jsonata(state):
            output, assigned = jf.finish(state, self.doc["input"], self.jenv(), result=result)
            self.exit(state, output, assigned)
            return self.next_of(state, output)
        env = self.env()
        raw = self.doc["input"]
        assigned = df.assign(state.assign, result, env)
        if is_set(state, "ResultSelector"):
            result = df.render(state.result_selector, result, env, "ResultSelector")
        self.inspect("afterResultSelector", result)
        merged = df.result_path(state.result_path, raw, result)
        self.inspect("afterResultPath", merged)
        output = df.output_path(state, merged, env)
        self.exit(state, output, assigned)
        return self.next_of(state, output)


def _task_credentials(task: dict[str, Any]) -> dict[str, Any] | None:
    role = task.get("role")
    return None if role is None else {"roleArn": role}


def _log_tail(parameters: Any, request_id: str) -> str | None:
    """`LogType: Tail` asks Lambda for the end of the invocation's log, base64-encoded."""
    if not isinstance(parameters, dict) or parameters.get("LogType") != "Tail":
        return None
    log = (
        f"START RequestId: {request_id} Version: $LATEST\n"
        f"END RequestId: {request_id}\n"
        f"REPORT RequestId: {request_id}\tDuration: 1.00 ms\n"
    )
    return base64.b64encode(log.encode()).decode()


def _compact_json_text(cause: str | None) -> str | None:
    if cause is None:
        return None
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause
    return h.to_json_text(parsed) if isinstance(parsed, dict) else cause


def _seconds_field(state: TaskState, field: str, value: Any, env: df.Env) -> int | None:
    """TimeoutSeconds/HeartbeatSeconds or their Path form, read from the state's input
    after InputPath (None: not set)."""
    snake = "timeout_seconds" if field == "TimeoutSeconds" else "heartbeat_seconds"
    literal = getattr(state, snake)
    if isinstance(literal, int) and not isinstance(literal, bool):
        return literal
    path = getattr(state, snake + "_path")
    if path is None:
        return None
    try:
        found = jsonpath.get_path(path, value, context=env.context, variables=env.variables)
    except jsonpath.PathNotFound as exc:
        raise StatesFailure(errors.RUNTIME, f"Invalid path '{path}' : {exc.detail}") from None
    if isinstance(found, bool) or not isinstance(found, int) or found <= 0:
        raise StatesFailure(
            errors.RUNTIME,
            f'The {field}Path field refers to value "{jsonpath.compact_json(found)}" '
            f"which is not a valid positive integer: {path}",
        )
    return found


__all__ = ["TaskStates", "STOP", "is_lambda_invoke", "lambda_event"]
