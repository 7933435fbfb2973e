"""PascalCase parameters to an API's own names, a job's description back as Step Functions
hands it to the state, and the idempotency tokens, by botocore's models (no emulator)."""

from __future__ import annotations

import datetime as dt

import botocore.session

from engine.integrations import api_shapes

MODELS = botocore.session.get_session()


def _op(service: str, operation: str) -> object:
    return MODELS.get_service_model(service).operation_model(operation)


def test_pascal_case_parameters_reach_a_camel_case_api_and_map_keys_stay() -> None:
    shape = _op("batch", "SubmitJob").input_shape  # type: ignore[attr-defined]
    params = {"JobName": "j", "JobQueue": "q", "JobDefinition": "d",
              "Parameters": {"InputKey": "x"},
              "ContainerOverrides": {"Environment": [{"Name": "A", "Value": "1"}]},
              "NotAMember": 1}
    assert api_shapes.to_api(shape, params) == {
        "jobName": "j", "jobQueue": "q", "jobDefinition": "d",
        "parameters": {"InputKey": "x"},  # a map: its keys are the user's
        "containerOverrides": {"environment": [{"name": "A", "value": "1"}]},
        "NotAMember": 1,  # left for boto3 to name as unknown
    }


def test_a_description_comes_back_in_pascal_case_with_epoch_millisecond_times() -> None:
    shape = _op("ecs", "DescribeTasks").output_shape  # type: ignore[attr-defined]
    at = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.UTC)
    raw = {"tasks": [{"taskArn": "t", "createdAt": at, "tags": [{"key": "k", "value": "v"}],
                      "containers": [{"exitCode": 0, "name": "main"}]}],
           "ResponseMetadata": {"RequestId": "r"}}
    assert api_shapes.from_api(shape, raw) == {"Tasks": [{
        "TaskArn": "t", "CreatedAt": 1735732800000, "Tags": [{"Key": "k", "Value": "v"}],
        "Containers": [{"ExitCode": 0, "Name": "main"}]}]}


def test_the_model_names_the_idempotency_tokens() -> None:
    assert api_shapes.token_members(_op("ecs", "RunTask").input_shape) == [  # type: ignore[attr-defined]
        "clientToken"]
    assert api_shapes.token_members(_op("batch", "SubmitJob").input_shape) == []  # type: ignore[attr-defined]
    assert api_shapes.given({"ClientToken": "mine"}, "clientToken")
    assert api_shapes.token_for("a") == api_shapes.token_for("a") != api_shapes.token_for("b")
    assert len(api_shapes.token_for("a")) == 32
