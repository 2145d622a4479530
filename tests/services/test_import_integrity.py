"""Imports keep their promises at the edges: re-importing changes nothing whatever the names, a
workbook damaged where its rows do not reach imports nothing, and the parts of a sheet beside its
rows do not pile up in memory."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import pytest

from fieldrep.services.context import Context
from fieldrep.services.imports.accounts import import_accounts
from fieldrep.services.imports.contacts import import_contacts
from fieldrep.services.imports.readers import ImportFileError, read_table
from tests.services.memory import peak_of
from tests.services.test_xlsx_streaming import HEADER, _excel_like_book, _rows


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


def _state(ctx: Context) -> tuple[list[tuple[object, ...]], int]:
    rows = ctx.db.execute("SELECT * FROM accounts ORDER BY name").fetchall()
    return rows, ctx.writer.pending_count()


# -- names made only of legal-form words -------------------------------------------------------


def test_names_made_only_of_legal_form_words_are_not_imported_twice(
    ctx: Context, tmp_path: Path
) -> None:
    path = _csv(
        tmp_path / "a.csv",
        [["Company", "City"], ["The Company", "Boston"], ["Company Inc", "Denver"], ["&", "Reno"]],
    )
    assert import_accounts(ctx, path).imported == 3
    before = _state(ctx)
    again = import_accounts(ctx, path)
    assert (again.imported, again.duplicates) == (0, 3)
    assert _state(ctx) == before
    assert "possible duplicate of existing account 'The Company'" in again.errors[0].reason


def test_a_contact_is_not_put_on_an_account_whose_name_is_only_legal_form_words(
    ctx: Context, tmp_path: Path
) -> None:
    ctx.writer.insert("accounts", {"name": "The Company"})
    path = _csv(
        tmp_path / "people.csv",
        [["Name", "Company"], ["Grace Hopper", "LLC"], ["Ada Lovelace", "the company"]],
    )
    report = import_contacts(ctx, path)
    assert report.imported == 1
    assert [(e.line, e.column, e.reason) for e in report.errors] == [
        (2, "Company", "no account is named 'LLC'")
    ]


# -- a workbook damaged where its rows do not reach --------------------------------------------


def _stored_book_with_damaged_text(path: Path) -> Path:
    """A workbook whose text table has a flipped byte in a text the sheet uses (its checksum no
    longer matches), followed by texts the first sheet never uses (another sheet's, say)."""
    rows = [["Company", "City"], ["Acme", "Cambridge"], ["Bayside", "Denver"]]
    used = ["Company", "City", "Acme", "Cambridge", "Bayside", "Denver"]
    unused = [f"text of another sheet {i}" for i in range(20_000)]
    _excel_like_book(path, rows, strings_xml=[f"<si><t>{s}</t></si>" for s in used + unused])
    with zipfile.ZipFile(path) as src:
        parts = {name: src.read(name) for name in src.namelist()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as out:
        for name, data in parts.items():
            out.writestr(name, data)
    raw = bytearray(path.read_bytes())
    at = raw.index(b"<t>Cambridge</t>") + len(b"<t>Camb")
    raw[at] = ord("x")
    path.write_bytes(bytes(raw))
    return path


def test_a_text_table_damaged_past_the_texts_read_imports_nothing(
    ctx: Context, tmp_path: Path
) -> None:
    path = _stored_book_with_damaged_text(tmp_path / "crc.xlsx")
    before = _state(ctx)
    with pytest.raises(ImportFileError, match=r"crc\.xlsx is not a readable Excel workbook"):
        import_accounts(ctx, path)
    assert _state(ctx) == before
    with pytest.raises(ImportFileError, match="shared text table is damaged"):
        len(read_table(path).rows)


# -- memory ------------------------------------------------------------------------------------


def test_merged_cells_and_links_beside_the_rows_are_not_held_in_memory(tmp_path: Path) -> None:
    path = _excel_like_book(tmp_path / "merged.xlsx", [HEADER, *_rows(2000)])
    with zipfile.ZipFile(path) as src:
        parts = {name: src.read(name) for name in src.namelist()}
    count = 100_000  # an export that merges two cells, and links a cell, on every row
    merges = "".join(f'<mergeCell ref="F{i}:G{i}"/>' for i in range(2, count + 2))
    links = "".join(f'<hyperlink ref="A{i}" display="x"/>' for i in range(2, count + 2))
    parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"].replace(
        b"</sheetData>",
        f"</sheetData><mergeCells>{merges}</mergeCells><hyperlinks>{links}</hyperlinks>".encode(),
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in parts.items():
            out.writestr(name, data)
    data = read_table(path)
    read, peak = peak_of(lambda: sum(1 for _ in data.rows))
    assert read == 2000
    assert peak < 8_000_000, f"peak {peak / 1e6:.1f} MB"
