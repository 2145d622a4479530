"""E-mail and notifications in the window, with a real SMTP server on loopback (STARTTLS, login):
the mail settings form stores and checks; the background sender sends what waits once online, on
the task runner, and tells of an e-mail that failed; the status bar's unread badge follows the
notifications and clears with Mark all as read."""

from __future__ import annotations

import asyncio
import os
import ssl
import threading
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from PySide6.QtWidgets import QMainWindow
from pytestqt.qtbot import QtBot

from fieldrep.services.context import Context
from fieldrep.services.notifications import outbox, smtp_settings
from fieldrep.services.notifications.smtp_sender import SendReport, SmtpConfig
from fieldrep.services.notifications.smtp_settings import SmtpSettings
from fieldrep.ui.dialogs.smtp_settings_dialog import SmtpSettingsDialog
from fieldrep.ui.notification_sender import NotificationSender, sender_for
from fieldrep.ui.status_bar import MainStatusBar
from fieldrep.ui.tasks import TaskRunner
from fieldrep.ui.views.rewards_view import RewardsView
from tests.services.rewards_support import add_referral, make_org, move, rows, sign_in
from tests.services.test_notifications_smtp import (  # noqa: F401
    PASSWORD,
    USER,
    Mailbox,
    _authenticator,
    _free_port,
    cert,
    smtp,
)


def _shots(tmp_path: Path) -> Path:
    return Path(os.environ.get("FIELDREP_SHOTS", tmp_path))


def _window(
    qtbot: QtBot, ctx: Context, runner: TaskRunner
) -> tuple[QMainWindow, NotificationSender]:
    window = QMainWindow()
    qtbot.addWidget(window)
    bar = MainStatusBar()
    window.setStatusBar(bar)
    sender = NotificationSender(ctx, runner, bar, window, interval_ms=60_000)
    window.resize(1366, 768)
    window.show()
    return window, sender


def _save(ctx: Context, config: SmtpConfig, **kw: object) -> None:
    values: dict[str, object] = {
        "host": config.host,
        "port": config.port,
        "username": USER,
        "password": PASSWORD,
        "sender": config.sender,
        "cafile": config.cafile or "",
    }
    values.update(kw)
    smtp_settings.save(ctx, SmtpSettings(**values))  # type: ignore[arg-type]


def test_the_form_stores_the_settings_refuses_a_bad_one_and_never_shows_the_password(
    qtbot: QtBot,
    ctx: Context,
    runner: TaskRunner,
    smtp: tuple[Mailbox, SmtpConfig],  # noqa: F811
    tmp_path: Path,
) -> None:
    _box, config = smtp
    dialog = SmtpSettingsDialog(ctx, runner)
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.send_button.isEnabled()  # nothing set up yet
    dialog.host_edit.setText(config.host)
    dialog.port_spin.setValue(config.port)
    dialog.user_edit.setText(USER)
    dialog.password_edit.setText(PASSWORD)
    dialog.sender_edit.setText("not an address")
    refused = dialog.save()
    assert not dialog.save_button.isEnabled()  # Save waits for its write
    qtbot.waitUntil(lambda: refused.state.done)
    assert dialog.save_button.isEnabled()
    assert "the address the e-mails come from" in dialog.message
    assert dialog.focusWidget() is dialog.sender_edit
    assert not smtp_settings.load(ctx.conn).configured  # nothing stored
    dialog.sender_edit.setText(config.sender)
    dialog.cafile_edit.setText(config.cafile or "")
    with qtbot.waitSignal(dialog.saved) as saved:
        dialog.save()
    stored = saved.args[0]
    assert (stored.host, stored.port, stored.password) == (config.host, config.port, PASSWORD)
    assert dialog.password_edit.text() == ""  # never shown again
    assert "leave blank to keep" in dialog.password_edit.placeholderText()
    assert dialog.send_button.isEnabled()
    dialog.resize(1366, 768)
    dialog.grab().save(str(_shots(tmp_path) / "smtp_settings_1366.png"))
    dialog.resize(dialog.sizeHint())
    dialog.grab().save(str(_shots(tmp_path) / "smtp_settings_hint.png"))
    # saved again with the password box blank: the password is kept
    dialog.port_spin.setValue(config.port)
    with qtbot.waitSignal(dialog.saved):
        dialog.save()
    assert smtp_settings.load(ctx.conn).password == PASSWORD


