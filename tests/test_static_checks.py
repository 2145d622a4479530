"""The static checks run with the suite, so the README's one test command covers them: ruff's lint
rules and formatting, and the import-linter contracts in pyproject.toml (the layers, and Qt only in
the UI). Each check is the tool itself on the whole tree; its own output is the failure message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # lint-imports has no ``python -m`` entry point: its console script sits beside this Python.
    argv = (
        [str(Path(sys.executable).with_name(args[0])), *args[1:]]
        if args[0] == "lint-imports"
        else [sys.executable, "-m", *args]
    )
    return subprocess.run(
        argv,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(("ruff", "check", "--no-cache", "."), id="ruff-check"),
        pytest.param(("ruff", "format", "--check", "--no-cache", "."), id="ruff-format"),
        pytest.param(("lint-imports", "--no-cache"), id="import-linter"),
    ],
)
def test_tree_passes(command: tuple[str, ...]) -> None:
    result = run(*command)
    assert result.returncode == 0, result.stdout + result.stderr
