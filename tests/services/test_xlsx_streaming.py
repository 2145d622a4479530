"""Excel workbooks stream like CSV: bounded memory, a preview from the first rows, clear refusals."""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from fieldrep.geo.gazetteer import default_gazetteer
from fieldrep.geo.geocoding import OfflineGeocoder
from fieldrep.services.context import Context
from fieldrep.services.imports.accounts import ImportCancelled, import_accounts
from fieldrep.services.imports.contacts import import_contacts
from fieldrep.services.imports.readers import PREVIEW_ROWS, ImportFileError, read_table
from fieldrep.services.imports.xlsx import EXCEL_MAX_ROWS, XlsxRows
from fieldrep.services.imports.xlsx_shared_strings import MAX_TEXT_CHARS
from tests.services.memory import peak_of

HEADER = ["Company", "Street", "City", "State", "ZIP", "Phone", "Notes"]
WORDS = ["visit", "samples", "pricing", "follow-up", "reorder", "quarterly", "decision", "budget"]


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    context = Context.open(tmp_path / "book.db")
    yield context
    context.close()


@dataclass(frozen=True)
class Formula:
    text: str  # without the '='
    result: str | None = None  # what Excel saved with it, if anything


def _rows(count: int, bad_every: int = 0, note_words: int = 6) -> Iterator[list[object]]:
    """Account rows; every ``bad_every``-th has a ZIP code that is not one."""
    for i in range(count):
        bad = bad_every and i % bad_every == bad_every - 1
        yield [
            f"Shop {i}",
            f"{i} Main St",
            "Cambridge" if i % 2 else "Denver",  # the ZIP's own city and state
            "MA" if i % 2 else "CO",
            "ABCDE" if bad else ("02139" if i % 2 else "80202"),
            f"+1 555 {i // 10000:03d} {i % 10000:04d}",
            " ".join(WORDS[(i + k) % len(WORDS)] for k in range(note_words)) + f" #{i}",
        ]


def _write_only_book(path: Path, rows: Iterable[list[object]], header: list[str] = HEADER) -> Path:
    """A workbook written by openpyxl's write-only mode: inline strings, no size header."""
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Accounts")
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def _excel_like_book(
    path: Path,
    rows: Iterable[list[object]],
    *,
    dimension: str | None = "auto",
    strings_xml: Iterable[str] | None = None,
    sheet_tail: str = "",
) -> Path:
    """A workbook laid out as Excel saves one: text in a shared-string table, a size header.

    openpyxl writes inline strings in write-only mode and builds the whole book in memory
    otherwise, so the parts are written here, streamed. ``strings_xml`` replaces the table's
    entries; ``sheet_tail`` is appended inside <sheetData> (for damaged sheets).
    """
    rows = list(rows)
    index: dict[str, int] = {}
    body: list[str] = []
    width = 1
    for r, row in enumerate(rows, start=1):
        cells = []
        width = max(width, len(row))
        for c, value in enumerate(row, start=1):
            ref = f"{get_column_letter(c)}{r}"
            if value is None:
                continue
            if isinstance(value, Formula):
                saved = "" if value.result is None else f"<v>{escape(value.result)}</v>"
                text = value.result is not None and not value.result.isdigit()
                kind = ' t="str"' if text else ""  # a formula whose result is text
                cells.append(f'<c r="{ref}"{kind}><f>{escape(value.text)}</f>{saved}</c>')
            elif isinstance(value, str):
                k = index.setdefault(value, len(index))
                cells.append(f'<c r="{ref}" t="s"><v>{k}</v></c>')
            else:
                cells.append(f'<c r="{ref}"><v>{value}</v></c>')
        body.append(f'<row r="{r}">{"".join(cells)}</row>')
    if dimension == "auto":
        dimension = f"A1:{get_column_letter(width)}{len(rows)}"
    size = f'<dimension ref="{dimension}"/>' if dimension else ""
    entries = (
        strings_xml if strings_xml is not None else (f"<si><t>{escape(s)}</t></si>" for s in index)
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_CT}.worksheet+xml"/>'
            f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_CT}.sharedStrings+xml"/>'
            "</Types>",
        )
        z.writestr(
            "_rels/.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>",
        )
        z.writestr(
            "xl/workbook.xml",
            f'<workbook {_NS} xmlns:r="{_REL}"><sheets>'
            '<sheet name="Accounts" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/>'
            "</Relationships>",
        )
        with z.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(f"<worksheet {_NS}>{size}<sheetData>".encode())
            for chunk in body:
                sheet.write(chunk.encode())
            sheet.write(f"{sheet_tail}</sheetData></worksheet>".encode())
        with z.open("xl/sharedStrings.xml", "w") as table:
            table.write(f"<sst {_NS}>".encode())
            for entry in entries:
                table.write(entry.encode())
            table.write(b"</sst>")
    return path


