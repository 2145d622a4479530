"""The referral dialog: a complete capture by keyboard alone, and what it says when it cannot save."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from fieldrep.services.context import Context
from fieldrep.services.referrals.model import Outcome
from fieldrep.ui.dialogs.referral_dialog import ReferralDialog
from fieldrep.ui.tasks import TaskRunner
from tests.services.referrals.conftest import org as org  # the fixture


def _type(qtbot: QtBot, text: str) -> None:
    """Type into whatever has the focus, then Tab to the next field."""
    widget = QApplication.focusWidget()
    assert widget is not None
    if text:
        qtbot.keyClicks(widget, text)
    qtbot.keyClick(widget, Qt.Key.Key_Tab)


def _submitted(qtbot: QtBot, dialog: ReferralDialog) -> None:
    """Save, and wait for the write's answer."""
    task = dialog.submit()
    assert task is not None
    qtbot.waitUntil(lambda: task.state.done)


def test_a_complete_referral_by_keyboard_says_where_it_went(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, org: dict[str, str]
) -> None:
    dialog = ReferralDialog(ctx, runner, org["referrer"])
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.activateWindow()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is dialog.name)
    assert "Acme Tools Inc." in dialog.heading.text()
    assert dialog.contact.currentText() == "Jane Roe"  # the referrer's contact, prefilled
    # A safety net, not a speed limit: the first capture with an address loads the gazetteer
    # (seconds), now on the write lane rather than the GUI thread.
    with qtbot.waitSignal(dialog.captured, timeout=30_000) as saved:
        for text in (
            "Sam Lee",
            "Lone Star Plumbing",
            "214 555 0199",
            "sam@lonestar.com",
            "400 Elm St",
            "Dallas",
            "75201",
            "his supplier",
            "",
        ):
            _type(qtbot, text)
        assert QApplication.focusWidget() is dialog.consent
        qtbot.keyClick(dialog.consent, Qt.Key.Key_Space)
        qtbot.keyClick(dialog.consent, Qt.Key.Key_Return)
    result = saved.args[0]
    assert result.outcome is Outcome.NEW_LEAD
    assert dialog.message.text().startswith("Saved. Routed to Omar, Texas Metros, because")
    row = ctx.conn.execute(
        "SELECT referred_phone, referrer_contact_id, notes, relationship, consent_at = created_at"
        " FROM referrals WHERE id = ?",
        (result.referral_id,),
    ).fetchone()
    assert row == ("+12145550199", org["contact"], None, "his supplier", 1)
    qtbot.keyClick(dialog.save_button, Qt.Key.Key_Return)  # Enter again closes
    assert not dialog.isVisible()


def test_enter_in_a_field_saves_once_and_leaves_the_answer_on_screen(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, org: dict[str, str]
) -> None:
    dialog = ReferralDialog(ctx, runner, org["referrer"])
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.name.setText("Sam Lee")
    dialog.email.setText("sam@lonestar.com")
    dialog.consent.setChecked(True)
    with qtbot.waitSignal(dialog.captured):
        qtbot.keyClick(dialog.email, Qt.Key.Key_Return)
    assert dialog.isVisible()
    assert dialog.message.text().startswith("Saved.")
    assert ctx.conn.execute("SELECT count(*) FROM referrals").fetchone()[0] == 1


def test_without_consent_nothing_is_saved_and_the_box_gets_the_focus(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, org: dict[str, str]
) -> None:
    dialog = ReferralDialog(ctx, runner, org["referrer"])
    qtbot.addWidget(dialog)
    dialog.name.setText("Sam Lee")
    dialog.phone.setText("214 555 0199")
    refused = dialog.submit()
    assert refused is not None
    assert not dialog.save_button.isEnabled()  # Save waits for its write
    qtbot.waitUntil(lambda: refused.state.done)
    assert dialog.save_button.isEnabled()
    assert dialog.message.text().startswith("Not saved: tick that they agreed")
    assert ctx.conn.execute("SELECT count(*) FROM referrals").fetchone()[0] == 0
    assert dialog.name.text() == "Sam Lee"  # nothing typed is lost


def test_a_possible_duplicate_asks_for_a_reason_then_saves(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, org: dict[str, str]
) -> None:
    ctx.writer.insert("accounts", {"name": "Lone Star Plumbing Co.", "postal_code": "75201"})
    dialog = ReferralDialog(ctx, runner, None)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.referrer_edit.setText("Acme Tools Inc.")
    dialog.name.setText("Sam Lee")
    dialog.company.setText("Lone Star Plumbing")
    dialog.phone.setText("214 555 0199")
    dialog.postal.setText("75201")
    dialog.consent.setChecked(True)
    _submitted(qtbot, dialog)
    assert "Possible duplicate: name 100 % like 'Lone Star Plumbing Co.'" in dialog.message.text()
    assert dialog.override.isVisible()
    _submitted(qtbot, dialog)  # still no reason: asked again, nothing saved
    assert ctx.conn.execute("SELECT count(*) FROM referrals").fetchone()[0] == 0
    dialog.override.setText("A second shop, other owner")
    with qtbot.waitSignal(dialog.captured) as saved:
        dialog.submit()
    assert saved.args[0].outcome is Outcome.OVERRIDDEN
    referrer = ctx.conn.execute("SELECT referrer_account_id FROM referrals").fetchone()[0]
    assert referrer == org["referrer"]


def test_got_a_referral_in_the_log_visit_dialog_opens_it_with_the_customer_as_referrer(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, org: dict[str, str]
) -> None:
    from fieldrep.ui.dialogs.log_visit_dialog import LogVisitDialog

    visit = LogVisitDialog(ctx, runner, org["referrer"], "Acme Tools Inc.")
    qtbot.addWidget(visit)
    visit.show()
    dialog = visit.open_referral()
    assert isinstance(dialog, ReferralDialog)
    assert "Acme Tools Inc." in dialog.heading.text()
    assert dialog.contact.currentText() == "Jane Roe"
    dialog.close()


def test_ctrl_shift_r_opens_the_capture_dialog_from_anywhere(
    qtbot: QtBot, ctx: Context, org: dict[str, str]
) -> None:
    from PySide6.QtCore import QSettings
    from PySide6.QtGui import QAction, QKeySequence

    from fieldrep.ui.main_window import MainWindow
    from fieldrep.ui.pages import PageSpec
    from fieldrep.ui.tasks import TaskRunner

    runner = TaskRunner(ctx.path)
    pages = (PageSpec("map", "Map", "map", None),)  # a page with no background work of its own
    window = MainWindow(ctx, runner, QSettings(), pages=pages)
    qtbot.addWidget(window)
    window.show()
    (action,) = [
        a for a in window.findChildren(QAction) if a.shortcut() == QKeySequence("Ctrl+Shift+R")
    ]
    assert action.shortcutContext() == Qt.ShortcutContext.WindowShortcut  # anywhere in the window
    action.trigger()
    dialogs = window.findChildren(ReferralDialog)
    assert len(dialogs) == 1
    assert dialogs[0].isVisible()
    assert dialogs[0].referrer_edit.isEnabled()  # no account open: the rep types the referrer
    dialogs[0].reject()
    runner.shutdown()
