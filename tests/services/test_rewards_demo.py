"""The issue's "done when" on the demo book: a won referral earns what the demo's rules say, goes
through hold, approval, issue and redemption; reopened, it is clawed back; the referrer's e-mails
are read back from a loopback SMTP server; the next visit's panel shows the outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fieldrep.domain.rewards import Trigger
from fieldrep.services.context import Context
from fieldrep.services.demo.build import DemoOptions, build_demo
from fieldrep.services.notifications.smtp_sender import SmtpConfig, send_due
from fieldrep.services.rewards import close_loop, ledger, lifecycle, rules
from tests.services.rewards_support import move, rows
from tests.services.test_notifications_smtp import Mailbox, cert, smtp  # noqa: F401


def test_the_demo_programme_end_to_end(
    ctx: Context,
    smtp: tuple[Mailbox, SmtpConfig],  # noqa: F811
    tmp_path: pytest.TempPathFactory,
) -> None:
    box, config = smtp
    build_demo(ctx, DemoOptions(accounts=200, seed=3))
    bonus = next(s for s in rules.current(ctx.conn) if s.rule.name == "Referral bonus 5%")
    ref = rows(
        ctx,
        "referrals",
        "stage = 'proposal' AND referrer_contact_id IS NOT NULL AND duplicate_of_id IS NULL",
    )[0]
    contact = ref["referrer_contact_id"]
    ctx.writer.update(
        "contacts", contact, {"referral_consent": 1, "email": "referrer@customer.test"}
    )
    today = datetime.now(UTC).date()
    move(ctx, ref["id"], "won", amount=12_400.0, today=today)
    (reward,) = rows(ctx, "rewards", "referral_id = ? AND rule_id = ?", (ref["id"], bonus.row_id))
    assert reward["amount_cents"] == 62_000  # 5 % of $12,400, under the $2,500 cap
    assert reward["explanation"] == "Referral bonus 5% v1: 5 % of $12,400 = $620"
    assert reward["status"] == "on_hold"
    assert reward["hold_until"] == (today + timedelta(days=30)).isoformat()

    assert reward["id"] in lifecycle.release_holds(ctx, today + timedelta(days=30))
    lifecycle.approve(ctx, [reward["id"]])  # the demo signs in its manager
    payout = lifecycle.issue(ctx, tmp_path / "payout.csv")  # type: ignore[operator]
    assert any(reward["id"] in line["reward_ids"] for line in payout.lines)
    panel = close_loop.for_account(ctx.conn, ref["referrer_account_id"], today)
    mine = next(o for o in panel if o.referral_id == ref["id"])
    assert mine.sentence.startswith(f"Your referral of {mine.referred} was won today; ")
    assert "; a $620 reward is on its way" in mine.sentence
    lifecycle.redeem(ctx, [reward["id"]])

    move(ctx, ref["id"], "proposal", today=today)  # reopened: clawed back
    claw = rows(ctx, "rewards", "clawback_of_id = ?", (reward["id"],))
    assert [c["amount_cents"] for c in claw] == [-62_000]

    report = send_due(ctx, config)
    assert report.stopped is None
    mine_mail = [m for m in box.messages if m["To"] == "referrer@customer.test"]
    subjects = sorted(m["Subject"] for m in mine_mail)
    assert subjects == [
        f"Your referral of {ref['referred_name']}: won",
        "Your reward of $620 is on its way",
    ]
    assert len({m["Message-ID"] for m in box.messages}) == len(box.messages)


def test_a_backfill_on_the_demo_book_pays_nothing_twice(ctx: Context) -> None:
    """The demo's rewards carry the ledger's keys: a backfill finds them and pays only what the
    demo's rules did not (the won referrals of referrers who had not consented, now that they
    have). Whatever became of a reward, it is the ledger's answer for its key: a declined one
    stays declined, a refunded deal's clawback is not paid again while the referral stays won
    (the demo reopens none: no second cycle); a second backfill pays nothing."""
    build_demo(ctx, DemoOptions(accounts=150, seed=4))
    ctx.conn.execute("UPDATE contacts SET referral_consent = 1")  # so every referrer may earn
    before = {r["id"]: r for r in rows(ctx, "rewards")}
    won = {r["id"] for r in rows(ctx, "referrals", "stage = 'won'")}
    keyed = {r["ledger_key"] for r in before.values() if r["kind"] == "reward"}
    clawed = {r["clawback_of_id"] for r in before.values() if r["kind"] == "clawback"}
    declined = {r["referral_id"] for r in before.values() if r["status"] == "declined"}
    assert {before[rid]["referral_id"] for rid in clawed} & won  # refunded, still won
    assert declined & won  # a manager said no to a won referral's reward
    assert {key.split(":")[0] for key in keyed} & won  # the demo paid won referrals already
    got = ledger.backfill(ctx, Trigger.WON)
    after = {r["id"]: r for r in rows(ctx, "rewards")}
    assert {rid: after[rid]["status"] for rid in before} == {
        rid: r["status"] for rid, r in before.items()
    }
    new = [r for rid, r in after.items() if rid not in before]
    assert {r["id"] for r in new} == set(got.created)
    assert new  # referrers who consented since
    assert not {r["ledger_key"] for r in new} & keyed
    assert all("#" not in r["ledger_key"] for r in new)  # no declined or clawed back one again
    assert ledger.backfill(ctx, Trigger.WON).created == []
