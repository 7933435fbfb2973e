"""ResultWriter's WriterConfig shapes (pure): each child's entry under NONE, COMPACT and
FLATTEN (a failed child's entry unchanged), JSON and JSON Lines files and their names,
the manifest's ResultFiles, PENDING entries; and the ReaderConfig / ResultWriter fields
refused at creation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.asl.validation import validate
from engine.interpreter import result_files as rf

OK = {"ExecutionArn": "arn:x:1", "Status": "SUCCEEDED", "Output": json.dumps([{"a": 1}, {"a": 2}])}
SCALAR = {"ExecutionArn": "arn:x:2", "Status": "SUCCEEDED", "Output": json.dumps({"b": 3})}
BAD = {"ExecutionArn": "arn:x:3", "Status": "FAILED", "Error": "E", "Cause": "C"}


def test_transformations_shape_each_entry_as_aws_documents() -> None:
    entries = [OK, SCALAR, BAD]
    assert list(rf.transformed(entries, "NONE")) == entries
    assert list(rf.transformed(entries, "COMPACT")) == [[{"a": 1}, {"a": 2}], {"b": 3}, BAD]
    assert list(rf.transformed(entries, "FLATTEN")) == [{"a": 1}, {"a": 2}, {"b": 3}, BAD]
    assert rf.flattened([[1, 2], {"x": 1}, [], [3]]) == [1, 2, {"x": 1}, 3]


def test_defaults_files_and_manifest() -> None:
    assert rf.writer_config({"resource": "arn:aws:states:::s3:putObject"}) == ("NONE", "JSON")
    assert rf.writer_config({"resource": "", "config": {"OutputType": "JSONL"}}) == (
        "COMPACT", "JSONL")
    assert rf.writer_config({"resource": "r", "config": {"Transformation": "FLATTEN"}}) == (
        "FLATTEN", "JSON")
    assert rf.file_body([{"a": 1}, 2], "JSONL") == b'{"a":1}\n2\n'
    assert json.loads(rf.file_body([{"a": 1}, 2], "JSON")) == [{"a": 1}, 2]
    assert rf.file_key("out/id", "PENDING", 3, "JSONL") == "out/id/PENDING_3.jsonl"
    assert rf.file_key("out/id", "SUCCEEDED", 0, "JSON") == "out/id/SUCCEEDED_0.json"
    files = [{"status": "SUCCEEDED", "Key": "k0", "Size": 5},
             {"status": "PENDING", "Key": "k1", "Size": 7}]
    assert rf.manifest("b", "arn:mr", files) == {
        "DestinationBucket": "b", "MapRunArn": "arn:mr",
        "ResultFiles": {"FAILED": [], "PENDING": [{"Key": "k1", "Size": 7}],
                        "SUCCEEDED": [{"Key": "k0", "Size": 5}]}}
    pending = rf.pending_entry("arn:e", "n", "arn:m", {"n": 1})
    assert pending == {"ExecutionArn": "arn:e", "Input": '{"n":1}',
                       "InputDetails": {"Included": True}, "Name": "n",
                       "StateMachineArn": "arn:m", "Status": "PENDING"}


def dmap(writer: Any = None, config: Any = None, language: str = "JSONPath") -> dict[str, Any]:
    reader: dict[str, Any] = {"Resource": "arn:aws:states:::s3:getObject",
                              "Parameters" if language == "JSONPath" else "Arguments":
                              {"Bucket": "b", "Key": "k"}}
    if config is not None:
        reader["ReaderConfig"] = config
    state: dict[str, Any] = {
        "Type": "Map", "ItemReader": reader, "End": True,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}
    if writer is not None:
        state["ResultWriter"] = writer
    return {"QueryLanguage": language, "StartAt": "M", "States": {"M": state}}


PUT = "arn:aws:states:::s3:putObject"
WC = {"Transformation": "FLATTEN", "OutputType": "JSONL"}


@pytest.mark.parametrize("writer", [
    {"WriterConfig": WC},
    {"Resource": PUT, "Parameters": {"Bucket": "b", "Prefix": "p"}},
    {"Resource": PUT, "Parameters": {"Bucket": "b"}, "WriterConfig": WC},
])
def test_the_accepted_result_writers(writer: dict[str, Any]) -> None:
    assert validate(dmap(writer)) == []
    if "Parameters" in writer:
        writer = {**writer, "Arguments": writer["Parameters"]}
        del writer["Parameters"]
    assert validate(dmap(writer, language="JSONata")) == []


@pytest.mark.parametrize(("writer", "language", "message", "where"), [
    ({}, "JSONPath", "At least one of the fields 'WriterConfig' or 'Resource' is required", ""),
    ({"Resource": PUT}, "JSONPath", "These fields are required: [Parameters]", ""),
    ({"Resource": PUT, "WriterConfig": WC}, "JSONata",
     "These fields are required: [Arguments]", ""),
    ({"Parameters": {"Bucket": "b"}}, "JSONPath", "These fields are required: [Resource]", ""),
    ({"WriterConfig": {"Transformation": "SQUASH"}}, "JSONPath",
     "The field 'Transformation' should have one of these values: [NONE, COMPACT, FLATTEN]",
     "/WriterConfig/Transformation"),
    ({"WriterConfig": {"OutputType": "CSV"}}, "JSONata",
     "The field 'OutputType' should have one of these values: [JSON, JSONL]",
     "/WriterConfig/OutputType"),
    ({"WriterConfig": {"Format": "JSON"}}, "JSONPath", "Field 'Format' is not supported",
     "/WriterConfig"),
])
def test_the_refused_result_writers(writer: dict[str, Any], language: str, message: str,
                                    where: str) -> None:
    found = validate(dmap(writer, language=language))
    assert [(d.message, d.location) for d in found] == [
        (message, "/States/M/ResultWriter" + where)]


@pytest.mark.parametrize(("config", "message", "where"), [
    ({"InputType": "XML"},
     "The field 'InputType' should have one of these values: [CSV, JSON, JSONL, PARQUET, "
     "MANIFEST]", "/InputType"),
    ({"InputType": "CSV", "ManifestType": "HIVE"},
     "The field 'ManifestType' should have one of these values: [S3_INVENTORY, ATHENA_DATA]",
     "/ManifestType"),
    ({"InputType": "JSON", "ManifestType": "ATHENA_DATA"},
     "The field 'InputType' should have one of these values with ManifestType 'ATHENA_DATA': "
     "[CSV, JSONL, PARQUET]", "/InputType"),
    ({"InputType": "CSV", "CSVDelimiter": "COLON"},
     "The field 'CSVDelimiter' should have one of these values: [COMMA, PIPE, SEMICOLON, "
     "SPACE, TAB]", "/CSVDelimiter"),
])
def test_reader_configs_refused(config: dict[str, Any], message: str, where: str) -> None:
    found = validate(dmap(config=config))
    assert [(d.message, d.location) for d in found] == [
        (message, "/States/M/ItemReader/ReaderConfig" + where)]
    for good in ({"InputType": "MANIFEST"}, {"InputType": "CSV", "ManifestType": "S3_INVENTORY"},
                 {"InputType": "JSONL", "ManifestType": "ATHENA_DATA", "MaxItems": 5},
                 {"InputType": "CSV", "CSVDelimiter": "TAB", "CSVHeaderLocation": "GIVEN",
                  "CSVHeaders": ["a"]}):
        assert validate(dmap(config=good)) == []
