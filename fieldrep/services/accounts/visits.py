"""Visits and follow-up tasks: log a visit (insert-only), its next step as a task, the day's list.

A visit and the follow-up task its next step creates are written in one transaction, so a visit
never loses its follow-up. Visits are never edited afterwards (the writer refuses it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fieldrep.domain.vocabulary import VISIT_OUTCOMES
from fieldrep.services.context import Context
from fieldrep.store.errors import ValidationError

OUTCOMES = VISIT_OUTCOMES
OUTCOME_LABELS = {
    "met": "Met",
    "no_show": "No show",
    "follow_up": "Follow-up needed",
    "order": "Order placed",
    "lost": "Lost",
}
DEFAULT_FOLLOW_UP_DAYS = 7


@dataclass(frozen=True)
class LoggedVisit:
    visit_id: str
    task_id: str | None


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def log_visit(
    ctx: Context,
    account_id: str,
    *,
    outcome: str = "met",
    notes: str | None = None,
    next_step: str | None = None,
    due_date: date | None = None,
    visited_at: datetime | None = None,
    duration_min: int | None = None,
    user_id: str | None = None,
) -> LoggedVisit:
    user = user_id or ctx.user_id
    if not user:
        raise ValidationError(
            "sign in before logging a visit (a visit belongs to a rep)",
            table="visits",
            field="user_id",
        )
    if outcome not in OUTCOMES:
        raise ValidationError(
            f"outcome must be one of {', '.join(OUTCOMES)}", table="visits", field="outcome"
        )
    if duration_min is not None and not 0 < duration_min <= 24 * 60:
        raise ValidationError(
            "duration must be between 1 minute and 24 hours", table="visits", field="duration_min"
        )
    moment = visited_at or datetime.now(UTC)
    if moment.tzinfo is not None and moment > datetime.now(UTC) + timedelta(hours=1):
        raise ValidationError("a visit cannot be in the future", table="visits", field="visited_at")
    account = ctx.conn.execute(
        "SELECT name, lat, lon FROM accounts WHERE id = ?", (account_id,)
    ).fetchone()
    if account is None:
        raise ValidationError("that account no longer exists", table="visits", field="account_id")
    notes = (notes or "").strip() or None
    next_step = (next_step or "").strip() or None
    if next_step is not None and len(next_step) > 500:
        raise ValidationError(
            "next step is longer than 500 characters", table="visits", field="next_step"
        )
    # The rep's own calendar day: a visit at 00:30 local time is that day's, whatever UTC says.
    visit_day = moment.astimezone().date() if moment.tzinfo is not None else moment.date()
    if next_step is not None and due_date is not None and due_date < visit_day:
        raise ValidationError(
            f"the follow-up cannot be due before the visit's day, {visit_day.isoformat()}",
            table="tasks",
            field="due_date",
        )
    with ctx.writer.transaction():
        visit_id = ctx.writer.insert(
            "visits",
            {
                "account_id": account_id,
                "user_id": user,
                "visited_at": _iso(moment),
                "duration_min": duration_min,
                "outcome": outcome,
                "notes": notes,
                "next_step": next_step,
                "lat": account[1],
                "lon": account[2],
            },
        )
        task_id = None
        if next_step:
            due = due_date or (moment.date() + timedelta(days=DEFAULT_FOLLOW_UP_DAYS))
            task_id = ctx.writer.insert(
                "tasks",
                {
                    "account_id": account_id,
                    "visit_id": visit_id,
                    "user_id": user,
                    "title": next_step,
                    "due_date": due.isoformat(),
                },
            )
    return LoggedVisit(str(visit_id), task_id)


_TASK_COLUMNS = (
    "SELECT t.id, t.title, t.due_date, t.account_id, t.notes, t.user_id,"
    " a.name AS account_name, a.street, a.postal_code, a.city, a.lat, a.lon,"
    " coalesce(nullif(u.display_name, ''), u.username) AS rep_name,"
    " t.due_date < ? AS overdue FROM tasks t"
    " LEFT JOIN accounts a ON a.id = t.account_id"
    " LEFT JOIN users u ON u.id = t.user_id"
)


def _rows(conn: Any, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def due_tasks(conn: Any, user_id: str | None, today: date | None = None) -> list[dict[str, Any]]:
    """Open tasks due today or earlier (overdue first), with their account's name, address and
    coordinates (``street``, ``postal_code``, ``city``, ``lat``, ``lon``) and the rep's name."""
    today = today or date.today()
    sql = _TASK_COLUMNS + " WHERE t.done = 0 AND t.due_date IS NOT NULL AND t.due_date <= ?"
    params: list[Any] = [today.isoformat(), today.isoformat()]
    if user_id:
        sql += " AND t.user_id = ?"
        params.append(user_id)
    sql += " ORDER BY t.due_date, t.title LIMIT 500"
    return _rows(conn, sql, params)


def team_overdue_tasks(
    conn: Any, manager_id: str, today: date | None = None
) -> list[dict[str, Any]]:
    """A manager's view: the open tasks of their team that are overdue (due before today), the
    oldest first. The team is the users whose manager they are; in a book where nobody has a
    manager set, every other active user."""
    today = today or date.today()
    team = [r[0] for r in conn.execute("SELECT id FROM users WHERE manager_id = ?", (manager_id,))]
    if not team:
        team = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM users WHERE id != ? AND active = 1", (manager_id,)
            )
        ]
    if not team:
        return []
    sql = (
        _TASK_COLUMNS + " WHERE t.done = 0 AND t.due_date IS NOT NULL AND t.due_date < ?"
        f" AND t.user_id IN ({', '.join('?' * len(team))})"
        " ORDER BY t.due_date, rep_name, t.title LIMIT 500"
    )
    return _rows(conn, sql, [today.isoformat(), today.isoformat(), *team])


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km (haversine, mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(min(max(a, 0.0), 1.0)))


def home_of(conn: Any, user_id: str | None) -> tuple[float, float] | None:
    """A user's home position, if they gave one."""
    if user_id is None:
        return None
    row = conn.execute("SELECT home_lat, home_lon FROM users WHERE id = ?", (user_id,)).fetchone()
    if row is None or row[0] is None or row[1] is None:
        return None
    return float(row[0]), float(row[1])


def complete_task(ctx: Context, task_id: str) -> bool:
    """Mark a task done; returns False if it already was."""
    row = ctx.conn.execute("SELECT done FROM tasks WHERE id = ?", (task_id,)).fetchone()
    if row is None:
        raise ValidationError("that task no longer exists", table="tasks", field="id")
    if row[0]:
        return False
    ctx.writer.update("tasks", task_id, {"done": 1, "done_at": _iso(datetime.now(UTC))})
    return True
