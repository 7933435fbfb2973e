"""The pytest plugin (engine/testing/plugin.py), tested with pytest's own `pytester`: the
inner sessions load it through the `pytest11` entry point, as a user's project would."""

from __future__ import annotations

import json
from importlib.metadata import entry_points
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
ORDER = str(ROOT / "workflows" / "order_processing.asl.json")

WAIT_AND_RETRY = {
    "StartAt": "Nap",
    "States": {
        "Nap": {"Type": "Wait", "Seconds": 86400, "Next": "Flaky"},
        "Flaky": {
            "Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Flaky",
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 600,
                       "MaxAttempts": 5, "BackoffRate": 3.0}],
            "End": True,
        },
    },
}


def test_the_plugin_is_registered_through_the_pytest11_entry_point() -> None:
    found = {e.name: e.value for e in entry_points(group="pytest11")}
    assert found.get("sfn") == "engine.testing.plugin"


def test_mocks_real_functions_and_a_virtual_clock(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=f"""
        import json
        from datetime import datetime
        from unittest.mock import Mock
        from engine.handlers import TaskFailure

        ORDER = {ORDER!r}
        WAIT_AND_RETRY = json.loads({json.dumps(json.dumps(WAIT_AND_RETRY))})

        def seconds(event):
            return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()

        def test_order_with_a_mock_and_a_real_function(sfn_workflow):
            def process(event, context):
                return {{"orderId": event["orderId"], "total": 42}}
            email = Mock(return_value={{"sent": True}})
            wf = sfn_workflow(ORDER, handlers={{"ProcessOrderLambda": process,
                                                 "SendEmailLambda": email}})
            run = wf.run({{"orderId": "7"}})
            run.assert_succeeded({{"sent": True}}).assert_path(["ProcessOrder", "SendEmail"])
            email.assert_called_once()
            assert email.call_args.args[0] == {{"orderId": "7", "total": 42}}
            assert run.state_output("ProcessOrder") == {{"orderId": "7", "total": 42}}

        def test_a_day_long_wait_and_backoff_take_virtual_time(sfn_workflow):
            flaky = Mock(side_effect=[TaskFailure("Boom", "1"), TaskFailure("Boom", "2"),
                                      {{"ok": True}}])
            run = sfn_workflow(WAIT_AND_RETRY, handlers={{"Flaky": flaky}}).run()
            run.assert_succeeded({{"ok": True}})
            assert run.task_attempts("Flaky") == 3
            entered, exited = run.events("WaitStateEntered")[0], run.events("WaitStateExited")[0]
            assert seconds(exited) - seconds(entered) == 86400
            scheduled = [seconds(e) for e in run.events("LambdaFunctionScheduled")]
            assert [b - a for a, b in zip(scheduled, scheduled[1:])] == [600, 1800]

        def test_a_caught_failure(sfn_workflow):
            bounce = Mock(side_effect=TaskFailure("Bounced", "no such mailbox"))
            wf = sfn_workflow(ORDER, handlers={{"ProcessOrderLambda": {{"orderId": "1"}},
                                                 "SendEmailLambda": bounce}})
            wf.run({{"orderId": "1"}}).assert_failed("Bounced", "no such mailbox")
    """)
    result = pytester.runpytest("-q")
    result.assert_outcomes(passed=3)


def test_failures_show_the_path_and_the_first_diverging_event(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_user=f"""
        from unittest.mock import Mock
        from engine.handlers import TaskFailure

        ORDER = {ORDER!r}
        HANDLERS = {{"ProcessOrderLambda": {{"orderId": "1"}},
                     "SendEmailLambda": Mock(side_effect=TaskFailure("Bounced", "no mailbox"))}}

        def test_wrong_status(sfn_workflow):
            sfn_workflow(ORDER, handlers=HANDLERS).run({{"orderId": "1"}}).assert_succeeded()

        def test_wrong_path(sfn_workflow):
            run = sfn_workflow(ORDER, handlers={{"ProcessOrderLambda": {{}},
                                                  "SendEmailLambda": {{}}}}).run()
            run.assert_path(["ProcessOrder", "Refund"])

        def test_wrong_history(sfn_workflow):
            run = sfn_workflow(ORDER, handlers=HANDLERS).run({{"orderId": "1"}})
            run.assert_history(["ExecutionStarted", "TaskStateEntered",
                                "LambdaFunctionScheduled", "LambdaFunctionStarted",
                                "LambdaFunctionSucceeded", "TaskStateExited",
                                "TaskStateEntered", "LambdaFunctionScheduled",
                                "LambdaFunctionStarted", "LambdaFunctionSucceeded"])
    """)
    result = pytester.runpytest("-q")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines([
        "*expected status SUCCEEDED, got FAILED*",
        "*error='Bounced' cause='no mailbox'*",
        "*path: ProcessOrder -> SendEmail*",
    ])
    result.stdout.fnmatch_lines([
        "*path differs at step 2: expected Refund, got SendEmail*",
        "*expected path: ProcessOrder -> Refund*",
        "*actual path:   ProcessOrder -> SendEmail*",
    ])
    result.stdout.fnmatch_lines([
        "*first diverging event: event 10 (in state SendEmail)*",
        "*expected: LambdaFunctionSucceeded*",
        "*actual:   #10 LambdaFunctionFailed error=Bounced cause=no mailbox*",
    ])


