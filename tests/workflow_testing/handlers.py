"""A stand-in for SQS's SendMessage, for the test cases that leave QueueState unmocked
(`sfn test ... --handlers tests.workflow_testing.handlers`)."""

from __future__ import annotations

from typing import Any

from engine.handlers import TaskContext, handler


@handler("sqs:sendMessage")
def send_message(event: dict[str, Any], context: TaskContext) -> dict[str, Any]:
    return {"MessageId": f"local-{context.attempt}", "MD5OfMessageBody": event["MessageBody"]}
