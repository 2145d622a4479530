"""The manager's approval queue on a real database: rows with their explanation, bulk approve,
decline needs a reason, payout writes the CSV, a rep sees the rows and no enabled buttons."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, Qt
from pytestqt.qtbot import QtBot

from fieldrep.services.context import Context
from fieldrep.ui.tasks import TaskRunner
from fieldrep.ui.views.rewards_view import COL_AMOUNT, COL_HOW, RewardsView
from tests.services.rewards_support import (
    add_referral,
    bonus_rule,
    make_org,
    move,
    rows,
    save_rule,
    sign_in,
)


def _queue(ctx: Context) -> str:
    org = make_org(ctx)
    save_rule(ctx, org, bonus_rule(hold_days=0, cap_per_reward_cents=50_000))
    for name, amount in (("Globex", 12_400.0), ("Initech", 4_000.0), ("Umbrella", 2_000.0)):
        move(ctx, add_referral(ctx, org, name=name), "won", amount=amount)
    return org.manager


def _select_all(view: RewardsView) -> None:
    sel = view.table.selectionModel()
    for row in range(view.model.rowCount()):
        sel.select(
            view.model.index(row, 0),
            QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
        )


def test_a_manager_approves_declines_and_pays_from_the_queue(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, tmp_path: Path
) -> None:
    sign_in(ctx, _queue(ctx))
    view = RewardsView(ctx, runner)
    qtbot.addWidget(view)
    view.show()
    assert view.model.rowCount() == 3
    assert view.model.index(0, COL_AMOUNT).data() == "$500"
    assert "capped at $500 by the per-reward cap" in view.model.index(0, COL_HOW).data()
    shots = Path(os.environ.get("FIELDREP_SHOTS", tmp_path))
    for w, h in ((1366, 768), (1920, 1080)):
        view.resize(w, h)
        view.grab().save(str(shots / f"rewards_view_{w}.png"))

    view.table.selectRow(2)
    view.decline()  # no reason: asks for one, changes nothing
    assert "Say why" in view.message_label.text()
    view.reason_edit.setText("The referrer works for Umbrella")
    with qtbot.waitSignal(view.decided):
        view.decline()
    assert view.model.rowCount() == 2
    _select_all(view)
    assert view.approve_button.isEnabled()
    with qtbot.waitSignal(view.decided):
        view.approve()
    assert "2 reward(s) approved" in view.message_label.text()
    assert view.model.rowCount() == 0
    with qtbot.waitSignal(view.decided):
        view.issue_to(tmp_path / "payout.csv")
    assert "1 recipient(s), $700" in view.message_label.text()
    assert (tmp_path / "payout.csv").read_text(encoding="utf-8").count("\n") == 2
    statuses = sorted(r["status"] for r in rows(ctx, "rewards"))
    assert statuses == ["declined", "issued", "issued"]


def test_a_rep_sees_the_rewards_of_their_referrals_but_cannot_decide(
    qtbot: QtBot, ctx: Context, runner: TaskRunner
) -> None:
    _queue(ctx)
    rep = ctx.conn.execute("SELECT id FROM users WHERE role = 'rep'").fetchone()[0]
    sign_in(ctx, rep)
    view = RewardsView(ctx, runner)
    qtbot.addWidget(view)
    assert view.model.rowCount() == 3
    view.table.selectRow(0)
    assert not view.approve_button.isEnabled()
    assert "Only a manager" in view.approve_button.toolTip()
    # A rep is told what the page is for, and offered no buttons the server would refuse.
    assert not view.action_bar.isVisibleTo(view)
    assert view.filter_combo.currentText() == "All"  # every reward of theirs, whatever its state
    assert "Your manager approves and pays them" in view.intro.text()


def test_the_queue_shows_a_reward_written_elsewhere(
    qtbot: QtBot, ctx: Context, runner: TaskRunner
) -> None:
    org = make_org(ctx)
    save_rule(ctx, org, bonus_rule(hold_days=0, cap_per_reward_cents=50_000))
    move(ctx, add_referral(ctx, org, name="Globex"), "won", amount=12_400.0)
    sign_in(ctx, org.manager)
    runner.changes.flush()
    view = RewardsView(ctx, runner)
    qtbot.addWidget(view)
    view.show()
    assert view.model.rowCount() == 1
    # Another laptop's stage move (or a sync bringing it) writes a reward: the page follows.
    move(ctx, add_referral(ctx, org, name="Initech"), "won", amount=4_000.0)
    qtbot.waitUntil(lambda: view.model.rowCount() == 2, timeout=10_000)


def test_opening_the_referrer_account_tells_how_its_referrals_went(
    qtbot: QtBot, ctx: Context, runner: TaskRunner
) -> None:
    from fieldrep.ui.views.accounts_view import AccountsView

    org = make_org(ctx)
    save_rule(ctx, org, bonus_rule(hold_days=0, cap_per_reward_cents=50_000))
    move(ctx, add_referral(ctx, org, name="Globex"), "won", amount=12_400.0)
    sign_in(ctx, org.rep)
    runner.changes.flush()
    view = AccountsView(ctx, runner)
    qtbot.addWidget(view)
    view.show()
    view.open_account(org.referrer_account)
    note = view.panel.note
    assert note.isVisible()
    assert note.text().startswith("Your referral of Globex Ltd ")
    assert "$500 reward" in note.text()
    assert view.panel.save_button.isEnabled()  # the rep's own account stays editable
    runner.wait_for_idle()


def test_the_demo_book_shows_how_each_reward_was_computed(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, tmp_path: Path
) -> None:
    from datetime import date

    from fieldrep.services.demo.build import DemoOptions, build_demo

    build_demo(ctx, DemoOptions(accounts=5000, seed=1, today=date(2026, 12, 7)))  # as morgan
    runner.changes.flush()
    view = RewardsView(ctx, runner)
    qtbot.addWidget(view)
    view.resize(1366, 768)
    view.show()
    view.set_filter("All")
    assert view.model.rowCount() > 100
    texts = [view.model.index(row, COL_HOW).data() for row in range(view.model.rowCount())]
    assert all(texts)
    stored = dict(ctx.conn.execute("SELECT id, explanation FROM rewards").fetchall())
    for row in range(view.model.rowCount()):
        reward = view.model.item(row)
        assert texts[row].startswith(stored[reward.id])
        assert (
            view.model.index(row, COL_HOW)
            .data(Qt.ItemDataRole.ToolTipRole)
            .startswith(stored[reward.id])
        )
    capped = next(row for row, text in enumerate(texts) if "by the base cap" in text)
    view.table.scrollTo(view.model.index(capped, COL_HOW))
    view.table.selectRow(capped)
    chosen = view.model.item(capped)
    assert chosen.explanation in view.detail_label.text()  # in full, where the column elides it
    assert view.detail_label.text().startswith(f"Reward of {view.model.index(capped, 2).data()}")
    shots = Path(os.environ.get("FIELDREP_SHOTS", tmp_path))
    view.grab().save(str(shots / "rewards_view_demo_1366.png"))
