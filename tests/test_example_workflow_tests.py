"""The example of docs/testing.md: tests of workflows/order_processing.asl.json with the
pytest plugin (engine/testing/plugin.py: the `sfn_*` fixtures come with the package) and with
an AWS Step Functions Local mock file (workflows/order_processing.mocks.json). No Redis, no
Celery: the production interpreter and driver run in-process on a virtual clock."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from unittest.mock import Mock

import pytest

import workflows.order_processing  # noqa: F401  (registers ProcessOrderLambda, SendEmailLambda)
from engine.handlers import TaskFailure

WORKFLOWS = Path(__file__).resolve().parent.parent / "workflows"
ORDER = WORKFLOWS / "order_processing.asl.json"
MOCKS = WORKFLOWS / "order_processing.mocks.json"


def test_an_order_is_processed_and_emailed(sfn_workflow: Any) -> None:
    run = sfn_workflow(ORDER).run({"orderId": "12345"})  # the real handlers
    run.assert_succeeded({"status": "Email Sent", "orderId": "12345"})
    run.assert_path(["ProcessOrder", "SendEmail"])


def test_a_failed_email_is_retried(sfn_workflow: Any) -> None:
    email = Mock(side_effect=[TaskFailure("SMTP.Unavailable", "try later"),
                              {"status": "Email Sent", "orderId": "12345"}])
    run = sfn_workflow(ORDER, handlers={"SendEmailLambda": email}).run({"orderId": "12345"})
    run.assert_succeeded({"status": "Email Sent", "orderId": "12345"})
    assert run.task_attempts("SendEmail") == 2  # IntervalSeconds 5 passed in virtual time
    assert email.call_count == 2


def test_an_email_that_keeps_failing_fails_the_order(sfn_workflow: Any) -> None:
    email = Mock(side_effect=TaskFailure("SMTP.Unavailable", "the relay is down"))
    run = sfn_workflow(ORDER, handlers={"SendEmailLambda": email}).run({"orderId": "12345"})
    run.assert_failed("SMTP.Unavailable", "the relay is down")
    assert email.call_count == 4  # the first attempt and MaxAttempts 3 retries


def test_a_caught_failure(sfn_workflow: Any) -> None:
    # The same workflow hardened with a Catch: a failed e-mail is recorded, not fatal.
    definition = json.loads(ORDER.read_text())
    definition["States"]["SendEmail"]["Catch"] = [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.emailError", "Next": "EmailLater"}]
    definition["States"]["EmailLater"] = {"Type": "Pass", "End": True}
    email = Mock(side_effect=TaskFailure("SMTP.Unavailable", "the relay is down"))
    run = sfn_workflow(definition, handlers={"SendEmailLambda": email}).run({"orderId": "1"})
    run.assert_succeeded().assert_path(["ProcessOrder", "SendEmail", "EmailLater"])
    assert run.output["emailError"] == {"Error": "SMTP.Unavailable",
                                        "Cause": "the relay is down"}


@pytest.mark.parametrize(("test_case", "status"), [
    ("HappyPath", "SUCCEEDED"),
    ("EmailRetried", "SUCCEEDED"),
    ("EmailGivesUp", "FAILED"),
    ("RealEmailHandler", "SUCCEEDED"),  # SendEmail is not mocked: the real handler runs
])
def test_the_mock_file(sfn_mock_config: Any, test_case: str, status: str) -> None:
    result = sfn_mock_config(MOCKS).run(ORDER, test_case, input={"orderId": "A-1"},
                                        expected_status=status)
    assert result.passed, result.problems or result.execution.describe()
    if test_case == "EmailRetried":
        assert result.execution.task_attempts("SendEmail") == 3
