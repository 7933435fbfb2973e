"""A Distributed Map's ItemReader, read by the engine: from a local directory
(SFN_ITEM_READER_ROOT: BUCKET/KEY under it) or from S3 through boto3 (moto server); JSON,
JSON Lines and CSV objects and object listings; MaxItems; a failure is the Map's
States.ItemReaderFailed, caught like any other; a registered handler may serve the read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.handlers import Registry
from engine.integrations import Integrations, IntegrationSettings
from engine.runtime.inline import InlineRunner
from tests.integrations.conftest import AwsEmulator


def reader_map(resource: str, parameters: dict[str, Any], config: dict[str, Any] | None = None,
               **more: Any) -> dict[str, Any]:
    reader: dict[str, Any] = {"Resource": resource, "Parameters": parameters}
    if config is not None:
        reader["ReaderConfig"] = config
    return {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemReader": reader, "MaxConcurrency": 2,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "Work", "States": {"Work": {"Type": "Pass", "End": True}}},
        "End": True, **more}}}


def run(definition: dict[str, Any], *, root: Path | None = None, aws: bool = False,
        registry: Registry | None = None, input: Any = None) -> Any:
    registry = registry or Registry()
    settings = IntegrationSettings(aws=aws, item_reader_root=str(root) if root else None)
    runner = InlineRunner(registry, integrations=Integrations(registry, settings))
    runner.create_state_machine("M", definition)
    return runner.run("M", input=input if input is not None else {})


def output(record: Any) -> Any:
    assert record.status == "SUCCEEDED", (record.error, record.cause)
    return json.loads(record.output)


GET = "arn:aws:states:::s3:getObject"
LIST = "arn:aws:states:::s3:listObjectsV2"


def test_json_lines_from_a_local_directory_with_max_items(tmp_path: Path) -> None:
    (tmp_path / "shop" / "in").mkdir(parents=True)
    lines = "\n".join(json.dumps({"orderId": i}) for i in range(10)) + "\n"
    (tmp_path / "shop" / "in" / "orders.jsonl").write_text(lines)
    definition = reader_map(GET, {"Bucket": "shop", "Key.$": "$.key"},
                            {"InputType": "JSONL", "MaxItems": 4})
    registry = Registry()
    runner = InlineRunner(registry, integrations=Integrations(
        registry, IntegrationSettings(item_reader_root=str(tmp_path))))
    runner.create_state_machine("M", definition)
    record = runner.run("M", input={"key": "in/orders.jsonl"})
    assert output(record) == [{"orderId": i} for i in range(4)]
    # AWS logs no Task events for the read.
    assert [e["type"] for e in runner.client.get_history(record.eid)] == [
        "ExecutionStarted", "MapStateEntered", "MapStateStarted", "MapRunStarted",
        "MapRunSucceeded", "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]


def test_csv_with_a_header_row_and_with_given_headers(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "o.csv").write_text("id,total\n1,9.5\n2,3\n")
    (tmp_path / "b" / "p.csv").write_text("1|9.5\n")
    assert output(run(reader_map(GET, {"Bucket": "b", "Key": "o.csv"}, {"InputType": "CSV"}),
                      root=tmp_path)) == [{"id": "1", "total": "9.5"}, {"id": "2", "total": "3"}]
    given = {"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["id", "total"],
             "CSVDelimiter": "PIPE"}
    assert output(run(reader_map(GET, {"Bucket": "b", "Key": "p.csv"}, given),
                      root=tmp_path)) == [{"id": "1", "total": "9.5"}]


def test_a_json_array_and_an_object_listing(tmp_path: Path) -> None:
    (tmp_path / "b" / "x").mkdir(parents=True)
    (tmp_path / "b" / "x" / "a.json").write_text("[1, 2, 3]")
    (tmp_path / "b" / "y.txt").write_text("hi")
    assert output(run(reader_map(GET, {"Bucket": "b", "Key": "x/a.json"}, {"InputType": "JSON"}),
                      root=tmp_path)) == [1, 2, 3]
    listed = output(run(reader_map(LIST, {"Bucket": "b", "Prefix": "x/"}), root=tmp_path))
    assert [item["Key"] for item in listed] == ["x/a.json"]
    assert listed[0]["Size"] == len("[1, 2, 3]")


def test_a_key_cannot_leave_the_readers_directory(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    record = run(reader_map(GET, {"Bucket": "b", "Key": "../../etc/passwd"}), root=tmp_path)
    assert (record.status, record.error) == ("FAILED", "States.ItemReaderFailed")


def test_without_a_source_the_map_fails_and_can_be_caught() -> None:
    definition = reader_map(GET, {"Bucket": "b", "Key": "k"}, {"InputType": "JSON"},
                            Catch=[{"ErrorEquals": ["States.ItemReaderFailed"],
                                    "ResultPath": "$.error", "Next": "NoItems"}])
    definition["States"]["Each"].pop("End")
    definition["States"]["Each"]["Next"] = "NoItems"
    definition["States"]["NoItems"] = {"Type": "Pass", "End": True}
    out = output(run(definition))
    assert out["error"]["Error"] == "States.ItemReaderFailed"
    assert "SFN_ITEM_READER_ROOT" in out["error"]["Cause"]


def test_a_registered_handler_serves_the_read() -> None:
    registry = Registry()
    registry.register("s3:getObject", lambda event, ctx: [event["Key"], "b"])
    assert output(run(reader_map(GET, {"Bucket": "b", "Key": "a"}), registry=registry)) == [
        "a", "b"]


def test_jsonata_arguments(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "k.json").write_text('[{"n": 1}, {"n": 2}]')
    definition = {"QueryLanguage": "JSONata", "StartAt": "Each", "States": {"Each": {
        "Type": "Map", "End": True,
        "ItemReader": {"Resource": GET, "ReaderConfig": {"InputType": "JSON"},
                       "Arguments": {"Bucket": "b", "Key": "{% $states.input.key %}"}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "W", "States": {"W": {
                              "Type": "Pass", "Output": "{% $states.input.n * 10 %}",
                              "End": True}}}}}}
    assert output(run(definition, root=tmp_path, input={"key": "k.json"})) == [10, 20]


def test_s3_through_boto3(aws_env: AwsEmulator) -> None:
    s3: Any = aws_env.client("s3")
    s3.create_bucket(Bucket="orders")
    body = "".join(json.dumps({"orderId": i}) + "\n" for i in range(5))
    s3.put_object(Bucket="orders", Key="2026/12/orders.jsonl", Body=body.encode())
    got = output(run(reader_map(GET, {"Bucket": "orders", "Key": "2026/12/orders.jsonl"},
                                {"InputType": "JSONL"}), aws=True))
    assert got == [{"orderId": i} for i in range(5)]
    listed = output(run(reader_map(LIST, {"Bucket": "orders", "Prefix": "2026/"}), aws=True))
    assert [item["Key"] for item in listed] == ["2026/12/orders.jsonl"]
    missing = run(reader_map(GET, {"Bucket": "orders", "Key": "nope"}, {"InputType": "JSON"}),
                  aws=True)
    assert (missing.error, "NoSuchKey" in missing.cause) == ("States.ItemReaderFailed", True)
