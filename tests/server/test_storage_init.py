"""Opening a server database that is already set up runs no DDL, so `fieldrep serve` starting while
`fieldrep server user add` writes (or the other way round) cannot deadlock on table locks."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from fieldrep.server import admin
from fieldrep.server.storage import Storage
from tests.sync.harness import make_storage


@pytest.mark.postgres
def test_opening_a_ready_database_takes_no_table_locks(tmp_path: Path) -> None:
    gen = make_storage("postgres", tmp_path)
    first = next(gen)
    try:
        # The second opener gives up at once on any lock a writer holds, instead of waiting.
        impatient = first.url.replace("?options=", "?options=-clock_timeout%3D1%20")
        opened: list[object] = []
        with first.write() as tx:
            version = tx.next_versions(1)
            tx.execute(
                "INSERT INTO users (id, username, role, created_at, _clocks, _version)"
                " VALUES ('u1', 'in-flight', 'rep', 'x', '{}', ?)",
                (version,),
            )

            def open_second() -> None:
                try:
                    opened.append(Storage(impatient))
                except Exception as exc:
                    opened.append(exc)

            t = threading.Thread(target=open_second)
            t.start()
            t.join()
        second = opened[0]
        assert isinstance(second, Storage), second
        assert admin.add_user(second, "later", "rep", "a long password") is not None
        second.close()
    finally:
        next(gen, None)
