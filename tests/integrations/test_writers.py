"""A Distributed Map's ResultWriter: the Map Run's results and AWS's manifest.json written
under the prefix, to a local directory or to S3 (moto server); the example
workflows/orders_batch.asl.json reads a file of orders and writes a result file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.handlers import Registry
from engine.integrations import Integrations, IntegrationSettings
from engine.runtime.inline import InlineRunner
from tests.integrations.conftest import AwsEmulator

EXAMPLE = Path("workflows/orders_batch.asl.json")
ORDERS = [
    {"orderId": "o-1", "lines": [{"price": 2.5, "quantity": 2}, {"price": 1, "quantity": 3}]},
    {"orderId": "o-2", "lines": [{"price": 10, "quantity": 1}]},
    {"orderId": "o-3", "lines": [{"price": 0.1, "quantity": 3}]},
]
PRICED = [{"orderId": "o-1", "total": 8}, {"orderId": "o-2", "total": 10},
          {"orderId": "o-3", "total": 0.3}]


def runner(*, root: Path | None = None, aws: bool = False) -> InlineRunner:
    registry = Registry()
    return InlineRunner(registry, integrations=Integrations(registry, IntegrationSettings(
        aws=aws, item_reader_root=str(root) if root else None)))


def jsonl(items: list[Any]) -> str:
    return "".join(json.dumps(item) + "\n" for item in items)


def test_the_orders_example_reads_a_file_and_writes_a_result_file(tmp_path: Path) -> None:
    (tmp_path / "shop" / "in").mkdir(parents=True)
    (tmp_path / "shop" / "in" / "orders.jsonl").write_text(jsonl(ORDERS))
    r = runner(root=tmp_path)
    r.create_state_machine("Batch", EXAMPLE)
    record = r.run("Batch", input={"bucket": "shop", "ordersKey": "in/orders.jsonl"})
    assert record.status == "SUCCEEDED", record.cause
    details = json.loads(record.output)["manifest"]
    assert details["Bucket"] == "shop" and details["Key"].startswith("priced/")
    manifest = json.loads((tmp_path / "shop" / details["Key"]).read_text())
    assert manifest["DestinationBucket"] == "shop"
    assert manifest["MapRunArn"].startswith("arn:aws:states:us-east-1:")
    assert manifest["ResultFiles"]["FAILED"] == [] and manifest["ResultFiles"]["PENDING"] == []
    [results_file] = manifest["ResultFiles"]["SUCCEEDED"]
    body = (tmp_path / "shop" / results_file["Key"]).read_bytes()
    assert results_file["Size"] == len(body)
    entries = json.loads(body)
    assert [json.loads(e["Output"]) for e in entries] == PRICED
    assert {e["Status"] for e in entries} == {"SUCCEEDED"}
    types = [e["type"] for e in r.client.get_history(record.eid)]
    assert types == ["ExecutionStarted", "MapStateEntered", "MapStateStarted", "MapRunStarted",
                     "MapRunSucceeded", "MapStateSucceeded", "MapStateExited",
                     "ExecutionSucceeded"]


def test_without_a_destination_the_map_fails_with_result_writer_failed() -> None:
    registry = Registry()
    registry.register("s3:getObject", lambda event, ctx: ORDERS)
    r = InlineRunner(registry, integrations=Integrations(registry, IntegrationSettings()))
    r.create_state_machine("Batch", EXAMPLE)
    record = r.run("Batch", input={"bucket": "shop", "ordersKey": "k"})
    assert (record.status, record.error) == ("FAILED", "States.ResultWriterFailed")
    assert "SFN_ITEM_READER_ROOT" in record.cause


def test_the_orders_example_against_s3(aws_env: AwsEmulator) -> None:
    s3: Any = aws_env.client("s3")
    s3.create_bucket(Bucket="shop")
    s3.put_object(Bucket="shop", Key="in/orders.jsonl", Body=jsonl(ORDERS).encode())
    r = runner(aws=True)
    r.create_state_machine("Batch", EXAMPLE)
    record = r.run("Batch", input={"bucket": "shop", "ordersKey": "in/orders.jsonl"})
    assert record.status == "SUCCEEDED", record.cause
    key = json.loads(record.output)["manifest"]["Key"]
    manifest = json.loads(s3.get_object(Bucket="shop", Key=key)["Body"].read())
    [results_file] = manifest["ResultFiles"]["SUCCEEDED"]
    entries = json.loads(s3.get_object(Bucket="shop", Key=results_file["Key"])["Body"].read())
    assert [json.loads(e["Output"]) for e in entries] == PRICED


def _pairs_map(writer: dict[str, Any], language: str = "JSONPath") -> dict[str, Any]:
    reader: dict[str, Any] = {"Resource": "arn:aws:states:::s3:getObject",
                              "ReaderConfig": {"InputType": "JSONL"}}
    if language == "JSONata":
        reader["Arguments"] = {"Bucket": "b", "Key": "in.jsonl"}
        reader["ReaderConfig"]["MaxItems"] = "{% $states.input.limit %}"
        work = {"Type": "Pass", "Output": "{% [$states.input.n, $states.input.n] %}", "End": True}
    else:
        reader["Parameters"] = {"Bucket": "b", "Key": "in.jsonl"}
        work = {"Type": "Pass", "Parameters": {"p.$": "States.Array($.n, $.n)"},
                "OutputPath": "$.p", "End": True}
    return {"QueryLanguage": language, "StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemReader": reader, "ResultWriter": writer, "End": True,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "W", "States": {"W": work}}}}}


def test_writer_config_inside_the_execution(tmp_path: Path) -> None:
    """The in-execution Map (no Redis: InlineRunner) shapes its results the same way:
    WriterConfig alone is the Map's output; with an export, JSON Lines files."""
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "in.jsonl").write_text(jsonl([{"n": n} for n in range(3)]))
    r = runner(root=tmp_path)
    r.create_state_machine("Flat", _pairs_map({"WriterConfig": {"Transformation": "FLATTEN",
                                                                "OutputType": "JSON"}}))
    assert json.loads(r.run("Flat", input={}).output) == [0, 0, 1, 1, 2, 2]
    r.create_state_machine("None", _pairs_map({"WriterConfig": {"Transformation": "NONE"}}))
    assert json.loads(r.run("None", input={}).output)[1] == {"Output": "[1,1]",
                                                            "Status": "SUCCEEDED"}
    r.create_state_machine("Lines", _pairs_map({
        "Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "b", "Prefix": "o"},
        "WriterConfig": {"Transformation": "COMPACT", "OutputType": "JSONL"}}))
    record = r.run("Lines", input={})
    assert record.status == "SUCCEEDED", record.cause
    key = json.loads(record.output)["ResultWriterDetails"]["Key"]
    [listed] = json.loads((tmp_path / "b" / key).read_text())["ResultFiles"]["SUCCEEDED"]
    assert listed["Key"].endswith("/SUCCEEDED_0.jsonl")
    assert (tmp_path / "b" / listed["Key"]).read_text() == "[0,0]\n[1,1]\n[2,2]\n"
    # JSONata: MaxItems an expression on the input
    r.create_state_machine("Jsonata", _pairs_map(
        {"WriterConfig": {"Transformation": "FLATTEN", "OutputType": "JSON"}}, "JSONata"))
    assert json.loads(r.run("Jsonata", input={"limit": 2}).output) == [0, 0, 1, 1]
