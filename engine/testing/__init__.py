"""Testing workflows like code: run a state machine in-process with mocked or real
handlers and a virtual clock (`Workflow`), AWS Step Functions Local mock files
(`MockConfig`), replay of recorded executions (`replay`), and state coverage (`Coverage`).
The pytest plugin (`engine.testing.plugin`, registered through the `pytest11` entry point)
gives these as fixtures. See docs/testing.md."""

from __future__ import annotations

from engine.testing.harness import Answer, Execution, Responder, Workflow

__all__ = ["Answer", "Execution", "Responder", "Workflow"]
