"""Capture a referral in seconds, keyboard first: type, Tab, tick consent (Space), Enter saves.

The referrer is prefilled (the account being visited and its contacts); without one (the global
shortcut) the rep types the referring account's name and picks it from the suggestions. Saving runs
the whole automation (fieldrep.services.referrals.capture) and the dialog then says where the
referral went ("Routed to Omar, Texas Metros, because ..."), or why it was not saved: a refused
value names its field and keeps the text; a possible duplicate lists its matches and asks for a
reason to save it anyway. Esc cancels.
"""

from __future__ import annotations

from functools import partial
from html import escape

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from fieldrep.domain.errors import FieldRepError
from fieldrep.services.context import Context
from fieldrep.services.referrals.capture import (
    CaptureRefused,
    CaptureResult,
    Draft,
    ReferralService,
)
from fieldrep.services.referrals.model import Outcome
from fieldrep.ui import theme
from fieldrep.ui.tasks import Task, TaskRunner


def _capture(shared: ReferralService, draft: Draft, ctx: Context) -> CaptureResult:
    """The capture on the write lane: a service on the worker's context keeping the shared one's
    name index and geocoder (used only here, one capture at a time on the write lane)."""
    service = ReferralService(ctx, geocoder=shared.geocoder)
    service.names = shared.names
    return service.capture(draft)


