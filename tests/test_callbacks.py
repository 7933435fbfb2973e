"""Callback Tasks (`.waitForTaskToken`) over the in-memory store with a virtual clock: the
same driver and interpreter the workers run. The token reaches the handler where the
definition puts it; the run waits (no message in flight) until the token is answered, a
timeout or a missed heartbeat; a token is good for one attempt and one answer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.client import Client
from engine.errors import InvalidOutput, InvalidToken, TaskDoesNotExist, TaskTimedOut
from engine.handlers import Registry, TaskContext
from engine.runtime.callbacks import token_address
from engine.runtime.driver import Driver, DriverSettings
from engine.runtime.recovery import Sweeper
from engine.store.memory import MemoryStore


class Queue:
    def __init__(self) -> None:
        self.sent: list[tuple[dict[str, Any], float]] = []

    def send(self, message: dict[str, Any], *, countdown: float = 0.0) -> None:
        self.sent.append((message, countdown))


class World:
    def __init__(self) -> None:
        self.now = 1000.0
        self.tokens: list[str] = []
        self.events: list[Any] = []
        self.registry = Registry()
        self.registry.register("AskApproval", self.ask)
        self.store = MemoryStore()
        self.queue = Queue()
        self.driver = Driver(
            self.store, self.queue, self.registry, settings=DriverSettings(),
            clock=lambda: self.now,
        )
        self.client = Client(self.store, self.queue, clock=lambda: self.now)

    def ask(self, event: Any, context: TaskContext) -> Any:
        self.events.append(event)
        self.tokens.append(event["token"])
        return {"asked": True}

    def pump(self, *, until: float | None = None) -> list[str]:
        """Deliver what is due (all that is sent now; timers when the clock reaches them)."""
        out = []
        while True:
            due = [(m, c) for m, c in self.queue.sent if c <= 0 or (until and self.now >= until)]
            if not due:
                return out
            message, countdown = due[0]
            self.queue.sent.remove((message, countdown))
            out.append(self.driver.handle(message))

    def fire(self, kind: str) -> str:
        """Deliver the pending timer of `kind`: the recovery sweep finds it due in the
        store (timers past the broker's countdown wait there), then the driver runs it."""
        Sweeper(self.store, self.queue, redeliver_seconds=30.0, clock=lambda: self.now).sweep_once()
        for message, countdown in list(self.queue.sent):
            if message.get("k") == "timer" and message.get("t") == kind:
                self.queue.sent.remove((message, countdown))
                return self.driver.handle(message)
        raise AssertionError(f"no {kind} timer pending: {self.queue.sent}")

    def types(self, arn: str) -> list[str]:
        return [e["type"] for e in self.client.get_history(arn)]


LAMBDA_CB = "arn:aws:states:::lambda:invoke.waitForTaskToken"


def approval(**task: Any) -> dict[str, Any]:
    return {
        "StartAt": "Approve",
        "States": {
            "Approve": {
                "Type": "Task",
                "Resource": LAMBDA_CB,
                "Parameters": {
                    "FunctionName": "AskApproval",
                    "Payload": {"token.$": "$$.Task.Token", "order.$": "$.order"},
                },
                "ResultSelector": {"approved.$": "$.approved"},
                "ResultPath": "$.decision",
                "End": True,
                **task,
            }
        },
    }


def start(w: World, definition: dict[str, Any], name: str = "e") -> Any:
    w.client.create_state_machine("M", definition)
    record = w.client.start_execution("M", {"order": 7}, name=name)
    w.pump()
    return record


def test_the_handler_gets_the_token_and_the_answer_is_the_result() -> None:
    w = World()
    rec = start(w, approval())
    assert w.events == [{"token": w.tokens[0], "order": 7}]
    assert token_address(w.tokens[0]) == (rec.eid, "0")
    # Waiting: submitted, nothing in flight, still running.
    assert w.types(rec.arn)[-3:] == ["TaskScheduled", "TaskStarted", "TaskSubmitted"]
    submitted = w.client.get_history(rec.arn)[-1]["taskSubmittedEventDetails"]
    assert json.loads(submitted["output"])["Payload"] == {"asked": True}
    assert w.queue.sent == []
    assert w.store.get_execution(rec.eid).status == "RUNNING"  # type: ignore[union-attr]
    w.client.send_task_success(w.tokens[0], output_text='{"approved": true, "by": "ann"}')
    w.pump()
    done = w.store.get_execution(rec.eid)
    assert done is not None and done.status == "SUCCEEDED"
    assert json.loads(done.output or "") == {"order": 7, "decision": {"approved": True}}
    history = w.client.get_history(rec.arn)
    assert [e["type"] for e in history][-4:] == [
        "TaskSubmitted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"
    ]
    # The answer as given: no Lambda response around it.
    succeeded = history[-3]["taskSucceededEventDetails"]
    assert json.loads(succeeded["output"]) == {"approved": True, "by": "ann"}
    assert succeeded["resource"] == "invoke.waitForTaskToken"


def test_a_token_answered_twice_changes_nothing_the_second_time() -> None:
    w = World()
    rec = start(w, approval())
    token = w.tokens[0]
    w.client.send_task_success(token, output_text='{"approved": true}')
    with pytest.raises(TaskTimedOut):
        w.client.send_task_success(token, output_text='{"approved": false}')
    with pytest.raises(TaskTimedOut):
        w.client.send_task_failure(token, error="Late")
    with pytest.raises(TaskTimedOut):
        w.client.send_task_heartbeat(token)
    w.pump()
    assert w.types(rec.arn).count("TaskSucceeded") == 1
    assert json.loads(w.store.get_execution(rec.eid).output or "")["decision"] == {  # type: ignore[union-attr]
        "approved": True
    }


def test_a_failure_goes_through_retry_and_the_new_attempt_gets_a_new_token() -> None:
    w = World()
    rec = start(w, _with_catch())
    first = w.tokens[0]
    w.client.send_task_failure(first, error="Rejected", cause="not now")
    w.now += 2
    w.pump(until=w.now)
    assert len(w.tokens) == 2 and w.tokens[1] != first
    with pytest.raises(TaskTimedOut):  # the earlier attempt's token
        w.client.send_task_success(first, output_text="{}")
    w.client.send_task_failure(w.tokens[1], error="Rejected", cause="still no")
    w.pump()
    done = w.store.get_execution(rec.eid)
    assert done is not None and done.status == "SUCCEEDED"
    assert json.loads(done.output or "")["error"] == {"Error": "Rejected", "Cause": "still no"}
    types = w.types(rec.arn)
    assert types.count("TaskFailed") == 2 and types.count("TaskSubmitted") == 2


def _with_catch() -> dict[str, Any]:
    definition = approval(
        Retry=[{"ErrorEquals": ["Rejected"], "IntervalSeconds": 1, "MaxAttempts": 1}],
        Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
    )
    state = definition["States"]["Approve"]
    del state["End"]
    state["Next"] = "Caught"
    definition["States"]["Caught"] = {"Type": "Pass", "End": True}
    return definition


def test_timeout_seconds_fails_the_waiting_task_with_states_timeout() -> None:
    w = World()
    rec = start(w, approval(TimeoutSeconds=60))
    w.now += 61
    assert w.fire("task_timeout") == "applied"
    done = w.store.get_execution(rec.eid)
    assert done is not None and done.status == "FAILED" and done.error == "States.Timeout"
    assert w.types(rec.arn)[-2:] == ["TaskTimedOut", "ExecutionFailed"]
    with pytest.raises(TaskTimedOut):
        w.client.send_task_success(w.tokens[0], output_text="{}")


def test_a_heartbeat_moves_the_heartbeat_deadline_and_a_missed_one_times_out() -> None:
    w = World()
    rec = start(w, approval(TimeoutSeconds=600, HeartbeatSeconds=20))
    w.now += 15
    w.client.send_task_heartbeat(w.tokens[0])
    w.now += 6  # 21 s after the submission, 6 s after the heartbeat
    assert w.fire("heartbeat") == "heartbeat re-armed"
    assert w.store.get_execution(rec.eid).status == "RUNNING"  # type: ignore[union-attr]
    with pytest.raises(AssertionError, match="no heartbeat timer"):
        w.fire("heartbeat")  # re-armed in the store: not due before 15 + 20 s
    w.now += 15  # 21 s after the heartbeat
    assert w.fire("heartbeat") == "applied"
    done = w.store.get_execution(rec.eid)
    assert done is not None and done.status == "FAILED" and done.error == "States.Timeout"
    timed_out = w.client.get_history(rec.arn)[-2]
    assert timed_out["type"] == "TaskTimedOut"
    assert timed_out["taskTimedOutEventDetails"]["error"] == "States.Timeout"


def test_bad_tokens_and_bad_output_get_aws_errors() -> None:
    w = World()
    rec = start(w, approval())
    token = w.tokens[0]
    with pytest.raises(InvalidToken):
        w.client.send_task_success("not a token", output_text="{}")
    with pytest.raises(TaskDoesNotExist):
        w.client.send_task_success("AAAA" * 10, output_text="{}")
    forged = token.rsplit(".", 1)[0] + ".guessed"
    with pytest.raises(TaskTimedOut):
        w.client.send_task_success(forged, output_text="{}")
    with pytest.raises(InvalidOutput):
        w.client.send_task_success(token, output_text="{nope")
    with pytest.raises(InvalidOutput):
        w.client.send_task_success(token, output_text=json.dumps("x" * 262_144))
    # None of it was an answer: the task still waits, and takes the real one.
    w.client.send_task_success(token, output_text='{"approved": false}')
    w.pump()
    assert w.store.get_execution(rec.eid).status == "SUCCEEDED"  # type: ignore[union-attr]


def test_a_stopped_execution_answers_task_timed_out() -> None:
    w = World()
    rec = start(w, approval())
    w.client.stop_execution(rec.arn)
    with pytest.raises(TaskTimedOut):
        w.client.send_task_success(w.tokens[0], output_text="{}")


def test_jsonata_reads_the_token_from_states_context() -> None:
    w = World()
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Approve",
        "States": {
            "Approve": {
                "Type": "Task",
                "Resource": LAMBDA_CB,
                "Arguments": {
                    "FunctionName": "AskApproval",
                    "Payload": {"token": "{% $states.context.Task.Token %}"},
                },
                "Output": "{% $states.result.ok %}",
                "End": True,
            }
        },
    }
    rec = start(w, definition)
    w.client.send_task_success(w.tokens[0], output_text='{"ok": "yes"}')
    w.pump()
    assert w.store.get_execution(rec.eid).output == '"yes"'  # type: ignore[union-attr]


