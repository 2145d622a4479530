"""The files: CSV (BOM, inert formula text), XLSX read back with openpyxl (types, formats, frozen
header, autofilter, formula totals), PDF text extracted with pypdf, atomic writes."""

from __future__ import annotations

import csv
import shutil
import sqlite3
import subprocess
from pathlib import Path

import openpyxl
import pypdf
import pytest

from fieldrep.reports.catalog import KINDS, build_report
from fieldrep.reports.export import ReportExportError, partial_path, write_report
from fieldrep.reports.periods import parse_period
from tests.reports.conftest import put

Q3 = parse_period("2026-Q3")


def test_csv_plain_and_for_excel(edge: sqlite3.Connection, tmp_path: Path) -> None:
    put(
        edge,
        "accounts",
        id="a-evil",
        name='=HYPERLINK("http://x")',
        territory_id="t-alpha",
        potential=5.0,
    )
    edge.commit()
    report = build_report(edge, "accounts", Q3)
    plain = write_report(report, tmp_path / "a.csv")
    excel = write_report(report, tmp_path / "b.csv", excel=True)
    assert not plain.read_bytes().startswith(b"\xef\xbb\xbf")
    assert excel.read_bytes().startswith(b"\xef\xbb\xbf")
    with plain.open(encoding="utf-8", newline="") as fh:
        lines = list(csv.reader(fh))
    assert lines[0][:2] == ["Account name", "Status"]
    assert [r[0] for r in lines if "HYPERLINK" in r[0]] == ['\'=HYPERLINK("http://x")']
    assert lines[-1][0] == "Total"
    assert float(lines[-1][5]) == 1000 + 2000 + 3000 + 1000 + 2000 + 1000 + 5


def test_csv_territory_performance_levels_and_percent(
    edge: sqlite3.Connection, tmp_path: Path
) -> None:
    path = write_report(build_report(edge, "territory-performance", Q3), tmp_path / "t.csv")
    lines = list(csv.reader(path.open(encoding="utf-8", newline="")))
    header = lines[0]
    assert header[:2] == ["Level", "Territory"]
    assert "Attainment %" in header
    alpha = next(r for r in lines if r[1:2] == ["Alpha"])
    assert alpha[0] == "1"
    assert float(alpha[header.index("Attainment %")]) == pytest.approx(66.67)
    gamma = next(r for r in lines if r[1:2] == ["Gamma"])
    assert gamma[header.index("Attainment %")] == "n/a"
    assert any("moved between territories" in r[0] for r in lines if r)


def test_xlsx_read_back(edge: sqlite3.Connection, tmp_path: Path) -> None:
    path = write_report(build_report(edge, "territory-performance", Q3), tmp_path / "t.xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames[:2] == ["About", "Territory performance"]
    assert any(name.startswith("Chart") for name in book.sheetnames)
    ws = book["Territory performance"]
    header = [c.value for c in ws[1]]
    assert header[:3] == ["Level", "Territory", "Accounts"]
    assert ws.freeze_panes == "C2"
    assert ws.auto_filter.ref is not None
    assert ws.auto_filter.ref.startswith("A1:")
    data = {r[1]: r for r in ws.iter_rows(min_row=2, max_row=5, values_only=True)}
    col = {h: i for i, h in enumerate(header)}
    assert data["Alpha"][col["Sales (USD)"]] == 1000
    assert data["Beta"][col["Sales (EUR)"]] == 700
    assert data["Gamma"][col["Attainment"]] == "n/a"
    assert ws.cell(3, col["Attainment"] + 1).number_format == "0.0%"
    assert ws.cell(3, col["Sales (USD)"] + 1).number_format == "#,##0.00"
    total_row = 6
    assert ws.cell(total_row, 2).value == "Total"
    assert ws.cell(total_row, col["Sales (USD)"] + 1).value.startswith("=SUMIFS(")
    assert ws.cell(total_row, col["Attainment"] + 1).value.startswith("=IF(")
    cached = openpyxl.load_workbook(path, data_only=True)["Territory performance"]
    assert cached.cell(total_row, col["Sales (USD)"] + 1).value == 1550
    assert cached.cell(total_row, col["Attainment"] + 1).value == pytest.approx(1550 / 2500)


def test_xlsx_one_sheet_per_section_and_native_chart(
    edge: sqlite3.Connection, tmp_path: Path
) -> None:
    path = write_report(build_report(edge, "referral-programme", Q3), tmp_path / "r.xlsx")
    book = openpyxl.load_workbook(path)
    assert {"Funnel by stage", "Conversion by cohort month", "Top referrers"} <= set(
        book.sheetnames
    )
    with __import__("zipfile").ZipFile(path) as zf:
        assert any(n.startswith("xl/chartsheets/") for n in zf.namelist())
        assert any(n.startswith("xl/charts/chart") for n in zf.namelist())


def test_pdf_text_and_pages(edge: sqlite3.Connection, tmp_path: Path) -> None:
    path = write_report(build_report(edge, "territory-performance", Q3), tmp_path / "t.pdf")
    reader = pypdf.PdfReader(path)
    pages = [p.extract_text() for p in reader.pages]
    assert len(pages) >= 3
    assert "Territory performance" in pages[0]
    assert "Q3 2026" in pages[0]
    assert "Generated at" in pages[0]
    assert all(f"Page {i} of {len(pages)}" in text for i, text in enumerate(pages, start=1))
    body = "\n".join(pages[1:])
    assert "Alpha" in body
    assert "1,000.00" in body
    assert "n/a" in body
    assert "66.7%" in body
    assert "Quota attainment" in body  # the chart's title is text, not a picture


def test_pdf_long_table_repeats_its_header(demo: sqlite3.Connection, tmp_path: Path) -> None:
    path = write_report(build_report(demo, "accounts", Q3), tmp_path / "a.pdf")
    pages = [p.extract_text() for p in pypdf.PdfReader(path).pages]
    assert len(pages) > 4
    assert all("Account name" in text for text in pages[1:])


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "pdf"])
def test_cancelled_export_leaves_no_file(
    edge: sqlite3.Connection, tmp_path: Path, fmt: str
) -> None:
    target = tmp_path / f"report.{fmt}"
    target.write_text("the older report")

    class Stop(Exception):
        pass

    def step(done: int, total: int | None, text: str) -> None:
        raise Stop

    report = build_report(edge, "accounts", Q3)
    with pytest.raises(Stop):
        write_report(report, target, step=step)
    assert target.read_text() == "the older report"
    assert not partial_path(target).exists()


