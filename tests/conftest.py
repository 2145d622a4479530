"""Shared fixtures. Qt is told to render offscreen before anything imports it."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldrep.services.context import Context


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep every test away from the user's real app-data folder and settings."""
    home = tmp_path_factory.mktemp("fieldrep-home")
    monkeypatch.setenv("FIELDREP_HOME", str(home))
    # Files rebuilt from installed packages (the gazetteer's lookup file) are shared by the run.
    monkeypatch.setenv("FIELDREP_CACHE", str(tmp_path_factory.getbasetemp() / "fieldrep-cache"))


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "fieldrep.db"


@pytest.fixture
def ctx(db_path: Path) -> Iterator[Context]:
    """A freshly migrated database on disk, with its writer."""
    context = Context.open(db_path)
    yield context
    context.close()
