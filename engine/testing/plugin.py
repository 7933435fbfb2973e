"""The pytest plugin (entry point `pytest11: sfn = engine.testing.plugin`): installing the
package is enough.

Fixtures:
- `sfn_workflow(definition, handlers=..., ...)` -> `Workflow`: run a state machine in-process
  (production driver and interpreter, in-memory store, virtual clock);
- `sfn_mock_config(path)` -> `MockConfig`: an AWS Step Functions Local mock file, whose test
  cases run with `config.run(definition, test_case)`;
- `sfn_replay(recording, definition=None)` -> `ReplayReport`: re-run a recorded execution;
- `sfn_coverage`: the session's `Coverage`, fed by every execution the fixtures run.

Options: `--sfn-coverage` prints the coverage table at the end of the session;
`--sfn-coverage-json=PATH` also writes it as JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from engine.testing.coverage import Coverage
from engine.testing.harness import Execution, Workflow

_COVERAGE_KEY = pytest.StashKey[Coverage]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sfn", "state machine tests (engine.testing)")
    group.addoption("--sfn-coverage", action="store_true", default=False,
                    help="Report which states, Choice rules, Retriers and Catchers the "
                         "session's executions exercised.")
    group.addoption("--sfn-coverage-json", default=None, metavar="PATH",
                    help="Also write the state machine coverage as JSON to PATH.")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_COVERAGE_KEY] = Coverage()


@pytest.fixture(scope="session")
def sfn_coverage(pytestconfig: pytest.Config) -> Coverage:
    """Coverage of every execution run through this plugin's fixtures in the session."""
    return pytestconfig.stash[_COVERAGE_KEY]


def _recorder(coverage: Coverage) -> Callable[[Execution], None]:
    def record(execution: Execution) -> None:
        if execution.definition:
            coverage.add(execution.definition, execution.history, name=execution.state_machine)

    return record


@pytest.fixture
def sfn_workflow(sfn_coverage: Coverage) -> Callable[..., Workflow]:
    """`sfn_workflow(definition, handlers={...}, ...)`: a `Workflow` whose runs count
    toward the session's coverage. See `engine.testing.harness.Workflow`."""

    def make(definition: str | Path | Mapping[str, Any], **kwargs: Any) -> Workflow:
        observers = [*kwargs.pop("observers", ()), _recorder(sfn_coverage)]
        return Workflow(definition, observers=observers, **kwargs)

    return make


@pytest.fixture
def sfn_mock_config(sfn_coverage: Coverage) -> Callable[..., Any]:
    """`sfn_mock_config(path)`: a parsed MockConfigFile.json whose runs count toward the
    session's coverage."""
    from engine.testing.mockconfig import MockConfig

    def load(path: str | Path) -> MockConfig:
        config = MockConfig.load(path)
        config.observers.append(_recorder(sfn_coverage))
        return config

    return load


@pytest.fixture
def sfn_replay(sfn_coverage: Coverage) -> Callable[..., Any]:
    """`sfn_replay(recording, definition=None)`: replay a recorded execution (a path to an
    `sfn export` file, or its parsed JSON), optionally against a new definition."""
    from engine.testing.replay import replay

    def run(recording: Any, definition: Any = None) -> Any:
        return replay(recording, definition=definition, observers=[_recorder(sfn_coverage)])

    return run


def pytest_terminal_summary(
    terminalreporter: Any, exitstatus: int, config: pytest.Config
) -> None:
    coverage = config.stash.get(_COVERAGE_KEY, None)
    wanted = config.getoption("--sfn-coverage") or config.getoption("--sfn-coverage-json")
    if coverage is None or not wanted:
        return
    terminalreporter.section("state machine coverage")
    if not coverage.machines:
        terminalreporter.write_line("no state machine ran through the sfn fixtures")
    else:
        for line in coverage.table().splitlines():
            terminalreporter.write_line(line)
    target = config.getoption("--sfn-coverage-json")
    if target:
        coverage.write_json(target)
        terminalreporter.write_line(f"coverage JSON written to {target}")

