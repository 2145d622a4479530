"""The ranked search path gives exactly what the SQL path gives, and notices when it is stale."""

from __future__ import annotations

import random

import pytest

from fieldrep.services.context import Context
from fieldrep.store.accounts_repository import AccountFilter, AccountsRepository, Sort
from fieldrep.store.accounts_search import MISSING, RankedSearch, build_rank, own_first
from fieldrep.store.db import connect


@pytest.fixture
def filled(ctx: Context) -> Context:
    rng = random.Random(3)
    words = ["Harbor", "Summit", "Maple", "Pioneer", "harbour", "Acme"]
    ctx.writer.insert_many(
        "accounts",
        [
            {
                "name": f"{rng.choice(words)} {rng.choice(words)} {i % 50}",
                "city": rng.choice(["Boston", "Austin", None]),
                "potential": rng.choice([None, float(rng.randint(0, 9))]),
                "status": rng.choice(["active", "prospect"]),
            }
            for i in range(600)
        ],
    )
    return ctx


@pytest.mark.parametrize(
    "sort",
    [Sort(), Sort("name", True), Sort("potential"), Sort("city", True), Sort("last_visit")],
)
@pytest.mark.parametrize("text", ["harb", "maple 1", "summit acme", "zzz", "a"])
def test_ranked_search_equals_the_sql_path(filled: Context, sort: Sort, text: str) -> None:
    conn = filled.db.conn
    repo = AccountsRepository(conn)
    flt = AccountFilter(text=text)
    reader = connect(filled.path)  # built on a worker's own connection in the app
    rank = build_rank(reader, sort)
    reader.close()
    search = RankedSearch(conn)
    matches = search.matches(text, rank)
    assert len(matches) == repo.count(flt)
    expected = repo.page(flt, sort, limit=10_000)
    first = search.rows(search.first(matches, rank, 40), rank)
    assert first == expected[:40]
    every = search.rows(sorted(matches, key=rank.__getitem__), rank)
    assert every == expected


def test_version_moves_with_own_and_other_writes(filled: Context) -> None:
    search = RankedSearch(filled.db.conn)
    before = search.version()
    assert search.version() == before  # reading changes nothing
    filled.writer.insert("accounts", {"name": "Harbor New"})
    after_own = search.version()
    assert after_own != before
    other = connect(filled.path)
    other.execute("UPDATE accounts SET name = 'Renamed' WHERE name = 'Harbor New'")
    other.close()
    assert search.version() != after_own


def test_deleted_rows_are_never_matched(filled: Context) -> None:
    conn = filled.db.conn
    gone = conn.execute(
        "SELECT rowid, id FROM accounts WHERE name LIKE 'Maple%' LIMIT 1"
    ).fetchone()
    rank = build_rank(conn, Sort())
    assert rank[gone[0]] != MISSING
    filled.writer.delete("accounts", gone[1])
    fresh = build_rank(conn, Sort())
    assert fresh[gone[0]] == MISSING
    assert gone[0] not in RankedSearch(conn).matches("maple", fresh)


def test_own_first_puts_the_owners_matches_first_each_part_in_the_lists_order(
    filled: Context,
) -> None:
    conn = filled.db.conn
    rep = filled.writer.insert("users", {"username": "ann", "display_name": "Ann", "role": "rep"})
    other = filled.writer.insert("users", {"username": "bo", "display_name": "Bo", "role": "rep"})
    rowids = [r for (r,) in conn.execute("SELECT rowid FROM accounts ORDER BY rowid")]
    with filled.writer.transaction() as tx:
        for i, rowid in enumerate(rowids):
            owner = rep if i % 7 == 0 else other if i % 2 else None
            tx.execute("UPDATE accounts SET owner_id = ? WHERE rowid = ?", (owner, rowid))
    rank = build_rank(conn, Sort())
    searched = own_first(conn, rank, rep)
    assert own_first(conn, rank, None) == rank
    search = RankedSearch(conn)
    matches = search.matches("harb", searched)
    assert matches == search.matches("harb", rank)  # the same accounts, only their order moves
    shown = search.rows(search.first(matches, searched, len(matches)), searched)
    owner_of = dict(conn.execute("SELECT name || '#' || id, owner_id FROM accounts").fetchall())
    ids_in_order = [f"{row[1]}#{row[0]}" for row in shown]
    owned = [owner_of[k] == rep for k in ids_in_order]
    assert any(owned)
    assert not all(owned)
    assert owned == sorted(owned, reverse=True)  # every own account before the first other one
    expected = [
        f"{row[1]}#{row[0]}"
        for row in AccountsRepository(conn).page(AccountFilter(text="harb"), Sort(), limit=10_000)
    ]
    mine = [k for k in expected if owner_of[k] == rep]
    rest = [k for k in expected if owner_of[k] != rep]
    assert ids_in_order == mine + rest