def test_the_sender_sends_once_online_and_tells_of_a_failed_email(
    qtbot: QtBot,
    ctx: Context,
    runner: TaskRunner,
    smtp: tuple[Mailbox, SmtpConfig],  # noqa: F811
    tmp_path: Path,
) -> None:
    box, config = smtp
    org = make_org(ctx)
    sign_in(ctx, org.manager)
    _save(ctx, config)
    move(ctx, add_referral(ctx, org, name="Bob"), "qualified")
    window, sender = _window(qtbot, ctx, runner)
    assert sender_for(runner) is sender
    assert sender.send_now() is None  # offline: it waits
    assert box.messages == []
    with qtbot.waitSignal(sender.finished, timeout=20_000) as done:
        sender.set_online(True)  # back online: what waits goes at once
    report: SendReport = done.args[0]
    assert len(report.sent) == 1
    assert len(box.messages) == 1
    assert sender.last_notice == ""  # nothing went wrong
    assert sender.send_now() is None  # nothing waits now

    # a mailbox that refuses the referrer's address: told once, kept with the reason
    box.reject["refused@acme.test"] = "550 no such mailbox"
    ctx.writer.update("contacts", org.referrer_contact, {"email": "refused@acme.test"})
    move(ctx, add_referral(ctx, org, name="Carl"), "qualified")
    with qtbot.waitSignal(sender.notice_shown, timeout=20_000):
        sender.send_now()
    assert "could not be sent" in sender.last_notice
    assert "refused@acme.test: 550 no such mailbox" in sender.last_notice
    assert window.statusBar().notice_text == sender.last_notice  # type: ignore[attr-defined]
    (failed,) = rows(ctx, "notifications", "status = 'failed'")
    assert failed["last_error"] == "550 no such mailbox"
    window.grab().save(str(_shots(tmp_path) / "status_failed_mail_1366.png"))


def test_a_refused_login_is_told_once_and_the_mail_waits(
    qtbot: QtBot,
    ctx: Context,
    runner: TaskRunner,
    smtp: tuple[Mailbox, SmtpConfig],  # noqa: F811
) -> None:
    box, config = smtp
    org = make_org(ctx)
    sign_in(ctx, org.manager)
    _save(ctx, config, password="wrong")
    move(ctx, add_referral(ctx, org), "qualified")
    window, sender = _window(qtbot, ctx, runner)
    notices: list[str] = []
    sender.notice_shown.connect(notices.append)
    for _ in range(2):
        with qtbot.waitSignal(sender.finished, timeout=20_000):
            sender.send_now(even_offline=True)
    assert len(notices) == 1  # the same problem is not told at every try
    assert "refused the login" in notices[0]
    assert "wrong" not in notices[0]
    assert [r["status"] for r in rows(ctx, "notifications", "channel = 'email'")] == ["queued"]
    assert box.messages == []
    assert window.statusBar().notice_text == notices[0]  # type: ignore[attr-defined]


def test_the_unread_badge_follows_the_notifications(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, tmp_path: Path
) -> None:
    org = make_org(ctx)
    sign_in(ctx, org.manager)
    window, sender = _window(qtbot, ctx, runner)
    bar = window.statusBar()
    assert isinstance(bar, MainStatusBar)
    assert bar.unread_text == ""
    outbox.notify_user(
        ctx, org.manager, "Reward awaiting your approval", "5 % of $4,000", "rewards", "x"
    )
    outbox.notify_user(ctx, org.manager, "Referral routed to you", "Bob Buyer", "referrals", "y")
    outbox.notify_user(ctx, org.rep, "Not yours", "", "referrals", "z")
    qtbot.waitUntil(lambda: bar.unread_text == "2 unread", timeout=5_000)
    assert "Referral routed to you" in bar.unread_button.toolTip()
    window.grab().save(str(_shots(tmp_path) / "status_unread_1366.png"))
    menu = sender.show_unread()
    texts = [a.text() for a in menu.actions() if a.text()]
    assert texts[:2] == ["Referral routed to you", "Reward awaiting your approval"]
    menu.actions()[-1].trigger()  # Mark all as read
    qtbot.waitUntil(lambda: bar.unread_text == "", timeout=5_000)
    assert outbox.unread_count(ctx.conn, org.rep) == 1  # someone else's stay unread
    menu.close()


