"""Dates in one form across the app: relative for the last (and next) week, then the date.

"today", "yesterday", "3 days ago", "in 2 days", else "12 Mar 2026"; a moment adds its time
("yesterday 14:05"). Stored values stay ISO 8601; only what people read is formatted here.
"""

from __future__ import annotations

from datetime import date, datetime

RELATIVE_DAYS = 7
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _parse_day(iso: str) -> date | None:
    try:
        return date.fromisoformat(iso[:10])
    except ValueError:
        return None


def long_date(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def friendly_day(iso: str | None, today: date | None = None, *, empty: str = "never") -> str:
    """A stored date (or timestamp) as people say it."""
    if not iso:
        return empty
    day = _parse_day(iso)
    if day is None:
        return iso
    delta = (day - (today or date.today())).days
    if delta == 0:
        return "today"
    if delta == -1:
        return "yesterday"
    if delta == 1:
        return "tomorrow"
    if -RELATIVE_DAYS < delta < 0:
        return f"{-delta} days ago"
    if 0 < delta < RELATIVE_DAYS:
        return f"in {delta} days"
    return long_date(day)


def friendly_local_day(iso: str | None, today: date | None = None, *, empty: str = "") -> str:
    """A stored timestamp's day where the user is (UTC to local time), as :func:`friendly_day`."""
    if not iso:
        return empty
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return friendly_day(moment.date().isoformat(), today)


def friendly_moment(iso: str | None, today: date | None = None, *, empty: str = "") -> str:
    """A stored timestamp (UTC) as a local day and time: "yesterday 14:05", "3 Mar 2026 09:30"."""
    if not iso:
        return empty
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone()
    except ValueError:
        return iso
    day = friendly_day(moment.date().isoformat(), today)
    return f"{day} {moment:%H:%M}"