# -- memory ----------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["inline strings (openpyxl)", "shared strings (Excel)"])
def test_a_big_workbook_imports_in_bounded_memory_with_bad_rows_named(
    ctx: Context, tmp_path: Path, layout: str
) -> None:
    count, bad_every = 20_000, 997
    path = tmp_path / "big.xlsx"
    rows = _rows(count, bad_every, note_words=250)  # ~2 KB of notes a row: 40 MB of text
    if layout.startswith("inline"):
        _write_only_book(path, rows)
    else:
        _excel_like_book(path, [HEADER, *rows])
    bad_lines = [i + 2 for i in range(count) if i % bad_every == bad_every - 1]
    geocoder = OfflineGeocoder()
    default_gazetteer().load()  # the ZIP table, loaded once per session, before measuring
    warm = Context.open(tmp_path / "warm.db")  # and the modules an import loads on first use
    small = _write_only_book(tmp_path / "small.xlsx", [["Warm Up", "", "", "", "02139", "", ""]])
    import_accounts(warm, small, geocoder=geocoder)
    warm.close()
    seen: list[tuple[int, int, str]] = []
    errors = tmp_path / "errors.csv"
    report, peak = peak_of(
        lambda: import_accounts(
            ctx, path, errors_path=errors, progress=lambda *a: seen.append(a), geocoder=geocoder
        )
    )
    # Reading every row into memory, as the reader did before, takes more than the 40 MB of text.
    assert peak < 15 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
    assert report.kind == "xlsx"
    assert report.rows_read == count
    assert report.imported == count  # a bad ZIP is dropped from its row, which imports
    assert report.errors == []
    assert [e.line for e in report.warnings] == bad_lines
    assert {(e.column, e.reason) for e in report.warnings} == {
        ("ZIP", "'ABCDE' is not a US ZIP code (5 digits or ZIP+4)")
    }
    written = list(csv.reader(errors.open(encoding="utf-8-sig")))
    assert [int(r[0]) for r in written[1:]] == bad_lines
    assert ctx.db.execute("SELECT count(*) FROM accounts").fetchone()[0] == report.imported
    notes = ctx.db.execute("SELECT notes FROM accounts WHERE name = 'Shop 19999'").fetchone()[0]
    assert notes.endswith(" #19999")
    assert len(notes) > 2000
    # Progress went by the sheet's compressed bytes, then the rows read.
    importing = [(d, t) for d, t, p in seen if p == "importing"]
    assert len(importing) == count // 1000
    assert all(0 <= d <= t for d, t in importing)
    assert abs(importing[-1][1] - count) < count * 0.1
    assert seen[-1] == (count, count, "done")


def test_the_shared_string_table_is_not_held_in_memory(tmp_path: Path) -> None:
    count = 3000
    path = _excel_like_book(tmp_path / "sst.xlsx", [HEADER, *_rows(count, note_words=400)])
    data = read_table(path)
    rows = data.rows
    assert isinstance(rows, XlsxRows)
    # The preview parsed only the table's first entries, enough for the header and first rows.
    assert len(data.rows[:PREVIEW_ROWS]) == PREVIEW_ROWS
    assert rows.strings_read < 300
    total_chars, peak = peak_of(lambda: sum(len(c) for _, cells in rows for c in cells))
    assert total_chars > 8_000_000
    assert peak < 3_000_000, f"peak {peak / 1e6:.1f} MB for {total_chars / 1e6:.1f} M chars"
    distinct = {c for row in [HEADER, *_rows(count, note_words=400)] for c in row}
    assert rows.strings_read == len(distinct)
    assert len(rows) == count


# -- preview ---------------------------------------------------------------------------------------


