"""The reward ledger a referral's stage move writes: one row per referral, rule and trigger.

The referral service calls :func:`on_stage_reached` inside the transaction of the move, after the
referral row holds its new stage. Reaching Qualified or Won computes the rewards the current rules
give (one per recipient kind), with their explanation; leaving Won (reopened, lost) or a refunded
deal (:func:`on_deal_refunded`) voids a reward not yet issued, and claws back one that was, as a
negative row of its own netted against the next payout: never a silent edit.

A reward's id is derived from its ledger key, so the same reward computed twice (a retry, two
laptops offline) is the same row, and the sync merges it: never paid twice.

A reward, once written, is the ledger's answer for its referral, rule and trigger, whatever became
of it: nothing computes it again (a retry, a backfill after a rule change, a sync's follow-up).
Declined, it stays declined: a manager's "no" is final. Voided or clawed back by a refunded deal,
or voided because the caps left nothing, it is settled while the referral stays at the stage;
only the referral leaving the stage (reopened, lost) ends that cycle, and reaching the stage again
is a new trigger that earns under the next key (``key#2``; see :func:`_key_after`). Whether it
left is read from its stage history (``referral_events``, synced), never from a reward's note.

Kept whole: computing, voiding and clawing back a reward share the ledger key, the batch of one
stage move's transaction and the recipient and consent rules; apart, neither half reads on its own.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from fieldrep.domain.ids import uuid7_many
from fieldrep.domain.progress import Progress
from fieldrep.domain.rewards import (
    Computed,
    History,
    Recipient,
    ReferralFacts,
    RewardStatus,
    Trigger,
    clawback_cents,
    compute,
    ledger_key,
    money,
)
from fieldrep.domain.vocabulary import MANAGER_ROLES
from fieldrep.services.context import Context
from fieldrep.services.notifications import outbox
from fieldrep.services.rewards import rules as rules_store
from fieldrep.store import settings
from fieldrep.store.writer import utc_now

_NAMESPACE = uuid.UUID("6f1d3c2e-8f6b-4c59-9a57-2b1e0c4f7a10")
# Rewards that stand (or stood) to be paid; declined and voided ones count for nothing.
LIVE = ("pending", "on_hold", "awaiting_approval", "approved", "issued", "redeemed")
UNPAID = ("pending", "on_hold", "awaiting_approval", "approved")
PAID = ("issued", "redeemed", "revoked")
# The stages a trigger stage's reward survives in: leaving them reverses it.
_KEEPS = {
    Trigger.QUALIFIED: frozenset({"qualified", "proposal", "won", "lost"}),
    Trigger.WON: frozenset({"won"}),
}
LIVE_SQL = "(" + ", ".join(f"'{s}'" for s in LIVE) + ")"
COUNTED_SQL = "(" + ", ".join(f"'{s}'" for s in (*LIVE, "revoked")) + ")"
AMOUNT_CENTS = "coalesce(amount_cents, CAST(round(amount * 100) AS INTEGER))"
# The note of a reward the caps left nothing of (voided, it still answers for its key).
NOTHING_LEFT = "nothing to pay after the caps"
# A reward as its key sees it (:func:`_key_after`): 'standing' (to be paid, or paid), 'declined',
# 'clawed back', 'voided' (a refund before payout, the caps leaving nothing), 'revoked' (clawed
# back before v8). Selected with the reward's id, referral, when it was written, when it was
# settled (voided, or its clawback written) and its clawback, FROM rewards r ... :data:`_CLAWBACK`.
_EARLIER = (
    "r.id, r.referral_id, CASE WHEN r.status = 'declined' THEN 'declined'"
    " WHEN c.id IS NOT NULL THEN 'clawed back' WHEN r.status IN ('voided', 'revoked')"
    " THEN r.status ELSE 'standing' END, r.created_at, coalesce(c.created_at, r.voided_at,"
    " r.created_at), c.id"
)
_CLAWBACK = "LEFT JOIN rewards c ON c.clawback_of_id = r.id AND c.kind = 'clawback'"
_SETTLED = ("clawed back", "voided", "revoked")
# Why a reward that stands is not computed again, as the explanation says it.
_STANDS = {
    "standing": "already in the ledger",
    "declined": "already in the ledger, declined: a manager's decision stands",
    "clawed back": "already in the ledger, clawed back: settled until the referral leaves the"
    " stage and reaches it again",
    "voided": "already in the ledger, voided: settled until the referral leaves the stage and"
    " reaches it again",
}
_STANDS["revoked"] = _STANDS["clawed back"]


@dataclass(frozen=True)
class _Earlier:
    """An earlier reward of a ledger key (:data:`_EARLIER`)."""

    reward_id: str
    referral_id: str
    state: str
    created_at: str
    settled_at: str
    clawback_id: str | None


# A stage move in a referral's history: (at, event id, stage moved to), in the order they were made.
_Move = tuple[str, str, str]
_MOVES = "SELECT referral_id, at, id, to_value FROM referral_events WHERE kind = 'stage'"


def _moves(conn: sqlite3.Connection, referral_id: str) -> list[_Move]:
    return [
        (at, eid, to)
        for _ref, at, eid, to in conn.execute(
            f"{_MOVES} AND referral_id = ? ORDER BY at, id", (referral_id,)
        )
    ]


def reward_id(key: str) -> str:
    """The row id of the reward with ledger key ``key`` (the same on every laptop)."""
    return str(uuid.uuid5(_NAMESPACE, key))


@dataclass
class StageResult:
    created: list[str]  # reward ids written
    reversed: list[str]  # reward ids voided or clawed back (the clawback row's id)
    explained: list[str]  # one line per recipient: what was paid, or why not


def _one(conn: sqlite3.Connection, sql: str, params: Iterable[Any]) -> dict[str, Any] | None:
    cur = conn.execute(sql, tuple(params))
    row = cur.fetchone()
    return None if row is None else dict(zip([d[0] for d in cur.description], row, strict=True))


def recipient_of(ref: dict[str, Any], who: Recipient) -> tuple[str, dict[str, Any]] | None:
    """(the key the caps group by, the recipient columns) of ``who`` for this referral."""
    if who is Recipient.REFERRER_CONTACT:
        c = ref["referrer_contact_id"]
        return (f"contact:{c}", {"recipient_contact_id": c}) if c else None
    if who is Recipient.REFERRER_ACCOUNT:
        a = ref["referrer_account_id"]
        cols = {"recipient_account_id": a, "recipient_contact_id": ref["referrer_contact_id"]}
        return (f"account:{a}", cols) if a else None
    if who is Recipient.CAPTURING_REP:
        u = ref["captured_by_id"]
        return (f"user:{u}", {"recipient_user_id": u}) if u else None
    return (f"referral:{ref['id']}", {})  # the referred party, through the referral itself


_RECIPIENT_WHERE = {
    Recipient.REFERRER_CONTACT: "recipient_contact_id = ? AND recipient_kind = 'referrer_contact'",
    Recipient.REFERRER_ACCOUNT: "recipient_account_id = ? AND recipient_kind = 'referrer_account'",
    Recipient.CAPTURING_REP: "recipient_user_id = ? AND recipient_kind = 'capturing_rep'",
    Recipient.REFERRED_PARTY: "referral_id = ? AND recipient_kind = 'referred_party'",
}


def _consent(conn: sqlite3.Connection, ref: dict[str, Any], who: Recipient) -> bool:
    if who in (Recipient.CAPTURING_REP, Recipient.REFERRED_PARTY):
        return True  # a colleague; the referred party consented at capture
    if ref["referrer_contact_id"]:
        row = conn.execute(
            "SELECT referral_consent FROM contacts WHERE id = ?", (ref["referrer_contact_id"],)
        ).fetchone()
        return bool(row and row[0])
    return (
        conn.execute(
            "SELECT 1 FROM contacts WHERE account_id = ? AND referral_consent = 1",
            (ref["referrer_account_id"],),
        ).fetchone()
        is not None
    )


def _period_start(day: date, period: str | None) -> date:
    if period == "month":
        return day.replace(day=1)
    if period == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    return day.replace(month=1, day=1)


def _history(
    conn: sqlite3.Connection,
    ref: dict[str, Any],
    who: Recipient,
    key_value: str,
    on: date,
    stored: rules_store.StoredRule | None,
) -> History:
    year = f"{on.year:04d}"
    paid = conn.execute(
        f"SELECT coalesce(sum({AMOUNT_CENTS}), 0) FROM rewards WHERE {_RECIPIENT_WHERE[who]}"
        f" AND status IN {COUNTED_SQL} AND substr(created_at, 1, 4) = ?",
        (key_value, year),
    ).fetchone()[0]
    ref_col = converted_column(who)
    count, value = conn.execute(
        f"SELECT count(*), coalesce(sum(CAST(round(amount * 100) AS INTEGER)), 0) FROM referrals"
        f" WHERE {ref_col} = ? AND stage = 'won' AND id != ? AND substr(updated_at, 1, 4) = ?",
        (ref[ref_col], ref["id"], year),
    ).fetchone()
    budget = used = None
    if stored is not None and stored.budget_cents is not None:
        budget = stored.budget_cents
        start = _period_start(on, stored.budget_period).isoformat()
        used = _budget_used(conn, stored.rule.rule_id, start)
    return History(
        referrer_paid_this_year_cents=int(paid),
        referrer_converted_count=int(count),
        referrer_converted_cents=int(value),
        budget_cents=budget,
        budget_used_cents=int(used or 0),
    )


def _next_key(
    conn: sqlite3.Connection, referral_id: str, rule_key: str, trigger: Trigger
) -> tuple[str | None, str]:
    """The ledger key for a new reward of ``base``, or None and why while an earlier one stands
    (:func:`_key_after`)."""
    base = ledger_key(referral_id, rule_key, trigger)
    # base, then base#2, base#3 ...: one range of the unique index ("#" sorts before ":", so
    # the clawbacks' "base:clawback" keys fall outside it)
    earlier = [
        _Earlier(*row)
        for row in conn.execute(
            f"SELECT {_EARLIER} FROM rewards r {_CLAWBACK} WHERE r.ledger_key BETWEEN ? AND ?"
            " AND r.kind = 'reward'",
            (base, base + "#\uffff"),
        )
    ]
    # Rewards written before v8 have no ledger key: found by referral and rule, they stand too
    # (else a backfill would pay the demo's, or an old laptop's, rewards a second time).
    earlier += [
        _Earlier(*row)
        for row in conn.execute(
            f"SELECT {_EARLIER} FROM rewards r {_CLAWBACK} JOIN reward_rules u ON u.id = r.rule_id"
            " WHERE r.referral_id = ? AND r.ledger_key IS NULL AND r.kind = 'reward'"
            " AND coalesce(u.rule_key, u.id) = ? AND coalesce(r.trigger_stage, u.trigger_stage) = ?",
            (referral_id, rule_key, trigger.value),
        )
    ]
    settled = any(e.state in _SETTLED for e in earlier)
    return _key_after(conn, base, trigger, earlier, _moves(conn, referral_id) if settled else [])


def _key_after(
    conn: sqlite3.Connection,
    base: str,
    trigger: Trigger,
    earlier: list[_Earlier],
    moves: list[_Move],
) -> tuple[str | None, str]:
    """The key after the earlier rewards of ``base``, or None and why while one stands; ``moves``:
    the referral's stage moves (:func:`_moves`; needed only when one of them is settled).

    Every earlier reward stands unless it is settled (voided, clawed back) and its cycle ended
    (:func:`_cycle_ended`). A declined one always stands. A reopened referral won again earns
    under ``base#2``, ``base#3``: the count of earlier cycles, the same on every laptop.
    """
    if any(e.state == "declined" for e in earlier):
        return None, _STANDS["declined"]
    standing = [
        e
        for e in earlier
        if e.state not in _SETTLED or not _cycle_ended(conn, e, _KEEPS[trigger], moves)
    ]
    if standing:
        return None, _STANDS[standing[-1].state]
    return (base if not earlier else f"{base}#{len(earlier) + 1}"), ""


def _cycle_ended(
    conn: sqlite3.Connection, reward: _Earlier, keeps: frozenset[str], moves: list[_Move]
) -> bool:
    """Whether the settled ``reward``'s cycle is over, read from the referral's stage history
    (synced like the rest, so every laptop reads the same): the referral moved to a stage the
    reward does not survive (``keeps`` holds those it does) after the reward was written, and did
    not come back to the stage before the reward was settled. Voided or clawed back because the
    referral left, or settled and then left, its cycle ended; settled after it came back (a refund
    of a reward the leaving never reached: the reopening and the new win came from another laptop
    between two syncs), it answers for the stage it is at."""
    left = False  # away from the stage since a move after the reward was written
    for at, event_id, to in moves:
        if to not in keeps:
            left = left or _before(conn, reward, reward.created_at, at, event_id, settled=False)
        elif left:
            if _before(conn, reward, reward.settled_at, at, event_id, settled=True):
                return True
            left = False  # back at the stage before it was settled: a later move must end it
    return left


def _before(
    conn: sqlite3.Connection,
    reward: _Earlier,
    moment: str,
    at: str,
    event_id: str,
    *,
    settled: bool,
) -> bool:
    """Whether ``reward`` was written (``settled``: settled) at ``moment``, before the referral
    event ``event_id`` made at ``at``. The times are the store's UTC text with milliseconds, so
    they compare as strings. In the same millisecond the ids decide (UUIDv7s, increasing on the
    laptop that made both): the event's against the reward's history line, its first (settled: its
    last, or its clawback's); without one, the reward is not before the event."""
    if at != moment:
        return at > moment
    line = conn.execute(
        f"SELECT {'max' if settled else 'min'}(id) FROM referral_events WHERE referral_id = ?"
        " AND kind = 'reward' AND to_value IN (?, ?)",
        (reward.referral_id, reward.reward_id, reward.clawback_id or reward.reward_id),
    ).fetchone()[0]
    return line is not None and event_id > line


class _Batch:
    """What a bulk computation (:func:`backfill`) keeps in memory across its referrals, in its one
    transaction: the referrals, the consents, the ledger keys already taken, and the running totals
    the caps read (paid to a recipient this year, a rule's budget used, converted referrals),
    loaded from the ledger on first use and then added to as rewards are written; the rewards and
    their history lines are written together at the end, by ``executemany``. The figures are the
    ones :func:`_history` and :func:`_next_key` would read had each reward been written at once.
    """

    def __init__(
        self, ctx: Context, conn: sqlite3.Connection, today: date, referral_ids: list[str]
    ) -> None:
        self.conn = conn
        self.today = today
        self.year = f"{today.year:04d}"
        self.now = utc_now()
        self.user_id = ctx.user_id
        self.refs: dict[str, dict[str, Any]] = {}
        self.rows: list[dict[str, Any]] = []
        self.ids: list[str] = []
        self.events: list[dict[str, Any]] = []
        self._paid: dict[tuple[Recipient, str], int] = {}
        self._budget: dict[tuple[str, str], int] = {}
        self._converted: dict[str, dict[str, tuple[int, int]]] = {}
        self._consent: dict[str, bool] = {}
        self._account_consent: dict[str, bool] = {}
        self._taken: dict[str, list[tuple[str | None, str, str, _Earlier]]] = {}
        self._moves: dict[str, list[_Move]] | None = None
        wanted = set(referral_ids)
        cur = conn.execute(
            "SELECT *, CAST(round(amount * 100) AS INTEGER) FROM referrals WHERE duplicate_of_id"
            " IS NULL"
        )
        names = [d[0] for d in cur.description][:-1]
        for row in cur:
            if row[0] in wanted:
                ref = dict(zip(names, row[:-1], strict=True))
                ref["_won_cents"] = row[-1] or 0
                self.refs[row[0]] = ref
        for row in conn.execute(
            f"SELECT {_EARLIER}, r.ledger_key, coalesce(u.rule_key, u.id),"
            f" coalesce(r.trigger_stage, u.trigger_stage) FROM rewards r {_CLAWBACK}"
            " LEFT JOIN reward_rules u ON u.id = r.rule_id WHERE r.kind = 'reward'"
        ):
            reward = _Earlier(*row[:6])
            self._taken.setdefault(reward.referral_id, []).append((*row[6:], reward))

    def next_key(self, referral_id: str, rule_key: str, trigger: Trigger) -> tuple[str | None, str]:
        base = ledger_key(referral_id, rule_key, trigger)
        top = base + "#\uffff"
        earlier = [
            reward
            for key, rkey, trig, reward in self._taken.get(referral_id, ())
            if (key is not None and base <= key <= top)
            or (key is None and rkey == rule_key and trig == trigger.value)
        ]
        settled = any(e.state in _SETTLED for e in earlier)
        moves = self.moves(referral_id) if settled else []
        return _key_after(self.conn, base, trigger, earlier, moves)

    def moves(self, referral_id: str) -> list[_Move]:
        """The referral's stage moves (:func:`_moves`): those of every referral with a settled
        reward, read in one query the first time one is needed."""
        if self._moves is None:
            self._moves = {}
            for ref, at, eid, to in self.conn.execute(
                f"{_MOVES} AND referral_id IN (SELECT r.referral_id FROM rewards r WHERE"
                " r.kind = 'clawback' OR r.status IN ('voided', 'revoked')) ORDER BY referral_id,"
                " at, id"
            ):
                self._moves.setdefault(ref, []).append((at, eid, to))
        return self._moves.get(referral_id, [])

    def consent(self, ref: dict[str, Any], who: Recipient) -> bool:
        if who in (Recipient.CAPTURING_REP, Recipient.REFERRED_PARTY):
            return True
        contact = ref["referrer_contact_id"]
        if contact:
            if contact not in self._consent:
                self._consent[contact] = _consent(self.conn, ref, who)
            return self._consent[contact]
        account = ref["referrer_account_id"]
        if account not in self._account_consent:
            self._account_consent[account] = _consent(self.conn, ref, who)
        return self._account_consent[account]

    def history(
        self,
        ref: dict[str, Any],
        who: Recipient,
        key_value: str,
        stored: rules_store.StoredRule | None,
    ) -> History:
        year = self.year
        paid = self._paid.get((who, key_value))
        if paid is None:
            paid = self._paid[(who, key_value)] = int(
                self.conn.execute(
                    f"SELECT coalesce(sum({AMOUNT_CENTS}), 0) FROM rewards WHERE"
                    f" {_RECIPIENT_WHERE[who]} AND status IN {COUNTED_SQL}"
                    " AND substr(created_at, 1, 4) = ?",
                    (key_value, year),
                ).fetchone()[0]
            )
        ref_col = converted_column(who)
        by_key = self._converted.get(ref_col)
        if by_key is None:
            by_key = self._converted[ref_col] = {
                k: (int(n), int(v))
                for k, n, v in self.conn.execute(
                    f"SELECT {ref_col}, count(*), coalesce(sum(CAST(round(amount * 100) AS"
                    f" INTEGER)), 0) FROM referrals WHERE {ref_col} IS NOT NULL AND stage = 'won'"
                    f" AND substr(updated_at, 1, 4) = ? GROUP BY {ref_col}",
                    (year,),
                )
            }
        count, value = by_key.get(ref[ref_col], (0, 0)) if ref[ref_col] else (0, 0)
        if ref[ref_col] and ref["stage"] == "won" and (ref["updated_at"] or "")[:4] == year:
            count, value = count - 1, value - ref["_won_cents"]  # this one excluded
        budget = used = None
        if stored is not None and stored.budget_cents is not None:
            budget = stored.budget_cents
            start = _period_start(self.today, stored.budget_period).isoformat()
            used = self._budget.get((stored.rule.rule_id, start))
            if used is None:
                used = self._budget[(stored.rule.rule_id, start)] = _budget_used(
                    self.conn, stored.rule.rule_id, start
                )
        return History(
            referrer_paid_this_year_cents=paid,
            referrer_converted_count=count,
            referrer_converted_cents=value,
            budget_cents=budget,
            budget_used_cents=int(used or 0),
        )

    def wrote(
        self,
        row: dict[str, Any],
        rid: str,
        who: Recipient,
        key_value: str,
        stored: rules_store.StoredRule,
    ) -> None:
        """A reward computed: into the running totals, and queued for the write at the end."""
        self.rows.append(row)
        self.ids.append(rid)
        cents = int(row["amount_cents"])
        if row["status"] in (*LIVE, "revoked") and self.now[:4] == self.year:
            self._paid[(who, key_value)] = self._paid.get((who, key_value), 0) + cents
        if stored.budget_cents is not None and row["status"] in LIVE:
            start = _period_start(self.today, stored.budget_period).isoformat()
            mark = (stored.rule.rule_id, start)
            if mark in self._budget and self.now >= start:
                self._budget[mark] += cents

    def flush(self, ctx: Context) -> None:
        if self.rows:
            ctx.writer.insert_many("rewards", self.rows, row_ids=self.ids)
        if self.events:
            ctx.writer.insert_many(
                "referral_events", self.events, row_ids=uuid7_many(len(self.events))
            )
        self.rows, self.ids, self.events = [], [], []


def converted_column(who: Recipient) -> str:
    if who is Recipient.CAPTURING_REP:
        return "captured_by_id"
    return "referrer_contact_id" if who is Recipient.REFERRER_CONTACT else "referrer_account_id"


def _budget_used(conn: sqlite3.Connection, rule_key: str, start: str) -> int:
    return int(
        conn.execute(
            "SELECT coalesce(sum(coalesce(r.amount_cents, CAST(round(r.amount * 100) AS INTEGER))),"
            " 0) FROM rewards r JOIN reward_rules u"
            f" ON u.id = r.rule_id WHERE coalesce(u.rule_key, u.id) = ? AND r.status IN {LIVE_SQL}"
            " AND r.created_at >= ?",
            (rule_key, start),
        ).fetchone()[0]
    )


def reward_row(
    ref: dict[str, Any],
    who: Recipient,
    cols: dict[str, Any],
    stored: rules_store.StoredRule,
    got: Computed,
    key: str,
    today: date,
    now: str,
) -> tuple[dict[str, Any], str]:
    """The ledger's row for ``got`` (computed for ``ref`` on ``today``, written at ``now``) and its
    line in the referral's history. Nothing paid: voided; a hold: on hold; else awaiting approval,
    or approved when the rule needs none."""
    if got.amount_cents == 0:
        status = RewardStatus.VOIDED
    elif got.hold_until > today:
        status = RewardStatus.ON_HOLD
    elif stored.needs_approval:
        status = RewardStatus.AWAITING_APPROVAL
    else:
        status = RewardStatus.APPROVED
    row = {
        "referral_id": ref["id"],
        "rule_id": stored.row_id,
        **cols,
        "kind": "reward",
        "amount": got.amount_cents / 100,
        "amount_cents": got.amount_cents,
        "currency": got.rule.currency,
        "status": status.value,
        "hold_until": got.hold_until.isoformat(),
        "ledger_key": key,
        "rule_version": got.rule.version,
        "trigger_stage": got.rule.trigger.value,
        "recipient_kind": who.value,
        "explanation": got.explanation,
        "approved_at": now if status is RewardStatus.APPROVED else None,
        "voided_at": now if status is RewardStatus.VOIDED else None,
        "note": NOTHING_LEFT if status is RewardStatus.VOIDED else None,
    }
    return row, f"{money(got.amount_cents)} ({status.value}): {got.explanation}"


def _write_reward(
    ctx: Context,
    ref: dict[str, Any],
    who: Recipient,
    cols: dict[str, Any],
    stored: rules_store.StoredRule,
    got: Computed,
    key: str,
    today: date,
    notify: bool,
    events: list[dict[str, Any]] | None = None,
    batch: _Batch | None = None,
    key_value: str = "",
) -> str:
    rid = reward_id(key)
    now = utc_now() if batch is None else batch.now
    row, line = reward_row(ref, who, cols, stored, got, key, today, now)
    if batch is not None:
        row["created_at"] = now
        batch.wrote(row, rid, who, key_value, stored)
        _event(ctx, ref["id"], rid, line, batch.events, user_id=batch.user_id, at=now)
        return rid
    ctx.writer.insert("rewards", row, row_id=rid)
    _event(ctx, ref["id"], rid, line, events)
    if notify and row["status"] == RewardStatus.AWAITING_APPROVAL.value:
        outbox.notify_managers(
            ctx, "Reward awaiting your approval", got.explanation, "rewards", rid
        )
    return rid


def _event(
    ctx: Context,
    referral_id: str,
    reward: str,
    reason: str,
    events: list[dict[str, Any]] | None = None,
    *,
    user_id: str | None = None,
    at: str | None = None,
) -> None:
    """The reward's line in the referral's history; into ``events`` when a bulk run writes them
    all at once at its end (nothing reads them meanwhile)."""
    row = {
        "referral_id": referral_id,
        "at": at or utc_now(),
        "user_id": user_id if events is not None and user_id is not None else ctx.user_id,
        "kind": "reward",
        "from_value": None,
        "to_value": reward,
        "reason": reason[:500],
    }
    if events is None:
        ctx.writer.insert("referral_events", row)
    else:
        events.append(row)


def referral_facts(
    ref: dict[str, Any], trigger: Trigger, on: date, consent: bool, recipient_key: str
) -> ReferralFacts:
    """What the rules look at for the referral row ``ref`` reaching ``trigger`` on ``on``."""
    flags = set(json.loads(ref["flags"] or "[]"))
    return ReferralFacts(
        referral_id=ref["id"],
        stage=trigger,
        on=on,
        deal_cents=round(float(ref["amount"] or 0) * 100),
        new_customer="already_customer" not in flags,
        self_referral="self_referral" in flags,
        consent=consent,
        referrer_key=recipient_key,
    )


def referral(conn: sqlite3.Connection, referral_id: str) -> dict[str, Any]:
    ref = _one(conn, "SELECT * FROM referrals WHERE id = ?", (referral_id,))
    if ref is None:
        raise LookupError(f"referral {referral_id} does not exist")
    return ref


def compute_rewards(
    ctx: Context,
    referral_id: str,
    trigger: Trigger,
    *,
    today: date | None = None,
    stored_rules: list[rules_store.StoredRule] | None = None,
    notify: bool = True,
    events: list[dict[str, Any]] | None = None,
    batch: _Batch | None = None,
) -> StageResult:
    """Write the rewards the current rules give for ``referral_id`` reaching ``trigger``; a reward
    already in the ledger is left alone. Call inside a transaction, or alone. With ``batch`` (a
    bulk run's, made for ``today``), the figures come from it and the rows go into it."""
    today = today or datetime.now(UTC).date()
    result = StageResult([], [], [])
    with ctx.writer.transaction() as conn:
        ref = batch.refs[referral_id] if batch is not None else referral(conn, referral_id)
        if ref["duplicate_of_id"]:
            result.explained.append("a linked duplicate earns nothing: its first referral does")
            return result
        stored = stored_rules if stored_rules is not None else rules_store.current(conn)
        by_key = {s.rule.rule_id: s for s in stored}
        for who in Recipient:
            candidates = [s.rule for s in stored if s.rule.recipient is who]
            if not candidates:
                continue
            target = recipient_of(ref, who)
            if target is None:
                continue
            recipient_key, cols = target
            key_value = recipient_key.split(":", 1)[1]
            facts = referral_facts(
                ref,
                trigger,
                today,
                batch.consent(ref, who) if batch else _consent(conn, ref, who),
                recipient_key,
            )
            if batch is not None:
                history = batch.history(ref, who, key_value, None)
            else:
                history = _history(conn, ref, who, key_value, today, None)
            decision = compute(candidates, facts, history, who)
            if decision.reward is not None:
                chosen = by_key[decision.reward.rule.rule_id]
                if chosen.budget_cents is not None:
                    if batch is not None:
                        history = batch.history(ref, who, key_value, chosen)
                    else:
                        history = _history(conn, ref, who, key_value, today, chosen)
                    decision = compute([decision.reward.rule], facts, history, who)
            for skipped in decision.skipped:
                result.explained.append(f"{skipped.rule.name}: {'; '.join(skipped.reasons)}")
            got = decision.reward
            if got is None:
                continue
            if batch is not None:
                key, stands = batch.next_key(referral_id, got.rule.rule_id, trigger)
            else:
                key, stands = _next_key(conn, referral_id, got.rule.rule_id, trigger)
            if key is None:
                result.explained.append(f"{got.rule.name}: {stands}")
                continue
            chosen = by_key[got.rule.rule_id]
            result.created.append(
                _write_reward(
                    ctx, ref, who, cols, chosen, got, key, today, notify, events, batch, key_value
                )
            )
            result.explained.append(got.explanation)
    return result


def clawback_row(
    paid_id: str,
    paid_key: str | None,
    paid_cents: int,
    currency: str,
    trigger: Trigger,
    reason: str,
    now: str,
    who: dict[str, Any],
) -> tuple[str, dict[str, Any], str]:
    """(id, row, history line) of the clawback of the paid reward ``paid_id``: a negative row of
    its own, approved so the next payout nets it. ``who``: the paid row's referral, rule and
    recipient columns."""
    back = clawback_cents(paid_cents)
    ckey = f"{paid_key or paid_id}:clawback"
    row = {
        **who,
        "kind": "clawback",
        "clawback_of_id": paid_id,
        "amount": back / 100,
        "amount_cents": back,
        "currency": currency,
        "status": "approved",  # netted against the next payout
        "ledger_key": ckey,
        "trigger_stage": trigger.value,
        "explanation": f"clawback of {money(paid_cents, currency)} paid: {reason}",
        "note": reason,
        "approved_at": now,
    }
    return reward_id(ckey), row, f"clawback {money(back, currency)}: {reason}"


def reverse(ctx: Context, referral_id: str, trigger: Trigger, reason: str) -> list[str]:
    """Void the standing rewards of ``trigger`` not yet issued; claw back those issued. They stay
    the ledger's answer for their keys (:func:`_key_after`) until the referral's stage history
    says their cycle ended (:func:`_cycle_ended`): ``reason`` is only for people to read."""
    out: list[str] = []
    now = utc_now()
    with ctx.writer.transaction() as conn:
        cur = conn.execute(
            f"SELECT id, status, ledger_key, {AMOUNT_CENTS}, rule_id, recipient_account_id,"
            " recipient_contact_id, recipient_user_id, recipient_kind, currency FROM rewards r"
            " WHERE referral_id = ? AND kind = 'reward' AND coalesce(trigger_stage, (SELECT"
            " u.trigger_stage FROM reward_rules u WHERE u.id = r.rule_id)) = ?"
            " AND status IN ('pending', 'on_hold', 'awaiting_approval', 'approved', 'issued',"
            " 'redeemed') AND NOT EXISTS (SELECT 1 FROM rewards c WHERE c.clawback_of_id = r.id)",
            (referral_id, trigger.value),
        )
        standing = cur.fetchall()
        for rid, status, key, cents, rule_id, acc, con, usr, rkind, cur_code in standing:
            if status in UNPAID:
                ctx.writer.update(
                    "rewards",
                    rid,
                    {"status": "voided", "voided_at": now, "note": reason},
                )
                _event(ctx, referral_id, rid, f"voided: {reason}")
                out.append(rid)
                continue
            cid, row, line = clawback_row(
                rid,
                key,
                cents,
                cur_code,
                trigger,
                reason,
                now,
                {
                    "referral_id": referral_id,
                    "rule_id": rule_id,
                    "recipient_account_id": acc,
                    "recipient_contact_id": con,
                    "recipient_user_id": usr,
                    "recipient_kind": rkind,
                },
            )
            ctx.writer.insert("rewards", row, row_id=cid)
            _event(ctx, referral_id, cid, line)
            out.append(cid)
    return out


def on_stage_reached(
    ctx: Context, referral_id: str, stage: str, *, today: date | None = None
) -> StageResult:
    """What a referral reaching ``stage`` does to the ledger (the referral service calls this in
    the transaction of the move, after updating the referral's row)."""
    result = StageResult([], [], [])
    with ctx.writer.transaction():
        for trigger in Trigger:
            if stage not in _KEEPS[trigger]:
                result.reversed += reverse(
                    ctx, referral_id, trigger, f"the referral moved back to {stage}"
                )
        if stage in (t.value for t in Trigger):
            got = compute_rewards(ctx, referral_id, Trigger(stage), today=today)
            result.created += got.created
            result.explained += got.explained
        if stage in ("qualified", "won"):
            outbox.referrer_status_changed(ctx, referral_id, stage)
    return result


def on_deal_refunded(ctx: Context, referral_id: str, reason: str) -> list[str]:
    """A won referral's deal was refunded: its won rewards are voided or clawed back, and so
    settled: while the referral stays won, nothing pays them again."""
    if not reason.strip():
        raise ValueError("say why the deal was refunded")
    return reverse(ctx, referral_id, Trigger.WON, f"deal refunded: {reason.strip()}")


def backfill(
    ctx: Context,
    trigger: Trigger = Trigger.WON,
    *,
    today: date | None = None,
    progress: Progress | None = None,
) -> StageResult:
    """After a rule change: the rewards every referral standing at ``trigger`` (or past it) has
    not had yet, in one transaction; managers get one notification for the lot."""
    result = StageResult([], [], [])
    stages = sorted(_KEEPS[trigger] - {"lost"})
    marks = ", ".join("?" * len(stages))
    with ctx.writer.transaction() as conn:
        stored = rules_store.current(conn)
        ids = [
            r[0]
            for r in conn.execute(
                f"SELECT id FROM referrals WHERE stage IN ({marks}) AND duplicate_of_id IS NULL"
                " ORDER BY id",
                stages,
            )
        ]
        today = today or datetime.now(UTC).date()
        batch = _Batch(ctx, conn, today, ids)
        for done, referral_id in enumerate(ids):
            if progress is not None and done % 500 == 0:
                progress(done, len(ids), "Giving rewards")  # may raise to cancel: nothing is kept
            got = compute_rewards(
                ctx,
                referral_id,
                trigger,
                today=today,
                stored_rules=stored,
                notify=False,
                batch=batch,
            )
            result.created += got.created
        batch.flush(ctx)
        waiting = conn.execute(
            "SELECT count(*) FROM rewards WHERE status = 'awaiting_approval'"
        ).fetchone()[0]
        if result.created and waiting:
            outbox.notify_managers(
                ctx,
                "Rewards awaiting your approval",
                f"{len(result.created)} rewards computed after a rule change;"
                f" {waiting} await approval",
                "rewards",
                result.created[0],
            )
    return result


MAY_COMPUTE = MANAGER_ROLES


def follow_received_stages(ctx: Context, *, today: date | None = None) -> StageResult:
    """The ledger for stage moves that reached this laptop through sync (a rep's laptop computes
    no rewards: the server takes them from managers only). Run after a sync on a laptop whose
    user may compute rewards; elsewhere it does nothing.

    Which referrals: those with a stage change (a ``referral_events`` row) the server numbered
    after the last run's highest (``_version`` is the server's change number; local_meta keeps
    the mark). For each, its current stage decides, as a move would have: a trigger stage it holds
    (or has passed) computes the rewards not yet in the ledger, a stage that no longer keeps a
    trigger's reward voids or claws it back. The ledger key makes it idempotent: a second run, a
    retry or another manager's laptop pays nothing twice. One transaction: the mark moves only
    with the rewards it covers.
    """
    result = StageResult([], [], [])
    if ctx.role() not in MAY_COMPUTE:
        return result
    with ctx.writer.transaction() as conn:
        mark = settings.get(conn, settings.REWARDS_FOLLOWED_VERSION)
        rows = conn.execute(
            "SELECT e.referral_id, max(e._version), r.stage FROM referral_events e"
            " JOIN referrals r ON r.id = e.referral_id WHERE e.kind = 'stage' AND e._version > ?"
            " AND r.duplicate_of_id IS NULL GROUP BY e.referral_id ORDER BY e.referral_id",
            (mark,),
        ).fetchall()
        if not rows:
            return result
        stored = rules_store.current(conn)
        for referral_id, _version, stage in rows:
            for trigger in Trigger:
                if stage not in _KEEPS[trigger]:
                    result.reversed += reverse(
                        ctx, referral_id, trigger, f"the referral moved back to {stage}"
                    )
                elif stage != "lost":
                    got = compute_rewards(
                        ctx, referral_id, trigger, today=today, stored_rules=stored
                    )
                    result.created += got.created
                    result.explained += got.explained
        settings.put(conn, settings.REWARDS_FOLLOWED_VERSION, max(r[1] for r in rows))
    return result
