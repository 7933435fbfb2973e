"""A handler the EKS worker tests register: for the whole resource of `eks:runJob`
(request-response), which it serves instead of the built-in integration."""

from __future__ import annotations

from typing import Any

from engine.handlers import TaskContext, handler


@handler("arn:aws:states:::eks:runJob")
def run_job_locally(event: Any, context: TaskContext) -> dict[str, Any]:
    return {"servedBy": "handler", "job": event["Job"]["metadata"]["name"]}
