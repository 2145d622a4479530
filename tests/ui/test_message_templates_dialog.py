"""The e-mail template editor, from the Rewards page: edit, live preview, Save (and its refusal
naming the field, nothing saved), Reset to default."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from fieldrep.services.context import Context
from fieldrep.services.notifications import templates
from fieldrep.ui.dialogs.message_templates_dialog import MessageTemplatesDialog
from fieldrep.ui.tasks import TaskRunner, TaskState
from fieldrep.ui.views.rewards_view import RewardsView


def stored_rows(ctx: Context) -> list[tuple[str, str, str]]:
    return ctx.conn.execute("SELECT name, subject, body FROM message_templates").fetchall()


def test_the_rewards_page_opens_the_editor_beside_mail_settings(
    ctx: Context, runner: TaskRunner, qtbot: QtBot
) -> None:
    view = RewardsView(ctx, runner)
    qtbot.addWidget(view)
    qtbot.mouseClick(view.templates_button, Qt.MouseButton.LeftButton)
    dialog = view.templates_dialog
    assert isinstance(dialog, MessageTemplatesDialog)
    assert dialog.isVisible()
    assert view.open_templates() is dialog  # one editor, opened again
    dialog.close()


def test_edit_preview_save_refusal_and_reset(
    ctx: Context, runner: TaskRunner, qtbot: QtBot
) -> None:
    dialog = MessageTemplatesDialog(ctx, runner)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.name == "referral_status"
    default = templates.DEFAULTS["referral_status"]
    assert dialog.subject_edit.text() == default.subject
    assert dialog.body_edit.toPlainText() == default.body
    assert not dialog.reset_button.isEnabled()  # nothing edited yet
    fields = [dialog.fields.item(i).text().split("\n")[0] for i in range(dialog.fields.count())]
    assert fields == [f"${{{f}}}" for f in sorted(templates.FIELDS)]

    # the preview follows the typing, filled with the sample values
    dialog.subject_edit.setText("${referred_name} is now ${stage}")
    sample = templates.SAMPLE
    assert dialog.preview_subject.text() == (
        f"Subject: {sample['referred_name']} is now {sample['stage']}"
    )
    dialog.body_edit.setPlainText("Hello ${referrer_name}, costs $$5")
    assert dialog.preview_body.toPlainText() == f"Hello {sample['referrer_name']}, costs $5"
    assert "(not saved)" in dialog.list.item(0).text()

    # an unknown field: the preview and the message name it, nothing is saved
    dialog.body_edit.setPlainText("Hello ${referrer_iban}")
    assert "${referrer_iban}" in dialog.preview_subject.text()
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert not dialog.save_button.isEnabled()  # Save waits for its write
    qtbot.waitUntil(lambda: dialog.message.startswith("Not saved"))
    assert dialog.message.startswith("Not saved: the body names an unknown field ${referrer_iban}")
    assert dialog.save_button.isEnabled()
    assert stored_rows(ctx) == []
    assert templates.load(ctx.conn, "referral_status") == default

    # fixed, it saves; the outbox's load() uses it
    dialog.body_edit.setPlainText("Hello ${referrer_name}")
    with qtbot.waitSignal(dialog.saved) as saved:
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert saved.args == ["referral_status"]
    assert dialog.message.startswith("Saved")
    assert stored_rows(ctx) == [
        ("referral_status", "${referred_name} is now ${stage}", "Hello ${referrer_name}")
    ]
    assert dialog.list.item(0).text().endswith("(edited)")
    assert dialog.reset_button.isEnabled()

    # an edit to another template is kept while looking at the first, and not saved
    dialog.select("reward_issued")
    dialog.subject_edit.setText("Draft")
    dialog.select("referral_status")
    assert dialog.subject_edit.text() == "${referred_name} is now ${stage}"
    dialog.select("reward_issued")
    assert dialog.subject_edit.text() == "Draft"
    assert [r[0] for r in stored_rows(ctx)] == ["referral_status"]

    # Reset to default forgets the saved edit
    dialog.select("referral_status")
    with qtbot.waitSignal(dialog.saved):
        qtbot.mouseClick(dialog.reset_button, Qt.MouseButton.LeftButton)
    assert [r[0] for r in stored_rows(ctx)] == []
    assert dialog.subject_edit.text() == default.subject
    assert dialog.body_edit.toPlainText() == default.body
    assert dialog.list.item(0).text() == templates.TITLES["referral_status"]
    assert not dialog.reset_button.isEnabled()


def test_a_stray_dollar_is_refused_with_the_way_to_write_one(
    ctx: Context, runner: TaskRunner, qtbot: QtBot
) -> None:
    dialog = MessageTemplatesDialog(ctx, runner)
    qtbot.addWidget(dialog)
    dialog.select("reward_issued")
    dialog.subject_edit.setText("You earned $ 5")
    task = dialog.save()
    qtbot.waitUntil(lambda: task.state.done)
    assert task.state is TaskState.FAILED
    assert "write $$ for a dollar sign" in dialog.message
    assert stored_rows(ctx) == []
