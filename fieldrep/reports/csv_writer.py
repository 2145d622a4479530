"""A report as CSV (UTF-8; with a BOM for Excel on request). One section: a plain table; several:
each preceded by its title and followed by a blank line. Text a spreadsheet would run as a formula
gets a leading apostrophe (as the accounts export does). Percentages are written as numbers of
percent ("Attainment %" 63.82), n/a as the text n/a."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

from fieldrep.reports.model import Column, Kind, Report, Table
from fieldrep.services.imports.spreadsheet_text import escaped

EVERY = 2000


def csv_value(value: Any, column: Column) -> Any:
    if value is None:
        return ""
    if isinstance(value, str):
        return escaped(value)
    if column.kind is Kind.PERCENT:
        return round(value * 100, 2)
    if column.kind is Kind.MONEY:
        return f"{value:.2f}"
    if isinstance(value, date):
        return value.isoformat()
    return value


def header(column: Column) -> str:
    return f"{column.header} %" if column.kind is Kind.PERCENT else column.header


def _write_table(out: Any, table: Table, step: Any) -> None:
    hierarchical = bool(table.subtotal_rows)
    out.writerow((["Level"] if hierarchical else []) + [header(c) for c in table.columns])
    for index, row in enumerate(table.rows):
        if step is not None and index % EVERY == 0:
            step(index, len(table.rows), f"Writing {table.title}")
        cells = [csv_value(v, c) for v, c in zip(row, table.columns, strict=True)]
        out.writerow(([table.levels[index]] if hierarchical else []) + cells)
    totals = table.totals()
    if totals is not None:
        cells = [csv_value(v, c) for v, c in zip(totals, table.columns, strict=True)]
        out.writerow(([""] if hierarchical else []) + cells)


def write_csv(report: Report, path: Path, *, bom: bool = False, step: Any = None) -> None:
    with path.open("w", newline="", encoding="utf-8-sig" if bom else "utf-8") as fh:
        out = csv.writer(fh)
        if report.empty:
            out.writerow([escaped(report.empty_message)])
            return
        several = len(report.sections) > 1
        for number, table in enumerate(report.sections):
            if several:
                if number:
                    out.writerow([])
                out.writerow([escaped(table.title)])
            _write_table(out, table, step)
        notes = [n for t in report.sections for n in t.notes] + report.notes
        if report.kind == "accounts":
            notes = []  # the list stays a plain table that imports again as it is
        if several or notes:
            out.writerow([])
        for note in notes:
            out.writerow([escaped(f"Note: {note}")])
