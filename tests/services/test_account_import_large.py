"""Big CSV files: streamed in bounded memory, one transaction, bad rows named by their line.

Workbooks stream the same way: tests/services/test_xlsx_streaming.py.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from fieldrep.geo.gazetteer import default_gazetteer
from fieldrep.geo.geocoding import OfflineGeocoder
from fieldrep.services.context import Context
from fieldrep.services.imports.accounts import ImportCancelled, import_accounts
from fieldrep.services.imports.readers import ImportFileError, read_table
from tests.services.memory import peak_of

HEADER = ["Company", "Street", "City", "State", "ZIP", "Phone", "Notes"]
WORDS = ["visit", "samples", "pricing", "follow-up", "reorder", "quarterly", "decision", "budget"]


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    context = Context.open(tmp_path / "big.db")
    yield context
    context.close()


def _big_csv(path: Path, megabytes: int, bad_every: int = 0) -> tuple[int, list[int]]:
    """A CSV of at least ``megabytes`` MB; returns (data rows, lines of the bad rows)."""
    bad_lines: list[int] = []
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        while fh.tell() < megabytes * 1024 * 1024:
            line = rows + 2
            zip_code = "02139" if rows % 2 else "80202"
            notes = " ".join(WORDS[(rows + k) % len(WORDS)] for k in range(260))
            if bad_every and rows % bad_every == bad_every - 1:
                zip_code = "ABCDE"  # not a US ZIP code
                bad_lines.append(line)
            out.writerow(
                [
                    f"Shop {rows}",
                    f"{rows} Main St",
                    "Cambridge" if rows % 2 else "Denver",  # the ZIP's own city and state
                    "MA" if rows % 2 else "CO",
                    zip_code,
                    f"+1 555 {rows // 10000:03d} {rows % 10000:04d}",
                    notes,
                ]
            )
            rows += 1
    return rows, bad_lines


@pytest.mark.slow
def test_a_50_mb_csv_imports_in_bounded_memory_with_bad_rows_named(
    ctx: Context, tmp_path: Path
) -> None:
    path = tmp_path / "big.csv"
    rows, bad_lines = _big_csv(path, 50, bad_every=997)
    assert path.stat().st_size >= 50 * 1024 * 1024
    seen: list[tuple[int, int, str]] = []
    errors = tmp_path / "errors.csv"
    geocoder = OfflineGeocoder()
    default_gazetteer().load()  # the ZIP table, loaded once per session, before measuring
    warm = Context.open(tmp_path / "warm.db")  # and the modules an import loads on first use
    small = tmp_path / "small.csv"
    small.write_text("Company,ZIP\nWarm Up,02139\n", encoding="utf-8")
    import_accounts(warm, small, errors_path=tmp_path / "warm-errors.csv", geocoder=geocoder)
    warm.close()
    report, peak = peak_of(
        lambda: import_accounts(
            ctx, path, errors_path=errors, progress=lambda *a: seen.append(a), geocoder=geocoder
        )
    )
    # The whole file is never in memory: the peak is about a third of its 50 MB (a block of rows
    # being written plus ~400 bytes of duplicate keys and id per row).
    assert peak < 25 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
    assert report.rows_read == rows
    assert report.imported == rows  # a bad ZIP is dropped from its row, which imports
    assert report.failed_rows == 0
    assert report.warned_rows == len(bad_lines) > 20
    assert [e.line for e in report.warnings] == bad_lines
    assert {(e.column, e.reason) for e in report.warnings} == {
        ("ZIP", "'ABCDE' is not a US ZIP code (5 digits or ZIP+4)")
    }
    written = list(csv.reader(errors.open(encoding="utf-8-sig")))
    assert [int(r[0]) for r in written[1:]] == bad_lines
    assert written[1][3:][0] == f"Shop {bad_lines[0] - 2}"
    count = ctx.db.execute("SELECT count(*) FROM accounts").fetchone()[0]
    assert count == report.imported
    assert ctx.db.execute("SELECT count(*) FROM accounts_fts").fetchone()[0] == count
    assert ctx.writer.pending_count() == count
    # Progress counted rows as it went, with a total estimated from the bytes read.
    importing = [(d, t) for d, t, p in seen if p == "importing"]
    assert len(importing) > 10
    assert all(0 <= d <= t for d, t in importing)
    assert abs(importing[-1][1] - rows) < rows * 0.1
    assert seen[-1] == (rows, rows, "done")


def test_a_quote_never_closing_late_in_a_big_file_imports_nothing(
    ctx: Context, tmp_path: Path
) -> None:
    path = tmp_path / "late.csv"
    rows, _ = _big_csv(path, 3)
    with path.open("a", encoding="utf-8") as fh:
        fh.write('Broken Shop,"1 Main St,Cambridge,MA,02139,,x\nNext,2 Main St,,,,,\n')
    with pytest.raises(ImportFileError, match=f"quote opened on line {rows + 2} never closes"):
        import_accounts(ctx, path)
    assert ctx.db.execute("SELECT count(*) FROM accounts").fetchone()[0] == 0
    assert ctx.writer.pending_count() == 0


def test_cancel_midway_through_a_big_file_imports_nothing(ctx: Context, tmp_path: Path) -> None:
    path = tmp_path / "cancel.csv"
    _big_csv(path, 3)
    errors = tmp_path / "errors.csv"
    done: list[int] = []
    with pytest.raises(ImportCancelled):
        import_accounts(
            ctx,
            path,
            errors_path=errors,
            progress=lambda d, t, p: done.append(d),
            cancelled=lambda: bool(done) and done[-1] >= 1000,
        )
    assert ctx.db.execute("SELECT count(*) FROM accounts").fetchone()[0] == 0
    assert ctx.writer.pending_count() == 0
    assert not errors.exists()
    assert not list(tmp_path.glob("*.partial"))


def test_a_csv_is_counted_when_read_and_previewed_from_its_first_rows(tmp_path: Path) -> None:
    text = tmp_path / "a.csv"
    text.write_text("Company,ZIP\nAcme,02139\n" + "Beta,10001\n" * 100, encoding="utf-8")
    data = read_table(text)
    assert data.rows.estimate() == (101, True)
    assert len(data.rows) == 101
    assert data.rows[:1] == [(2, ["Acme", "02139"])]


def test_duplicates_are_found_across_blocks_of_a_big_file(ctx: Context, tmp_path: Path) -> None:
    ctx.writer.insert(
        "accounts", {"name": "Old Shop", "phone": "617-555-9999", "postal_code": "80202"}
    )
    rows = [["Company", "ZIP", "Phone"]]
    rows += [[f"Shop {i}", "02139", f"617-{i // 10000:03d}-{i % 10000:04d}"] for i in range(12_000)]
    rows[11_001] = ["Shop 3", "02139", "617-000-0003"]  # line 11002 repeats line 5 exactly
    rows[11_500] = ["Shop 10", "80202", "(617) 000-0010"]  # line 11501: line 12's phone, name
    rows[11_900] = ["Newer", "80202", "+1 617 555 9999"]  # line 11901: an existing account's phone
    path = tmp_path / "dupes.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    report = import_accounts(ctx, path)
    assert [(e.line, e.column, e.reason) for e in report.errors] == [
        (11002, "", "repeats line 5 exactly"),
        (11501, "Phone", "possible duplicate of line 12 (same phone and name); not imported"),
        (
            11901,
            "Phone",
            "possible duplicate of existing account 'Old Shop' (same phone and postal code);"
            " not imported",
        ),
    ]
    assert report.imported == 12_000 - 3
    again = import_accounts(ctx, path)
    assert again.imported == 0
    assert again.duplicates == 12_000