class ReferralDialog(QDialog):
    captured = Signal(object)  # CaptureResult, once saved

    def __init__(
        self,
        ctx: Context,
        runner: TaskRunner,
        account_id: str | None = None,
        *,
        visit_id: str | None = None,
        service: ReferralService | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.runner = runner
        self.service = service or ReferralService(ctx)
        self.visit_id = visit_id
        self.account_id = account_id
        self.result_capture: CaptureResult | None = None
        self._accounts: dict[str, str] = {}
        self.setWindowTitle("New referral")
        self.setMinimumWidth(560)

        self.heading = QLabel()
        self.heading.setObjectName("cardTitle")
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.referrer_edit = QLineEdit()
        self.referrer_edit.setPlaceholderText("Type the referring account's name")
        self._names = QStringListModel(self)
        completer = QCompleter(self._names, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.referrer_edit.setCompleter(completer)
        self.referrer_edit.textEdited.connect(self._on_referrer_edit_text_edited)
        self.contact = QComboBox()

        self.name = QLineEdit()
        self.name.setPlaceholderText("Who was referred")
        self.company = QLineEdit()
        self.company.setPlaceholderText("Their company")
        self.phone = QLineEdit()
        self.phone.setPlaceholderText("e.g. (617) 555-0142")
        self.email = QLineEdit()
        self.email.setPlaceholderText("name@company.com")
        self.street = QLineEdit()
        self.street.setPlaceholderText("Street and number")
        self.city = QLineEdit()
        self.city.setPlaceholderText("City")
        self.postal = QLineEdit()
        self.postal.setPlaceholderText("ZIP")
        self.postal.setMaximumWidth(110)
        self.relationship = QLineEdit()
        self.relationship.setPlaceholderText("e.g. their supplier, a neighbour, a former colleague")
        self.notes = QLineEdit()
        self.notes.setPlaceholderText("Anything the owner should know")
        self.consent = QCheckBox("They agreed to be contacted (needed to save phone or e-mail)")
        self.override = QLineEdit()
        self.override.setPlaceholderText("Why this is not the same (needed to save it anyway)")
        self.override_label = QLabel("Save anyway because")

        place = QHBoxLayout()
        place.addWidget(self.city, 1)
        place.addWidget(self.postal)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.referrer_row = QHBoxLayout()
        self.referrer_row.addWidget(self.referrer_edit, 1)
        self.referrer_row.addWidget(self.contact, 1)
        form.addRow("Referred by", self.referrer_row)
        form.addRow("Name", self.name)
        form.addRow("Company", self.company)
        form.addRow("Phone", self.phone)
        form.addRow("E-mail", self.email)
        form.addRow("Address", self.street)
        form.addRow("", place)
        form.addRow("How they know", self.relationship)
        form.addRow("Notes", self.notes)
        form.addRow("", self.consent)
        form.addRow(self.override_label, self.override)
        self.override_label.hide()
        self.override.hide()

        self.message = QLabel()
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setWordWrap(True)
        self.message.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.addButton("Save", QDialogButtonBox.ButtonRole.AcceptRole)
        self.save_button.setDefault(True)
        self.save_button.setToolTip("Enter")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self._set_referrer(account_id)
        self.setTabOrder(self.name, self.company)
        self.name.setFocus()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # Enter saves from any field, the consent box included (QDialog's own default-button
        # handling loses the default as the focus moves through the fields); on Cancel it cancels.
        focus = self.focusWidget()
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
            isinstance(focus, QPushButton) and focus is not self.save_button
        ):
            self.submit()
            return
        super().keyPressEvent(event)

    # -- referrer ---------------------------------------------------------------------------------

    def _set_referrer(self, account_id: str | None) -> None:
        self.account_id = account_id
        self.contact.clear()
        self.contact.addItem("(no contact)", None)
        row = None
        if account_id:
            row = self.ctx.conn.execute(
                "SELECT name FROM accounts WHERE id = ?", (account_id,)
            ).fetchone()
        if row is None:
            self.account_id = None
            self.heading.setText("New referral")
            self.referrer_edit.setEnabled(True)
            return
        self.heading.setText(f"Referral from <b>{escape(row[0])}</b>")
        self.referrer_edit.setText(row[0])
        self.referrer_edit.setEnabled(False)
        for contact_id, person in self.ctx.conn.execute(
            "SELECT id, trim(first_name || ' ' || last_name) FROM contacts WHERE account_id = ?"
            " ORDER BY last_name, first_name",
            (account_id,),
        ):
            self.contact.addItem(person or "(unnamed contact)", contact_id)
        if self.contact.count() > 1:
            self.contact.setCurrentIndex(1)

    def _on_referrer_edit_text_edited(self, text: str) -> None:
        text = text.strip()
        self._accounts = {}
        if len(text) >= 2:
            like = f"%{text}%"
            for account_id, name in self.ctx.conn.execute(
                "SELECT id, name FROM accounts WHERE name LIKE ? ORDER BY name LIMIT 20", (like,)
            ):
                self._accounts.setdefault(name, account_id)
        self._names.setStringList(list(self._accounts))

    def _referrer_id(self) -> str | None:
        if not self.referrer_edit.isEnabled():
            return self.account_id
        text = self.referrer_edit.text().strip()
        if not text:
            return None
        if text not in self._accounts:
            self._on_referrer_edit_text_edited(text)
        found = self._accounts.get(text)
        if found is None:
            raise CaptureRefused(
                f"no account is called {text!r}; pick one from the list", "referrer", text
            )
        return found

    # -- saving -----------------------------------------------------------------------------------

    def draft(self) -> Draft:
        return Draft(
            referred_name=self.name.text(),
            referred_company=self.company.text(),
            phone=self.phone.text(),
            email=self.email.text(),
            street=self.street.text(),
            city=self.city.text(),
            postal_code=self.postal.text(),
            notes=self.notes.text(),
            relationship=self.relationship.text(),
            consent=self.consent.isChecked(),
            referrer_account_id=self._referrer_id(),
            referrer_contact_id=self.contact.currentData(),
            visit_id=self.visit_id,
            channel="visit" if self.visit_id or self.account_id else "other",
            override_reason=self.override.text() if self.override.isVisible() else "",
        )

    def _say(self, text: str, colour: str) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {colour};")
        self.message.show()

    def submit(self) -> Task | None:
        """Save the referral (a user write; Save waits meanwhile). A refusal or a possible
        duplicate keeps the dialog as typed, saying why; once saved, Enter closes it."""
        if self.result_capture is not None:  # saved: Enter closes
            self.accept()
            return None
        self.save_button.setEnabled(False)
        task = self.runner.write(
            partial(_capture, self.service, self.draft()),
            label="Saving the referral",
            on_success=self._on_captured,
            on_error=self._on_refused,
        )
        task.finished.connect(lambda: self.save_button.setEnabled(True))
        return task

    def _on_refused(self, error: FieldRepError) -> None:
        self._say(f"Not saved: {error}", theme.DANGER)
        widget = {
            "name": self.name,
            "company": self.company,
            "phone": self.phone,
            "email": self.email,
            "consent": self.consent,
            "referrer": self.referrer_edit,
        }.get(getattr(error, "field", ""))
        if widget is not None and widget.isEnabled():
            widget.setFocus()

    def _on_captured(self, result: CaptureResult) -> None:
        if result.outcome is Outcome.POSSIBLE_DUPLICATE:
            self._say(result.message, theme.WARNING)
            self.override_label.show()
            self.override.show()
            self.override.setFocus()
            self.save_button.setText("Save anyway")
            return
        self.result_capture = result
        colour = (
            theme.SUCCESS
            if result.outcome in (Outcome.NEW_LEAD, Outcome.OVERRIDDEN)
            else theme.WARNING
        )
        self._say(f"Saved. {result.message}", colour)
        for widget in [*self.findChildren(QLineEdit), self.consent, self.contact]:
            widget.setEnabled(False)
        self.save_button.setText("Done")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).hide()
        self.save_button.setFocus()
        self.captured.emit(result)
