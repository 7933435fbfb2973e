"""The chaos harness's verdicts, on histories doctored by hand: a check that cannot fail
proves nothing."""

from __future__ import annotations

import copy
import json
from collections import Counter
from typing import Any

from chaos import checks, workload
from engine.runtime.inline import InlineRunner
from engine.store.base import ExecutionRecord

History = list[dict[str, Any]]


def _fault_free(
    machine: str,
) -> tuple[workload.Planned, checks.Expected, ExecutionRecord, History]:
    planned = next(p for p in workload.plan(10, seed=7) if p.machine == machine)
    expected = checks.expected_outcomes([planned])[planned.eid]
    runner = InlineRunner(workload.pure_registry())
    runner.create_state_machine(machine, workload.DEFINITIONS[machine])
    record = runner.run(machine, name=planned.name, input=planned.input)
    return planned, expected, record, runner.client.get_history(record.eid)


def _renumber(history: History) -> History:
    return [{**e, "id": i + 1, "previousEventId": i} for i, e in enumerate(history)]


def test_the_fault_free_run_itself_passes() -> None:
    planned, expected, record, history = _fault_free("ChaosPipeline")
    verdict = checks.verify(planned, expected, record, history)
    assert (verdict.outcome, verdict.duplicates, verdict.missing) == ("ok", 0, 0)


def test_a_state_entered_twice_is_a_duplicate_transition() -> None:
    planned, expected, record, history = _fault_free("ChaosMap")
    entered = next(i for i, e in enumerate(history) if e["type"] == "TaskStateEntered")
    doctored = _renumber(history[: entered + 1] + [copy.deepcopy(history[entered])]
                         + history[entered + 1 :])
    verdict = checks.verify(planned, expected, record, doctored)
    assert verdict.duplicates == 1
    assert "TaskStateEntered" in verdict.duplicate_events[0]


def test_a_missing_event_or_another_output_is_wrong_and_unfinished_is_lost() -> None:
    planned, expected, record, history = _fault_free("ChaosFlaky")
    started = next(i for i, e in enumerate(history) if e["type"] == "LambdaFunctionStarted")
    lacking = _renumber(history[:started] + history[started + 1 :])
    assert checks.verify(planned, expected, record, lacking).outcome == "wrong"

    other = copy.copy(record)
    other.output = json.dumps({"something": "else"})
    assert checks.verify(planned, expected, other, history).outcome == "wrong"

    running = copy.copy(record)
    running.status = "RUNNING"
    assert checks.verify(planned, expected, running, history[:5]).outcome == "lost"
    assert checks.verify(planned, expected, None, []).outcome == "lost"


def test_reruns_and_recovery_latency_from_the_ledger() -> None:
    from chaos.ledger import Start

    starts = [
        Start("a", "k1", pid=11, pgid=10, t=100.0),  # killed with its worker at 101
        Start("b", "k1", pid=21, pgid=20, t=106.5),  # ran again 5.5 s after the kill
        Start("c", "k2", pid=12, pgid=10, t=99.0),  # had returned before the kill
    ]
    kills = [checks.Kill(101.0, "worker", 0, 10)]
    found = checks.recoveries(kills, starts, ends={"b", "c"})
    assert [(r.key, r.latency) for r in found] == [("k1", 5.5)]
    assert checks.reruns({"k1": 2, "k2": 1}).reruns == 1
    causes = checks.rerun_causes(starts, {"b", "c"}, kills, [], t0=0.0)["causes"]
    assert causes == {"kill": 1}