def test_an_answer_before_the_handler_returns_wins_and_the_late_submission_is_dropped() -> None:
    w = World()
    w.client.create_state_machine("M", approval())
    rec = w.client.start_execution("M", {"order": 1}, name="early")
    w.driver.handle(w.queue.sent.pop(0)[0])  # start: schedules the task (run inline: no)
    task = [m for m, _ in w.queue.sent if m["k"] == "task"][0]
    w.queue.sent.clear()
    loaded = w.store.load_run(rec.eid, "0")
    assert loaded is not None
    token = loaded.doc["task"]["token"]
    w.client.send_task_success(token, output_text='{"approved": true}')
    assert w.driver.handle(task).startswith("dropped")
    w.pump()
    assert w.store.get_execution(rec.eid).status == "SUCCEEDED"  # type: ignore[union-attr]
    assert "TaskSubmitted" not in w.types(rec.arn)


def test_map_iterations_each_wait_for_their_own_token() -> None:
    w = World()
    inner = approval()["States"]["Approve"]
    inner["Parameters"]["Payload"] = {"token.$": "$$.Task.Token", "order.$": "$"}
    del inner["ResultSelector"], inner["ResultPath"]
    w.client.create_state_machine("M", {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.orders", "End": True,
        "ItemProcessor": {"StartAt": "Approve", "States": {"Approve": inner}}}}})
    rec = w.client.start_execution("M", {"orders": [1, 2, 3]}, name="map")
    w.pump()
    assert sorted(e["order"] for e in w.events) == [1, 2, 3]
    assert len(set(w.tokens)) == 3
    for event in reversed(w.events):  # answered in another order than asked
        w.client.send_task_success(event["token"], output_text=json.dumps(event["order"] * 10))
        w.pump()
    done = w.store.get_execution(rec.eid)
    assert done is not None and done.status == "SUCCEEDED"
    assert json.loads(done.output or "") == [10, 20, 30]
