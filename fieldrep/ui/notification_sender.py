"""The app's notifications beyond the page: the e-mail outbox sent in the background while online,
a tray (or status bar) message when an e-mail cannot go, and the unread badge in the status bar.

:class:`NotificationSender` owns a timer: every ``interval_ms``, and as the network comes back, it
sends what waits (:func:`smtp_settings.send_outbox`) as one long user write on the network lane of
the app's :class:`TaskRunner` (``write_with_progress``: the worker's context, off the GUI thread),
never two at once. The task's one
progress callback feeds the status bar's task line; :meth:`cancel` stops it between messages (the
rest stay queued). A run that could not send (the server refused the login, the relay is down) or
an e-mail that failed for good is told once, in the system tray where the platform has one, else in
the status bar; nothing is dropped: failed e-mails stay in the outbox with their reason. The badge
follows every commit to ``notifications`` (the change relay), not a poll.
"""

from __future__ import annotations

import logging
import weakref
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

from fieldrep.services.context import Context
from fieldrep.services.notifications import outbox
from fieldrep.ui import icons
from fieldrep.ui.change_relay import refresh_on_change
from fieldrep.ui.status_bar import MainStatusBar
from fieldrep.ui.tasks import Progress, Task, TaskKind, TaskRunner

# smtplib and ssl load with the first send, not with the window.
if TYPE_CHECKING:
    from fieldrep.services.notifications.smtp_sender import SendReport

log = logging.getLogger(__name__)

SEND_INTERVAL_MS = 2 * 60_000
NOTICE_MS = 15_000
_SENDERS: weakref.WeakValueDictionary[int, NotificationSender] = weakref.WeakValueDictionary()


def sender_for(runner: TaskRunner) -> NotificationSender | None:
    """The app's sender working through ``runner`` (pages ask it to send now): one per window, so
    two sends never run at once."""
    return _SENDERS.get(id(runner))


def send_operation(ctx: Context, progress: Progress) -> SendReport:
    """The background send: one progress report per message, which raises once cancelled."""
    from fieldrep.services.notifications import smtp_settings

    return smtp_settings.send_outbox(ctx, progress.report)


