"""The vocabularies in fieldrep.domain.vocabulary are the very values the schema's CHECKs allow."""

from __future__ import annotations

import re
import sqlite3
from enum import StrEnum

import pytest

from fieldrep.domain.vocabulary import (
    AccountStatus,
    MemberRole,
    Role,
    SizeBand,
    Stage,
    VisitOutcome,
)
from fieldrep.store.db import open_connection


def _allowed(conn: sqlite3.Connection, table: str, column: str) -> set[str]:
    """The values a column's CHECK (column IN (...)) allows, read from the migrated schema."""
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    found = re.search(rf"CHECK \({column} IN \(([^)]*)\)\)", sql)
    assert found, f"{table}.{column} has no CHECK list"
    return set(re.findall(r"'([^']*)'", found.group(1)))


@pytest.mark.parametrize(
    ("table", "column", "vocabulary"),
    [
        ("accounts", "status", AccountStatus),
        ("visits", "outcome", VisitOutcome),
        ("referrals", "stage", Stage),
        ("users", "role", Role),
        ("territory_members", "role", MemberRole),
    ],
)
def test_each_vocabulary_is_what_the_schema_allows(
    tmp_path: object, table: str, column: str, vocabulary: type[StrEnum]
) -> None:
    conn = open_connection(f"{tmp_path}/book.db")  # migrated to the latest schema
    assert _allowed(conn, table, column) == {m.value for m in vocabulary}


def test_members_are_the_stored_strings() -> None:
    assert AccountStatus.ACTIVE == "active"
    assert f"{SizeBand.ENTERPRISE}" == "1000+"
    assert [s for s in AccountStatus if s.is_open] == [AccountStatus.PROSPECT, AccountStatus.ACTIVE]
    assert {r for r in Role if r.manages} == {Role.MANAGER, Role.ADMIN}
    assert not Stage.WON.is_open
    assert Stage.PROPOSAL.label == "Proposal"
