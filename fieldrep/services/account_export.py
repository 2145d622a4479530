"""Exporting the current (filtered, sorted) account list to CSV or XLSX.

Rows stream from SQLite to the file, so exporting 100,000 accounts never holds them all in memory.
The file is written beside its final name and renamed at the end: an interrupted export leaves no
half file behind.
"""

from __future__ import annotations

import contextlib
import csv
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from fieldrep.services.spreadsheet_text import escaped
from fieldrep.store.accounts_repository import AccountFilter, AccountsRepository, Sort

ALL_ACCOUNTS = AccountFilter()
BY_NAME = Sort()

FORMATS = (".csv", ".xlsx")


class ExportError(Exception):
    """The export could not be written; the message says why in one sentence."""


class ExportCancelled(ExportError):
    """The user cancelled; no file was written (an earlier file of that name is untouched)."""


Progress = Callable[[int, int], None]  # (rows written, rows in all)
EVERY = 1000  # rows between progress reports and cancel checks


def _watched(
    rows: Iterable[Any],
    total: int,
    progress: Progress | None,
    cancelled: Callable[[], bool] | None,
) -> Iterator[Any]:
    for index, row in enumerate(rows):
        if index % EVERY == 0:
            if cancelled is not None and cancelled():
                raise ExportCancelled("export cancelled; no file was written")
            if progress is not None:
                progress(index, total)
        yield row


def export_accounts(
    conn: Any,
    path: str | Path,
    flt: AccountFilter = ALL_ACCOUNTS,
    sort: Sort = BY_NAME,
    *,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> int:
    """Write the accounts matching ``flt`` to ``path`` (.csv or .xlsx); returns the row count.
    Raises ExportCancelled (leaving no file) once ``cancelled()`` turns true."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ExportError(f"cannot export to {path.name}: use a .csv or .xlsx file name")
    if not path.parent.exists():
        raise ExportError(f"the folder {path.parent} does not exist")
    repository = AccountsRepository(conn)
    total = repository.count(flt) if progress is not None else 0
    columns, all_rows = repository.rows_for_export(flt, sort)
    rows = _watched(all_rows, total, progress, cancelled)
    partial = path.with_name(f".{path.name}.partial")
    try:
        count = (
            _write_csv(partial, columns, rows)
            if suffix == ".csv"
            else _write_xlsx(partial, columns, rows)
        )
        os.replace(partial, path)
    except ExportCancelled:
        partial.unlink(missing_ok=True)
        raise
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from exc
    if progress is not None:
        progress(count, total)
    return count


def _write_csv(path: Path, columns: list[str], rows: Any) -> int:
    count = 0
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        out = csv.writer(fh)
        out.writerow(columns)
        for row in rows:
            out.writerow([escaped(v) for v in row])
            count += 1
    return count


def _write_xlsx(path: Path, columns: list[str], rows: Any) -> int:
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Accounts")
    sheet.freeze_panes = "B2"
    bold = Font(bold=True)
    header = []
    for name in columns:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    count = 0
    try:
        for row in rows:
            sheet.append([_text_cell(sheet, v) for v in row])
            count += 1
    except BaseException:
        # A cancel mid-way: finish and drop openpyxl's temporary sheet file now, rather than
        # leaving its writer to fail noisily when it is garbage-collected.
        with contextlib.suppress(Exception):
            sheet.close()
            sheet._writer.cleanup()
        raise
    book.save(path)
    return count


def _text_cell(sheet: Any, value: Any) -> Any:
    """An XLSX cell keeps its type, so text is written as it is; only text that openpyxl would
    take for a formula (starting with "=") is made a text cell explicitly."""
    if isinstance(value, str) and value.startswith("="):
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value
