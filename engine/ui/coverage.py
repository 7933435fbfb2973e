"""Test coverage drawn on a state machine's graph.

`sfn test --coverage-file F` and `pytest --sfn-coverage-json=F` write, per state machine
name, the hits of each state, Choice rule (each rule and Default), Retrier and Catcher
(engine/testing/coverage.py). `sfn serve --coverage-file F` (or `SFN_COVERAGE_FILE`) lets
the view read that file, again at each request (tests write it anew), and a state machine's
page (`/ui/state-machines/NAME`, the file's entry of the same name, or `?coverage=ENTRY`)
draws it: every state green with its hits or red "not covered", each Choice rule's and
Default's edge and each Catcher's edge green (with its hits) or red and dashed, the
Retriers' hits under their state. The other edges (Next, End, branches) are not measured
and stay grey.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from engine.asl import graph

#: The environment variable `sfn serve --coverage-file` sets for the view.
ENV: Final = "SFN_COVERAGE_FILE"

COVERED_FILL: Final = "#dcfce7"
COVERED_LINE: Final = "#15803d"
MISSED_FILL: Final = "#fee2e2"
MISSED_LINE: Final = "#b91c1c"


@dataclass(frozen=True)
class Mark:
    """How one node or edge is drawn: covered or not, and what its label adds."""

    covered: bool
    note: str


@dataclass
class Overlay:
    nodes: dict[str, Mark] = field(default_factory=dict)
    #: By the edge's index in `graph.Graph.edges`.
    edges: dict[int, Mark] = field(default_factory=dict)


def read(path: str | Path) -> tuple[dict[str, Any], str | None]:
    """The file's state machines (name -> coverage), and a problem to show instead when it
    cannot be read (missing, not JSON, not a coverage file)."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return {}, f"coverage file {path} not found (run the tests with --coverage-file)"
    except (OSError, ValueError) as exc:
        return {}, f"coverage file {path} cannot be read: {exc}"
    machines = data.get("stateMachines") if isinstance(data, dict) else None
    if not isinstance(machines, dict):
        return {}, f"coverage file {path} has no \"stateMachines\" object"
    return {str(k): v for k, v in machines.items() if isinstance(v, dict)}, None


def _hits(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _times(hits: int) -> str:
    return f"{hits} hit" if hits == 1 else f"{hits} hits"


def overlay(g: graph.Graph, coverage: Mapping[str, Any]) -> Overlay:
    """Which of the graph's states and measured edges the coverage says were exercised."""
    out = Overlay()
    states = coverage.get("states") or {}
    choices = coverage.get("choiceRules") or {}
    retriers = coverage.get("retriers") or {}
    catchers = coverage.get("catchers") or {}
    names: dict[str, str] = {}
    for node in g.nodes:
        if node.kind != "state" or node.name is None:
            continue
        names[node.id] = node.name
        hits = _hits(states.get(node.name))
        note = _times(hits) if hits else "not covered"
        tried = retriers.get(node.name)
        if isinstance(tried, list) and tried:
            note += " · " + ", ".join(f"Retry[{i}] ×{_hits(h)}" for i, h in enumerate(tried))
        out.nodes[node.id] = Mark(hits > 0, note)
    seen: dict[tuple[str, str], int] = {}
    for index, edge in enumerate(g.edges):
        state = names.get(edge.source)
        if state is None or edge.kind not in ("choice", "default", "catch"):
            continue
        k = seen.get((edge.source, edge.kind), 0)
        seen[(edge.source, edge.kind)] = k + 1
        if edge.kind == "choice":
            hits = _hits((choices.get(state) or {}).get(f"Choices[{k}]"))
        elif edge.kind == "default":
            hits = _hits((choices.get(state) or {}).get("Default"))
        else:
            listed = catchers.get(state) or []
            hits = _hits(listed[k]) if isinstance(listed, list) and k < len(listed) else 0
        out.edges[index] = Mark(hits > 0, _times(hits) if hits else "not covered")
    return out


def summary(coverage: Mapping[str, Any]) -> list[tuple[str, int, int]]:
    """(kind, covered, total) per kind, as the coverage file's `summary` has them."""
    found = coverage.get("summary") or {}
    rows: list[tuple[str, int, int]] = []
    for kind, counts in found.items() if isinstance(found, dict) else []:
        if isinstance(counts, dict):
            rows.append((str(kind), _hits(counts.get("covered")), _hits(counts.get("total"))))
    return rows


def missed(coverage: Mapping[str, Any]) -> list[str]:
    """The items never exercised, named as the coverage table names them."""
    out = [f"State {n}" for n, h in (coverage.get("states") or {}).items() if not _hits(h)]
    for state, rules in (coverage.get("choiceRules") or {}).items():
        out += [f"Choice rule {state}.{r}" for r, h in (rules or {}).items() if not _hits(h)]
    for kind, key in (("Retrier", "retriers"), ("Catcher", "catchers")):
        for state, hits in (coverage.get(key) or {}).items():
            prefix = "Retry" if key == "retriers" else "Catch"
            out += [f"{kind} {state}.{prefix}[{i}]" for i, h in enumerate(hits or [])
                    if not _hits(h)]
    return out


__all__ = ["ENV", "Mark", "Overlay", "missed", "overlay", "read", "summary"]
