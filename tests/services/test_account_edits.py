"""Account edits and visits through the services, on a real database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from fieldrep.services.accounts.service import AccountsService
from fieldrep.services.accounts.visits import complete_task, due_tasks, log_visit
from fieldrep.services.context import Context
from fieldrep.store.errors import ValidationError


@pytest.fixture
def service(ctx: Context) -> AccountsService:
    ctx.set_user(ctx.writer.insert("users", {"username": "ann", "display_name": "Ann"}))
    return AccountsService(ctx)


def test_create_places_and_owns(ctx: Context, service: AccountsService) -> None:
    account = service.create({"name": "  Acme   Tools ", "postal_code": "2139", "status": "client"})
    row = ctx.db.execute(
        "SELECT name, postal_code, status, geocode_quality, owner_id FROM accounts WHERE id = ?",
        (account,),
    ).fetchone()
    assert row == ("Acme Tools", "02139", "active", "postal_code", ctx.user_id)


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"name": ""}, "name", "required"),
        ({"name": "A", "lat": "123", "lon": "0"}, "lat", "outside -90..90"),
        ({"name": "A", "email": "nope"}, "email", "not an email address"),
        ({"name": "A", "potential": "-5"}, "potential", "cannot be negative"),
        ({"name": "A", "employees": "lots"}, "employees", "not a number"),
        ({"name": "A", "status": "sleepy"}, "status", "not a status"),
        ({"name": "A", "_clocks": "{}"}, "_clocks", "no editable field"),
        ({"name": "x" * 201}, "name", "at most 200"),
    ],
)
def test_validation_names_the_field(
    ctx: Context, service: AccountsService, values: dict[str, str], field: str, words: str
) -> None:
    with pytest.raises(ValidationError, match=words) as info:
        service.create(values)
    assert info.value.field == field
    assert ctx.db.execute("SELECT count(*) FROM accounts").fetchone()[0] == 0


def test_update_moves_pin_with_address_and_undo_restores(
    ctx: Context, service: AccountsService
) -> None:
    account = service.create({"name": "Acme", "postal_code": "02139"})
    before = ctx.db.execute("SELECT * FROM accounts WHERE id = ?", (account,)).fetchone()
    changed = service.update(account, {"postal_code": "10001", "phone": "212 555 0100"})
    assert set(changed) >= {"postal_code", "phone", "lat", "lon", "updated_at"}
    assert service.update(account, {"phone": "212 555 0100"}) == {}  # nothing really changed
    lat = ctx.db.execute("SELECT lat FROM accounts WHERE id = ?", (account,)).fetchone()[0]
    assert 40.6 < lat < 40.9  # New York
    edit = service.undo()
    assert edit is not None
    after = ctx.db.execute("SELECT * FROM accounts WHERE id = ?", (account,)).fetchone()
    names = [d[0] for d in ctx.db.execute("SELECT * FROM accounts").description]
    differs = {n for n, a, b in zip(names, before, after, strict=True) if a != b}
    assert differs <= {"updated_at", "_clocks"}
    assert service.undo() is None


def test_manual_pin_survives_address_edit(ctx: Context, service: AccountsService) -> None:
    account = service.create({"name": "Acme", "postal_code": "02139"})
    service.set_location(account, 42.0, -71.0)
    service.update(account, {"postal_code": "10001"})
    row = ctx.db.execute(
        "SELECT lat, lon, geocode_quality FROM accounts WHERE id = ?", (account,)
    ).fetchone()
    assert row == (42.0, -71.0, "manual")


def test_delete_leaves_tombstone(ctx: Context, service: AccountsService) -> None:
    account = service.create({"name": "Gone"})
    assert service.delete(account)
    assert not service.delete(account)
    assert (
        ctx.db.execute("SELECT count(*) FROM tombstones WHERE row_id = ?", (account,)).fetchone()[0]
        == 1
    )


def test_log_visit_with_next_step_creates_task_and_today_list(
    ctx: Context, service: AccountsService
) -> None:
    account = service.create({"name": "Acme"})
    logged = log_visit(
        ctx, account, outcome="follow_up", notes="liked the demo", next_step="Send the quote"
    )
    assert logged.task_id is not None
    task = ctx.db.execute("SELECT title, due_date, visit_id FROM tasks").fetchone()
    in_a_week = (datetime.now(UTC).date() + timedelta(days=7)).isoformat()
    assert task == ("Send the quote", in_a_week, logged.visit_id)
    plain = log_visit(ctx, account)
    assert plain.task_id is None
    with pytest.raises(ValidationError, match="cannot be changed"):
        ctx.writer.update("visits", plain.visit_id, {"notes": "edited"})
    overdue = log_visit(  # logged late: the visit three days ago, its follow-up due since
        ctx,
        account,
        next_step="Call back",
        due_date=date.today() - timedelta(2),
        visited_at=datetime.now(UTC) - timedelta(days=3),
    )
    log_visit(ctx, account, next_step="Later", due_date=date.today() + timedelta(days=3))
    today = due_tasks(ctx.db.conn, ctx.user_id)
    assert [(t["title"], t["overdue"], t["account_name"]) for t in today] == [
        ("Call back", 1, "Acme")
    ]
    assert overdue.task_id is not None
    assert complete_task(ctx, overdue.task_id)
    assert not complete_task(ctx, overdue.task_id)
    assert due_tasks(ctx.db.conn, ctx.user_id) == []


def test_visit_rules(ctx: Context, service: AccountsService) -> None:
    account = service.create({"name": "Acme"})
    with pytest.raises(ValidationError) as info:
        log_visit(ctx, account, outcome="party")
    assert info.value.field == "outcome"
    with pytest.raises(ValidationError, match="future"):
        log_visit(ctx, account, visited_at=datetime.now(UTC) + timedelta(days=1))
    with pytest.raises(ValidationError, match="no longer exists"):
        log_visit(ctx, "missing")
    ctx.set_user(None)
    with pytest.raises(ValidationError, match="sign in"):
        log_visit(ctx, account)
    assert ctx.db.execute("SELECT count(*) FROM visits").fetchone()[0] == 0
