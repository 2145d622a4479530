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
from datetime import datetime
from pathlib import Path
from typing import Any

from fieldrep.domain.errors import Cancelled
from fieldrep.domain.progress import Progress
from fieldrep.services.gc_pause import collector_paused
from fieldrep.services.imports.spreadsheet_text import escaped
from fieldrep.store.accounts_repository import AccountFilter, AccountsRepository, Sort

ALL_ACCOUNTS = AccountFilter()
BY_NAME = Sort()

FORMATS = (".csv", ".xlsx")
# What each column is called in the file: words a user knows, which the import also matches, so an
# exported file imports again as it is. (column, header, XLSX width in characters)
COLUMNS: dict[str, tuple[str, int]] = {
    "name": ("Account name", 36),
    "status": ("Status", 10),
    "industry": ("Industry", 20),
    "size": ("Size band", 10),
    "employees": ("Employees", 11),
    "potential": ("Potential", 13),
    "street": ("Street", 28),
    "city": ("City", 18),
    "region": ("State", 7),
    "postal_code": ("Postal code", 11),
    "country": ("Country", 8),
    "phone": ("Phone", 17),
    "email": ("Email", 30),
    "website": ("Website", 30),
    "territory": ("Territory", 18),
    "owner": ("Owner username", 15),
    "last_visit": ("Last visit", 17),
    "notes": ("Notes", 40),
    "lat": ("Latitude", 10),
    "lon": ("Longitude", 11),
    "geocode_quality": ("Location quality", 16),
    "geocode_source": ("Location source", 18),
    "id": ("FieldRep id", 38),
}


class ExportError(Exception):
    """The export could not be written; the message says why in one sentence."""


class ExportCancelled(ExportError, Cancelled):
    """The user cancelled; no file was written (an earlier file of that name is untouched)."""


EVERY = 1000  # rows between progress reports and cancel checks


def _watched(
    rows: Iterable[Any],
    total: int,
    text: str,
    progress: Progress | None,
    cancelled: Callable[[], bool] | None,
) -> Iterator[Any]:
    for index, row in enumerate(rows):
        if index % EVERY == 0:
            if cancelled is not None and cancelled():
                raise ExportCancelled("export cancelled; no file was written")
            if progress is not None:
                progress(index, total, text)
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
    visit = columns.index("last_visit")
    rows = (
        _local_visit(row, visit)
        for row in _watched(all_rows, total, f"Exporting {path.name}", progress, cancelled)
    )
    partial = partial_path(path)
    try:
        with collector_paused():  # the workbook's objects die young: no full collections
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
        progress(count, total, f"Exporting {path.name}")
    return count


def partial_path(path: Path) -> Path:
    """Where an export to ``path`` is written until it is complete (then renamed to ``path``)."""
    return path.with_name(f".{path.name}.partial")


def _local_visit(row: tuple[Any, ...], at: int) -> tuple[Any, ...]:
    """The last visit in the user's local time (stored in UTC, ISO text), to the minute."""
    stamp = row[at]
    if not stamp:
        return row
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return row
    if moment.tzinfo is not None:
        moment = moment.astimezone().replace(tzinfo=None)
    return (*row[:at], moment.replace(second=0, microsecond=0), *row[at + 1 :])


def _csv_cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return escaped(value)


def _write_csv(path: Path, columns: list[str], rows: Any) -> int:
    count = 0
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        out = csv.writer(fh)
        out.writerow([COLUMNS[c][0] for c in columns])
        for row in rows:
            out.writerow([_csv_cell(v) for v in row])
            count += 1
    return count


def _write_xlsx(path: Path, columns: list[str], rows: Any) -> int:
    """xlsxwriter in constant-memory mode: each row goes to the sheet's file as it is written.
    Cells keep their types (text is always written as text, so text that looks like a formula
    stays inert; numbers, money and dates are typed and formatted)."""
    import xlsxwriter

    book = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "nan_inf_to_errors": True,  # a stray infinity is #NUM!, not a failed export
        },
    )
    try:
        sheet = book.add_worksheet("Accounts")
        bold = book.add_format({"bold": True})
        for number, name in enumerate(columns):
            sheet.set_column(number, number, COLUMNS[name][1])
            sheet.write_string(0, number, COLUMNS[name][0], bold)
        sheet.freeze_panes(1, 1)  # the header row and the account's name stay in view
        sheet.autofilter(0, 0, 0, len(columns) - 1)
        formats = {
            columns.index("potential"): book.add_format({"num_format": '"$"#,##0'}),
            columns.index("last_visit"): book.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
        }
        count = _write_rows(sheet, rows, formats)
    except BaseException:
        # A cancel or a failure mid-way: close the book so that xlsxwriter's temporary row files
        # go now (the caller removes the partial file), rather than at garbage collection.
        with contextlib.suppress(Exception):
            book.close()
        raise
    book.close()
    return count


def _write_rows(sheet: Any, rows: Iterable[tuple[Any, ...]], formats: dict[int, Any]) -> int:
    write_string = sheet.write_string
    write_number = sheet.write_number
    write_datetime = sheet.write_datetime
    write = sheet.write
    count = 0
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if value is None:
                continue
            kind = type(value)
            if kind is str:
                write_string(r, c, value)
            elif kind is int or kind is float:
                write_number(r, c, value, formats.get(c))
            elif kind is datetime:
                write_datetime(r, c, value, formats.get(c))
            else:
                write(r, c, value, formats.get(c))
        count += 1
    return count
