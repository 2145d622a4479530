"""Importing contacts: matched to accounts, every bad row named, duplicates skipped, and a big file
streamed in bounded memory in one transaction (a cancel or a bad file imports nothing).

Workbooks with formulas: tests/services/test_xlsx_streaming.py; the CLI and the dialog:
tests/cli/test_import_command.py and tests/ui/test_accounts_view.py.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from fieldrep.services.context import Context
from fieldrep.services.imports import contacts as module
from fieldrep.services.imports.accounts import ImportCancelled
from fieldrep.services.imports.contacts import import_contacts
from fieldrep.services.imports.readers import ImportFileError
from tests.services.memory import peak_of

WORDS = ["visit", "samples", "pricing", "follow-up", "reorder", "quarterly", "decision", "budget"]


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


def _count(ctx: Context, table: str) -> int:
    return int(ctx.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _search_contacts(ctx: Context, account_id: str) -> str | None:
    row = ctx.db.execute(
        "SELECT f.contacts FROM accounts_fts f JOIN accounts a ON a.rowid = f.rowid WHERE a.id = ?",
        (account_id,),
    ).fetchone()
    return row[0] if row else None


def test_contacts_match_accounts_and_every_bad_row_is_named(ctx: Context, tmp_path: Path) -> None:
    bakery = ctx.writer.insert("accounts", {"name": "Bayside Bakery"})
    acme = ctx.writer.insert("accounts", {"name": "Acme Tools"})
    ctx.writer.insert("accounts", {"name": "Twin Shop"})
    ctx.writer.insert("accounts", {"name": "Twin Shop LLC"})
    ctx.writer.insert(
        "contacts",
        {"account_id": acme, "first_name": "Old", "last_name": "Friend", "email": "Old@Acme.com"},
    )
    path = _write(
        tmp_path / "people.csv",
        [
            ["Full Name", "Company", "E-mail", "Phone"],
            ["Grace Hopper", "Bayside Bakery", "grace@bayside.example", "617-555-0100"],  # 2
            ["Ada Lovelace", acme, "", ""],  # 3: by id
            ["Nobody Known", "No Such Shop", "", ""],  # 4
            ["Twin Person", "Twin Shop Inc", "", ""],  # 5: no exact name, two alike
            ["", "Bayside Bakery", "", ""],  # 6
            ["Alan Turing", "", "", ""],  # 7
            ["grace hopper", "The Bayside Bakery Inc.", "", ""],  # 8: the name of line 2
            ["Someone Else", "Bayside Bakery", "GRACE@bayside.example", ""],  # 9: line 2's email
            ["Bad Mail", "Bayside Bakery", "not-an-email", ""],  # 10
            ["Old Friend", "Acme Tools", "", ""],  # 11: already on the account
            ["New Name", "Acme Tools", "old@acme.com", ""],  # 12: email already there
            ["Cher", "Acme Tools", "", ""],  # 13: one word is the last name
        ],
    )
    errors = tmp_path / "errors.csv"
    report = import_contacts(ctx, path, errors_path=errors)
    assert [(e.line, e.column, e.reason) for e in report.errors] == [
        (4, "Company", "no account is named 'No Such Shop'"),
        (5, "Company", "2 accounts have names like 'Twin Shop Inc'; use the account id"),
        (6, "", "has no name; every contact needs one"),
        (7, "Company", "is empty; say which account"),
        (8, "", "this contact is already on the account"),
        (9, "", "this contact is already on the account"),
        (10, "E-mail", "'not-an-email' is not an email address"),
        (11, "", "this contact is already on the account"),
        (12, "", "this contact is already on the account"),
    ]
    assert (report.rows_read, report.imported, report.failed_rows) == (12, 3, 9)
    assert report.duplicates == 4
    assert report.errors_file == str(errors)
    written = list(csv.reader(errors.open(encoding="utf-8-sig")))
    assert written[0] == [
        "error_line",
        "error_column",
        "error_reason",
        "Full Name",
        "Company",
        "E-mail",
        "Phone",
    ]
    assert [r[:3] for r in written[1:3]] == [
        ["4", "Company", "no account is named 'No Such Shop'"],
        ["5", "Company", "2 accounts have names like 'Twin Shop Inc'; use the account id"],
    ]
    assert written[1][3:] == ["Nobody Known", "No Such Shop", "", ""]
    assert len(written) == 10
    rows = ctx.db.execute(
        "SELECT account_id, first_name, last_name, email, phone FROM contacts"
        " WHERE first_name != 'Old' ORDER BY rowid"
    ).fetchall()
    assert [r[:4] for r in rows] == [
        (bakery, "Grace", "Hopper", "grace@bayside.example"),
        (acme, "Ada", "Lovelace", None),
        (acme, "", "Cher", None),
    ]
    assert rows[0][4]  # the phone, normalised by the same rule as accounts'
    # The accounts' search index knows the new contacts.
    assert _search_contacts(ctx, bakery) == "Grace Hopper"
    assert set((_search_contacts(ctx, acme) or "").split()) == {
        "Old",
        "Friend",
        "Ada",
        "Lovelace",
        "Cher",
    }
    assert ctx.writer.pending_count() == 4 + 1 + 3

    again = import_contacts(ctx, path)
    assert again.imported == 0
    assert again.duplicates == 7


def test_an_exact_name_wins_over_names_alike(ctx: Context, tmp_path: Path) -> None:
    """Names alike once the legal form is ignored count only when no account has the very name
    (without case or extra spaces), and an ambiguous name counts the accounts it matched."""
    ltd = ctx.writer.insert("accounts", {"name": "Tri-County Metalworks Ltd."})
    for _ in range(3):
        ctx.writer.insert("accounts", {"name": "Tri-County Metalworks LLC"})
    hartford = ctx.writer.insert("accounts", {"name": "Hartford Concrete Inc."})
    path = _write(
        tmp_path / "people.csv",
        [
            ["Full Name", "Company"],
            ["Exact Match", "tri-county  METALWORKS ltd."],  # 2: the one Ltd.
            ["Three Named", "Tri-County Metalworks LLC"],  # 3: three exact, not four alike
            ["Four Alike", "Tri County Metalworks, L.L.C"],  # 4: no exact name, four alike
            ["One Alike", "hartford concrete"],  # 5
        ],
    )
    report = import_contacts(ctx, path)
    assert [(e.line, e.reason) for e in report.errors] == [
        (3, "3 accounts are named 'Tri-County Metalworks LLC'; use the account id"),
        (4, "4 accounts have names like 'Tri County Metalworks, L.L.C'; use the account id"),
    ]
    rows = ctx.db.execute("SELECT first_name, account_id FROM contacts ORDER BY rowid").fetchall()
    assert rows == [("Exact", ltd), ("One", hartford)]


def test_a_row_with_text_past_the_header_fails_alone(ctx: Context, tmp_path: Path) -> None:
    ctx.writer.insert("accounts", {"name": "Acme Tools"})
    path = tmp_path / "ragged.csv"
    path.write_text(
        "Name,Company,Email\n"
        "Grace Hopper,Acme Tools,grace@acme.example\n"
        "Hopper, Grace,Acme Tools,grace2@acme.example\n"  # an unquoted comma shifts the cells
        "Ada Lovelace,Acme Tools\n",  # short: the email is empty
        encoding="utf-8",
    )
    report = import_contacts(ctx, path)
    assert report.imported == 2
    assert [(e.line, e.column) for e in report.errors] == [(3, "")]
    assert report.errors[0].reason.startswith("has 4 cells but the header has 3 columns")


def test_a_file_without_a_name_column_or_rows_is_refused(ctx: Context, tmp_path: Path) -> None:
    nameless = _write(tmp_path / "nameless.csv", [["Company", "E-mail"], ["Acme", "a@b.example"]])
    with pytest.raises(ImportFileError, match="no column for the contact's name"):
        import_contacts(ctx, nameless)
    empty = _write(tmp_path / "empty.csv", [["Company", "Name"]])
    with pytest.raises(ImportFileError, match="has a header row but no data rows"):
        import_contacts(ctx, empty)
    no_account = _write(tmp_path / "no-account.csv", [["Name", "E-mail"], ["Al", "a@b.example"]])
    with pytest.raises(ImportFileError, match=r"no-account\.csv: .*Account"):
        import_contacts(ctx, no_account)


def test_duplicates_are_found_across_blocks_of_a_big_file(ctx: Context, tmp_path: Path) -> None:
    shop = ctx.writer.insert("accounts", {"name": "Big Shop"})
    ctx.writer.insert(
        "contacts", {"account_id": shop, "first_name": "Kept", "last_name": "Before", "email": ""}
    )
    ctx.writer.insert("contacts", {"account_id": shop, "first_name": "Has", "email": "x@y.example"})
    count = 12_000
    assert count > 2 * module.CHUNK
    rows = [["Name", "Account", "Email"]]
    rows += [[f"Person {i}", "Big Shop", f"p{i}@shop.example"] for i in range(count)]
    rows[11_001] = ["person 3", "big shop", ""]  # line 11002: the name of line 5
    rows[11_500] = ["Other One", "Big Shop", "P10@SHOP.example"]  # line 11501: line 12's email
    rows[11_700] = ["Kept Before", "Big Shop", ""]  # line 11701: already there
    rows[11_900] = ["Newer", "Big Shop", "X@y.example"]  # line 11901: an existing email
    path = _write(tmp_path / "dupes.csv", rows)
    seen: list[tuple[int, int, str]] = []
    report = import_contacts(ctx, path, progress=lambda *a: seen.append(a))
    assert [(e.line, e.reason) for e in report.errors] == [
        (line, "this contact is already on the account") for line in (11002, 11501, 11701, 11901)
    ]
    assert report.imported == count - 4
    assert _count(ctx, "contacts") == count - 4 + 2
    assert seen[-1] == (count, count, "done")
    again = import_contacts(ctx, path)
    assert (again.imported, again.duplicates) == (0, count)


def _big_csv(
    path: Path, megabytes: int, bad_every: int = 0, note_words: int = 260
) -> tuple[int, list[int]]:
    """Contacts with long notes, of at least ``megabytes`` MB; (data rows, lines of bad rows)."""
    bad_lines: list[int] = []
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["First Name", "Last Name", "Account", "Email", "Notes"])
        while fh.tell() < megabytes * 1024 * 1024:
            line = rows + 2
            account = "North Shop" if rows % 2 else "South Shop"
            email = f"p{rows}@shop.example"
            if bad_every and rows % bad_every == bad_every - 1:
                email = f"p{rows} at shop"
                bad_lines.append(line)
            notes = " ".join(WORDS[(rows + k) % len(WORDS)] for k in range(note_words))
            out.writerow([f"First{rows}", f"Last{rows}", account, email, notes])
            rows += 1
    return rows, bad_lines


@pytest.fixture
def shops(ctx: Context) -> Context:
    ctx.writer.insert("accounts", {"name": "North Shop"})
    ctx.writer.insert("accounts", {"name": "South Shop"})
    return ctx


@pytest.mark.slow
def test_a_40_mb_csv_imports_in_bounded_memory(shops: Context, tmp_path: Path) -> None:
    ctx = shops
    path = tmp_path / "big.csv"
    rows, bad_lines = _big_csv(path, 40, bad_every=499)
    assert path.stat().st_size >= 40 * 1024 * 1024
    errors = tmp_path / "errors.csv"
    warm = Context.open(tmp_path / "warm.db")  # the modules an import loads on first use
    warm.writer.insert("accounts", {"name": "North Shop"})
    small = _write(tmp_path / "small.csv", [["Name", "Account"], ["Warm Up", "North Shop"]])
    import_contacts(warm, small, errors_path=tmp_path / "warm-errors.csv")
    warm.close()
    seen: list[tuple[int, int, str]] = []
    report, peak = peak_of(
        lambda: import_contacts(ctx, path, errors_path=errors, progress=lambda *a: seen.append(a))
    )
    # The whole file is never in memory, nor are the rows checked so far: a block of rows being
    # written and the row errors kept for the report.
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
    assert report.rows_read == rows
    assert report.imported == rows - len(bad_lines)
    assert report.failed_rows == len(bad_lines) > 20
    assert [e.line for e in report.errors] == bad_lines
    written = list(csv.reader(errors.open(encoding="utf-8-sig")))
    assert [int(r[0]) for r in written[1:]] == bad_lines
    assert written[1][3] == f"First{bad_lines[0] - 2}"
    assert _count(ctx, "contacts") == report.imported
    assert ctx.writer.pending_count() == report.imported + 2
    north = ctx.db.execute("SELECT id FROM accounts WHERE name = 'North Shop'").fetchone()[0]
    assert "First1 Last1" in (_search_contacts(ctx, north) or "")
    importing = [(d, t) for d, t, p in seen if p == "importing"]
    assert len(importing) > 10
    assert all(0 <= d <= t for d, t in importing)
    assert abs(importing[-1][1] - rows) < rows * 0.1
    assert seen[-1] == (rows, rows, "done")


def test_cancel_midway_through_a_big_file_imports_nothing(shops: Context, tmp_path: Path) -> None:
    ctx = shops
    path = tmp_path / "cancel.csv"
    rows, bad_lines = _big_csv(path, 3, bad_every=97, note_words=20)
    stop_at = 2 * module.CHUNK + 1000
    assert rows > stop_at + 1000
    errors = tmp_path / "errors.csv"
    pending = ctx.writer.pending_count()
    done: list[int] = []
    at_cancel: list[tuple[int, bool]] = []

    def cancelled() -> bool:
        if done and done[-1] >= stop_at:
            # Blocks were already written (inside the transaction) and bad rows set aside.
            at_cancel.append(
                (_count(ctx, "contacts"), errors.with_name("errors.csv.partial").exists())
            )
            return True
        return False

    with pytest.raises(ImportCancelled, match=r"cancel\.csv cancelled; nothing was imported"):
        import_contacts(
            ctx,
            path,
            errors_path=errors,
            progress=lambda d, t, p: done.append(d),
            cancelled=cancelled,
        )
    assert done[-1] == stop_at
    written, partial = at_cancel[0]
    assert module.CHUNK <= written < stop_at
    assert partial
    assert _count(ctx, "contacts") == 0
    assert ctx.writer.pending_count() == pending
    assert not errors.exists()
    assert not list(tmp_path.glob("*.partial"))
    assert not ctx.conn.in_transaction
    # The database is usable at once, and the same file imports in full.
    report = import_contacts(ctx, path, errors_path=errors)
    assert report.imported == rows - len(bad_lines)
    assert errors.exists()


def test_a_quote_never_closing_late_in_a_big_file_imports_nothing(
    shops: Context, tmp_path: Path
) -> None:
    ctx = shops
    path = tmp_path / "late.csv"
    rows, _ = _big_csv(path, 3, bad_every=50)
    with path.open("a", encoding="utf-8") as fh:
        fh.write('Broken,Row,North Shop,"b@shop.example,x\nNext,Row,North Shop,,\n')
    errors = tmp_path / "errors.csv"
    with pytest.raises(ImportFileError, match=f"quote opened on line {rows + 2} never closes"):
        import_contacts(ctx, path, errors_path=errors)
    assert _count(ctx, "contacts") == 0
    assert not errors.exists()
    assert not list(tmp_path.glob("*.partial"))


def test_a_small_file_reads_only_the_contacts_of_the_accounts_it_names(
    ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = ctx.writer.insert_many("accounts", [{"name": f"Shop {i}"} for i in range(300)])
    ctx.writer.insert_many(
        "contacts",
        [
            {"account_id": aid, "first_name": f"Pat{n}", "last_name": "Lee"}
            for aid in accounts
            for n in range(5)
        ],
    )
    calls: list[object] = []
    real = module._keys_of

    def counted(*args: object) -> list[int]:
        calls.append(args)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(module, "_keys_of", counted)
    path = _write(
        tmp_path / "two.csv",
        [
            ["First name", "Last name", "Account"],
            ["Pat1", "Lee", "Shop 7"],  # already on Shop 7
            ["Sam", "Lee", "Shop 8"],
        ],
    )
    report = import_contacts(ctx, path)
    assert (report.imported, report.duplicates) == (1, 1)
    # The two rows and the five contacts of each of their accounts, not all 1,500.
    assert len(calls) <= 2 + 2 * 5