def test_unwritable_paths(edge: sqlite3.Connection, tmp_path: Path) -> None:
    report = build_report(edge, "accounts", Q3)
    with pytest.raises(ReportExportError, match="does not exist"):
        write_report(report, tmp_path / "missing" / "a.csv")
    with pytest.raises(ReportExportError, match="format"):
        write_report(report, tmp_path / "a.txt")
    with pytest.raises(ReportExportError, match="folder"):
        write_report(report, tmp_path, "csv")


@pytest.mark.skipif(shutil.which("libreoffice") is None, reason="libreoffice is not installed")
@pytest.mark.parametrize("kind", list(KINDS))
def test_libreoffice_opens_each_report(demo: sqlite3.Connection, tmp_path: Path, kind: str) -> None:
    path = write_report(build_report(demo, kind, parse_period("2026-Q4")), tmp_path / "r.xlsx")
    done = subprocess.run(
        [
            "libreoffice",
            "--headless",
            "--convert-to",
            "csv",
            "--outdir",
            str(tmp_path / "out"),
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "r.csv").stat().st_size > 0


def _evaluate(formula: str, values: dict[str, float]) -> float | str:
    """A second, simple reading of the two formula shapes a subtotal row holds."""
    import re

    found = re.fullmatch(r"=SUM\(([A-Z0-9,]+)\)([+-][0-9.]+)?", formula)
    if found:
        own = float(found.group(2) or 0)
        return sum(values.get(ref) or 0 for ref in found.group(1).split(",")) + own
    found = re.fullmatch(r'=IF\(N\(([A-Z0-9]+)\)=0,"n/a",([A-Z0-9]+)/([A-Z0-9]+)\)', formula)
    assert found, formula
    den = values.get(found.group(1)) or 0
    return "n/a" if den == 0 else (values.get(found.group(2)) or 0) / den


def test_xlsx_subtotals_are_formulas_over_the_rows_below_with_their_values_cached(
    edge: sqlite3.Connection, tmp_path: Path
) -> None:
    # North (region) > Alpha, Beta, Gamma, plus an account of North's own and a child region
    # South > Delta, so a subtotal sums a subtotal and adds what the region holds itself.
    put(edge, "territories", id="t-south", name="South", kind="region", parent_id="t-north")
    put(edge, "territories", id="t-delta", name="Delta", parent_id="t-south")
    put(
        edge,
        "accounts",
        name="Delta Shop",
        potential=700.0,
        territory_id="t-delta",
        status="active",
    )
    put(edge, "accounts", name="North Own", potential=50.0, territory_id="t-north", status="active")
    put(
        edge, "visits", account_id="a-t-gamma-0", user_id="u-ann", visited_at="2026-08-03T09:00:00Z"
    )
    edge.commit()
    report = build_report(edge, "territory-performance", Q3)
    table = report.sections[0]
    path = write_report(report, tmp_path / "t.xlsx")
    ws = openpyxl.load_workbook(path)["Territory performance"]
    cached = openpyxl.load_workbook(path, data_only=True)["Territory performance"]
    header = [c.value for c in ws[1]]
    subtotals = {table.rows[i][0]: i + 2 for i in table.subtotal_rows}
    assert set(subtotals) == {"North", "South"}
    values = {
        f"{cell.column_letter}{cell.row}": cell.value
        for row in cached.iter_rows(min_row=2, max_row=len(table.rows) + 1)
        for cell in row
    }
    checked = 0
    for name, row in subtotals.items():
        for c, column in enumerate(table.columns):
            if column.total is None:
                continue
            cell = ws.cell(row, c + 2)
            if table.rows[row - 2][c] is None:
                assert cell.value is None  # no quota anywhere below: blank, never 0
                continue
            assert isinstance(cell.value, str), (name, header[c + 1], cell.value)
            assert cell.value.startswith(("=SUM(", "=IF(")), cell.value
            expected = table.rows[row - 2][c]
            assert cached.cell(row, c + 2).value == pytest.approx(expected)  # the cached value
            assert _evaluate(cell.value, values) == pytest.approx(expected)  # the formula's own
            checked += 1
    assert checked >= 16
    north = subtotals["North"]
    accounts = ws.cell(north, header.index("Accounts") + 1).value
    assert accounts == f"=SUM(C{north + 1},C{north + 2},C{north + 3},C{subtotals['South']})+1"
    assert cached.cell(north, header.index("Accounts") + 1).value == 3 + 2 + 1 + 1 + 1
    for leaf in set(range(2, len(table.rows) + 2)) - set(subtotals.values()):
        assert not str(ws.cell(leaf, 3).value).startswith("=")  # territories hold their numbers
