"""The Accounts page's dialogs as a rep drives them: Today, Export, New account and Log visit, and a
Potential column wide enough for its largest figures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import QDate, Qt, QTimer
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication, QFileDialog, QLabel, QLineEdit, QWidget
from pytestqt.qtbot import QtBot

from fieldrep.services.accounts.visits import log_visit
from fieldrep.services.context import Context
from fieldrep.ui import theme
from fieldrep.ui.models.accounts_table_model import COLUMNS
from fieldrep.ui.tasks import TaskRunner
from fieldrep.ui.views.accounts_view import AccountsView

POTENTIAL = [key for key, _, _ in COLUMNS].index("potential")


@pytest.fixture
def view(ctx: Context, runner: TaskRunner, qtbot: QtBot) -> Iterator[AccountsView]:
    user = ctx.writer.insert("users", {"username": "ann", "display_name": "Ann Rep"})
    ctx.set_user(user)
    rows = [{"name": f"Shop {i:02d}", "city": "Boston", "potential": float(i)} for i in range(20)]
    ctx.writer.insert_many("accounts", rows)
    widget = AccountsView(ctx, runner)
    qtbot.addWidget(widget)
    widget.resize(1200, 800)
    widget.show()
    yield widget
    runner.wait_for_idle()


def _done(ctx: Context, task_id: str) -> int:
    return int(ctx.db.execute("SELECT done FROM tasks WHERE id = ?", (task_id,)).fetchone()[0])


def test_enter_in_today_opens_the_account_and_leaves_the_task_open(
    view: AccountsView, qtbot: QtBot, ctx: Context
) -> None:
    account = view.model.account_id(0)
    assert account is not None
    task = log_visit(ctx, account, next_step="Bring samples", due_date=date.today()).task_id
    assert task is not None
    today = view.account_actions.open_today()
    qtbot.waitExposed(today)
    today.tree.setFocus()
    with qtbot.waitSignal(today.account_requested, timeout=2000) as opened:
        qtbot.keyClick(today.tree, Qt.Key.Key_Return)
    assert opened.args == [account]
    assert view.panel.account_id == account
    assert not today.isModal()  # the account opens beside Today, usable at once
    assert today.isVisible()
    assert view.panel.isVisible()
    assert _done(ctx, task) == 0  # "Enter opens the account": it does not tick the task off
    assert today.tree.topLevelItemCount() == 1
    with qtbot.waitSignal(today.task_completed):
        today.done_button.click()  # ticking off is the button's job
    assert _done(ctx, task) == 1
    today.close()


def test_export_adds_the_chosen_types_extension_in_a_real_folder(
    view: AccountsView,
    qtbot: QtBot,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = tmp_path / "home"
    (home / "Documents").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    chosen = tmp_path / "exports"
    chosen.mkdir()
    suggested: list[str] = []

    def save_as(_parent: QWidget, _caption: str, directory: str, _filters: str) -> tuple[str, str]:
        suggested.append(directory)
        # What the save dialog returns when CSV is chosen and a bare name typed.
        return str(chosen / "my_prospects"), "CSV (*.csv)"

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(save_as))
    view.account_actions.ask_and_export()
    qtbot.waitUntil(lambda: view.notice.text() != "", timeout=10_000)
    assert view.notice.text() == "Exported 20 accounts to my_prospects.csv."
    assert sorted(p.name for p in chosen.iterdir()) == ["my_prospects.csv"]
    assert "Shop 19" in (chosen / "my_prospects.csv").read_text(encoding="utf-8-sig")
    # Suggested in the user's documents first, not the folder the app was started from; the
    # next export is suggested beside the last one.
    view.account_actions.ask_and_export()
    view.runner.wait_for_idle()
    assert suggested == [str(home / "Documents" / "accounts.xlsx"), str(chosen / "accounts.xlsx")]


def _ctrl_n_and_enter(view: AccountsView, qtbot: QtBot, name: str) -> QWidget:
    """Ctrl+N on the list, type ``name`` and press Enter, as a rep would; the dialog it opened."""
    seen: list[QWidget] = []

    def type_name() -> None:
        dialog = QApplication.activeModalWidget()
        assert dialog is not None
        seen.append(dialog)
        dialog.activateWindow()  # as the window system does; Enter goes to the active window
        qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog, timeout=2000)
        line = dialog.findChild(QLineEdit)
        line.setText(name)
        qtbot.keyClick(line, Qt.Key.Key_Return)

    QTimer.singleShot(0, type_name)
    view.table.setFocus()
    qtbot.keyClick(view.table, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: bool(seen), timeout=2000)
    return seen[0]


def _labels(widget: QWidget) -> list[str]:
    return [label.text() for label in widget.findChildren(QLabel) if label.text()]


def test_new_account_with_a_refused_name_keeps_the_dialog_and_the_text(
    view: AccountsView, qtbot: QtBot, ctx: Context
) -> None:
    long_name = "Very long name " * 40
    dialog = _ctrl_n_and_enter(view, qtbot, long_name)
    qtbot.waitUntil(lambda: "name is 599 characters long; at most 200 fit" in _labels(dialog))
    assert dialog.isVisible()
    assert dialog.findChild(QLineEdit).text() == long_name
    assert "name is 599 characters long; at most 200 fit" in _labels(dialog)
    assert view.count_label.text() == "20 accounts"
    assert ctx.db.execute("SELECT count(*) FROM accounts").fetchone()[0] == 20
    # Shortened in place, the name is taken and the new account opens.
    line = dialog.findChild(QLineEdit)
    line.setText("Very long name")
    qtbot.keyClick(line, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert view.panel.isVisible()
    assert view.panel.title.text() == "Very long name"
    assert view.count_label.text() == "21 accounts"


def test_new_account_with_a_blank_name_says_so(
    view: AccountsView, qtbot: QtBot, ctx: Context
) -> None:
    dialog = _ctrl_n_and_enter(view, qtbot, "   ")
    qtbot.waitUntil(lambda: "name is required" in _labels(dialog))
    assert dialog.isVisible()
    assert "name is required" in _labels(dialog)
    assert ctx.db.execute("SELECT count(*) FROM accounts").fetchone()[0] == 20
    dialog.close()


def test_log_visit_keeps_the_follow_up_on_or_after_the_visit(
    view: AccountsView, qtbot: QtBot, ctx: Context
) -> None:
    account = view.model.account_id(0)
    assert account is not None
    dialog = view.account_actions.open_log_visit(account)
    dialog.next_step.setText("x")
    dialog.due.setDate(dialog.due.date().addYears(-5))
    assert dialog.due.date() == dialog.when.date()  # the earliest date the edit offers
    dialog.when.setDateTime(dialog.when.dateTime().addDays(-3))
    assert dialog.due.minimumDate() == dialog.when.date()
    # Were an earlier date to reach the service, the dialog says why and writes nothing.
    dialog.due.setMinimumDate(QDate(2000, 1, 1))
    dialog.due.setDate(dialog.when.date().addYears(-5))
    qtbot.mouseClick(dialog.log_button, Qt.MouseButton.LeftButton)
    assert not dialog.log_button.isEnabled()  # Log waits for its write
    qtbot.waitUntil(lambda: "before the visit" in dialog.error.text())
    assert dialog.isVisible()
    assert dialog.log_button.isEnabled()
    assert ctx.db.execute("SELECT count(*) FROM tasks").fetchone()[0] == 0
    dialog.close()


def test_the_potential_column_shows_the_largest_figures_whole(
    view: AccountsView, ctx: Context, qtbot: QtBot
) -> None:
    font = QFont(view.font())
    font.setPointSize(theme.BASE_POINT_SIZE)  # the app's font (theme.apply)
    view.table.setFont(font)
    shop = ctx.db.execute("SELECT id FROM accounts WHERE name = 'Shop 19'").fetchone()[0]
    view.service.update(shop, {"potential": 999_999_999})
    view.model.refresh()
    view.table.sortByColumn(POTENTIAL, Qt.SortOrder.DescendingOrder)
    qtbot.waitUntil(lambda: not view.model.sorting, timeout=10_000)
    assert view.model.data(view.model.index(0, POTENTIAL)) == "$999,999,999"
    assert view.table.sizeHintForColumn(POTENTIAL) <= view.table.columnWidth(POTENTIAL)
