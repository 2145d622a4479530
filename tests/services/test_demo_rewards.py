"""The demo's rewards are the engine's: each one's amount and explanation are what
:func:`fieldrep.domain.rewards.compute` gives its referral at the moment it was written, from the
rules read back from the database and the figures the ledger reads (worked out here from the
rows, not by the demo's code); the notifications about a reward name its amount."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from fieldrep.domain.rewards import (
    History,
    Recipient,
    ReferralFacts,
    Trigger,
    compute,
    money,
)
from fieldrep.services.context import Context
from fieldrep.services.demo.build import DemoOptions, build_demo
from fieldrep.services.rewards import rules

TODAY = date(2026, 12, 7)
# the ledger's namespace for reward ids (fieldrep.services.rewards.ledger), restated
NAMESPACE = uuid.UUID("6f1d3c2e-8f6b-4c59-9a57-2b1e0c4f7a10")
RECIPIENT_WHERE = {
    "referrer_contact": "recipient_contact_id = :contact",
    "referrer_account": "recipient_account_id = :account",
    "capturing_rep": "recipient_user_id = :user",
}
CONVERTED_BY = {
    "referrer_contact": "referrer_contact_id",
    "referrer_account": "referrer_account_id",
    "capturing_rep": "captured_by_id",
}


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Context]:
    ctx = Context.open(tmp_path_factory.mktemp("demo_rewards") / "demo.db")
    build_demo(ctx, DemoOptions(accounts=5000, seed=7, today=TODAY))
    yield ctx
    ctx.close()


def _rows(ctx: Context, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    cur = ctx.conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _consent(ctx: Context, ref: dict[str, Any], kind: str) -> bool:
    if kind == "capturing_rep":
        return True
    if ref["referrer_contact_id"]:
        sql, arg = "SELECT referral_consent FROM contacts WHERE id = ?", ref["referrer_contact_id"]
    else:
        sql, arg = (
            "SELECT max(referral_consent) FROM contacts WHERE account_id = ?",
            (ref["referrer_account_id"]),
        )
    return bool(ctx.conn.execute(sql, (arg,)).fetchone()[0])


def _history(ctx: Context, ref: dict[str, Any], reward: dict[str, Any]) -> History:
    """Paid to this recipient earlier in the year (the statuses that count, clawbacks netted), and
    the referrals won earlier in the year by the same referrer (or rep)."""
    kind, at = reward["recipient_kind"], reward["created_at"]
    args = {
        "contact": reward["recipient_contact_id"],
        "account": reward["recipient_account_id"],
        "user": reward["recipient_user_id"],
        "kind": kind,
        "at": at,
        "year": at[:4],
    }
    paid = ctx.conn.execute(
        f"SELECT coalesce(sum(amount_cents), 0) FROM rewards WHERE {RECIPIENT_WHERE[kind]}"
        " AND recipient_kind = :kind AND status NOT IN ('declined', 'voided')"
        " AND created_at < :at AND substr(created_at, 1, 4) = :year",
        args,
    ).fetchone()[0]
    column = CONVERTED_BY[kind]
    count, cents = ctx.conn.execute(
        f"SELECT count(*), coalesce(sum(CAST(round(amount * 100) AS INTEGER)), 0) FROM referrals"
        f" WHERE {column} = :who AND stage = 'won' AND id != :id AND duplicate_of_id IS NULL"
        " AND updated_at < :at AND substr(updated_at, 1, 4) = :year",
        {"who": ref[column], "id": ref["id"], "at": at, "year": at[:4]},
    ).fetchone()
    return History(
        referrer_paid_this_year_cents=paid,
        referrer_converted_count=count,
        referrer_converted_cents=cents,
    )


def test_every_demo_reward_is_what_the_engine_computes(book: Context) -> None:
    stored = {s.row_id: s for s in rules.current(book.conn)}
    assert {s.rule.name for s in stored.values()} == {
        "Thank-you gift card",
        "Referral bonus 5%",
        "Rep referral incentive",
    }
    rewards = _rows(book, "SELECT * FROM rewards WHERE kind = 'reward' ORDER BY created_at, id")
    assert len(rewards) > 120
    capped = 0
    for reward in rewards:
        ref = _rows(book, "SELECT * FROM referrals WHERE id = ?", (reward["referral_id"],))[0]
        assert ref["duplicate_of_id"] is None
        rule = stored[reward["rule_id"]].rule
        trigger = Trigger(reward["trigger_stage"])
        who = Recipient(reward["recipient_kind"])
        flags = json.loads(ref["flags"])
        facts = ReferralFacts(
            referral_id=ref["id"],
            stage=trigger,
            on=date.fromisoformat(reward["created_at"][:10]),
            deal_cents=round((ref["amount"] or 0) * 100),
            new_customer="already_customer" not in flags,
            self_referral="self_referral" in flags,
            consent=_consent(book, ref, reward["recipient_kind"]),
        )
        got = compute([s.rule for s in stored.values()], facts, _history(book, ref, reward), who)
        assert got.reward is not None, reward
        assert got.reward.rule.rule_id == rule.rule_id
        assert reward["explanation"] == got.reward.explanation
        assert reward["amount_cents"] == got.reward.amount_cents
        assert reward["amount"] == pytest.approx(got.reward.amount_cents / 100)
        assert reward["hold_until"] == got.reward.hold_until.isoformat()
        assert reward["ledger_key"] == f"{ref['id']}:{rule.rule_id}:{trigger.value}"
        assert reward["id"] == str(uuid.uuid5(NAMESPACE, reward["ledger_key"]))
        assert reward["rule_version"] == 1
        assert reward["currency"] == "USD"
        capped += "capped at" in reward["explanation"]
    assert capped  # the caps show in a demo of this size
    kinds = {r["recipient_kind"] for r in rewards}
    assert kinds == {"referrer_contact", "referrer_account", "capturing_rep"}


def test_won_referrals_of_consenting_referrers_earn_the_bonus(book: Context) -> None:
    missing = book.conn.execute(
        "SELECT count(*) FROM referrals f WHERE f.stage = 'won' AND f.duplicate_of_id IS NULL"
        " AND f.amount > 0 AND EXISTS (SELECT 1 FROM contacts c WHERE c.referral_consent = 1"
        " AND c.id = coalesce(f.referrer_contact_id, c.id) AND c.account_id ="
        " f.referrer_account_id) AND NOT EXISTS (SELECT 1 FROM rewards w WHERE w.referral_id ="
        " f.id AND w.recipient_kind = 'referrer_account')"
    ).fetchone()[0]
    assert missing == 0
    unconsented = book.conn.execute(
        "SELECT count(*) FROM rewards w JOIN contacts c ON c.id = w.recipient_contact_id"
        " WHERE c.referral_consent = 0"
    ).fetchone()[0]
    assert unconsented == 0


def test_clawbacks_net_what_was_paid(book: Context) -> None:
    claws = _rows(
        book,
        "SELECT c.*, w.amount_cents AS paid, w.status AS paid_status, w.issued_at AS paid_at,"
        " w.ledger_key AS paid_key FROM rewards c JOIN rewards w ON w.id = c.clawback_of_id"
        " WHERE c.kind = 'clawback'",
    )
    assert claws
    for c in claws:
        assert c["amount_cents"] == -c["paid"]
        assert c["paid_status"] in ("issued", "redeemed")
        assert c["created_at"] > c["paid_at"]
        assert c["ledger_key"] == f"{c['paid_key']}:clawback"
        assert c["explanation"].startswith(f"clawback of {money(c['paid'])} paid: deal refunded")


def test_notifications_about_rewards_name_their_amounts(book: Context) -> None:
    notes = _rows(
        book,
        "SELECT n.channel, n.subject, n.body, n.status, w.amount_cents, w.explanation, w.status"
        " AS reward_status FROM notifications n JOIN rewards w ON w.id = n.related_id"
        " WHERE n.related_table = 'rewards'",
    )
    assert {n["channel"] for n in notes} == {"app", "email"}
    for n in notes:
        if n["channel"] == "app":
            assert n["subject"] == "Reward awaiting your approval"
            assert n["body"] == n["explanation"]
            assert n["reward_status"] == "awaiting_approval"
        else:
            amount = money(n["amount_cents"])
            assert n["subject"] == f"Your reward of {amount} is on its way"
            assert f"earned you {amount} ({n['explanation']})" in n["body"]
            assert n["reward_status"] in ("issued", "redeemed")
    events = _rows(
        book,
        "SELECT e.reason, w.amount_cents, w.kind, w.explanation FROM referral_events e"
        " JOIN rewards w ON w.id = e.to_value WHERE e.kind = 'reward'",
    )
    assert len(events) == book.conn.execute("SELECT count(*) FROM rewards").fetchone()[0]
    for e in events:
        if e["kind"] == "reward":
            assert e["reason"].startswith(money(e["amount_cents"]) + " (")
            assert e["reason"].endswith(e["explanation"])
        else:
            assert e["reason"].startswith(f"clawback {money(e['amount_cents'])}: ")
