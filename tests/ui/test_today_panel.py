"""Today (issue 16, point 12): each task with its account's address and distance, a visit logged
from a task closes it (asked, default yes), a manager sees the team's overdue tasks."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from fieldrep.services.accounts.visits import distance_km
from fieldrep.services.context import Context
from fieldrep.ui.tasks import TaskRunner
from fieldrep.ui.views.accounts_today_panel import (
    ADDRESS,
    DISTANCE,
    REP,
    TASK,
    TodayDialog,
)

YESTERDAY = (date.today() - timedelta(days=1)).isoformat()
TODAY = date.today().isoformat()


@pytest.fixture
def rep(ctx: Context) -> str:
    user = ctx.writer.insert(
        "users",
        {
            "username": "ann",
            "display_name": "Ann Rep",
            "role": "rep",
            "home_lat": 42.36,
            "home_lon": -71.06,  # Boston
        },
    )
    ctx.set_user(user)
    return user


def _account(ctx: Context, name: str, lat: float | None, lon: float | None) -> str:
    return ctx.writer.insert(
        "accounts",
        {
            "name": name,
            "street": "1 Main St",
            "postal_code": "02139",
            "city": "Cambridge",
            "lat": lat,
            "lon": lon,
        },
    )


def _task(ctx: Context, user: str, account: str, title: str, due: str) -> str:
    return ctx.writer.insert(
        "tasks", {"user_id": user, "account_id": account, "title": title, "due_date": due}
    )


def _cell(dialog: TodayDialog, row: int, column: int) -> str:
    item = dialog.tree.topLevelItem(row)
    assert item is not None
    return item.text(column)


def _today(qtbot: QtBot, ctx: Context, runner: TaskRunner) -> TodayDialog:
    dialog = TodayDialog(ctx, runner)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_each_task_shows_its_address_and_distance_from_home(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, rep: str
) -> None:
    placed = _account(ctx, "Kendall Foods", 42.3656, -71.1040)
    unplaced = _account(ctx, "Nowhere Supply", None, None)
    _task(ctx, rep, placed, "Bring samples", YESTERDAY)
    _task(ctx, rep, unplaced, "Call back", TODAY)
    dialog = _today(qtbot, ctx, runner)

    assert _cell(dialog, 0, TASK) == "Bring samples"
    assert _cell(dialog, 0, ADDRESS) == "1 Main St, 02139 Cambridge"
    km = distance_km(42.36, -71.06, 42.3656, -71.1040)
    assert 3 < km < 5
    assert _cell(dialog, 0, DISTANCE) == f"{km:.1f} km"
    assert _cell(dialog, 1, DISTANCE) == ""  # no coordinates: no distance, rather than a wrong one
    assert dialog.where.text() == "Distances from your home."
    assert dialog.tree.isColumnHidden(REP)  # a rep sees only their own tasks


def test_no_home_and_no_position_hides_the_distance_column(
    qtbot: QtBot, ctx: Context, runner: TaskRunner
) -> None:
    user = ctx.writer.insert("users", {"username": "bo", "display_name": "Bo", "role": "rep"})
    ctx.set_user(user)
    _task(ctx, user, _account(ctx, "Kendall Foods", 42.3656, -71.1040), "Call", TODAY)
    dialog = _today(qtbot, ctx, runner)
    assert dialog.tree.isColumnHidden(DISTANCE)
    assert dialog.where.text() == ""


@pytest.mark.parametrize("answer", ["yes", "no"])
def test_a_visit_logged_from_a_task_asks_to_close_it(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, rep: str, answer: str
) -> None:
    account = _account(ctx, "Kendall Foods", 42.3656, -71.1040)
    task = _task(ctx, rep, account, "Bring samples", YESTERDAY)
    dialog = _today(qtbot, ctx, runner)
    logged: list[str] = []
    dialog.visit_logged.connect(logged.append)

    log = dialog.log_visit_for_selected()
    assert log is not None
    with qtbot.waitSignal(dialog.visit_logged):
        qtbot.mouseClick(log.log_button, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    assert logged == [account]
    assert ctx.db.execute("SELECT account_id FROM visits").fetchall() == [(account,)]
    question = dialog.close_question
    assert question is not None
    assert question.isVisible()
    assert "Bring samples" in question.text()
    assert question.defaultButton() is question.button(QMessageBox.StandardButton.Yes)
    if answer == "yes":
        qtbot.keyClick(question, Qt.Key.Key_Return)  # Enter: the default, yes
    else:
        question.button(QMessageBox.StandardButton.No).click()
    expected = 1 if answer == "yes" else 0
    qtbot.waitUntil(
        lambda: (
            ctx.db.execute("SELECT done FROM tasks WHERE id = ?", (task,)).fetchone()[0] == expected
        )
    )
    qtbot.waitUntil(lambda: dialog.tree.topLevelItemCount() == 1 - expected)


def test_a_manager_sees_the_teams_overdue_tasks(
    qtbot: QtBot, ctx: Context, runner: TaskRunner
) -> None:
    manager = ctx.writer.insert(
        "users", {"username": "dana", "display_name": "Dana", "role": "manager"}
    )
    ann = ctx.writer.insert(
        "users",
        {"username": "ann", "display_name": "Ann Rep", "role": "rep", "manager_id": manager},
    )
    other_team = ctx.writer.insert("users", {"username": "zed", "display_name": "Zed"})
    ctx.set_user(manager)
    account = _account(ctx, "Kendall Foods", 42.3656, -71.1040)
    _task(ctx, manager, account, "Review quotas", TODAY)
    _task(ctx, ann, account, "Bring samples", YESTERDAY)
    _task(ctx, ann, account, "Due today, not overdue yet", TODAY)
    _task(ctx, other_team, account, "Not my team", YESTERDAY)
    dialog = _today(qtbot, ctx, runner)

    rows = [
        (_cell(dialog, i, TASK), _cell(dialog, i, REP))
        for i in range(dialog.tree.topLevelItemCount())
    ]
    assert rows == [("Review quotas", "you"), ("Bring samples", "Ann Rep")]
    assert not dialog.tree.isColumnHidden(REP)
    assert dialog.heading.text() == "1 task due; the team has 1 overdue"
