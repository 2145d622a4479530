"""A report as XLSX, written by xlsxwriter in constant-memory mode (rows stream to the file).

An "About" sheet first (title, team, period, scope, when, notes), then one sheet per section: typed
cells (numbers stay numbers; money, percent and date formats), a frozen bold header, an autofilter,
widths from the columns, the total row as formulas (with their values cached, so a reader that does
not calculate still sees them), then the section's notes. Charts: a native chart sheet for a flat
table, the report's own figure as a picture for a hierarchy (a native chart cannot skip subtotals).
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fieldrep.reports.model import NA, Chart, Column, Kind, Report, Table

EVERY = 2000
_BAD = re.compile(r"[\[\]:*?/\\]")


def sheet_name(title: str, used: set[str]) -> str:
    base = _BAD.sub(" ", title).strip()[:31] or "Sheet"
    name, n = base, 2
    while name.lower() in used:
        suffix = f" ({n})"
        name, n = base[: 31 - len(suffix)] + suffix, n + 1
    used.add(name.lower())
    return name


def col_letter(index: int) -> str:
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


class _Formats:
    def __init__(self, book: Any) -> None:
        self.header = book.add_format(
            {"bold": True, "bg_color": "#dde4ee", "text_wrap": True, "valign": "top", "border": 1}
        )
        self.title = book.add_format({"bold": True, "font_size": 14})
        self.bold = book.add_format({"bold": True})
        self.note = book.add_format({"italic": True, "font_color": "#555555"})
        self.na = book.add_format({"align": "right", "font_color": "#777777"})
        self.kinds = {
            Kind.INT: book.add_format({"num_format": "#,##0"}),
            Kind.NUMBER: book.add_format({"num_format": "#,##0.0"}),
            Kind.MONEY: book.add_format({"num_format": "#,##0.00"}),
            Kind.PERCENT: book.add_format({"num_format": "0.0%"}),
            Kind.DATE: book.add_format({"num_format": "yyyy-mm-dd"}),
        }
        self.sub = {
            k: book.add_format({"num_format": f.num_format, "bold": True})
            for k, f in self.kinds.items()
        }
        self.sub_text = book.add_format({"bold": True})
        self.total = {
            k: book.add_format({"num_format": f.num_format, "bold": True, "top": 1})
            for k, f in self.kinds.items()
        }
        self.total_text = book.add_format({"bold": True, "top": 1})
        self.indent = [book.add_format({"indent": n}) for n in range(6)]
        self.indent_bold = [book.add_format({"indent": n, "bold": True}) for n in range(6)]


def _write_cell(
    ws: Any, r: int, c: int, value: Any, column: Column, fmt: Any, text_fmt: Any
) -> None:
    if value is None:
        return
    if value == NA:
        ws.write_string(r, c, NA, fmt.na)
    elif isinstance(value, str):
        ws.write_string(r, c, value, text_fmt)
    elif isinstance(value, datetime):
        ws.write_datetime(r, c, value, fmt.kinds[Kind.DATE])
    elif isinstance(value, date):
        ws.write_datetime(r, c, datetime(value.year, value.month, value.day), fmt.kinds[Kind.DATE])
    elif isinstance(value, bool):
        ws.write_boolean(r, c, value)
    elif isinstance(value, int | float):
        kind = column.kind if column.kind in fmt.kinds else Kind.NUMBER
        ws.write_number(r, c, value, fmt.kinds[kind] if text_fmt is None else fmt.sub[kind])
    else:
        ws.write_string(r, c, str(value), text_fmt)


def _write_section(book: Any, ws: Any, table: Table, fmt: _Formats, step: Any) -> tuple[int, int]:
    """Write the table; returns (first data row, last data row), 0-based."""
    hierarchical = bool(table.subtotal_rows)
    offset = 1 if hierarchical else 0
    if hierarchical:
        ws.set_column(0, 0, 6)
        ws.write_string(0, 0, "Level", fmt.header)
    for i, column in enumerate(table.columns):
        ws.set_column(i + offset, i + offset, column.width)
        ws.write_string(0, i + offset, column.header, fmt.header)
    ws.set_row(0, 30)
    ws.freeze_panes(1, offset + 1)
    children = _children(table)
    for r, row in enumerate(table.rows, start=1):
        if step is not None and r % EVERY == 1:
            step(r - 1, len(table.rows), f"Writing {table.title}")
        sub = (r - 1) in table.subtotal_rows
        level = table.levels[r - 1] if table.levels else 0
        if hierarchical:
            ws.write_number(r, 0, level)
        for c, (value, column) in enumerate(zip(row, table.columns, strict=True)):
            if c == 0 and table.levels:
                text_fmt = (fmt.indent_bold if sub else fmt.indent)[min(level, 5)]
            else:
                text_fmt = fmt.sub_text if sub else None
            if sub and _subtotal_formula(ws, table, r - 1, c, offset, children[r - 1], fmt):
                continue
            _write_cell(ws, r, c + offset, value, column, fmt, text_fmt)
    last = len(table.rows)
    ws.autofilter(0, 0, max(last, 1), len(table.columns) - 1 + offset)
    totals = table.totals()
    end = last
    if totals is not None:
        end = last + 1
        _write_totals(ws, table, totals, end, offset, fmt)
    for n, note in enumerate(table.notes):
        ws.write_string(end + 2 + n, offset, note, fmt.note)
    return 1, last


def _children(table: Table) -> dict[int, list[int]]:
    """Per subtotal row, its direct children (the rows one level deeper up to the next row at its
    own level or above)."""
    out: dict[int, list[int]] = {}
    for at in table.subtotal_rows:
        level = table.levels[at]
        kids = []
        for i in range(at + 1, len(table.rows)):
            if table.levels[i] <= level:
                break
            if table.levels[i] == level + 1:
                kids.append(i)
        out[at] = kids
    return out


def _subtotal_formula(
    ws: Any, table: Table, at: int, c: int, offset: int, kids: list[int], fmt: _Formats
) -> bool:
    """Write a subtotal row's cell as a formula over its children's cells, with the row's own
    value cached; False when the column has no formula (text, or a blank)."""
    column = table.columns[c]
    value = table.rows[at][c]
    letter = col_letter(c + offset)
    kind = column.kind if column.kind in fmt.sub else Kind.NUMBER
    if column.total == "sum" and isinstance(value, int | float) and not isinstance(value, bool):
        parts = [
            f"{letter}{kid + 2}" for kid in kids if isinstance(table.rows[kid][c], int | float)
        ]
        if not parts:
            return False
        # What the row holds beyond its children (accounts, sales, a quota set on the region
        # itself) is added as a number, so the formula and its cached value agree.
        own = value - sum(
            table.rows[kid][c] for kid in kids if isinstance(table.rows[kid][c], int | float)
        )
        own = round(own) if column.kind is Kind.INT else round(own, 2)
        formula = f"=SUM({','.join(parts)})" + (f"+{own}" if own > 0 else f"{own}" if own else "")
        ws.write_formula(at + 1, c + offset, formula, fmt.sub[kind], value)
        return True
    if isinstance(column.total, tuple):
        _, num, den = column.total
        n = f"{col_letter(table.index(num) + offset)}{at + 2}"
        d = f"{col_letter(table.index(den) + offset)}{at + 2}"
        formula = f'=IF(N({d})=0,"{NA}",{n}/{d})'
        ws.write_formula(at + 1, c + offset, formula, fmt.sub[kind], value)
        return True
    return False


def _write_totals(
    ws: Any, table: Table, totals: list[Any], row: int, offset: int, fmt: _Formats
) -> None:
    first, last = 2, row  # 1-based rows of the data in formulas
    cells: dict[str, str] = {}
    for i, column in enumerate(table.columns):
        cells[column.key] = f"{col_letter(i + offset)}{row + 1}"
    hierarchical = bool(table.subtotal_rows)
    for i, (column, value) in enumerate(zip(table.columns, totals, strict=True)):
        c = i + offset
        kind = column.kind if column.kind in fmt.total else Kind.NUMBER
        letter = col_letter(c)
        if column.total == "sum":
            rng = f"{letter}{first}:{letter}{last}"
            if hierarchical:
                formula = f"=SUMIFS({rng},$A${first}:$A${last},0)"
            else:
                formula = f"=SUBTOTAL(109,{rng})"
            ws.write_formula(row, c, formula, fmt.total[kind], value)
        elif isinstance(column.total, tuple):
            _, num, den = column.total
            formula = f'=IF({cells[den]}=0,"{NA}",{cells[num]}/{cells[den]})'
            ws.write_formula(row, c, formula, fmt.total[kind], value)
        elif i == 0:
            ws.write_string(row, c, str(value), fmt.total_text)
        else:
            ws.write_blank(row, c, None, fmt.total_text)


def _about(ws: Any, report: Report, fmt: _Formats) -> None:
    ws.set_column(0, 0, 18)
    ws.set_column(1, 1, 100)
    ws.write_string(0, 0, report.title, fmt.title)
    rows = [
        ("Team", report.team),
        ("Period", f"{report.period.label} ({report.period.start} to {report.period.last_day})"),
        ("Scope", report.scope),
        ("Generated at", report.generated_at.strftime("%Y-%m-%d %H:%M")),
    ]
    for r, (label, value) in enumerate(rows, start=2):
        ws.write_string(r, 0, label, fmt.bold)
        ws.write_string(r, 1, value)
    r = len(rows) + 3
    if report.empty:
        ws.write_string(r, 0, report.empty_message, fmt.bold)
        r += 2
    for note in report.notes:
        ws.write_string(r, 0, note, fmt.note)
        r += 1


def write_xlsx(report: Report, path: Path, *, step: Any = None) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(
        str(path), {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    try:
        fmt = _Formats(book)
        used: set[str] = set()
        _about(book.add_worksheet(sheet_name("About", used)), report, fmt)
        placed: list[tuple[str, int, int]] = []
        if not report.empty:
            for table in report.sections:
                name = sheet_name(table.title, used)
                first, last = _write_section(book, book.add_worksheet(name), table, fmt, step)
                placed.append((name, first, last))
            for chart in report.charts:
                _chart(book, report, chart, placed, used)
    finally:
        book.close()


def _chart(
    book: Any, report: Report, chart: Chart, placed: list[tuple[str, int, int]], used: set[str]
) -> None:
    table = report.sections[chart.table]
    name, first, last = placed[chart.table]
    if last < first or not chart.values:
        return
    if table.subtotal_rows:
        _picture(book, chart, used)
        return
    offset = 0
    native = book.add_chart(
        {"type": chart.style if chart.style in ("bar", "column", "line") else "bar"}
    )
    cat = table.index(chart.category) + offset
    for key in chart.values:
        col = table.index(key) + offset
        native.add_series(
            {
                "name": [name, 0, col],
                "categories": [name, first, cat, last, cat],
                "values": [name, first, col, last, col],
            }
        )
    native.set_title({"name": chart.title})
    native.set_legend({"none": len(chart.values) == 1})
    if chart.style == "bar":
        native.set_y_axis({"reverse": True})
    sheet = book.add_chartsheet(sheet_name(f"Chart - {chart.title}", used))
    sheet.set_chart(native)


def _picture(book: Any, chart: Chart, used: set[str]) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=chart.size(9.0), dpi=110)
    FigureCanvasAgg(fig)
    chart.draw(fig)
    data = io.BytesIO()
    fig.savefig(data, format="png")
    ws = book.add_worksheet(sheet_name(f"Chart - {chart.title}", used))
    ws.insert_image(1, 1, "chart.png", {"image_data": data})
