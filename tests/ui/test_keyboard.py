"""The app works from the keyboard (issue 16, points 6-7): focus starts in the page, Ctrl+F from
anywhere, no page switch by a letter typed in the sidebar, Enter logs a visit."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QPushButton
from pytestqt.qtbot import QtBot

from fieldrep.services.context import Context
from fieldrep.ui.dialogs.log_visit_dialog import LogVisitDialog
from fieldrep.ui.main_window import MainWindow
from fieldrep.ui.tasks import TaskRunner
from fieldrep.ui.views.accounts_view import AccountsView


def _window(qtbot: QtBot, ctx: Context, runner: TaskRunner, settings: QSettings) -> MainWindow:
    ctx.writer.insert_many("accounts", [{"name": "Acme Ltd"}, {"name": "Bayside Bakery"}])
    runner.changes.flush()
    window = MainWindow(ctx, runner, settings)
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    qtbot.waitActive(window)
    return window


def _accounts(window: MainWindow) -> AccountsView:
    page = window.page("accounts")
    assert isinstance(page, AccountsView)
    return page


def test_typing_at_start_searches_the_accounts(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, settings: QSettings
) -> None:
    window = _window(qtbot, ctx, runner, settings)
    page = _accounts(window)
    assert window.focusWidget() is page.search
    qtbot.keyClicks(window.focusWidget(), "bays")
    assert page.search.text() == "bays"
    qtbot.waitUntil(lambda: page.model.matching == 1)


def test_ctrl_f_from_the_sidebar_and_letters_there_switch_nothing(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, settings: QSettings
) -> None:
    window = _window(qtbot, ctx, runner, settings)
    page = _accounts(window)
    window.nav.setFocus()
    assert window.focusWidget() is window.nav
    qtbot.keyClicks(window.nav, "trc")  # Territories, Referrals, Conflicts start so
    assert window.current_page_key == "accounts"
    qtbot.keyClick(window.nav, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.focusWidget() is page.search


def test_ctrl_f_on_a_page_without_search_goes_to_the_accounts_search(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, settings: QSettings
) -> None:
    window = _window(qtbot, ctx, runner, settings)
    window.show_page("conflicts")
    window.focus_page()
    focused = window.focusWidget()
    assert focused is not None
    assert window.page("conflicts").isAncestorOf(focused)  # the page, not the sidebar
    qtbot.keyClick(focused, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.current_page_key == "accounts"
    assert window.focusWidget() is _accounts(window).search


def _dialog(qtbot: QtBot, ctx: Context, runner: TaskRunner) -> LogVisitDialog:
    ctx.set_user(ctx.writer.insert("users", {"username": "ann", "role": "rep"}))
    account = ctx.writer.insert("accounts", {"name": "Acme Ltd"})
    dialog = LogVisitDialog(ctx, runner, account, "Acme Ltd")
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.activateWindow()
    qtbot.waitActive(dialog)
    return dialog


def test_enter_on_a_chosen_outcome_logs_the_visit_with_it(
    qtbot: QtBot, ctx: Context, runner: TaskRunner
) -> None:
    dialog = _dialog(qtbot, ctx, runner)
    order = next(b for b in dialog.outcome_buttons.buttons() if b.property("outcome") == "order")
    qtbot.mouseClick(order, Qt.MouseButton.LeftButton)
    order.setFocus()
    with qtbot.waitSignal(dialog.logged, timeout=2_000):
        qtbot.keyClick(order, Qt.Key.Key_Return)
    (outcome,) = ctx.conn.execute("SELECT outcome FROM visits").fetchone()
    assert outcome == "order"  # not reset to "Met" by the focused button


def test_tab_leaves_the_notes_and_enter_logs_with_the_task_confirmed(
    qtbot: QtBot, ctx: Context, runner: TaskRunner
) -> None:
    dialog = _dialog(qtbot, ctx, runner)
    assert dialog.focusWidget() is dialog.notes
    qtbot.keyClicks(dialog.notes, "Liked the samples")
    qtbot.keyClick(dialog.notes, Qt.Key.Key_Tab, Qt.KeyboardModifier.ControlModifier)
    assert dialog.notes.toPlainText() == "Liked the samples\t"
    qtbot.keyClick(dialog.notes, Qt.Key.Key_Tab)
    assert dialog.focusWidget() is not dialog.notes
    dialog.next_step.setFocus()
    qtbot.keyClicks(dialog.next_step, "Send the quote")
    with qtbot.waitSignal(dialog.logged, timeout=2_000):
        qtbot.keyClick(dialog.next_step, Qt.Key.Key_Return)
    assert "Visit logged (met)" in dialog.confirmation()
    assert "Send the quote" in dialog.confirmation()
    assert ctx.conn.execute("SELECT count(*) FROM tasks").fetchone()[0] == 1


def test_the_chosen_outcome_fits_its_button(qtbot: QtBot, ctx: Context, runner: TaskRunner) -> None:
    dialog = _dialog(qtbot, ctx, runner)
    bold = dialog.font()
    bold.setBold(True)
    for button in dialog.outcome_buttons.buttons():
        assert isinstance(button, QPushButton)
        button.setChecked(True)
        assert button.width() >= QFontMetrics(bold).horizontalAdvance(button.text()) + 16


def test_question_mark_lists_every_shortcut(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, settings: QSettings
) -> None:
    window = _window(qtbot, ctx, runner, settings)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    window.nav.setFocus()
    # (the offscreen platform has no keyboard map: "?" arrives without the Shift that types it)
    qtbot.keyClick(window.nav, Qt.Key.Key_Question)
    dialog = window._shortcuts_dialog
    qtbot.waitUntil(dialog.isVisible)
    keys = {keys for _where, keys, _what in dialog.rows()}
    assert {"Ctrl+1", "Ctrl+F", "Ctrl+N", "Ctrl+L", "Ctrl+I", "Ctrl+E", "Ctrl+T"} <= keys
    dialog.close()


def test_typing_a_question_mark_in_the_search_types_it(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, settings: QSettings
) -> None:
    window = _window(qtbot, ctx, runner, settings)
    page = _accounts(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClicks(page.search, "who?")
    assert page.search.text() == "who?"
    assert getattr(window, "_shortcuts_dialog", None) is None
