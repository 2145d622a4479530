"""What a report is, whatever it is written to: titled sections of typed tables, and charts.

A :class:`Table` knows each column's type (text, integer, money, percent, number, date), so the XLSX
writer can give cells their real types and formats, the CSV writer plain values and the PDF writer
aligned text. Totals are computed once here; the XLSX writer also writes them as formulas.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from matplotlib.figure import Figure

from fieldrep.reports.periods import ReportPeriod

NA = "n/a"  # a figure that cannot be computed (a territory with no quota): never a division error


class Kind(StrEnum):
    TEXT = "text"
    INT = "int"
    NUMBER = "number"
    MONEY = "money"
    PERCENT = "percent"  # a share, 0.25 for 25 %
    DATE = "date"


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: Kind = Kind.TEXT
    width: int = 12
    # How the total row gets this column: "sum", ("ratio", num_key, den_key), or None (blank).
    total: str | tuple[str, str, str] | None = None
    currency: str | None = None  # for MONEY columns: the one currency the column holds


@dataclass
class Table:
    """One section: a title, typed columns, rows of values (None: empty, NA: cannot be computed)."""

    title: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)
    # Per row: indentation level (hierarchy) and whether it is a subtotal; empty means all flat.
    levels: list[int] = field(default_factory=list)
    subtotal_rows: set[int] = field(default_factory=set)
    total_label: str | None = "Total"  # None: no total row
    notes: list[str] = field(default_factory=list)
    # Rows that the total sums (default: all rows that are not subtotals).
    total_rows: list[int] | None = None
    # What a click on a row opens in the app: (kind, id) per row, e.g. ("territory", id).
    links: list[tuple[str, str] | None] = field(default_factory=list)

    def index(self, key: str) -> int:
        for i, column in enumerate(self.columns):
            if column.key == key:
                return i
        raise KeyError(key)

    def column(self, key: str) -> list[Any]:
        i = self.index(key)
        return [row[i] for row in self.rows]

    def summed_rows(self) -> list[int]:
        if self.total_rows is not None:
            return self.total_rows
        return [i for i in range(len(self.rows)) if i not in self.subtotal_rows]

    def totals(self) -> list[Any] | None:
        """The total row's values (label in the first column), or None when there is none."""
        if self.total_label is None or not self.rows:
            return None
        picked = [self.rows[i] for i in self.summed_rows()]
        out: list[Any] = [None] * len(self.columns)
        sums: dict[str, float] = {}
        for i, column in enumerate(self.columns):
            if column.total == "sum":
                values = [r[i] for r in picked if isinstance(r[i], int | float)]
                total: float = sum(values)
                sums[column.key] = total
                out[i] = int(total) if column.kind is Kind.INT else round(total, 2)
        for i, column in enumerate(self.columns):
            if isinstance(column.total, tuple):
                _, num, den = column.total
                n, d = sums.get(num), sums.get(den)
                out[i] = n / d if n is not None and d else NA
        out[0] = self.total_label
        return out


@dataclass(frozen=True)
class Chart:
    """A figure the report draws into a Figure the caller owns (UI canvas, PDF, PNG).

    ``table``/``category``/``values`` say which section's columns it plots, so the XLSX writer can
    make a native chart of the same cells.
    """

    title: str
    draw: Callable[[Figure], None]
    table: int = 0
    category: str = ""
    values: tuple[str, ...] = ()
    style: str = "bar"  # bar / column / line
    bars: int = 0  # horizontal bars drawn (0: not a bar chart): a printed chart grows with them

    def size(self, width: float = 7.5) -> tuple[float, float]:
        """Figure size in inches for a page: tall enough that every bar's label stays legible."""
        if not self.bars:
            return (width, 4.2)
        return (width, max(3.2, min(9.0, 1.2 + 0.2 * min(self.bars, 40))))


@dataclass(frozen=True)
class ReportImage:
    """A picture the caller rendered (the territory map, drawn by the UI layer's map renderer):
    PNG bytes, so the reports stay free of Qt. The PDF writer shows it on a page of its own."""

    title: str
    png: bytes
    caption: str = ""


@dataclass
class Report:
    kind: str
    title: str
    period: ReportPeriod
    scope: str  # "All territories", "Territory: West (and below)", "Rep: Jordan Reyes"
    sections: list[Table]
    charts: list[Chart] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    images: list[ReportImage] = field(default_factory=list)  # PDF only
    team: str = ""
    generated_at: datetime = field(default_factory=lambda: datetime.now().replace(microsecond=0))
    empty: bool = False  # no data in the period: writers say so instead of writing empty tables

    @property
    def empty_message(self) -> str:
        return f"No data for {self.period.label} ({self.scope}): nothing to report in this period."

    def subtitle(self) -> str:
        return f"{self.period.label} · {self.scope}"


def cell_text(value: Any, column: Column) -> str:
    """How a cell reads on screen and in a PDF."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if column.kind is Kind.PERCENT:
        return f"{value:.1%}"
    if column.kind is Kind.MONEY:
        return f"{value:,.2f}"
    if column.kind is Kind.INT:
        return f"{int(value):,}"
    if column.kind is Kind.NUMBER:
        return f"{value:,.1f}"
    if isinstance(value, date | datetime):
        return value.isoformat()[:10]
    return str(value)


def is_numeric(column: Column) -> bool:
    return column.kind in (Kind.INT, Kind.NUMBER, Kind.MONEY, Kind.PERCENT)
