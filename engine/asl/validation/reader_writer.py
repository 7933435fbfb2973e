"""A Distributed Map's ItemReader and ResultWriter, checked at creation (AWS's developer
guide, "ItemReader (Map)" and "ResultWriter (Map)"):

- ResultWriter may not be empty: `WriterConfig` alone (the transformed results are the
  state's output), `Resource` with `Parameters` (JSONPath) / `Arguments` (JSONata) (the
  results exported to S3), or all three. `WriterConfig` has `Transformation` (NONE,
  COMPACT, FLATTEN) and `OutputType` (JSON, JSONL), in either query language.
- ReaderConfig's enumerations: `InputType` (CSV, JSON, JSONL, PARQUET, MANIFEST),
  `CSVHeaderLocation` (FIRST_ROW, GIVEN), `CSVDelimiter` (COMMA, PIPE, SEMICOLON, SPACE,
  TAB), `ManifestType` (S3_INVENTORY, ATHENA_DATA; ATHENA_DATA with InputType CSV, JSONL
  or PARQUET, S3_INVENTORY with CSV), `Transformation` (NONE, LOAD_AND_FLATTEN);
  `MaxItemsPath` is JSONPath's only.

The messages follow the validator's own wording for the same kinds of fault (AWS's exact
text for these was not observed)."""

from __future__ import annotations

from typing import Any, Final

from engine.asl.model import JSONATA
from engine.asl.validation import fields
from engine.asl.validation.context import Checker, StateInfo
from engine.asl.validation.diagnostics import child

_READER_ENUMS: Final = {
    "InputType": ("CSV", "JSON", "JSONL", "PARQUET", "MANIFEST"),
    "CSVHeaderLocation": ("FIRST_ROW", "GIVEN"),
    "CSVDelimiter": ("COMMA", "PIPE", "SEMICOLON", "SPACE", "TAB"),
    "ManifestType": ("S3_INVENTORY", "ATHENA_DATA"),
    "Transformation": ("NONE", "LOAD_AND_FLATTEN"),
}
_MANIFEST_INPUTS: Final = {"ATHENA_DATA": ("CSV", "JSONL", "PARQUET"), "S3_INVENTORY": ("CSV",)}
_WRITER_ENUMS: Final = {
    "Transformation": ("NONE", "COMPACT", "FLATTEN"),
    "OutputType": ("JSON", "JSONL"),
}


def _enum(checker: Checker, name: str, value: Any, allowed: tuple[str, ...],
          location: str) -> None:
    if not isinstance(value, str):
        fields.expect_type(checker, "STRING", location)
    elif value not in allowed:
        checker.report(
            f"The field '{name}' should have one of these values: [{', '.join(allowed)}]",
            location,
        )


def check_reader_config(checker: Checker, state: StateInfo, config: Any, location: str) -> None:
    if not isinstance(config, dict):
        fields.expect_type(checker, "OBJECT", location)
        return
    for key, value in config.items():
        if key in _READER_ENUMS:
            _enum(checker, key, value, _READER_ENUMS[key], child(location, key))
        elif key == "MaxItemsPath" and state.language == JSONATA:
            checker.wrong_language(key, state.language, location)
    manifest = config.get("ManifestType")
    kind = config.get("InputType")
    if isinstance(manifest, str) and manifest in _MANIFEST_INPUTS and isinstance(kind, str):
        if kind not in _MANIFEST_INPUTS[manifest]:
            checker.report(
                f"The field 'InputType' should have one of these values with ManifestType "
                f"'{manifest}': [{', '.join(_MANIFEST_INPUTS[manifest])}]",
                child(location, "InputType"),
            )


def check_result_writer(checker: Checker, state: StateInfo, body: dict[str, Any],
                        location: str) -> None:
    arguments = "Arguments" if state.language == JSONATA else "Parameters"
    if not body:
        checker.report("At least one of the fields 'WriterConfig' or 'Resource' is required",
                       location)
    elif "Resource" in body and arguments not in body:
        checker.report(f"These fields are required: [{arguments}]", location)
    elif arguments in body and "Resource" not in body:
        checker.report("These fields are required: [Resource]", location)
    for key in body:
        if key not in ("Resource", "WriterConfig", "Parameters", "Arguments"):
            checker.unsupported(key, location)
        elif key in ("Parameters", "Arguments") and key != arguments:
            checker.wrong_language(key, state.language, location)
    config = body.get("WriterConfig")
    if config is None:
        return
    here = child(location, "WriterConfig")
    if not isinstance(config, dict):
        fields.expect_type(checker, "OBJECT", here)
        return
    for key, value in config.items():
        if key not in _WRITER_ENUMS:
            checker.unsupported(key, here)
        else:
            _enum(checker, key, value, _WRITER_ENUMS[key], child(here, key))


__all__ = ["check_reader_config", "check_result_writer"]
