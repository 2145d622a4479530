"""The in-app notification centre's data: a reward awaiting approval reaches each manager, the
unread count falls as they are read, and nobody marks another person's notification read."""

from __future__ import annotations

from datetime import date, timedelta

from fieldrep.services.context import Context
from fieldrep.services.notifications import outbox
from fieldrep.services.rewards import lifecycle
from tests.services.rewards_support import add_referral, bonus_rule, make_org, move, save_rule

DAY = date.today()  # rewards are written now; the yearly caps count by the year they are written


def test_managers_are_told_and_read_their_notifications(ctx: Context) -> None:
    org = make_org(ctx)
    save_rule(ctx, org, bonus_rule(hold_days=10))
    move(ctx, add_referral(ctx, org), "won", amount=4_000.0, today=DAY)
    assert outbox.unread_count(ctx.conn, org.manager) == 0  # on hold: nothing to approve yet
    lifecycle.release_holds(ctx, DAY + timedelta(days=10))
    assert outbox.unread_count(ctx.conn, org.manager) == 1
    (note,) = outbox.unread(ctx.conn, org.manager)
    assert note["subject"] == "Reward awaiting your approval"
    assert "5 % of $4,000 = $200" in note["body"]
    assert outbox.unread_count(ctx.conn, org.rep) == 0
    ctx.set_user(org.rep)
    assert outbox.mark_read(ctx, [note["id"]]) == 0  # not theirs
    ctx.set_user(org.manager)
    assert outbox.mark_read(ctx, [note["id"]]) == 1
    assert outbox.unread_count(ctx.conn, org.manager) == 0
