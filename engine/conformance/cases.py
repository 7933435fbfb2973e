"""Conformance cases: one JSON object per line, in three files of three kinds.

    executions.jsonl   a definition, an input, the recorded status/output/error and history
    teststate.jsonl    one state evaluated alone (the TestState API): request and response
    validation.jsonl   a definition (or input) AWS rejected, with its exact error

The kind of a line is told by its fields, so a file may be renamed or mixed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

CaseKind = Literal["execution", "teststate", "validation"]

#: The README's split: these features make a case belong to the JSONata-and-variables issue.
JSONATA_FEATURES: Final = frozenset({"Assign", "QueryLanguage:JSONata", "jsonata-expressions"})


@dataclass(frozen=True)
class Case:
    """One line of a corpus file, with the few facts the runner and scorer ask of it."""

    raw: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.raw["id"])

    @property
    def category(self) -> str:
        return str(self.raw.get("category") or "uncategorised")

    @property
    def kind(self) -> CaseKind:
        return kind_of(self.raw)

    @property
    def flags(self) -> list[str]:
        return list(self.raw.get("flags") or [])

    @property
    def is_jsonata(self) -> bool:
        """The case belongs to the JSONata-and-variables issue (README's split)."""
        info = self.raw.get("definition_info") or {}
        if info.get("query_language") == "JSONata":
            return True
        return bool(JSONATA_FEATURES & set(info.get("features") or ()))

    @property
    def language(self) -> str:
        return "JSONata" if self.is_jsonata else "JSONPath"

    @property
    def clock_dependent(self) -> bool:
        return any(flag.startswith("clock-") for flag in self.flags)

    @property
    def wildcard_values(self) -> frozenset[str]:
        """Literal values the recording replaced and left unresolved (`value "date" ...`):
        README: `unresolved_placeholders` lists what stays a wildcard in a case."""
        found: set[str] = set()
        for entry in self.raw.get("unresolved_placeholders") or ():
            if isinstance(entry, str) and entry.startswith('value "'):
                found.add(entry[len('value "') :].split('"', 1)[0])
        return frozenset(found)


def kind_of(raw: dict[str, Any]) -> CaseKind:
    if "expected_response" in raw:
        return "teststate"
    if (
        "definition_text" in raw
        or "expected_error" in raw
        or raw.get("kind") == ("ValidateStateMachineDefinition")
    ):
        return "validation"
    return "execution"


def iter_cases(path: Path) -> Iterator[Case]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield Case(json.loads(line))


def load_cases(path: Path, *, only: str | None = None, category: str | None = None) -> list[Case]:
    """The cases of `path`, optionally those whose id contains `only` and of `category`."""
    return [
        case
        for case in iter_cases(path)
        if (only is None or only in case.id) and (category is None or case.category == category)
    ]


def load_results(path: Path) -> dict[str, dict[str, Any]]:
    """A results file (one JSON object per line) by case id; the last line of an id wins."""
    results: dict[str, dict[str, Any]] = {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                result = json.loads(line)
                results[result["id"]] = result
    return results


#: The corpus recorded on AWS, vendored in the repository (`conformance/` at its root, with
#: its NOTICE and the Apache-2.0 LICENSE it is distributed under).
CORPUS_DIR: Final = Path(__file__).resolve().parents[2] / "conformance"


def corpus_file(name: str) -> Path:
    """`name` (executions.jsonl, teststate.jsonl, validation.jsonl) of the in-repo corpus.

    A missing file is an error naming where it was expected, never an empty corpus: the
    tests that replay it must fail, not skip, on a checkout without it."""
    path = CORPUS_DIR / name
    if not path.is_file():
        raise FileNotFoundError(
            f"the conformance corpus file {path} is missing: it is part of the repository "
            "(conformance/); restore it with `git checkout -- conformance`"
        )
    return path