def test_the_preview_reads_the_first_rows_only(tmp_path: Path) -> None:
    # Row 500 is damaged: reading the file through would stop there.
    rows = [HEADER, *_rows(600)]
    path = _excel_like_book(
        tmp_path / "late.xlsx", rows[:499], sheet_tail='<row r="500"><c r="A500" t="s"><v>'
    )
    data = read_table(path)
    assert data.header == HEADER
    assert data.rows[:2] == [
        (2, ["Shop 0", "0 Main St", "Denver", "CO", "80202", "+1 555 000 0000", rows[1][6]]),
        (3, ["Shop 1", "1 Main St", "Cambridge", "MA", "02139", "+1 555 000 0001", rows[2][6]]),
    ]
    assert bool(data.rows)
    assert data.rows.estimate() == (498, False)  # from the size header, not counted
    with pytest.raises(ImportFileError, match=r"late\.xlsx: the sheet is damaged at row 50"):
        len(data.rows)


def test_counts_small_books_exactly_and_big_ones_from_their_size_header(tmp_path: Path) -> None:
    small = read_table(_write_only_book(tmp_path / "small.xlsx", _rows(5)))
    assert small.rows.estimate() == (5, True)
    assert len(small.rows) == 5
    big = read_table(_excel_like_book(tmp_path / "big.xlsx", [HEADER, *_rows(50)]))
    assert big.rows.estimate() == (50, False)
    unsized = read_table(_write_only_book(tmp_path / "unsized.xlsx", _rows(50)))
    assert unsized.rows.estimate() == (0, False)  # no size header: the dialog says so
    assert len(unsized.rows) == 50
    assert unsized.rows.estimate() == (50, True)


def test_a_wrong_size_header_does_not_hide_rows(ctx: Context, tmp_path: Path) -> None:
    # Some writers put A1 there; openpyxl's read-only sheet would then stop after row 1.
    path = _excel_like_book(tmp_path / "a1.xlsx", [HEADER, *_rows(30)], dimension="A1")
    report = import_accounts(ctx, path)
    assert (report.rows_read, report.imported) == (30, 30)


def test_blank_rows_dates_numbers_and_the_header_not_on_row_one(
    ctx: Context, tmp_path: Path
) -> None:
    from datetime import datetime

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Accounts")
    sheet.append([])
    sheet.append(["Company", "Zip Code", "Employees", "Notes"])
    sheet.append(["Plain", 2139.0, 12, datetime(2024, 5, 17, 9, 30)])
    sheet.append([None, None, None, None])
    sheet.append(["After Blank", "10001", 7.5, "x"])
    book.save(tmp_path / "shapes.xlsx")
    data = read_table(tmp_path / "shapes.xlsx")
    assert data.header == ["Company", "Zip Code", "Employees", "Notes"]
    assert list(data.rows) == [
        (3, ["Plain", "2139", "12", "2024-05-17T09:30:00"]),
        (5, ["After Blank", "10001", "7.5", "x"]),
    ]


def test_text_reads_as_openpyxl_reads_it(tmp_path: Path) -> None:
    entries = [
        "<si><t>Company</t></si>",
        "<si><t>Notes</t></si>",
        '<si><r><t>Caf</t></r><r><rPr><b/></rPr><t xml:space="preserve">é Olé </t></r></si>',
        '<si><t>東京</t><rPh sb="0" eb="2"><t>トウキョウ</t></rPh></si>',
        "<si><t>Zürich &amp; Co 🎉</t></si>",
        "<si><t/></si>",
    ]
    path = _excel_like_book(
        tmp_path / "text.xlsx",
        [["Company", "Notes"], ["Café Olé ", "東京"], ["Zürich & Co 🎉", ""]],
        strings_xml=entries,
    )
    data = read_table(path)
    reference = openpyxl.load_workbook(path, read_only=True).worksheets[0]
    expected = [[v or "" for v in row] for row in reference.iter_rows(min_row=2, values_only=True)]
    assert [cells for _, cells in data.rows] == expected
    assert expected == [["Café Olé ", "東京"], ["Zürich & Co 🎉", ""]]


# -- formulas --------------------------------------------------------------------------------------


