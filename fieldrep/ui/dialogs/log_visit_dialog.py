"""Log a visit in two clicks: open the dialog, press Log visit. Time defaults to now and the outcome
to "Met"; a next step becomes a follow-up task due on the chosen date (a week ahead by default)."""

from __future__ import annotations

from datetime import UTC
from html import escape

from PySide6.QtCore import QDate, QDateTime, Qt, Signal
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

from fieldrep.services.visits import DEFAULT_FOLLOW_UP_DAYS, OUTCOME_LABELS, LoggedVisit, log_visit
from fieldrep.store.errors import ValidationError
from fieldrep.ui import theme


class LogVisitDialog(QDialog):
    logged = Signal(object)  # LoggedVisit

    def __init__(
        self, ctx: object, account_id: str, account_name: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
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
        for i, (key, label) in enumerate(OUTCOME_LABELS.items()):
            button = QPushButton(label)
            button.setCheckable(True)
            button.setProperty("outcome", key)
            button.setChecked(i == 0)
            self.outcome_buttons.addButton(button, i)
            outcomes.addWidget(button)
        self.notes = QPlainTextEdit()
        self.notes.setPlaceholderText("What happened?")
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
        self.referral_button = self.buttons.addButton(
            "Got a referral?", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.referral_button.setToolTip("Capture a referral from this customer (Ctrl+R)")
        self.referral_button.setShortcut("Ctrl+R")
        self.referral_button.clicked.connect(self.open_referral)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.result_visit: LoggedVisit | None = None

    def open_referral(self) -> QDialog:
        """The referral dialog with this customer as the referrer (and this visit, once logged)."""
        from fieldrep.ui.dialogs.referral_dialog import ReferralDialog

        visit = self.result_visit.visit_id if self.result_visit else None
        dialog = ReferralDialog(self.ctx, self.account_id, visit_id=visit, parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def outcome(self) -> str:
        button = self.outcome_buttons.checkedButton()
        return str(button.property("outcome")) if button else "met"

    def submit(self) -> None:
        moment = self.when.dateTime().toPython().astimezone(UTC)
        try:
            self.result_visit = log_visit(
                self.ctx,
                self.account_id,
                outcome=self.outcome(),
                notes=self.notes.toPlainText(),
                next_step=self.next_step.text(),
                due_date=self.due.date().toPython() if self.next_step.text().strip() else None,
                visited_at=moment,
            )
        except ValidationError as exc:
            self.error.setText(str(exc))
            return
        self.logged.emit(self.result_visit)
        self.accept()
