"""Fixtures for sync tests: every test using ``storage`` runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fieldrep.server.storage import Storage
from tests.sync.harness import Laptop, LiveServer, Org, make_storage, seed_org


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    yield from make_storage(request.param, tmp_path)


@pytest.fixture
def server(storage: Storage) -> Iterator[LiveServer]:
    live = LiveServer(storage)
    yield live
    live.stop()


@pytest.fixture
def org(storage: Storage) -> Org:
    return seed_org(storage)


@pytest.fixture
def laptop(tmp_path: Path, server: LiveServer) -> Iterator[Callable[[str], Laptop]]:
    made: list[Laptop] = []

    def make(name: str) -> Laptop:
        lap = Laptop(tmp_path / f"{name}.db", server.url)
        made.append(lap)
        return lap

    yield make
    for lap in made:
        lap.close()