def test_formulas_with_and_without_saved_results_among_shared_strings(
    ctx: Context, tmp_path: Path
) -> None:
    rows: list[list[object]] = [["Account Name", "Zip Code", "Employees", "City"]]
    for i in range(3000):
        rows.append([f"Shop {i}", "02139", 5, "Cambridge"])
    rows[1500][2] = Formula("A1*2")  # line 1501: no saved result
    rows[2500][2] = Formula("2*3", "6")  # line 2501: the result Excel saved
    rows[2600][3] = Formula('"Bos"&"ton"')  # line 2601: a text formula, no result
    path = _excel_like_book(tmp_path / "formulas.xlsx", rows)
    report = import_accounts(ctx, path)
    # an optional cell holding a formula without a result is dropped: the row imports
    assert report.errors == []
    assert [(e.line, e.column, e.reason) for e in report.warnings] == [
        (
            1501,
            "Employees",
            "holds the formula =A1*2 with no saved result; open the file in Excel, save it, and"
            " import again (or paste the values)",
        ),
        (2601, "City", report.warnings[1].reason),
    ]
    assert report.warnings[1].reason.startswith('holds the formula ="Bos"&"ton" with no saved')
    assert report.imported == 3000
    assert "1 cells hold formulas; the results Excel saved with them were imported" in report.notes
    employees = ctx.db.execute("SELECT employees FROM accounts WHERE name = 'Shop 2499'")
    assert employees.fetchone() == (6,)


def test_a_workbook_without_formulas_is_read_once(tmp_path: Path) -> None:
    data = read_table(_excel_like_book(tmp_path / "plain.xlsx", [HEADER, *_rows(10)]))
    rows = data.rows
    assert isinstance(rows, XlsxRows)
    assert not rows.has_formulas()
    assert [formulas for _, _, formulas in rows.with_formulas()] == [()] * 10
    assert rows.notes == []


def test_contacts_report_formulas_without_saved_results(ctx: Context, tmp_path: Path) -> None:
    ctx.writer.insert("accounts", {"name": "Bayside Bakery"})
    path = _excel_like_book(
        tmp_path / "people.xlsx",
        [
            ["Full Name", "Company", "E-mail"],
            ["Grace Hopper", "Bayside Bakery", "grace@bayside.example"],
            ["Ada Lovelace", "Bayside Bakery", Formula('LOWER("ADA@X.EXAMPLE")')],
            ["Alan Turing", "Bayside Bakery", Formula('LOWER("A@X.EXAMPLE")', "a@x.example")],
        ],
    )
    report = import_contacts(ctx, path)
    assert report.imported == 2
    assert [(e.line, e.column) for e in report.errors] == [(3, "E-mail")]
    assert "holds the formula =LOWER(" in report.errors[0].reason
    assert "1 cells hold formulas; the results Excel saved with them were imported" in report.notes
    emails = ctx.db.execute("SELECT email FROM contacts ORDER BY email").fetchall()
    assert emails == [("a@x.example",), ("grace@bayside.example",)]


def test_cancel_midway_through_a_workbook_imports_nothing(ctx: Context, tmp_path: Path) -> None:
    path = _excel_like_book(tmp_path / "cancel.xlsx", [HEADER, *_rows(3000)])
    done: list[int] = []
    with pytest.raises(ImportCancelled):
        import_accounts(
            ctx,
            path,
            progress=lambda d, t, p: done.append(d),
            cancelled=lambda: bool(done) and done[-1] >= 1000,
        )
    assert ctx.db.execute("SELECT count(*) FROM accounts").fetchone()[0] == 0
    assert ctx.writer.pending_count() == 0
    assert import_accounts(ctx, path).imported == 3000  # the file is not held: read again


# -- damaged and hostile files ---------------------------------------------------------------------


def _state(ctx: Context) -> tuple[int, int]:
    accounts = ctx.db.execute("SELECT count(*) FROM accounts").fetchone()[0]
    return accounts, ctx.writer.pending_count()


