"""Sync settings: the server's address, signing in and signing out.

Signing in and out run in the background through the :class:`SyncController`; the dialog only shows
what is happening. The password box is cleared after every attempt and the password itself is never
kept: only the device token the server hands out is stored (by ``sign_in``). Signing out keeps every
change not yet sent, and the dialog says how many.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from fieldrep.services.sync import session as sync_session
from fieldrep.services.sync.session import Problem
from fieldrep.sync.protocol import LoginResponse
from fieldrep.ui import theme
from fieldrep.ui.sync_controller import SyncController
from fieldrep.ui.widgets.screen_fit import fit_on_show


def _minutes(ms: int) -> str:
    minutes = max(1, round(ms / 60000))
    return "every minute" if minutes == 1 else f"every {minutes} minutes"


class SyncSettingsDialog(QDialog):
    """Server address, user name and password, or who is signed in and a Sign out button."""

    def __init__(self, controller: SyncController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        fit_on_show(self)  # at least its size hint, within the screen
        self.controller = controller
        self.setWindowTitle("Sync settings")
        self.setMinimumWidth(520)

        title = QLabel("Sync with your team")
        title.setObjectName("cardTitle")
        intro = QLabel(
            "Everything you do is saved on this laptop first. When you are signed in, FieldRep "
            "sends your changes to your team's server and brings theirs back."
        )
        intro.setWordWrap(True)
        intro.setObjectName("muted")

        self.state_label = QLabel()
        self.state_label.setWordWrap(True)
        self.state_label.setTextFormat(Qt.TextFormat.RichText)
        card = QFrame()
        card.setObjectName("card")
        card_layout = QVBoxLayout(card)
        card_layout.setContentsMargins(14, 12, 14, 12)
        card_layout.addWidget(self.state_label)

        self.server_edit = QLineEdit()
        self.server_edit.setPlaceholderText("https://sync.example.com:8765")
        self.user_edit = QLineEdit()
        self.user_edit.setPlaceholderText("your user name")
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setPlaceholderText("password (never stored)")
        self.form = QWidget()
        form = QFormLayout(self.form)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Server address", self.server_edit)
        form.addRow("User name", self.user_edit)
        form.addRow("Password", self.password_edit)

        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.hide()

        self.sign_in_button = QPushButton("Sign in")
        self.sign_in_button.setDefault(True)
        self.sign_in_button.clicked.connect(self._on_sign_in_button_clicked)
        self.sign_out_button = QPushButton("Sign out")
        self.sign_out_button.clicked.connect(self._on_sign_out_button_clicked)
        self.sync_button = QPushButton("Sync now")
        self.sync_button.clicked.connect(self._on_sync_button_clicked)
        actions = QHBoxLayout()
        actions.addStretch(1)
        actions.addWidget(self.sync_button)
        actions.addWidget(self.sign_out_button)
        actions.addWidget(self.sign_in_button)

        self.auto_label = QLabel(
            f"FieldRep syncs by itself {_minutes(controller.timer.interval())}, as soon as the "
            "server can be reached again, and when you press Sync now."
        )
        self.auto_label.setWordWrap(True)
        self.auto_label.setObjectName("muted")

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 14)
        layout.setSpacing(12)
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addWidget(card)
        layout.addWidget(self.form)
        layout.addWidget(self.message_label)
        layout.addLayout(actions)
        layout.addWidget(self.auto_label)
        layout.addWidget(buttons)

        controller.state_changed.connect(self.refresh)
        controller.sign_in_finished.connect(self._on_controller_sign_in_finished)
        controller.signed_out.connect(self._on_controller_signed_out)
        status = controller.status()
        self.server_edit.setText(status.server_url or "")
        self.user_edit.setText(status.username or "")
        self.refresh()

    # -- display ------------------------------------------------------------------------------

    @property
    def message(self) -> str:
        return self.message_label.text() if self.message_label.isVisibleTo(self) else ""

    def _show_message(self, text: str, *, error: bool) -> None:
        color = theme.DANGER if error else theme.SUCCESS
        self.message_label.setStyleSheet(f"color: {color};")
        self.message_label.setText(text)
        self.message_label.show()

    def refresh(self) -> None:
        status = self.controller.status()
        busy = self.controller.is_busy
        age = sync_session.describe_age(status.last_sync_at)
        last = "never synced" if age == "never" else f"last synced {age}"
        waiting = (
            "nothing waiting to be sent"
            if status.pending == 0
            else f"<b>{status.pending:,}</b> change{'' if status.pending == 1 else 's'}"
            " waiting to be sent"
        )
        if status.open_conflicts:
            count = status.open_conflicts
            waiting += (
                f" · <span style='color: {theme.WARNING};'>{count:,}"
                f" conflict{'' if count == 1 else 's'} to review</span>"
            )
        if status.signed_in:
            self.state_label.setText(
                f"Signed in to <b>{status.server_url}</b> as <b>{status.username or '?'}</b>"
                f"<br>{last.capitalize()} · {waiting}"
            )
        else:
            self.state_label.setText(
                f"<b>Not signed in.</b> Your work stays on this laptop ({waiting})."
            )
        resize = self.form.isVisibleTo(self) == status.signed_in
        self.form.setVisible(not status.signed_in)
        self.sign_in_button.setVisible(not status.signed_in)
        self.sign_out_button.setVisible(status.signed_in)
        self.sync_button.setVisible(status.signed_in)
        for widget in (self.server_edit, self.user_edit, self.password_edit, self.sign_in_button):
            widget.setEnabled(not busy)
        self.sync_button.setEnabled(not busy)
        self.sign_out_button.setEnabled(not (busy and not self.controller.is_syncing))
        if busy and self.controller.task is not None and not self.controller.is_syncing:
            self.sign_in_button.setText(f"{self.controller.task.label}…")
        else:
            self.sign_in_button.setText("Sign in")
        if resize:
            self.adjustSize()  # the form appeared or went: fit the dialog to it

    # -- actions ------------------------------------------------------------------------------

    def _on_sign_in_button_clicked(self) -> None:
        url, user = self.server_edit.text().strip(), self.user_edit.text().strip()
        password = self.password_edit.text()
        missing = [n for n, v in (("server address", url), ("user name", user)) if not v]
        if not password:
            missing.append("password")
        if missing:
            self._show_message(f"Please enter your {' and '.join(missing)}.", error=True)
            return
        try:
            sync_session.normalise_url(url)
        except ValueError:
            problem = sync_session.problem_for(ValueError(url), signing_in=True)
            self._show_message(f"{problem.sentence}.", error=True)
            return
        self.message_label.hide()
        started = self.controller.sign_in(url, user, password)
        self.password_edit.clear()
        if started is None:
            self._show_message("Please wait until the current sync has finished.", error=True)

    def _on_sign_out_button_clicked(self) -> None:
        self.controller.sign_out()
        self._show_message("Signing out…", error=False)

    def _on_sync_button_clicked(self) -> None:
        self.controller.sync_now()

    def _on_controller_sign_in_finished(self, outcome: object) -> None:
        self.password_edit.clear()
        if isinstance(outcome, LoginResponse):
            text = f"Signed in as {outcome.username}. The first sync has started."
            if self.controller.demo_notice:
                text += f"\n\n{self.controller.demo_notice}"
            self._show_message(text, error=False)
        elif isinstance(outcome, Problem):
            self._show_message(f"{outcome.sentence}.", error=True)
            self.password_edit.setFocus()
        self.refresh()

    def _on_controller_signed_out(self, kept: int) -> None:
        kept_text = (
            "Nothing was waiting to be sent."
            if kept == 0
            else f"{kept:,} change{'' if kept == 1 else 's'} not yet sent stay on this laptop"
            " and go out after you sign in again."
        )
        self._show_message(f"Signed out. {kept_text}", error=False)
        self.refresh()
