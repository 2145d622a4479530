"""The reward ledger through the real sync server (SQLite and PostgreSQL): the v8 columns reach the
server, also one set up before them; the same reward computed on two laptops offline is one row
after sync (paid once); a reward approved on two laptops offline is approved once, the second
approval reported as a conflict."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from fieldrep.cli import main
from fieldrep.domain.rewards import Trigger
from fieldrep.server.storage import Storage
from fieldrep.services.notifications import outbox
from fieldrep.services.referrals import pipeline
from fieldrep.services.rewards import ledger, lifecycle, rules
from fieldrep.services.sync import session as sync_session
from fieldrep.store.catalog import synced_tables
from fieldrep.sync.client import SyncResult
from tests.services.rewards_support import bonus_rule, move
from tests.sync.conftest import laptop, org, server, storage  # noqa: F401
from tests.sync.harness import Laptop, LiveServer, Org, make_storage

DAY = date(2026, 3, 2)


def test_a_server_made_before_the_ledger_gets_its_columns(tmp_path: Path) -> None:
    gen = make_storage("sqlite", tmp_path)
    first = next(gen)
    with first.write() as tx:
        for col in ("ledger_key", "explanation", "amount_cents"):
            tx.execute(f"ALTER TABLE rewards DROP COLUMN {col}")
        tx.execute("ALTER TABLE contacts DROP COLUMN referral_consent")
        # What a server of the release before the ledger recorded: the catalog it was made from.
        tx.execute("UPDATE server_schema SET catalog = 'before the reward ledger' WHERE id = 1")
    first.close()
    again = Storage(str(tmp_path / "server.db"))
    with again.read() as tx:
        have = {r[1] for r in tx.all("PRAGMA table_info(rewards)")}
        contacts = {r[1] for r in tx.all("PRAGMA table_info(contacts)")}
    assert set(synced_tables()["rewards"].fields) <= have
    assert "referral_consent" in contacts
    again.close()


def _programme(lap: Laptop, people: Org) -> str:
    """A referral from a consenting customer in rep1's territory, written on ``lap``."""
    w = lap.writer
    account = w.insert(
        "accounts", {"name": "Acme", "territory_id": people.t1, "owner_id": people.rep1}
    )
    contact = w.insert(
        "contacts",
        {"account_id": account, "first_name": "Jane", "email": "j@a.test", "referral_consent": 1},
    )
    return w.insert(
        "referrals",
        {
            "referrer_account_id": account,
            "referrer_contact_id": contact,
            "referred_name": "Bob",
            "captured_by_id": people.rep1,
            "owner_id": people.rep1,
            "territory_id": people.t1,
        },
    )


def test_one_reward_whichever_laptops_compute_it_and_one_approval(
    storage: Storage,  # noqa: F811
    server: LiveServer,  # noqa: F811
    org: Org,  # noqa: F811
    laptop: Callable[[str], Laptop],  # noqa: F811
) -> None:
    boss, boss2, rep = laptop("boss"), laptop("boss2"), laptop("rep")
    boss.login("manager")
    boss2.login("manager")
    rep.login("rep1")
    boss.sync()  # the users arrive: who is signed in is known
    rules.save(boss.ctx, bonus_rule(hold_days=0))
    referral = _programme(rep, org)
    for lap in (boss, rep, boss, boss2):
        lap.sync()
    # offline, both managers' laptops move it to Won (a retry on another laptop, say) and compute
    # the reward (the server takes rewards from managers only: a rep's laptop computes none)
    move(boss2.ctx, referral, "won", amount=4_000.0, today=DAY)
    move(boss.ctx, referral, "won", amount=4_000.0, today=DAY)
    for lap in (boss2, boss, rep, boss2):
        lap.sync()
    for lap in (rep, boss, boss2):
        got = [(r["amount_cents"], r["status"]) for r in lap.rows("rewards").values()]
        assert got == [(20_000, "awaiting_approval")]
    # nothing refused, and the two computations differ only in when they were made
    reported = boss.conflicts() + boss2.conflicts() + rep.conflicts()
    assert {(c["tbl"], c["field"]) for c in reported} <= {("rewards", "created_at")}
    assert outbox.awaiting_approval_count(boss2.ctx.conn) == 1
    (reward_id,) = boss.rows("rewards")
    # two managers' laptops approve it offline
    assert lifecycle.approve(boss.ctx, [reward_id]) == [reward_id]
    assert lifecycle.approve(boss2.ctx, [reward_id]) == [reward_id]
    for lap in (boss, boss2, boss, rep):
        lap.sync()
    for lap in (boss, boss2, rep):
        assert [r["status"] for r in lap.rows("rewards").values()] == ["approved"]
    reported = boss.conflicts() + boss2.conflicts()
    assert any(c["row_id"] == reward_id for c in reported)
    # and it is issued once
    assert len(lifecycle.issue(boss.ctx, None).lines) == 1
    boss.sync()
    boss2.sync()
    assert lifecycle.issue(boss2.ctx, None).lines == []