class NotificationSender(QObject):
    """Sends the outbox on a timer while online; tells of failures; keeps the unread badge."""

    finished = Signal(object)  # the SendReport of each run
    notice_shown = Signal(str)

    def __init__(
        self,
        context: Context,
        runner: TaskRunner,
        status_bar: MainStatusBar,
        parent: QWidget,
        *,
        interval_ms: int = SEND_INTERVAL_MS,
        tray: QSystemTrayIcon | None = None,
    ) -> None:
        super().__init__(parent)
        self.context = context
        self.runner = runner
        self.status_bar = status_bar
        self.online = False
        self.task: Task | None = None
        self.last_notice = ""
        self._told_failed: set[str] = set(self._failed_ids())
        self._told_stop = ""
        self.tray = tray  # made at the first notice, where the platform has a tray
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._on_timer_timeout)
        self.timer.start()
        refresh_on_change(
            runner.changes, status_bar, {"notifications", "local_meta"}, self._on_changed
        )
        status_bar.notifications_requested.connect(self.show_unread)
        self.menu: QMenu | None = None
        _SENDERS[id(runner)] = self
        self.refresh_unread()

    # -- the unread badge ------------------------------------------------------------------------

    def refresh_unread(self) -> None:
        if self.context.closed:
            return
        user = self.context.user_id
        if user is None:
            self.status_bar.set_unread(0)
            return
        newest = outbox.unread(self.context.conn, user, limit=1)
        count = outbox.unread_count(self.context.conn, user)
        self.status_bar.set_unread(count, str(newest[0]["subject"]) if newest else "")

    def _on_changed(self, _changes: object) -> None:
        self.refresh_unread()

    def show_unread(self) -> QMenu:
        """The notification centre: the unread ones under the badge, and Mark all as read."""
        user = self.context.user_id
        items = outbox.unread(self.context.conn, user, limit=12) if user else []
        menu = QMenu(self.status_bar)
        for item in items:
            action = menu.addAction(str(item["subject"]))
            action.setToolTip(str(item["body"] or ""))
            action.setEnabled(False)
        if not items:
            menu.addAction("No unread notifications").setEnabled(False)
        menu.addSeparator()
        read_all = QAction("Mark all as read", menu)
        read_all.setEnabled(bool(items))
        ids = [str(i["id"]) for i in outbox.unread(self.context.conn, user, 10_000)] if user else []
        read_all.triggered.connect(lambda: self._mark_read(ids))
        menu.addAction(read_all)
        self.menu = menu
        button = self.status_bar.unread_button
        where = button.mapToGlobal(button.rect().topLeft())
        where.setY(where.y() - menu.sizeHint().height())  # above the badge, in the window
        menu.popup(where)
        return menu

    def _mark_read(self, ids: list[str]) -> Task | None:
        if not ids or self.runner.closed:
            self.refresh_unread()
            return None
        return self.runner.write(
            lambda ctx: outbox.mark_read(ctx, ids),
            label="Marking notifications read",
            on_success=lambda _result: self.refresh_unread(),
        )

    # -- sending -----------------------------------------------------------------------------------

    def set_online(self, online: bool) -> None:
        """The connectivity monitor's verdict; back online, what waits goes at once."""
        was, self.online = self.online, online
        if online and not was:
            self.send_now()

    def _due(self) -> bool:
        from fieldrep.services.notifications import smtp_settings

        if self.context.closed or not smtp_settings.load(self.context.conn).configured:
            return False
        row = self.context.conn.execute(
            "SELECT 1 FROM notifications WHERE channel = 'email' AND status = 'queued'"
            " AND origin_device = ? LIMIT 1",
            (self.context.writer.device_id,),
        ).fetchone()
        return row is not None

    def send_now(self, *, even_offline: bool = False) -> Task | None:
        """Start a send (None: one runs already, offline, not set up, or nothing waits)."""
        if self.task is not None or self.runner.closed:
            return None
        if not (self.online or even_offline) or not self._due():
            return None
        self.task = self.runner.write_with_progress(
            send_operation,
            lane=TaskKind.NETWORK,
            label="Sending e-mails",
            on_success=self._on_task_succeeded,
            on_failure=self._on_task_failed,
            on_cancelled=self._on_task_cancelled,
        )
        return self.task

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _on_timer_timeout(self) -> None:
        self.send_now()

    def _failed_ids(self) -> list[str]:
        if self.context.closed:
            return []
        return [
            r[0]
            for r in self.context.conn.execute(
                "SELECT id FROM notifications WHERE channel = 'email' AND status = 'failed'"
                " AND origin_device = ?",
                (self.context.writer.device_id,),
            )
        ]

    def _on_task_succeeded(self, report: SendReport) -> None:
        from fieldrep.services.notifications import smtp_settings

        self.task = None
        failed = [n for n in self._failed_ids() if n not in self._told_failed]
        self._told_failed.update(failed)
        if failed:
            reason = self.context.conn.execute(
                "SELECT to_address, last_error FROM notifications WHERE id = ?", (failed[-1],)
            ).fetchone()
            noun = "e-mail" if len(failed) == 1 else "e-mails"
            self.notify(
                f"{len(failed):,} {noun} to referrers could not be sent"
                f" ({reason[0]}: {reason[1]}). They stay in the outbox."
            )
        stopped = report.stopped or ""
        if stopped and stopped != smtp_settings.NOT_CONFIGURED and stopped != self._told_stop:
            self.notify(f"E-mails are waiting: {stopped}.")
        self._told_stop = stopped
        self.finished.emit(report)

    def _on_task_failed(self, error: BaseException) -> None:
        self.task = None
        log.error("sending e-mails failed: %s", error)
        self.notify(f"Sending e-mails stopped: {error}. They stay in the outbox.")

    def _on_task_cancelled(self) -> None:
        self.task = None

    def notify(self, text: str) -> None:
        """A message the user should see without a dialog: the tray's balloon, else the bar."""
        self.last_notice = text
        if self.tray is None and QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(icons.icon("app"), self)
            self.tray.setToolTip("FieldRep")
            self.tray.show()
        if self.tray is not None and self.tray.isVisible() and self.tray.supportsMessages():
            self.tray.showMessage("FieldRep", text, QSystemTrayIcon.MessageIcon.Warning, NOTICE_MS)
        self.status_bar.show_notice(text, NOTICE_MS)
        self.notice_shown.emit(text)
