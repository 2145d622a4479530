"""Dates in one form: relative within a week, then the date."""

from __future__ import annotations

from datetime import date

import pytest

from fieldrep.ui.dates import friendly_day, friendly_local_day

TODAY = date(2026, 3, 12)


@pytest.mark.parametrize(
    ("iso", "said"),
    [
        ("2026-03-12", "today"),
        ("2026-03-11T09:00:00.000Z", "yesterday"),
        ("2026-03-06", "6 days ago"),
        ("2026-03-05", "5 Mar 2026"),
        ("2026-03-13", "tomorrow"),
        ("2026-03-15", "in 3 days"),
        ("2026-04-01", "1 Apr 2026"),
        (None, "never"),
    ],
)
def test_friendly_day(iso: str | None, said: str) -> None:
    assert friendly_day(iso, TODAY) == said


def test_a_stored_moment_is_the_users_local_day(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    try:
        # 03:00 UTC on the 13th is still the 12th in California
        assert friendly_local_day("2026-03-13T03:00:00.000Z", TODAY) == "today"
        assert friendly_local_day("2026-03-13T12:00:00.000Z", TODAY) == "tomorrow"
        assert friendly_local_day("", TODAY) == ""
    finally:
        monkeypatch.undo()
        time.tzset()
