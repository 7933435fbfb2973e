"""Every README snippet runs as written, in order, as on a fresh clone.

The README's ```python, ```sh and ```console blocks are run from the checkout, top to
bottom, with no REDIS_URL: the project's embedded Redis, in a fresh data folder
(SFN_DATA_DIR) so that names used by an earlier run do not collide. An HTML comment on the
line before a block says how else to treat it:

    <!-- readme-snippet: skip (why) -->                 not run (the reason is required)
    <!-- readme-snippet: background until "TEXT" -->    started and left running until
                                                        its output shows TEXT

The only rewrite is the API port: 8083 becomes a free port, so the test never meets
another server. A python block's `print(...)` followed by a `# text` comment (on its line,
or the next) must print that text; a console block's output lines must appear in what
its commands print, but for `...` lines and dates.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.embedded import free_port, stop_embedded

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
LANGUAGES = ("python", "sh", "console")
MARKER = re.compile(r"<!--\s*readme-snippet:\s*(.*?)\s*-->")


@dataclass(frozen=True)
class Snippet:
    line: int  # of the opening fence, 1-based
    language: str
    code: str
    mode: str = "run"  # run, skip or background
    reason: str = ""  # skip: why; background: the text that says it is ready


def snippets(text: str) -> list[Snippet]:
    """The python/sh/console blocks of `text`, with what their marker says."""
    found: list[Snippet] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = re.fullmatch(r"```(\w*)\s*", lines[i])
        if not opening:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        language = opening.group(1)
        if language in LANGUAGES:
            marker = MARKER.fullmatch(lines[i - 1].strip()) if i > 0 else None
            mode, reason = "run", ""
            if marker:
                mode, reason = _marker(marker.group(1), i + 1)
            found.append(Snippet(i + 1, language, "\n".join(lines[i + 1 : end]), mode, reason))
        i = end + 1
    return found


def _marker(text: str, line: int) -> tuple[str, str]:
    skip = re.fullmatch(r"skip \((.+)\)", text)
    if skip:
        return "skip", skip.group(1)
    background = re.fullmatch(r'background until "(.+)"', text)
    if background:
        return "background", background.group(1)
    raise ValueError(f"README.md:{line}: unknown readme-snippet marker {text!r}")


def console_commands(code: str) -> tuple[str, list[str]]:
    """A console block's commands (`$ ` lines, with their `\\` continuations) as one
    script, and its expected output lines."""
    commands: list[str] = []
    expected: list[str] = []
    continued = False
    for line in code.splitlines():
        if continued:
            commands[-1] += "\n" + line
            continued = line.endswith("\\")
        elif line.startswith("$ "):
            commands.append(line[2:])
            continued = line.endswith("\\")
        elif line.strip():
            expected.append(line)
    return "\n".join(commands), expected


def printed(code: str) -> list[str]:
    """What a python block says it prints: the `# ...` after each print(...)."""
    lines = code.splitlines()
    expected = []
    for n, line in enumerate(lines):
        if not line.lstrip().startswith("print("):
            continue
        _, sep, comment = line.partition("  # ")
        if sep:
            expected.append(comment.strip())
        elif n + 1 < len(lines) and lines[n + 1].startswith("# "):
            expected.append(lines[n + 1][2:].strip())
    return expected


# --- the parser ------------------------------------------------------------------------------


def test_markers_and_blocks_are_read_as_documented() -> None:
    text = "\n".join([
        "<!-- readme-snippet: skip (too slow) -->", "```sh", "make chaos", "```",
        '<!-- readme-snippet: background until "ready." -->', "```sh", "celery", "```",
        "```json", "{}", "```", "```console", "$ a \\", "  --b", "out", "$ c", "```",
        "```python", "print(1)  # 1", "```",
    ])
    found = snippets(text)
    assert [(s.language, s.mode, s.reason) for s in found] == [
        ("sh", "skip", "too slow"), ("sh", "background", "ready."), ("console", "run", ""),
        ("python", "run", "")]
    assert console_commands(found[2].code) == ("a \\\n  --b\nc", ["out"])
    assert printed(found[3].code) == ["1"]
    with pytest.raises(ValueError, match="unknown readme-snippet marker"):
        snippets("<!-- readme-snippet: later -->\n```sh\nx\n```")


def test_every_readme_snippet_is_run_or_says_why_not() -> None:
    found = snippets(README.read_text())
    assert all(s.reason for s in found if s.mode == "skip")
    run = [s for s in found if s.mode != "skip"]
    assert {s.language for s in run} == set(LANGUAGES)
    assert len(run) >= 8


# --- running them -------------------------------------------------------------------------


def _env(data_dir: Path) -> dict[str, str]:
    drop = {"REDIS_URL", "BROKER_URL", "SFN_START_WORKER", "SFN_HANDLER_MODULES", "PYTHONPATH",
            "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_PROFILE"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return {**env, "SFN_DATA_DIR": str(data_dir)}


def _fail(snippet: Snippet, what: str, output: str) -> None:
    pytest.fail(f"README.md:{snippet.line} ({snippet.language}) {what}:\n{snippet.code}\n"
                f"--- output ---\n{output[-4000:]}")


@pytest.mark.redis
@pytest.mark.worker
def test_the_readme_runs_in_order_as_written(tmp_path: Path) -> None:
    if not (ROOT / ".venv" / "bin" / "python").exists():
        pytest.fail("the README's commands use .venv/bin: run `make setup` first")
    port = str(free_port())
    data_dir = tmp_path / "sfn-data"
    env = _env(data_dir)
    background: list[tuple[subprocess.Popen[bytes], Path]] = []
    try:
        for snippet in snippets(README.read_text()):
            if snippet.mode == "skip":
                continue
            code = snippet.code.replace("8083", port)
            if re.search(r"\bmake (test|chaos|bench)\b|pytest", code):
                # The suite (which runs this test) or minutes of load: never from here.
                _fail(snippet, "would run the test suite or a long run: mark it skip", "")
            if snippet.mode == "background":
                log = tmp_path / f"background-{snippet.line}.log"
                with log.open("wb") as sink:
                    process = subprocess.Popen(["bash", "-c", code], cwd=ROOT, env=env,
                                               stdout=sink, stderr=subprocess.STDOUT,
                                               start_new_session=True)
                background.append((process, log))
                deadline = time.monotonic() + 90
                while snippet.reason not in log.read_text(errors="replace"):
                    if process.poll() is not None or time.monotonic() > deadline:
                        _fail(snippet, "did not get ready", log.read_text(errors="replace"))
                    time.sleep(0.1)
                continue
            expected: list[str] = []
            if snippet.language == "python":
                command = [str(ROOT / ".venv" / "bin" / "python"), "-c", code]
                expected = printed(code)
            elif snippet.language == "console":
                script, expected = console_commands(code)
                command = ["bash", "-e", "-c", script]
            else:
                command = ["bash", "-e", "-c", code]
            result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                                    timeout=180, check=False)
            output = result.stdout + result.stderr
            if result.returncode != 0:
                _fail(snippet, f"exited with {result.returncode}", output)
            if snippet.language == "python" and expected:
                if result.stdout.splitlines() != expected:
                    _fail(snippet, f"printed other than {expected}", output)
            for line in expected if snippet.language == "console" else ():
                if "..." in line or "Date" in line:
                    continue  # elided, or a date of this run
                if " ".join(line.split()) not in " ".join(output.split()):
                    _fail(snippet, f"did not print {line!r}", output)
    finally:
        for process, _ in background:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process, _ in background:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        stop_embedded(data_dir)
