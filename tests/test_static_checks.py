"""The static checks run with the suite, so the README's one test command covers them: ruff's lint
rules and formatting, the import-linter contracts in pyproject.toml (the layers, and Qt only in
the UI), and mypy: ``--strict`` on the layers everything else builds on (domain, store, sync), its
default checks on the whole of ``fieldrep`` (settings in pyproject's ``[tool.mypy]``). Each check
is the tool itself on the whole tree; its own output is the failure message. The two mypy runs keep
separate caches, so a second run of the suite re-checks only what changed."""

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
        pytest.param(
            (
                "mypy",
                "--strict",
                "--cache-dir",
                ".mypy_cache/strict",
                "fieldrep/domain",
                "fieldrep/store",
                "fieldrep/sync",
            ),
            id="mypy-strict-core",
        ),
        pytest.param(("mypy", "--cache-dir", ".mypy_cache/plain", "fieldrep"), id="mypy"),
    ],
)
def test_tree_passes(command: tuple[str, ...]) -> None:
    result = run(*command)
    assert result.returncode == 0, result.stdout + result.stderr
