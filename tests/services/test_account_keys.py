"""The filed duplicate keys (schema v4): kept in step by every write path, so an import into a big
book looks up only its own rows' keys and still finds every duplicate the full scan found."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from fieldrep.services.accounts import keys as account_keys
from fieldrep.services.context import Context
from fieldrep.services.imports import validation as import_validation
from fieldrep.services.imports.accounts import import_accounts
from fieldrep.store.catalog import synced_tables
from fieldrep.sync import local_apply

HEADER = ["Company", "ZIP", "Phone", "Website"]
CLOCK = "0000000000000100-0000-server"


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([HEADER, *rows])
    return path


def _pull(ctx: Context, row_id: str, values: dict[str, object]) -> None:
    """Apply one pulled accounts row, as a sync does."""
    columns = [c for c in synced_tables()["accounts"].fields if c in values]
    row = [row_id, 7, False, json.dumps(dict.fromkeys(columns, CLOCK))]
    row += [values[c] for c in columns]
    page = {"tables": {"accounts": {"columns": columns, "rows": [row]}}}
    with ctx.writer.transaction() as conn:
        local_apply.apply_page(conn, page, local_apply.PageStats())


def _filed_as_derived(ctx: Context) -> None:
    """After a refresh, the filed keys are exactly those derived from every account's row."""
    with ctx.writer.transaction() as conn:
        account_keys.refresh(conn)
        filed = set(conn.execute("SELECT h, account FROM account_keys"))
        derived = {
            (h, rowid)
            for rowid, *cols in conn.execute(
                "SELECT rowid, name, postal_code, phone, website FROM accounts"
            )
            for h in account_keys.filed_hashes(account_keys.keys_of(*cols))
        }
        assert conn.execute("SELECT count(*) FROM account_keys_queue").fetchone()[0] == 0
    assert filed == derived


def _reasons(report: object) -> dict[int, str]:
    return {e.line: e.reason for e in report.errors}  # type: ignore[attr-defined]


def test_every_write_path_keeps_the_keys_in_step(ctx: Context, tmp_path: Path) -> None:
    first = import_accounts(
        ctx,
        _csv(
            tmp_path / "first.csv",
            [
                ["Acme Tools", "02139", "617-555-0100", ""],
                ["Bayside Bakery", "80202", "303-555-0111", "bayside.example"],
                ["Corner Cafe", "10001", "", ""],
            ],
        ),
    )
    assert first.imported == 3
    _filed_as_derived(ctx)
    ids = dict(ctx.db.conn.execute("SELECT name, id FROM accounts"))
    ctx.db.conn.execute("DELETE FROM outbox")  # pushed: the server's values now win
    # a local edit after the import: the old phone is free, the new one taken
    ctx.writer.update("accounts", ids["Acme Tools"], {"phone": "617-555-0199"})
    # an account created by a sync pull, and one renamed and moved by another
    _pull(
        ctx,
        "0190c0de-0000-7000-8000-000000000001",
        {
            "name": "Pulled Co",
            "website": "https://www.pulled.example/x",
            "created_at": "x",
            "updated_at": "x",
        },
    )
    _pull(
        ctx,
        ids["Corner Cafe"],
        {
            "name": "Corner Cafe & Deli",
            "postal_code": "10002",
            "created_at": "x",
            "updated_at": "x",
        },
    )
    # pulled again while queued: the upsert's conflict policy must not turn into an error
    _pull(
        ctx,
        ids["Corner Cafe"],
        {
            "name": "Corner Cafe & Deli",
            "postal_code": "10002",
            "phone": "212-555-0123",
            "created_at": "x",
            "updated_at": "x",
        },
    )
    # a local delete, and a change written by plain SQL
    ctx.writer.delete("accounts", ids["Bayside Bakery"])
    ctx.db.conn.execute(
        "UPDATE accounts SET website = 'acme-tools.example' WHERE id = ?", (ids["Acme Tools"],)
    )
    second = import_accounts(
        ctx,
        _csv(
            tmp_path / "second.csv",
            [
                ["Acme Tools", "", "(617) 555-0199", ""],  # 2: Acme's new phone
                ["New Two", "", "617 555 0100", ""],  # 3: Acme's old phone, free again
                ["Pulled Co", "", "", "pulled.example"],  # 4: the pulled account's site
                ["Corner Cafe & Deli, LLC", "10002", "", ""],  # 5: the renamed account
                ["Corner Cafe", "10001", "", ""],  # 6: its old name and ZIP, free again
                ["Bayside Bakery", "80202", "", ""],  # 7: deleted, free again
                ["Acme Tools", "", "", "http://acme-tools.example"],  # 8: set by plain SQL
            ],
        ),
        errors_path=tmp_path / "err.csv",
    )
    reasons = _reasons(second)
    assert sorted(reasons) == [2, 4, 5, 8]
    assert "existing account 'Acme Tools' (same phone and name)" in reasons[2]
    assert "existing account 'Pulled Co' (same " in reasons[4]
    assert "existing account 'Corner Cafe & Deli' (same name and postal code)" in reasons[5]
    assert "existing account 'Acme Tools' (same website and name)" in reasons[8]
    assert second.imported == 3
    _filed_as_derived(ctx)