def test_damaged_sheet_midway_imports_nothing(ctx: Context, tmp_path: Path) -> None:
    path = _excel_like_book(
        tmp_path / "cut.xlsx",
        [HEADER, *_rows(2500)],
        sheet_tail='<row r="2502"><c r="A2502"><v>1</v></c></row><row r="2503"><c',
    )
    before = _state(ctx)
    with pytest.raises(ImportFileError, match=r"cut\.xlsx: the sheet is damaged at row 250"):
        import_accounts(ctx, path)
    assert _state(ctx) == before


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda p: p.write_bytes(b"\x7fELF\x02\x01" + bytes(range(256)) * 20),
            r"not an Excel workbook \(\.xlsx\) despite its name",
        ),
        (
            lambda p: p.write_bytes(_excel_like_bytes(p)[:3000]),
            r"not a readable Excel workbook \(it is damaged or not a workbook\)",
        ),
        (lambda p: _plain_zip(p), r"not a readable Excel workbook"),
        (
            lambda p: _excel_like_book(p, [["Company"], ["Acme"]], strings_xml=["<si><t>x"]),
            r"shared text table is damaged",
        ),
        (
            lambda p: _excel_like_book(
                p, [["Company"], ["Acme"]], strings_xml=["<si><t>Company</t></si>"]
            ),
            r"a cell refers to text #1, but the workbook holds 1",
        ),
        (
            lambda p: _excel_like_book(
                p,
                [["Company"], ["Acme"]],
                strings_xml=[
                    "<si><t>Company</t></si>",
                    "<si><t>" + "x" * (MAX_TEXT_CHARS + 1) + "</t></si>",
                ],
            ),
            r"holds a text of more than 1,000,000 characters",
        ),
        (
            lambda p: _excel_like_book(
                p, [["Company"]], sheet_tail=f'<row r="{EXCEL_MAX_ROWS + 1}"><c><v>1</v></c></row>'
            ),
            r"goes past row 1,048,576, the last row Excel allows",
        ),
        (
            lambda p: _excel_like_book(
                p, [["Company"]], sheet_tail='<row r="2"><c r="XFE2"><v>1</v></c></row>'
            ),
            r"row 2 of the sheet has cells past column 16,384",
        ),
        (lambda p: _without_text_table(p), r"the sheet is damaged at row 1"),
        (lambda p: _bomb(p), r"would expand .*-fold .* it is damaged or a zip bomb"),
        (lambda p: _excel_like_book(p, [[None], [None]]), r"the sheet '.*' is empty"),
    ],
    ids=[
        "binary",
        "truncated",
        "zip-not-workbook",
        "bad-strings-xml",
        "missing-string",
        "huge-string",
        "too-many-rows",
        "too-many-columns",
        "no-text-table",
        "zip-bomb",
        "empty",
    ],
)
def test_bad_workbooks_are_refused_with_a_reason(
    ctx: Context, tmp_path: Path, make: object, message: str
) -> None:
    path = tmp_path / "bad.xlsx"
    make(path)  # type: ignore[operator]
    before = _state(ctx)
    with pytest.raises(ImportFileError, match=message):
        import_accounts(ctx, path)
    assert _state(ctx) == before


def _excel_like_bytes(path: Path) -> bytes:
    _excel_like_book(path, [HEADER, *_rows(200)])
    return path.read_bytes()


def _plain_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("notes.txt", "not a workbook")


def _without_text_table(path: Path) -> None:
    """Cells that refer to a shared-string table the workbook does not have."""
    _excel_like_book(path, [["Company"], ["Acme"]])
    with zipfile.ZipFile(path) as src:
        parts = {name: src.read(name) for name in src.namelist()}
    del parts["xl/sharedStrings.xml"]
    types = parts["[Content_Types].xml"].decode()
    parts["[Content_Types].xml"] = types.replace(
        types[types.index('<Override PartName="/xl/s') : types.index("</Types>")], ""
    ).encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)


def _bomb(path: Path) -> None:
    """A valid workbook whose sheet, padded with blanks, would expand ~1000-fold to 100 MB."""
    _excel_like_book(path, [["Company"], ["Acme"]])
    with zipfile.ZipFile(path) as src:
        parts = {name: src.read(name) for name in src.namelist()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            if name == "xl/worksheets/sheet1.xml":
                with z.open(name, "w", force_zip64=True) as out:
                    out.write(data[: -len(b"</worksheet>")])
                    blanks = b" " * (1024 * 1024)
                    for _ in range(100):
                        out.write(blanks)
                    out.write(b"</worksheet>")
            else:
                z.writestr(name, data)