def test_coverage_table_and_json(pytester: pytest.Pytester) -> None:
    branching = {
        "StartAt": "Route",
        "States": {
            "Route": {"Type": "Choice", "Default": "Other", "Choices": [
                {"Variable": "$.kind", "StringEquals": "a", "Next": "A"},
                {"Variable": "$.kind", "StringEquals": "b", "Next": "B"}]},
            "A": {"Type": "Pass", "End": True},
            "B": {"Type": "Pass", "End": True},
            "Other": {"Type": "Pass", "End": True},
        },
    }
    pytester.makepyfile(test_user=f"""
        import json
        DEFINITION = json.loads({json.dumps(json.dumps(branching))})

        def test_a_and_default(sfn_workflow):
            wf = sfn_workflow(DEFINITION, name="Router")
            wf.run({{"kind": "a"}}).assert_path(["Route", "A"])
            wf.run({{"kind": "zzz"}}).assert_path(["Route", "Other"])
    """)
    result = pytester.runpytest("-q", "--sfn-coverage", "--sfn-coverage-json=cov.json")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "*state machine coverage*",
        "State machine Router (2 executions)",
        "*Choice rule*Route.Choices?0?*1",  # fnmatch: ? for the brackets
        "*Choice rule*Route.Choices?1?*0  <- not covered",
        "*Choice rule*Route.Default*1",
        "*State*B*0  <- not covered",
    ])
    report = json.loads((pytester.path / "cov.json").read_text())["stateMachines"]["Router"]
    assert report["choiceRules"]["Route"] == {"Choices[0]": 1, "Choices[1]": 0, "Default": 1}
    assert report["states"] == {"Route": 2, "A": 1, "B": 0, "Other": 1}
    assert report["summary"]["State"] == {"covered": 3, "total": 4}


def test_sfn_replay_fixture_over_a_directory_of_recordings(pytester: pytest.Pytester) -> None:
    from engine.handlers import Registry
    from engine.runtime.inline import InlineRunner
    from engine.testing.replay import export_execution

    registry = Registry()
    registry.register("ProcessOrderLambda", lambda e, c: {"orderId": e["orderId"], "ok": 1})
    registry.register("SendEmailLambda", lambda e, c: {"sent": e["orderId"]})
    runner = InlineRunner(registry)
    runner.create_state_machine("order", Path(ORDER).read_text())
    recordings = pytester.mkdir("recordings")
    for n in ("1", "2"):
        record = runner.run("order", input={"orderId": n}, name=f"order-{n}")
        exported = export_execution(runner.client, record.arn)
        (recordings / f"order-{n}.json").write_text(json.dumps(exported))
    changed = json.loads(Path(ORDER).read_text())
    changed["States"]["SendEmail"]["ResultPath"] = "$.email"
    pytester.makefile(".json", changed=json.dumps(changed))
    pytester.makepyfile(test_user="""
        from pathlib import Path
        import pytest

        RECORDINGS = sorted(Path("recordings").glob("*.json"))

        @pytest.mark.parametrize("recording", RECORDINGS, ids=lambda p: p.stem)
        def test_recorded_executions_still_replay(sfn_replay, recording):
            sfn_replay(recording).assert_same()

        def test_the_changed_definition(sfn_replay):
            sfn_replay(RECORDINGS[0], definition=Path("changed.json")).assert_same()
    """)
    result = pytester.runpytest("-q")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "*replay of arn:aws:states:us-east-1:000000000000:execution:order:order-1: DIVERGED*",
        "*first diverging event: event 11 (in state SendEmail)*",
        "*expected: #11 TaskStateExited name=SendEmail output={\"sent\":\"1\"}*",
    ])