def test_callback_and_nested_runs_compare_equal_across_tokens_and_dates() -> None:
    """Two correct runs of a callback or a nested execution differ in their tokens and
    the child's dates only: masked, their histories are the same; a second answer is a
    duplicate."""
    from chaos import callbacks

    for machine in ("ChaosCallback", "ChaosNested"):
        planned = next(p for p in workload.plan(10, seed=7) if p.machine == machine)
        first = checks.expected_outcomes([planned])[planned.eid]
        asked: list[dict[str, Any]] = []
        runner = InlineRunner(workload.pure_registry(asked), start=1_800_000_000.0)
        for name, definition in workload.DEFINITIONS.items():
            runner.create_state_machine(name, definition)
        record = runner.run(machine, name=planned.name, input=planned.input)
        callbacks.answer_expected(runner.client, asked)
        runner.drain(record.eid)
        record = runner.client.describe_execution(record.eid)
        history = runner.client.get_history(record.eid)
        verdict = checks.verify(planned, first, record, history)
        assert (verdict.outcome, verdict.duplicates) == ("ok", 0), verdict
        if machine == "ChaosCallback":
            assert asked and "<token>" in "".join(first.events)
            succeeded = next(i for i, e in enumerate(history)
                             if e["type"] in ("TaskSucceeded", "TaskFailed"))
            doubled = _renumber(history[: succeeded + 1] + [copy.deepcopy(history[succeeded])]
                                + history[succeeded + 1 :])
            assert checks.verify(planned, first, record, doubled).duplicates == 1


def test_activity_runs_are_expected_as_the_pollers_answer_them() -> None:
    """ChaosActivity's fault-free result comes from the test harness with the activity
    answered as chaos/activity_poller.py answers it (the in-memory store has no activity
    queues): each mode's own history; a second ActivitySucceeded is a duplicate."""
    from chaos import activities

    wanted = {"ok": "ActivitySucceeded", "fail": "ActivityFailed",
              "late": "ActivityTimedOut"}
    for mode, outcome in wanted.items():
        planned = workload.Planned("ChaosActivity", f"act-{mode}", {
            "id": f"act-{mode}", "pack": {"key": f"act-{mode}/pack", "mode": mode},
            "finish": {"key": f"act-{mode}/finish", "ms": 100}})
        expected = checks.expected_outcomes([planned])[planned.eid]
        assert expected.status == "SUCCEEDED"
        kinds = [json.loads(k)["type"] for k in expected.events.elements()]
        assert {"ActivityScheduled", "ActivityStarted", outcome} <= set(kinds), kinds
        answer = expected.output["answer"]
        assert answer == ({"n": 0} if mode != "ok" else
                          {"n": answer["n"], "by": "answerer"})
        run = activities.fault_free(
            "ChaosActivity", json.dumps(workload.DEFINITIONS["ChaosActivity"]), planned.name,
            planned.input, workload.pure_registry(), workload.REGION, workload.ACCOUNT)
        assert Counter(checks.event_key(e) for e in run.history) == expected.events
        done = next(i for i, e in enumerate(run.history) if e["type"] == outcome)
        doubled = run.history[: done + 1] + [copy.deepcopy(run.history[done])]
        extra = Counter(checks.event_key(e) for e in doubled) - expected.events
        assert sum(extra.values()) == 1  # a second outcome of one task: a duplicate


def test_the_chain_machine_runs_its_links_in_order_and_passes() -> None:
    planned, expected, record, history = _fault_free("ChaosChain")
    verdict = checks.verify(planned, expected, record, history)
    assert (verdict.outcome, verdict.duplicates, verdict.missing) == ("ok", 0, 0)
    entered = [e["stateEnteredEventDetails"]["name"] for e in history
               if e["type"] == "TaskStateEntered"]
    assert entered == [f"Link{i}" for i in range(1, workload.CHAIN + 1)]


def test_the_raw_answers_of_aws_tasks_are_masked_in_event_keys() -> None:
    """ChaosJobs' TaskSubmitted/TaskSucceeded carry AWS's ids and dates (chaos/integrations.py):
    two correct runs differ there only; other events and other resources stay compared."""
    def event(resource_type: str, output: str) -> dict[str, Any]:
        return {"id": 5, "type": "TaskSucceeded", "taskSucceededEventDetails": {
            "resourceType": resource_type, "resource": "startBuild.sync", "output": output}}

    assert checks.event_key(event("codebuild", '{"Build":{"Id":"a"}}')) == checks.event_key(
        event("codebuild", '{"Build":{"Id":"b"}}'))
    assert checks.event_key(event("lambda", '{"x":1}')) != checks.event_key(
        event("lambda", '{"x":2}'))
