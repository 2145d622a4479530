"""The accounts query layer on a real database: search, filters, sorting, paging, detail, index."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fieldrep.services.context import Context
from fieldrep.store.accounts_repository import (
    COLUMN_INDEX,
    NO_VALUE,
    AccountFilter,
    AccountsRepository,
    Sort,
    deferred_indexes,
    deferred_search_index,
    fts_query,
    rebuild_search_index,
)


def _iso(days_ago: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).isoformat(timespec="milliseconds")


@pytest.fixture
def repo(ctx: Context) -> AccountsRepository:
    w = ctx.writer
    user = w.insert("users", {"username": "ann", "display_name": "Ann Rep"})
    north = w.insert("territories", {"name": "North"})
    accounts = [
        {
            "name": "Acme Tools",
            "city": "Boston",
            "region": "MA",
            "postal_code": "02139",
            "status": "active",
            "industry": "Manufacturing",
            "potential": 5000.0,
            "territory_id": north,
            "owner_id": user,
            "lat": 42.36,
            "lon": -71.1,
            "geocode_quality": "postal_code",
            "notes": "prefers mornings",
        },
        {
            "name": "Bayside Bakery",
            "city": "Cambridge",
            "region": "MA",
            "status": "prospect",
            "industry": "Food",
            "potential": None,
        },
        {
            "name": "Café Olé",
            "city": "Denver",
            "region": "CO",
            "status": "lost",
            "industry": "Food",
            "potential": 100.0,
            "street": "12 Larimer Street",
        },
    ]
    ids = w.insert_many("accounts", accounts)
    w.insert("contacts", {"account_id": ids[1], "first_name": "Zelda", "last_name": "Quinn"})
    w.insert("visits", {"account_id": ids[0], "user_id": user, "visited_at": _iso(3)})
    w.insert("visits", {"account_id": ids[2], "user_id": user, "visited_at": _iso(60)})
    return AccountsRepository(ctx.db.conn)


def _names(rows: list[tuple[object, ...]]) -> list[object]:
    return [r[COLUMN_INDEX["name"]] for r in rows]


def test_user_text_never_breaks_the_fts_query(repo: AccountsRepository) -> None:
    assert fts_query("o'brien \"ac") == '"o"* "brien"* "ac"*'
    assert fts_query("  ") == ""
    for nasty in ['"', "AND OR NOT", "a*b", "NEAR(x y)", "(", "name:acme", "-", "'; DROP"]:
        repo.count(AccountFilter(text=nasty))  # must not raise


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("acm", ["Acme Tools"]),  # prefix of the name
        ("cambr", ["Bayside Bakery"]),  # address
        ("zeld", ["Bayside Bakery"]),  # contact name
        ("morning", ["Acme Tools"]),  # notes
        ("cafe", ["Café Olé"]),  # accents folded
        ("LARIMER str", ["Café Olé"]),  # every word must match, any case
        ("acme bakery", []),
    ],
)
def test_search_as_you_type(repo: AccountsRepository, text: str, expected: list[str]) -> None:
    flt = AccountFilter(text=text)
    assert _names(repo.page(flt)) == expected
    assert repo.count(flt) == len(expected)


def test_filters(repo: AccountsRepository) -> None:
    (north,) = [tid for tid, name in repo.territories() if name == "North"]
    assert _names(repo.page(AccountFilter(territory_id=north))) == ["Acme Tools"]
    assert repo.count(AccountFilter(territory_id=NO_VALUE)) == 2
    assert _names(repo.page(AccountFilter(status="lost"))) == ["Café Olé"]
    assert repo.count(AccountFilter(industry="Food")) == 2
    assert _names(repo.page(AccountFilter(geocode_quality="postal_code"))) == ["Acme Tools"]
    assert repo.count(AccountFilter(geocode_quality=NO_VALUE)) == 2
    # Not visited in 30 days: the one seen 60 days ago and the one never visited.
    assert _names(repo.page(AccountFilter(not_visited_days=30))) == ["Bayside Bakery", "Café Olé"]
    assert repo.count(AccountFilter(text="food", industry="Food")) == 0
    assert repo.industries() == ["Food", "Manufacturing"]
    assert [name for _, name in repo.owners()] == ["Ann Rep"]


def test_sorting_puts_nulls_last_both_ways(repo: AccountsRepository) -> None:
    up = _names(repo.page(sort=Sort("potential")))
    down = _names(repo.page(sort=Sort("potential", descending=True)))
    assert up == ["Café Olé", "Acme Tools", "Bayside Bakery"]
    assert down == ["Acme Tools", "Café Olé", "Bayside Bakery"]
    last = repo.page(sort=Sort("last_visit", descending=True))
    assert _names(last) == ["Acme Tools", "Café Olé", "Bayside Bakery"]
    with pytest.raises(ValueError, match="cannot sort"):
        repo.page(sort=Sort("_clocks"))


def test_keyset_pages_match_offset_pages(ctx: Context) -> None:
    rows = [
        {"name": f"Shop {i % 7}", "potential": None if i % 5 == 0 else float(i % 11)}
        for i in range(60)
    ]
    ctx.writer.insert_many("accounts", rows)
    repo = AccountsRepository(ctx.db.conn)
    for sort in (Sort("name"), Sort("name", True), Sort("potential"), Sort("potential", True)):
        everything = repo.page(sort=sort, limit=1000)
        walked = repo.page(sort=sort, limit=8)
        while len(walked) < len(everything):
            nxt = repo.page_after(AccountFilter(), sort, walked[-1], limit=8)
            assert nxt == repo.page(sort=sort, offset=len(walked), limit=8)
            walked += nxt
        assert walked == everything


def test_position_is_the_row_in_the_list_for_every_order_and_filter(ctx: Context) -> None:
    rows = [
        {
            "name": f"{'shop' if i % 2 else 'Shop'} {i % 7}",  # equal under NOCASE, other case
            "potential": None if i % 5 == 0 else float(i % 11),
            "city": None if i % 4 == 0 else f"Town {i % 3}",
            "status": "active" if i % 3 else "prospect",
        }
        for i in range(60)
    ]
    ctx.writer.insert_many("accounts", rows)
    repo = AccountsRepository(ctx.db.conn)
    for flt in (AccountFilter(), AccountFilter(status="active")):
        for key in ("name", "potential", "city", "status", "last_visit"):
            for descending in (False, True):
                sort = Sort(key, descending)
                listed = [r[0] for r in repo.page(flt, sort, limit=1000)]
                assert [repo.position(flt, sort, i) for i in listed] == list(range(len(listed)))
    prospect = ctx.db.execute("SELECT id FROM accounts WHERE status = 'prospect'").fetchone()[0]
    assert repo.position(AccountFilter(status="active"), Sort(), prospect) is None


def test_detail_brings_everything_about_an_account(ctx: Context, repo: AccountsRepository) -> None:
    acme = repo.page(AccountFilter(text="acme"))[0][0]
    user = ctx.user_id or ctx.db.execute("SELECT id FROM users").fetchone()[0]
    ctx.writer.insert("tasks", {"account_id": acme, "user_id": user, "title": "Call back"})
    ctx.writer.insert("deals", {"account_id": acme, "amount": 1200.0, "closed_on": "2026-01-05"})
    ctx.writer.insert("referrals", {"referrer_account_id": acme, "referred_name": "Bo"})
    ctx.writer.insert("referrals", {"converted_account_id": acme, "referred_name": "Acme"})
    detail = repo.detail(acme)
    assert detail is not None
    assert detail.account["territory_name"] == "North"
    assert detail.account["owner_name"] == "Ann Rep"
    assert [v["user_name"] for v in detail.visits] == ["Ann Rep"]
    assert [t["title"] for t in detail.tasks] == ["Call back"]
    assert [d["amount"] for d in detail.deals] == [1200.0]
    assert [r["referred_name"] for r in detail.referrals_given] == ["Bo"]
    assert [r["referred_name"] for r in detail.referrals_received] == ["Acme"]
    assert repo.detail("nope") is None


def test_index_follows_updates_deletes_and_contacts(ctx: Context, repo: AccountsRepository) -> None:
    acme = repo.page(AccountFilter(text="acme"))[0][0]
    ctx.writer.update("accounts", acme, {"name": "Zenith Tools"})
    assert repo.count(AccountFilter(text="acme")) == 0
    assert repo.count(AccountFilter(text="zenith")) == 1
    contact = ctx.writer.insert("contacts", {"account_id": acme, "first_name": "Yusuf"})
    assert repo.count(AccountFilter(text="yusuf")) == 1
    ctx.writer.update("contacts", contact, {"account_id": None})
    assert repo.count(AccountFilter(text="yusuf")) == 0
    ctx.writer.delete("accounts", acme)
    assert repo.count(AccountFilter(text="zenith")) == 0


def test_deferred_index_gives_the_same_index_as_triggers(
    ctx: Context, repo: AccountsRepository
) -> None:
    bayside = repo.page(AccountFilter(text="bayside"))[0][0]
    with ctx.writer.transaction() as conn, deferred_search_index(conn):
        new = ctx.writer.insert_many("accounts", [{"name": f"Deferred {i}"} for i in range(5)])
        ctx.writer.insert("contacts", {"account_id": new[0], "first_name": "Xavier"})
        ctx.writer.insert("contacts", {"account_id": bayside, "first_name": "Wilma"})
    assert repo.count(AccountFilter(text="deferred")) == 5
    assert repo.count(AccountFilter(text="xavier")) == 1
    assert _names(repo.page(AccountFilter(text="wilma"))) == ["Bayside Bakery"]
    assert repo.count(AccountFilter(text="zelda wilma")) == 1
    snapshot = ctx.db.execute("SELECT rowid, * FROM accounts_fts ORDER BY rowid").fetchall()
    assert rebuild_search_index(ctx.db.conn) == repo.total()
    assert ctx.db.execute("SELECT rowid, * FROM accounts_fts ORDER BY rowid").fetchall() == snapshot

    # The flag never outlives the transaction, even when the block fails.
    def doomed() -> None:
        with ctx.writer.transaction() as conn, deferred_search_index(conn):
            ctx.writer.insert("accounts", {"name": "Doomed"})
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        doomed()
    assert (
        ctx.db.execute("SELECT count(*) FROM local_meta WHERE key LIKE 'search%'").fetchone()[0]
        == 0
    )
    assert repo.count(AccountFilter(text="doomed")) == 0


def _index_sql(conn: sqlite3.Connection) -> list[str]:
    return sorted(
        r[0]
        for r in conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'accounts'"
            " AND sql IS NOT NULL"
        )
    )


def test_deferred_indexes_are_rebuilt_after_the_block_and_restored_by_a_rollback(
    tmp_path: Path,
) -> None:
    ctx = Context.open(tmp_path / "idx.db")
    conn = ctx.db.conn
    before = _index_sql(conn)
    assert len(before) >= 4
    with ctx.writer.transaction(), deferred_indexes(conn, "accounts"):
        assert _index_sql(conn) == []
        ctx.writer.insert_many("accounts", [{"name": f"Shop {i}"} for i in range(100)])
    assert _index_sql(conn) == before
    plan = conn.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM accounts WHERE postal_code = '02139'"
    ).fetchall()
    assert "accounts_postal_code" in str(plan)
    with pytest.raises(RuntimeError), ctx.writer.transaction(), deferred_indexes(conn, "accounts"):
        raise RuntimeError("the import failed half-way")
    assert _index_sql(conn) == before
    ctx.close()