def test_a_new_account_taking_a_deleted_ones_rowid_keeps_its_keys(
    ctx: Context, tmp_path: Path
) -> None:
    """SQLite hands the largest rowid out again once its row is deleted: the queued delete of the
    old row must not drop the keys the new row filed under the same rowid."""
    import_accounts(ctx, _csv(tmp_path / "a.csv", [["Acme Tools", "02139", "617-555-0100", ""]]))
    (old_id,) = ctx.db.conn.execute("SELECT id FROM accounts").fetchone()
    ctx.writer.delete("accounts", old_id)
    again = import_accounts(
        ctx, _csv(tmp_path / "b.csv", [["Acme Tools", "02139", "617-555-0100", ""]])
    )
    assert again.imported == 1
    _filed_as_derived(ctx)
    third = import_accounts(ctx, _csv(tmp_path / "c.csv", [["Acme Tools", "", "617-555-0100", ""]]))
    assert third.imported == 0
    assert "existing account 'Acme Tools' (same phone and name)" in third.errors[0].reason


def test_a_small_import_derives_only_its_own_keys(
    ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [
        [f"Company {i}", f"{10000 + i:05d}", f"555-01{i:05d}", f"c{i}.example"] for i in range(2000)
    ]
    assert import_accounts(ctx, _csv(tmp_path / "book.csv", rows)).imported == 2000
    ctx.writer.update(
        "accounts",
        ctx.db.conn.execute("SELECT id FROM accounts").fetchone()[0],
        {"notes": "not a key column: nothing to derive again"},
    )
    calls: list[object] = []
    real = import_validation.name_key

    def counted(name: str | None) -> str:
        calls.append(name)
        return real(name)

    monkeypatch.setattr(import_validation, "name_key", counted)
    report = import_accounts(
        ctx,
        _csv(
            tmp_path / "leads.csv", [["Lead One", "", "", ""], ["Company 7", "", "", "c7.example"]]
        ),
    )
    assert report.imported == 1
    assert "existing account 'Company 7' (same website and name)" in report.errors[0].reason
    assert len(calls) < 10  # the two rows and the one account found, not 2,000 accounts


def test_an_account_changed_many_times_between_imports_is_queued_twice_at_most(
    ctx: Context, tmp_path: Path
) -> None:
    import_accounts(ctx, _csv(tmp_path / "a.csv", [["Acme Tools", "02139", "617-555-0100", ""]]))
    (account,) = ctx.db.conn.execute("SELECT id FROM accounts").fetchone()
    for i in range(20):
        ctx.writer.update("accounts", account, {"phone": f"617-555-01{i:02d}"})
    ctx.writer.update("accounts", account, {"phone": "617-555-0100", "name": "Acme Tools Inc"})
    assert ctx.db.conn.execute("SELECT count(*) FROM account_keys_queue").fetchone()[0] == 2
    _filed_as_derived(ctx)
    report = import_accounts(
        ctx,
        _csv(
            tmp_path / "b.csv",
            [["Other", "", "617-555-0119", ""], ["Acme Tools Inc", "", "(617) 555-0100", ""]],
        ),
    )
    assert report.imported == 1
    assert "existing account 'Acme Tools Inc' (same phone and name)" in report.errors[0].reason


# Names, postal codes, phones and websites that exercise every rule of the key derivation.
_SAMPLE = [
    ("Acme Hardware, Inc.", "02139", "(617) 555-0100", "https://www.acme.example/shop"),
    ("The Corner Café GmbH", "10115", "+49 30 1234567", "corner-cafe.example"),
    ("O'Brien & Sons LLC", None, "555.0199 ext 12", "http://OBRIEN.example:8080/"),
    ("  Ünïcode  Traders ", "SW1A 1AA", None, None),
    ("Company Inc", "94105", "", "mailto:info@company.example"),
    ("Stewart Freight, L. L. C.", "92109", None, "https://m.facebook.com/StewartFreight/about"),
    ("Cafe\u0301 Joe’s and Co", None, None, "https://www.facebook.com/"),
]
# What keys_of and filed_hashes give for _SAMPLE, per KEY_FORMAT (only the current one is kept).
_PINNED: dict[str, list[object]] = {
    "3": [
        [
            ["acme hardware\x1f02139", "6175550100", "acme.example"],
            [1778553067, 886515078, 3233740544, 2345875278],
        ],
        [
            ["corner café\x1f10115", "9301234567", "corner-cafe.example"],
            [931177188, 3350246193, 1268010745, 1281955913],
        ],
        [
            ["obrien sons\x1f", "555019912", "obrien.example"],
            [2040354884, 2458581761, 3687383025, 3613980209],
        ],
        [["ünïcode traders\x1fSW1A 1AA", None, None], [2622687445, 2127328548]],
        [["company inc\x1f94105", None, "company.example"], [3490442109, 2260902359, 969870805]],
        [
            ["stewart freight\x1f92109", None, "facebook.com/stewartfreight"],
            [3946647290, 720122433, 1480135807],
        ],
        [["café joes\x1f", None, None], [3852116824, 2873138935]],
    ],
}


def _fingerprint() -> list[object]:
    return [
        (account_keys.keys_of(*row), account_keys.filed_hashes(account_keys.keys_of(*row)))
        for row in _SAMPLE
    ]


def test_changing_how_keys_are_derived_needs_a_new_key_format() -> None:
    # If this fails, duplicate keys are derived differently than before: raise KEY_FORMAT (so
    # every laptop files its accounts again) and pin the new output under it.
    assert account_keys.KEY_FORMAT in _PINNED
    assert json.loads(json.dumps(_fingerprint())) == _PINNED[account_keys.KEY_FORMAT]


def test_keys_filed_another_way_are_filed_again(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx.writer.insert_many(
        "accounts",
        [{"name": n, "postal_code": z, "phone": p, "website": w} for n, z, p, w in _SAMPLE],
    )
    _filed_as_derived(ctx)
    # A later version derives keys differently (here: every key gets a suffix), in a new format.
    derive = account_keys.keys_of
    monkeypatch.setattr(
        account_keys, "keys_of", lambda *row: tuple(k and f"{k}~" for k in derive(*row))
    )
    monkeypatch.setattr(account_keys, "KEY_FORMAT", f"{account_keys.KEY_FORMAT}+1")
    _filed_as_derived(ctx)  # every account filed again under the new derivation
    with ctx.writer.transaction() as conn:
        assert account_keys.refresh(conn) == 0  # and only once
