"""The server writes SQL once with ``?`` placeholders; on PostgreSQL they are translated to psycopg's
``%s`` by reading the statement's quoting, so a ``?`` or ``%`` that is text stays text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldrep.server.storage import Storage, pyformat
from tests.sync.harness import make_storage


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    yield from make_storage(request.param, tmp_path)


def test_placeholders_outside_quotes_only() -> None:
    assert pyformat("SELECT a FROM t WHERE b = ? AND c LIKE '%?%'") == (
        "SELECT a FROM t WHERE b = %s AND c LIKE '%%?%%'"
    )
    assert pyformat("SELECT 'it''s ?', \"odd?name\", ? -- why?\n") == (
        "SELECT 'it''s ?', \"odd?name\", %s -- why?\n"
    )
    assert pyformat("SELECT /* ? % */ 5 % ?, $$ ? $$, $q$ '? $q$") == (
        "SELECT /* ? %% */ 5 %% %s, $$ ? $$, $q$ '? $q$"
    )
    assert pyformat("SELECT ?, 'unterminated ?") == "SELECT %s, 'unterminated ?"


def test_literal_question_marks_and_percents_reach_the_database(storage: Storage) -> None:
    with storage.write() as tx:
        row = tx.one(
            "SELECT '100% sure?', ? || '?', 7 % 4, 'it''s ?' /* a ? here */, ?",
            ("what", "50%"),
        )
    assert row == ("100% sure?", "what?", 3, "it's ?", "50%")
    assert storage.fetch_one("SELECT 'a?b%c', ?", ("x?",)) == ("a?b%c", "x?")


def test_literal_question_mark_in_a_written_row(storage: Storage) -> None:
    with storage.write() as tx:
        version = tx.next_versions(1)
        tx.execute(
            "INSERT INTO users (id, username, role, created_at, _clocks, _version)"
            " VALUES ('u?1', 'who? 100%', 'rep', ?, '{}', ?)",
            ("2026-01-01", version),
        )
    with storage.read() as tx:
        assert tx.one("SELECT id, username FROM users WHERE id LIKE 'u?%'") == ("u?1", "who? 100%")
