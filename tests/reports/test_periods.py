from __future__ import annotations

from datetime import date

import pytest

from fieldrep.reports.periods import PeriodError, current, parse_period


@pytest.mark.parametrize(
    ("text", "kind", "start", "end", "label"),
    [
        ("2026-Q3", "quarter", date(2026, 7, 1), date(2026, 10, 1), "Q3 2026"),
        ("2026-q4", "quarter", date(2026, 10, 1), date(2027, 1, 1), "Q4 2026"),
        ("2026-11", "month", date(2026, 11, 1), date(2026, 12, 1), "November 2026"),
        ("2026-12", "month", date(2026, 12, 1), date(2027, 1, 1), "December 2026"),
        ("2026", "year", date(2026, 1, 1), date(2027, 1, 1), "2026"),
        (
            "2026-01-01..2026-03-31",
            "custom",
            date(2026, 1, 1),
            date(2026, 4, 1),
            "2026-01-01 to 2026-03-31",
        ),
    ],
)
def test_accepted_forms(text: str, kind: str, start: date, end: date, label: str) -> None:
    period = parse_period(text)
    assert (period.kind, period.start, period.end, period.label) == (kind, start, end, label)
    assert parse_period(period.code) == period


@pytest.mark.parametrize(
    "text",
    [
        "2026-13",
        "Q3",
        "2026-Q5",
        "next year",
        "2026-03-31..2026-01-01",
        "2026-02-30..2026-03-01",
        "",
    ],
)
def test_bad_periods_name_the_accepted_forms(text: str) -> None:
    with pytest.raises(PeriodError) as info:
        parse_period(text)
    message = str(info.value)
    assert "2026-Q3" in message or "ends before it starts" in message


def test_current_period_and_weeks() -> None:
    assert current("quarter", date(2026, 12, 7)).code == "2026-Q4"
    assert current("month", date(2026, 12, 7)).code == "2026-12"
    weeks = parse_period("2026-11").weeks()
    assert weeks[0] == date(2026, 10, 26)
    assert weeks[-1] == date(2026, 11, 30)
    assert all(w.weekday() == 0 for w in weeks)
