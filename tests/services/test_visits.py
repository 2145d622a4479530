"""Logging visits: the follow-up task a next step creates is never due before the visit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fieldrep.services.accounts.service import AccountsService
from fieldrep.services.accounts.visits import log_visit
from fieldrep.services.context import Context
from fieldrep.store.errors import ValidationError


@pytest.fixture
def account(ctx: Context) -> str:
    ctx.set_user(ctx.writer.insert("users", {"username": "ann", "display_name": "Ann"}))
    return AccountsService(ctx).create({"name": "Acme"})


def test_a_follow_up_due_before_the_visit_is_refused(ctx: Context, account: str) -> None:
    visited = datetime.now(UTC) - timedelta(days=30)
    visit_day = visited.astimezone().date()  # the rep's own calendar day
    with pytest.raises(ValidationError, match="before the visit") as info:
        log_visit(
            ctx,
            account,
            next_step="Send the quote",
            due_date=visit_day - timedelta(days=5 * 365),
            visited_at=visited,
        )
    assert info.value.field == "due_date"
    # Refused whole: no visit without the follow-up it asked for.
    assert ctx.db.execute("SELECT count(*) FROM visits").fetchone()[0] == 0
    assert ctx.db.execute("SELECT count(*) FROM tasks").fetchone()[0] == 0


def test_a_follow_up_on_the_visits_day_or_later_is_kept(ctx: Context, account: str) -> None:
    visited = datetime.now(UTC) - timedelta(days=30)
    visit_day = visited.astimezone().date()
    same_day = log_visit(ctx, account, next_step="Call", due_date=visit_day, visited_at=visited)
    later = visit_day + timedelta(days=2)  # already past today: overdue, but after the visit
    next_days = log_visit(ctx, account, next_step="Write", due_date=later, visited_at=visited)
    assert same_day.task_id is not None
    assert next_days.task_id is not None
    dues = ctx.db.execute("SELECT due_date FROM tasks ORDER BY due_date").fetchall()
    assert dues == [(visit_day.isoformat(),), (later.isoformat(),)]
