"""Testing workflows like code: run a state machine in-process with mocked or real
handlers and a virtual clock (`Workflow`), AWS Step Functions Local mock files
(`MockConfig`), replay of recorded executions (`replay`), and state coverage (`Coverage`).
The pytest plugin (`engine.testing.plugin`, registered through the `pytest11` entry point)
gives these as fixtures. See docs/testing.md."""

from __future__ import annotations

from engine.testing.coverage import Coverage
from engine.testing.harness import Answer, Execution, Responder, Workflow
from engine.testing.mockconfig import MockConfig, MockConfigError
from engine.testing.replay import ReplayReport, export_execution, replay

__all__ = [
    "Answer",
    "Coverage",
    "Execution",
    "MockConfig",
    "MockConfigError",
    "ReplayReport",
    "Responder",
    "Workflow",
    "export_execution",
    "replay",
]
