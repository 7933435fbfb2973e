"""Which states, Choice rules (each rule and Default), Retriers and Catchers a set of
executions exercised, read from their histories (no hook in the interpreter).

    cov = Coverage()
    cov.add(definition_text, history)      # once per execution
    print(cov.table()); cov.write_json("sfn-coverage.json")

How each item is recognised in a history:
- a state: its `...StateEntered` event;
- a Choice rule: the Choice's input is evaluated again with the same pure rule evaluation
  the interpreter uses (`engine.asl.choice`); the first matching rule must lead to the
  state entered next. When it cannot be evaluated again (JSONata, rules that read
  variables or the context object), the rule is the first whose Next is the state entered
  next, else Default;
- a Retrier: the first Retrier whose ErrorEquals matches an error the state reported
  (a `...Failed`/`...TimedOut` event), as the interpreter picks it;
- a Catcher: the first Catcher matching the state's last error, when the state entered
  next is that Catcher's Next.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.asl import choice as choice_rules
from engine.asl import jsonpath
from engine.asl.loader import load
from engine.asl.model import ChoiceState, MapState, ParallelState, StateMachine
from engine.interpreter.retry import find_catcher, find_retrier
from engine.testing import events as ev


def _all_states(machine_states: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for name, state in machine_states.items():
        yield name, state
        if isinstance(state, ParallelState):
            for branch in state.branches:
                yield from _all_states(branch.states)
        elif isinstance(state, MapState):
            yield from _all_states(state.processor.states)


@dataclass
class MachineCoverage:
    """Hit counts for one state machine (items not hit have 0)."""

    states: dict[str, int] = field(default_factory=dict)
    choices: dict[str, dict[str, int]] = field(default_factory=dict)
    retriers: dict[str, list[int]] = field(default_factory=dict)
    catchers: dict[str, list[int]] = field(default_factory=dict)
    executions: int = 0

    @classmethod
    def inventory(cls, machine: StateMachine) -> MachineCoverage:
        found = cls()
        for name, state in _all_states(machine.states):
            found.states[name] = 0
            if isinstance(state, ChoiceState):
                rules = {f"Choices[{i}]": 0 for i in range(len(state.choices))}
                if state.default is not None:
                    rules["Default"] = 0
                found.choices[name] = rules
            if getattr(state, "retry", None):
                found.retriers[name] = [0] * len(state.retry)
            if getattr(state, "catch", None):
                found.catchers[name] = [0] * len(state.catch)
        return found

    def items(self) -> Iterator[tuple[str, str, int]]:
        """(kind, item, hits) for every item, in definition order."""
        for name, hits in self.states.items():
            yield "State", name, hits
            for rule, count in self.choices.get(name, {}).items():
                yield "Choice rule", f"{name}.{rule}", count
            for i, count in enumerate(self.retriers.get(name, [])):
                yield "Retrier", f"{name}.Retry[{i}]", count
            for i, count in enumerate(self.catchers.get(name, [])):
                yield "Catcher", f"{name}.Catch[{i}]", count

    def summary(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for kind, _, hits in self.items():
            entry = out.setdefault(kind, {"covered": 0, "total": 0})
            entry["total"] += 1
            entry["covered"] += 1 if hits else 0
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "executions": self.executions,
            "states": self.states,
            "choiceRules": self.choices,
            "retriers": self.retriers,
            "catchers": self.catchers,
            "summary": self.summary(),
        }


class Coverage:
    """Coverage across executions, per state machine (keyed by its name)."""

    def __init__(self) -> None:
        self.machines: dict[str, MachineCoverage] = {}
        self._models: dict[str, StateMachine] = {}

    def add(self, definition: str, history: Sequence[ev.Event], *, name: str = "StateMachine"
            ) -> None:
        machine = self._models.get(definition)
        if machine is None:
            machine = self._models[definition] = load(definition)
        cov = self.machines.get(name)
        if cov is None:
            cov = self.machines[name] = MachineCoverage.inventory(machine)
        cov.executions += 1
        _observe(cov, dict(_all_states(machine.states)), history)

    def to_json(self) -> dict[str, Any]:
        return {"stateMachines": {name: cov.to_json() for name, cov in self.machines.items()}}

    def write_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n")

    def table(self) -> str:
        lines: list[str] = []
        for name, cov in self.machines.items():
            rows = list(cov.items())
            width = max([len(item) for _, item, _ in rows] + [4])
            lines.append(f"State machine {name} ({cov.executions} executions)")
            lines.append(f"  {'Kind':<12} {'Item':<{width}} {'Hits':>5}")
            for kind, item, hits in rows:
                mark = "" if hits else "  <- not covered"
                lines.append(f"  {kind:<12} {item:<{width}} {hits:>5}{mark}")
            totals = ", ".join(
                f"{kind}s {s['covered']}/{s['total']}" for kind, s in cov.summary().items())
            lines.append(f"  covered: {totals}")
        return "\n".join(lines)


def _observe(cov: MachineCoverage, states: Mapping[str, Any], history: Sequence[ev.Event]
             ) -> None:
    pending_choice: tuple[str, Any] | None = None  # (Choice state name, its input)
    last_error: dict[str, str] = {}
    current: str | None = None
    container: str | None = None  # the last Parallel/Map entered
    for event in history:
        kind = str(event.get("type", ""))
        info = ev.details(event)
        if ev.is_state_entered(event):
            name = str(info.get("name"))
            if pending_choice is not None:
                _count_choice(cov, states, pending_choice, name)
                pending_choice = None
            if current is not None and current in last_error:
                _count_catch(cov, states, current, last_error.pop(current), name)
            if name in cov.states:
                cov.states[name] += 1
            current = name
            if isinstance(states.get(name), ParallelState | MapState):
                container = name
            if isinstance(states.get(name), ChoiceState):
                pending_choice = (name, _parsed(info.get("input")))
            continue
        owner = container if kind.startswith(("Parallel", "Map")) and container else current
        if owner is None:
            continue
        if ev.task_outcome_kind(event) == "Succeeded":
            last_error.pop(owner, None)
        error = info.get("error")
        if isinstance(error, str) and (kind.endswith("Failed") or kind.endswith("TimedOut")):
            if kind.startswith("Execution"):
                continue
            last_error[owner] = error
            state = states.get(owner)
            index = find_retrier(getattr(state, "retry", None), error)
            if index is not None and owner in cov.retriers:
                cov.retriers[owner][index] += 1


def _count_choice(
    cov: MachineCoverage, states: Mapping[str, Any], pending: tuple[str, Any], target: str
) -> None:
    name, data = pending
    state = states.get(name)
    rules = cov.choices.get(name)
    if not isinstance(state, ChoiceState) or rules is None:
        return
    index = _evaluated_rule(state, data, target)
    if index is None:
        index = next((i for i, r in enumerate(state.choices) if r.next == target), None)
    if index is not None:
        rules[f"Choices[{index}]"] += 1
    elif state.default == target and "Default" in rules:
        rules["Default"] += 1


def _evaluated_rule(state: ChoiceState, data: Any, target: str) -> int | None:
    """The rule the interpreter chose, evaluated again; None when it cannot be (JSONata,
    variables, context) or does not lead to `target`."""
    try:
        if state.input_path not in (None, "$"):
            data = jsonpath.get_path(state.input_path, data)
        rule = choice_rules.choose(state, data, context={}, variables={})
    except Exception:  # noqa: BLE001 - any failure: fall back to reading the Next
        return None
    if rule is None or rule.next != target:
        return None
    return next((i for i, r in enumerate(state.choices) if r is rule), None)


def _count_catch(
    cov: MachineCoverage, states: Mapping[str, Any], name: str, error: str, target: str
) -> None:
    found = find_catcher(getattr(states.get(name), "catch", None), error)
    if found is not None and found[1].next == target and name in cov.catchers:
        cov.catchers[name][found[0]] += 1


def _parsed(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return None