def test_the_rewards_page_shows_the_outbox_and_opens_the_mail_settings(
    qtbot: QtBot,
    ctx: Context,
    runner: TaskRunner,
    smtp: tuple[Mailbox, SmtpConfig],  # noqa: F811
    tmp_path: Path,
) -> None:
    box, config = smtp
    org = make_org(ctx)
    sign_in(ctx, org.manager)
    move(ctx, add_referral(ctx, org, name="Bob"), "qualified")
    window, sender = _window(qtbot, ctx, runner)
    view = RewardsView(ctx, runner)
    window.setCentralWidget(view)
    qtbot.waitUntil(view.isVisible)
    window.resize(1366, 768)
    qtbot.wait(50)  # the layout settles before the picture
    assert view.mail_label.text() == (
        "E-mail: 1 e-mail to referrers waiting; no mail server set up yet: e-mails wait on this"
        " laptop"
    )
    window.grab().save(str(_shots(tmp_path) / "rewards_mail_1366.png"))
    dialog = view.open_mail_settings()
    _save(ctx, config)
    dialog._show(smtp_settings.load(ctx.conn))
    with qtbot.waitSignal(sender.finished, timeout=20_000):
        dialog.send_button.click()  # Send now, through the window's sender, even offline
    assert len(box.messages) == 1
    qtbot.waitUntil(lambda: "nothing waiting" in view.mail_label.text(), timeout=5_000)
    assert f"sent through {config.host} while online" in view.mail_label.text()
    dialog.close()


class _HeldMailbox(Mailbox):
    """Holds the first message's DATA until released, saying when it holds it."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if not self.holding.is_set():
            self.holding.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait)
        return await super().handle_DATA(server, session, envelope)


def test_cancel_stops_the_send_between_messages_and_the_rest_wait(
    qtbot: QtBot,
    ctx: Context,
    runner: TaskRunner,
    cert: tuple[Path, Path],  # noqa: F811
) -> None:
    crt, key = cert
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(crt, key)
    held = _HeldMailbox()
    port = _free_port()
    controller = Controller(
        held,
        hostname="127.0.0.1",
        port=port,
        tls_context=tls,
        require_starttls=True,
        auth_required=True,
        authenticator=_authenticator,
    )
    controller.start()
    try:
        org = make_org(ctx)
        sign_in(ctx, org.manager)
        smtp_settings.save(
            ctx,
            SmtpSettings(
                host="127.0.0.1",
                port=port,
                username=USER,
                password=PASSWORD,
                sender="referrals@fieldrep.test",
                cafile=str(crt),
            ),
        )
        for name in ("Bob", "Carl", "Dora"):
            move(ctx, add_referral(ctx, org, name=name), "qualified")
        window, sender = _window(qtbot, ctx, runner)
        progress: list[tuple[int, int]] = []
        task = sender.send_now(even_offline=True)
        assert task is not None
        task.progressed.connect(lambda done, total, _text: progress.append((done, total)))
        assert held.holding.wait(20)  # the first message is being handed over
        with qtbot.waitSignal(task.cancelled, timeout=20_000):
            sender.cancel()  # one cancel: it stops before the next message
            held.release.set()
        assert sender.task is None
        assert progress == [(0, 3)]  # the one progress callback: before each message
        statuses = sorted(r["status"] for r in rows(ctx, "notifications", "channel = 'email'"))
        assert statuses == ["queued", "queued", "sent"]  # the one handed over went, once
        assert len(held.messages) == 1
        assert window.isVisible()
        with qtbot.waitSignal(sender.finished, timeout=20_000) as done:
            assert sender.send_now(even_offline=True) is not None  # the rest go next time
        assert len(done.args[0].sent) == 2
        assert len(held.messages) == 3
    finally:
        held.release.set()
        controller.stop()
