"""Change numbers on PostgreSQL come from a sequence, so writers run side by side and commit in
any order; a pull's high-water mark must still never pass a number whose transaction is open
(DESIGN.md, sync point 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldrep.server.storage import Storage
from tests.sync.harness import make_storage


def _insert(tx: object, row_id: str, version: int) -> None:
    # Tasks: writers of what scopes are made of (users, territories, memberships) take the scope
    # epoch's row (server schema v7) and so do wait for each other; all other writers do not.
    tx.execute(  # type: ignore[attr-defined]
        "INSERT INTO tasks (id, title, _clocks, _version) VALUES (?, ?, '{}', ?)",
        (row_id, row_id, version),
    )


@pytest.mark.postgres
def test_a_late_commit_is_never_skipped(tmp_path: Path) -> None:
    gen = make_storage("postgres", tmp_path)
    storage: Storage = next(gen)
    try:
        with storage.snapshot() as tx:
            start = tx.high_water
        with storage.write() as slow:
            early = slow.next_versions(1)
            _insert(slow, "slow", early)
            with storage.write() as fast:  # takes a later number and commits first
                late = fast.next_versions(1)
                _insert(fast, "fast", late)
            assert late > early
            with storage.snapshot() as tx:
                # The fast row is committed, but the mark stays below the open transaction.
                assert tx.high_water == early - 1 == start
                assert tx.all("SELECT id FROM tasks WHERE _version <= ?", (tx.high_water,)) == []
        with storage.snapshot() as tx:
            assert tx.high_water >= late
            seen = {r[0] for r in tx.all("SELECT id FROM tasks WHERE _version > ?", (start,))}
            assert seen == {"slow", "fast"}
        with storage.write() as failed:  # a rolled-back number holds nothing back
            failed.next_versions(1)
            failed.execute("ROLLBACK")
            failed.execute("BEGIN")
        with storage.snapshot() as tx:
            assert tx.high_water > late
    finally:
        next(gen, None)