def test_a_referral_a_rep_wins_is_rewarded_on_the_managers_laptop_once(
    storage: Storage,  # noqa: F811
    server: LiveServer,  # noqa: F811
    org: Org,  # noqa: F811
    laptop: Callable[[str], Laptop],  # noqa: F811
    tmp_path: Path,
) -> None:
    """The rep's laptop computes no reward (the server takes rewards from managers only); the
    manager's, syncing through the app's sync session, computes it once, whatever the syncs."""
    boss, rep = laptop("boss"), laptop("rep")
    boss.login("manager")
    rep.login("rep1")
    boss.sync()  # the users arrive: who is signed in is known
    rules.save(boss.ctx, bonus_rule(hold_days=0))
    referral = _programme(rep, org)
    boss.sync()
    rep.sync()

    def manager_sync() -> SyncResult:
        return sync_session.run_sync(tmp_path / "boss.db", lambda *_: None, threading.Event())

    manager_sync()  # the referral arrives, still New: nothing to reward
    assert boss.rows("rewards") == {}
    moved = pipeline.move(rep.ctx, referral, "won", value=4_000.0, create_account=True)
    assert "worked out on your manager's laptop" in moved.message
    assert rep.rows("rewards") == {}
    got = rep.sync()
    assert got.rejected == 0, got.refusals

    manager_sync()  # the move arrives: the manager's laptop computes its reward
    rewards = boss.rows("rewards")
    assert [(r["referral_id"], r["amount_cents"], r["status"]) for r in rewards.values()] == [
        (referral, 20_000, "awaiting_approval")
    ]
    for _ in range(2):  # pushes it, then pulls it back: none more
        pushed = manager_sync()
        assert pushed.rejected == 0, pushed.refusals
        assert set(boss.rows("rewards")) == set(rewards)
    assert ledger.follow_received_stages(boss.ctx).created == []
    rep.sync()
    assert set(rep.rows("rewards")) == set(rewards)  # the rep sees the reward of their referral
    # the referrer's status e-mail was queued on the laptop that moved it, once
    mails = [n for n in rep.rows("notifications").values() if n["channel"] == "email"]
    assert [(m["template"], m["status"]) for m in mails] == [("referral_status", "queued")]

    # the rep reopens it: the manager's next sync voids the reward not yet issued
    pipeline.move(rep.ctx, referral, "proposal", reason="the customer wants to renegotiate")
    rep.sync()
    manager_sync()
    assert [r["status"] for r in boss.rows("rewards").values()] == ["voided"]
    manager_sync()
    assert [r["status"] for r in boss.rows("rewards").values()] == ["voided"]


def test_a_reps_laptop_follows_no_stage_into_the_ledger(
    storage: Storage,  # noqa: F811
    server: LiveServer,  # noqa: F811
    org: Org,  # noqa: F811
    laptop: Callable[[str], Laptop],  # noqa: F811
) -> None:
    boss, rep = laptop("boss"), laptop("rep")
    boss.login("manager")
    rep.login("rep1")
    boss.sync()
    rules.save(boss.ctx, bonus_rule(hold_days=0))
    referral = _programme(rep, org)
    rep.sync()
    pipeline.move(rep.ctx, referral, "won", value=1_000.0, create_account=True)
    assert ledger.follow_received_stages(rep.ctx).created == []
    assert rep.rows("rewards") == {}


def test_the_command_line_sync_follows_the_stage_moves_too(
    storage: Storage,  # noqa: F811
    server: LiveServer,  # noqa: F811
    org: Org,  # noqa: F811
    laptop: Callable[[str], Laptop],  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    boss, rep = laptop("boss"), laptop("rep")
    boss.login("manager")
    rep.login("rep1")
    boss.sync()
    rules.save(boss.ctx, bonus_rule(hold_days=0))
    referral = _programme(rep, org)
    rep.sync()
    pipeline.move(rep.ctx, referral, "won", value=2_000.0, create_account=True)
    rep.sync()
    for _ in range(2):
        assert main(["sync", "--db", str(tmp_path / "boss.db")]) == 0, capsys.readouterr().err
        got = [(r["referral_id"], r["amount_cents"]) for r in boss.rows("rewards").values()]
        assert got == [(referral, 10_000)]


def test_a_reopening_and_new_win_made_on_another_laptop_earns_again_here_by_a_backfill(
    storage: Storage,  # noqa: F811
    server: LiveServer,  # noqa: F811
    org: Org,  # noqa: F811
    laptop: Callable[[str], Laptop],  # noqa: F811
) -> None:
    """The refunded deal's reward is settled; the rep reopens the referral and wins it again
    between two of the manager's syncs. The stage history the sync brings says the cycle ended
    (no ledger ran on the rep's laptop, none ran here when the moves arrived): a backfill here
    pays the new win under the next key, once."""
    boss, rep = laptop("boss"), laptop("rep")
    boss.login("manager")
    rep.login("rep1")
    boss.sync()
    rules.save(boss.ctx, bonus_rule(hold_days=0))
    referral = _programme(rep, org)
    rep.sync()
    boss.sync()
    move(boss.ctx, referral, "won", amount=4_000.0, today=DAY)
    assert ledger.on_deal_refunded(boss.ctx, referral, "cancelled") != []
    boss.sync()
    rep.sync()
    pipeline.move(rep.ctx, referral, "proposal", reason="the customer wants to renegotiate")
    pipeline.move(rep.ctx, referral, "won", value=6_000.0, create_account=True)
    assert rep.sync().rejected == 0
    boss.sync()  # the two moves arrive as events; nothing here follows them into the ledger
    made = ledger.backfill(boss.ctx, Trigger.WON, today=DAY).created
    rewards = boss.rows("rewards")
    assert [(rewards[rid]["ledger_key"], rewards[rid]["amount_cents"]) for rid in made] == [
        (f"{referral}:bonus:won#2", 30_000)
    ]
    assert ledger.backfill(boss.ctx, Trigger.WON, today=DAY).created == []
    assert ledger.follow_received_stages(boss.ctx).created == []
    assert boss.sync().rejected == 0
