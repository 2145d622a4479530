"""Log a visit in two clicks: open the dialog, press Log visit. Time defaults to now and the outcome
to "Met"; a next step becomes a follow-up task due on the chosen date (a week ahead by default).

From the keyboard: type the notes, Enter logs the visit (from any field; Shift+Enter starts a new
line in the notes), Tab moves on, Esc cancels."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import partial
from html import escape
from typing import Any, cast

from PySide6.QtCore import QDate, QDateTime, Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics, QKeyEvent, QShowEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QDateEdit,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from fieldrep.services.accounts.visits import (
    DEFAULT_FOLLOW_UP_DAYS,
    OUTCOME_LABELS,
    LoggedVisit,
    log_visit,
)
from fieldrep.services.context import Context
from fieldrep.ui import theme
from fieldrep.ui.tasks import Task, TaskRunner
from fieldrep.ui.widgets.screen_fit import fit_on_show


def _referral_news(ctx: Context, account_id: str) -> list[str]:
    from fieldrep.services.rewards.close_loop import for_account

    conn = getattr(ctx, "conn", None)
    return [] if conn is None else [o.sentence for o in for_account(conn, account_id, limit=3)]


def _log(account_id: str, ctx: Context, **fields: Any) -> LoggedVisit:
    return log_visit(ctx, account_id, **fields)


class LogVisitDialog(QDialog):
    logged = Signal(object)  # LoggedVisit

    def __init__(
        self,
        ctx: Context,
        runner: TaskRunner,
        account_id: str,
        account_name: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        fit_on_show(self)  # at least its size hint, within the screen
        self.ctx = ctx
        self.runner = runner
        self.account_id = account_id
        self.setWindowTitle(f"Log visit — {account_name}")
        self.setMinimumWidth(640)
        # Rich for the bold name; the name is the user's text, so escaped.
        self.heading = QLabel(
            f"Visit to <b>{escape(account_name)}</b>" if account_name else "Visit"
        )
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.heading.setObjectName("cardTitle")
        self.when = QDateTimeEdit(QDateTime.currentDateTime())
        self.when.setCalendarPopup(True)
        self.when.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.setStyleSheet(
            f"QPushButton:checked {{ background: {theme.ACCENT_SOFT};"
            f" border: 1px solid {theme.ACCENT}; border-radius: 6px; font-weight: 600; }}"
        )
        self.outcome_buttons = QButtonGroup(self)
        outcomes = QHBoxLayout()
        bold = QFont(self.font())
        bold.setBold(True)
        for i, (key, label) in enumerate(OUTCOME_LABELS.items()):
            button = QPushButton(label)
            button.setCheckable(True)
            button.setProperty("outcome", key)
            button.setChecked(i == 0)
            # Enter logs the visit wherever the focus is: an outcome button with the focus must
            # not take Enter for itself (it re-chose its outcome).
            button.setAutoDefault(False)
            # Room for the label in bold, as it is drawn once chosen.
            button.setMinimumWidth(QFontMetrics(bold).horizontalAdvance(label) + 32)
            self.outcome_buttons.addButton(button, i)
            outcomes.addWidget(button)
        self.notes = _NotesEdit()
        self.notes.setPlaceholderText(
            "What happened?  (Tab leaves the notes, Enter logs the visit)"
        )
        self.notes.setFixedHeight(80)
        self.next_step = QLineEdit()
        self.next_step.setPlaceholderText("e.g. Send the quote (creates a follow-up task)")
        self.due = QDateEdit(QDate.currentDate().addDays(DEFAULT_FOLLOW_UP_DAYS))
        self.due.setCalendarPopup(True)
        self.due.setDisplayFormat("yyyy-MM-dd")
        # A follow-up is never due before the visit (the service refuses it too).
        self.due.setMinimumDate(self.when.date())
        self.when.dateChanged.connect(self.due.setMinimumDate)
        self.error = QLabel()
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.setStyleSheet(f"color: {theme.DANGER};")
        form = QFormLayout()
        form.addRow("When", self.when)
        form.addRow("Outcome", outcomes)
        form.addRow("Notes", self.notes)
        form.addRow("Next step", self.next_step)
        form.addRow("Follow up on", self.due)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.log_button = self.buttons.addButton(
            "Log visit", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.log_button.setDefault(True)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setAutoDefault(False)
        self.referral_button = self.buttons.addButton(
            "Got a referral?", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.referral_button.setToolTip("Capture a referral from this customer (Ctrl+R)")
        self.referral_button.setShortcut("Ctrl+R")
        self.referral_button.clicked.connect(self.open_referral)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        # How this customer's referrals went, to thank them in person (issue 19): the map's
        # check-in and the Accounts page's Log visit both open this dialog.
        self.referral_news = QLabel("\n".join(_referral_news(ctx, account_id)))
        self.referral_news.setTextFormat(Qt.TextFormat.PlainText)
        self.referral_news.setWordWrap(True)
        self.referral_news.setStyleSheet(f"color: {theme.ACCENT}; font-weight: 600;")
        self.referral_news.setVisible(bool(self.referral_news.text()))
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.referral_news)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.result_visit: LoggedVisit | None = None
        self.notes.submit_requested.connect(self.submit)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.notes.setFocus()  # typing starts the notes; Enter logs the visit

    def open_referral(self) -> QDialog:
        """The referral dialog with this customer as the referrer (and this visit, once logged)."""
        from fieldrep.ui.dialogs.referral_dialog import ReferralDialog

        visit = self.result_visit.visit_id if self.result_visit else None
        dialog = ReferralDialog(self.ctx, self.runner, self.account_id, visit_id=visit, parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def outcome(self) -> str:
        button = self.outcome_buttons.checkedButton()
        return str(button.property("outcome")) if button else "met"

    def submit(self) -> Task:
        """Log the visit (a user write; Log waits meanwhile). A refusal shows the service's
        reason and keeps the dialog as typed; it closes once the visit is logged."""
        moment = cast(datetime, self.when.dateTime().toPython()).astimezone(UTC)
        self.log_button.setEnabled(False)
        task = self.runner.write(
            partial(
                _log,
                self.account_id,
                outcome=self.outcome(),
                notes=self.notes.toPlainText(),
                next_step=self.next_step.text(),
                due_date=cast(date, self.due.date().toPython())
                if self.next_step.text().strip()
                else None,
                visited_at=moment,
            ),
            label="Logging the visit",
            on_success=self._on_logged,
            on_error=lambda error: self.error.setText(str(error)),
        )
        task.finished.connect(lambda: self.log_button.setEnabled(True))
        return task

    def _on_logged(self, visit: LoggedVisit) -> None:
        self.result_visit = visit
        self.logged.emit(visit)
        self.accept()

    def confirmation(self) -> str:
        """What the page says once the visit is logged: the visit, and the task it created."""
        if self.result_visit is None:
            return ""
        outcome = OUTCOME_LABELS.get(self.outcome(), self.outcome())
        text = f"Visit logged ({outcome.lower()})."
        if self.result_visit.task_id:
            due = self.due.date().toString("d MMM yyyy")
            text += (
                f" Follow-up task created: \u201c{self.next_step.text().strip()}\u201d, due {due}."
            )
        return text


class _NotesEdit(QPlainTextEdit):
    """Notes: Tab moves on (Ctrl+Tab types a tab), Enter logs the visit, Shift+Enter starts a new
    line."""

    submit_requested = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setTabChangesFocus(True)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, mods = event.key(), event.modifiers()
        if key == Qt.Key.Key_Tab and mods & Qt.KeyboardModifier.ControlModifier:
            self.insertPlainText("\t")
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
            mods & Qt.KeyboardModifier.ShiftModifier
        ):
            self.submit_requested.emit()
            return
        super().keyPressEvent(event)
