"""Report periods: a month, a quarter, a year or a custom range of days, parsed from short text.

Accepted forms (the error message lists them): ``2026-11`` (a month), ``2026-Q3`` (a quarter),
``2026`` (a year), ``2026-01-01..2026-03-31`` (custom, both days included). Timestamps are stored as
UTC ISO text, so a period compares as text against them: ``start <= at < end``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

ACCEPTED_FORMS = (
    "2026-11 (a month), 2026-Q3 (a quarter), 2026 (a year) or "
    "2026-01-01..2026-03-31 (custom, both days included)"
)


class PeriodError(ValueError):
    """The text is not a period; the message names the accepted forms."""


def add_months(d: date, months: int) -> date:
    total = d.year * 12 + d.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


@dataclass(frozen=True)
class ReportPeriod:
    kind: str  # month / quarter / year / custom
    start: date
    end: date  # exclusive

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def lo(self) -> str:
        return self.start.isoformat()

    @property
    def hi(self) -> str:
        return self.end.isoformat()

    @property
    def label(self) -> str:
        if self.kind == "month":
            return self.start.strftime("%B %Y")
        if self.kind == "quarter":
            return f"Q{(self.start.month - 1) // 3 + 1} {self.start.year}"
        if self.kind == "year":
            return str(self.start.year)
        return f"{self.start.isoformat()} to {self.last_day.isoformat()}"

    @property
    def code(self) -> str:
        """The text :func:`parse_period` reads back into this period."""
        if self.kind == "month":
            return self.start.strftime("%Y-%m")
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        if self.kind == "year":
            return str(self.start.year)
        return f"{self.start.isoformat()}..{self.last_day.isoformat()}"

    @property
    def months(self) -> int:
        return {"month": 1, "quarter": 3, "year": 12}.get(self.kind, 0)

    def contains(self, day: date) -> bool:
        return self.start <= day < self.end

    def weeks(self) -> list[date]:
        """Mondays of the ISO weeks that overlap the period."""
        monday = self.start - timedelta(days=self.start.weekday())
        out = []
        while monday < self.end:
            out.append(monday)
            monday += timedelta(days=7)
        return out


def month(year: int, number: int) -> ReportPeriod:
    start = date(year, number, 1)
    return ReportPeriod("month", start, add_months(start, 1))


def quarter(year: int, number: int) -> ReportPeriod:
    start = date(year, (number - 1) * 3 + 1, 1)
    return ReportPeriod("quarter", start, add_months(start, 3))


def year(number: int) -> ReportPeriod:
    return ReportPeriod("year", date(number, 1, 1), date(number + 1, 1, 1))


def current(kind: str, today: date) -> ReportPeriod:
    """The month, quarter or year that holds ``today``."""
    if kind == "month":
        return month(today.year, today.month)
    if kind == "quarter":
        return quarter(today.year, (today.month - 1) // 3 + 1)
    if kind == "year":
        return year(today.year)
    raise PeriodError(f"no current {kind!r}: use month, quarter or year")


_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
_QUARTER = re.compile(r"(\d{4})-?[Qq]([1-4])")
_YEAR = re.compile(r"(\d{4})")
_RANGE = re.compile(r"(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})")


def parse_period(text: str) -> ReportPeriod:
    """The period ``text`` names; :class:`PeriodError` (naming the accepted forms) otherwise."""
    raw = text.strip()
    try:
        if m := _QUARTER.fullmatch(raw):
            return quarter(int(m[1]), int(m[2]))
        if m := _MONTH.fullmatch(raw):
            return month(int(m[1]), int(m[2]))
        if m := _YEAR.fullmatch(raw):
            return year(int(m[1]))
        if m := _RANGE.fullmatch(raw):
            first, last = date.fromisoformat(m[1]), date.fromisoformat(m[2])
            if last < first:
                raise PeriodError(
                    f"the period {raw!r} ends before it starts: write the first day first"
                )
            return ReportPeriod("custom", first, last + timedelta(days=1))
    except ValueError as exc:
        if isinstance(exc, PeriodError):
            raise
        raise PeriodError(f"{raw!r} is not a period ({exc}); use {ACCEPTED_FORMS}") from exc
    raise PeriodError(f"{raw!r} is not a period; use {ACCEPTED_FORMS}")
