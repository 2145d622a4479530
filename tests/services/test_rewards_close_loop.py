"""The next visit's panel: what the customer's referrals became and their rewards, in words."""

from __future__ import annotations

from datetime import date, timedelta

from fieldrep.services.context import Context
from fieldrep.services.rewards import close_loop, lifecycle
from tests.services.rewards_support import (
    add_referral,
    bonus_rule,
    make_org,
    move,
    rows,
    save_rule,
    sign_in,
)


def test_the_panel_says_what_became_of_each_referral_and_its_reward(ctx: Context) -> None:
    org = make_org(ctx)
    save_rule(ctx, org, bonus_rule(hold_days=0))
    sign_in(ctx, org.manager)
    won = add_referral(ctx, org, name="Bob", referred_company="Globex")
    open_one = add_referral(ctx, org, name="Carl", referred_company="Initech")
    move(ctx, won, "won", amount=4_000.0)
    move(ctx, open_one, "contacted")
    lifecycle.approve(ctx, [rows(ctx, "rewards")[0]["id"]])
    lifecycle.issue(ctx, None)
    today = date.today() + timedelta(days=8)
    got = close_loop.for_account(ctx.conn, org.referrer_account, today)
    sentences = sorted(o.sentence for o in got)
    assert sentences == [
        "Your referral of Globex was won last week; a $200 reward is on its way.",
        "Your referral of Initech has been contacted last week.",
    ]
    assert close_loop.for_account(ctx.conn, "someone-else", today) == []
