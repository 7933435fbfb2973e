"""Shapes found in state machines that teams deploy on AWS, which CreateStateMachine
accepts, and their AWS-refused counterparts. Each case is written here in its own words;
no public definition is copied."""

from __future__ import annotations

from typing import Any

from engine.asl.validation import validate

Doc = dict[str, Any]
LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:fn"


def single_task(**fields: Any) -> Doc:
    state = {"Type": "Task", "Resource": LAMBDA, "End": True, **fields}
    return {"StartAt": "Only", "States": {"Only": state}}


def test_a_member_name_may_follow_a_bracket_without_a_dot() -> None:
    # Jayway reads `[0]Name` as `[0].Name`.
    document = single_task(ResultSelector={"first.$": "$.volumes[0]VolumeId"})
    assert validate(document) == []
