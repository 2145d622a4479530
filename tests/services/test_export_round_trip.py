"""An accounts export comes back: 20,000 accounts exported as CSV and as XLSX import into a new
database as the same accounts (issue 15 point 9, issue 20's move of the XLSX writer to xlsxwriter)."""

from __future__ import annotations

import random
import zipfile
from pathlib import Path

import openpyxl
import pytest

from fieldrep.services.accounts.export import export_accounts
from fieldrep.services.context import Context
from fieldrep.services.imports.accounts import import_accounts

ROWS = 20_000
# What a spreadsheet would run as a formula, and text no ASCII file holds: all of it stays text.
TRICKY = [
    "=SUM(A1:A9)",
    "+1 555 0100",
    "-5 %",
    "@cmd",
    '=HYPERLINK("http://x")',
    "Café Müller 東京",
]
# Every column the file carries that the import takes as it is ("size" is left out: the import
# derives the band from the employee count when the file leaves it empty, as these rows do).
KEPT = (
    "name",
    "status",
    "industry",
    "employees",
    "potential",
    "street",
    "city",
    "region",
    "postal_code",
    "country",
    "phone",
    "email",
    "website",
    "notes",
)


def _book(ctx: Context, rng: random.Random) -> None:
    cities = [("Denver", "CO", "80202"), ("Boston", "MA", "02139"), ("Austin", "TX", "78701")]
    rows = []
    for i in range(ROWS):
        city, region, postal = cities[i % len(cities)]
        rows.append(
            {
                "name": f"{TRICKY[i % len(TRICKY)]} shop {i:05d}"
                if i % 7 == 0
                else f"Shop {i:05d}",
                "status": ("prospect", "active", "inactive", "lost")[i % 4],
                "industry": ("Retail", "Hospitality", "")[i % 3],
                "employees": rng.randrange(1, 5000) if i % 4 else None,
                "potential": float(rng.randrange(0, 2_000_000)) if i % 5 else None,
                "street": f"{i} Main St",
                "city": city,
                "region": region,
                "postal_code": postal,
                "country": "US",
                "phone": f"+1 303 555 {i % 10000:04d}",
                "email": f"buyer{i}@shop{i}.example",
                "website": f"https://shop{i}.example",
                "notes": TRICKY[(i + 3) % len(TRICKY)] if i % 11 == 0 else "",
            }
        )
    ctx.writer.insert_many("accounts", rows)


def _accounts(ctx: Context) -> dict[str, tuple[object, ...]]:
    cols = ", ".join(KEPT)
    return {
        row[0]: tuple(None if v == "" else v for v in row)
        for row in ctx.db.conn.execute(f"SELECT {cols} FROM accounts")
    }


@pytest.mark.slow
def test_twenty_thousand_accounts_export_and_import_into_a_new_database_unchanged(
    ctx: Context, tmp_path: Path
) -> None:
    _book(ctx, random.Random(20))
    original = _accounts(ctx)
    assert len(original) == ROWS
    for suffix in (".csv", ".xlsx"):
        exported = tmp_path / f"accounts{suffix}"
        assert export_accounts(ctx.db.conn, exported) == ROWS
        fresh = Context.open(tmp_path / f"fresh{suffix}.db")
        try:
            report = import_accounts(fresh, exported, errors_path=tmp_path / "errors.csv")
            assert (report.imported, report.duplicates) == (ROWS, 0), suffix
            back = _accounts(fresh)
            differing = [
                (k, original.get(k), back.get(k)) for k in original if back.get(k) != original[k]
            ]
            assert (len(back), differing[:3]) == (ROWS, []), suffix  # (a short diff to read)
        finally:
            fresh.close()


def test_an_xlsx_export_keeps_formula_looking_text_as_text_and_types_as_types(
    ctx: Context, tmp_path: Path
) -> None:
    for i, text in enumerate(TRICKY):
        ctx.writer.insert(
            "accounts", {"name": text, "notes": text, "employees": i + 1, "potential": 1.5 * i}
        )
    path = tmp_path / "a.xlsx"
    export_accounts(ctx.db.conn, path)
    with zipfile.ZipFile(path) as book:
        sheet_xml = book.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert "<f>" not in sheet_xml  # no cell anywhere is a formula
    sheet = openpyxl.load_workbook(path).active
    header = [c.value for c in sheet[1]]
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(header)).column_letter}1"
    found = {}
    for cells in sheet.iter_rows(min_row=2):
        row = {name: cell for name, cell in zip(header, cells, strict=True)}
        assert row["Account name"].data_type == "s"
        assert row["Notes"].value == row["Account name"].value
        assert row["Employees"].data_type == "n"
        found[row["Account name"].value] = row["Employees"].value
    assert found == {text: i + 1 for i, text in enumerate(TRICKY)}
