"""Mail settings: the SMTP server the referrers' e-mails leave through (host, port, STARTTLS, login,
From address, and a private CA's certificate where the relay has one).

Stored on this laptop by :mod:`fieldrep.services.notifications.smtp_settings` (in the database's
never-synced ``local_meta``, where the sync keeps its device token). The password box never shows
the saved password: it says one is saved, and left blank keeps it. A setting that cannot work is
refused as saved, the message under the form naming it and the focus on its box. "Send now" asks
the background sender to send what waits (it does the same by itself while online).
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from fieldrep.domain.errors import FieldRepError, ValidationError
from fieldrep.services.context import Context
from fieldrep.services.notifications import smtp_settings
from fieldrep.services.notifications.smtp_settings import SettingsError, SmtpSettings
from fieldrep.ui import theme
from fieldrep.ui.tasks import Task, TaskRunner
from fieldrep.ui.widgets.screen_fit import fit_on_show


def save_settings(form: SmtpSettings, ctx: Context) -> SmtpSettings:
    """The Save action: a setting that cannot work is refused as a ``ValidationError`` naming its
    field, the shape :meth:`TaskRunner.write` hands back to the form."""
    try:
        return smtp_settings.save(ctx, form)
    except SettingsError as exc:
        raise ValidationError(str(exc), field=exc.field) from exc


class SmtpSettingsDialog(QDialog):
    """The mail server form, with Save and Send now."""

    saved = Signal(object)  # the SmtpSettings stored
    send_requested = Signal()

    def __init__(self, context: Context, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        fit_on_show(self)
        self.context = context
        self.runner = runner
        self.setWindowTitle("Mail settings")
        self.setMinimumWidth(520)

        title = QLabel("E-mail to referrers")
        title.setObjectName("cardTitle")
        intro = QLabel(
            "Thank-you and status e-mails to the customers who refer wait in the outbox on this"
            " laptop and are sent through your company's mail server while you are online."
            " E-mails go only to contacts who agreed to receive them."
        )
        intro.setWordWrap(True)
        intro.setObjectName("muted")
        intro.setMaximumWidth(640)

        self.host_edit = QLineEdit()
        self.host_edit.setPlaceholderText("smtp.example.com")
        self.port_spin = QSpinBox()
        self.port_spin.setRange(1, 65_535)
        self.port_spin.setValue(587)
        self.starttls_check = QCheckBox("Encrypt with STARTTLS (needed to log in)")
        self.user_edit = QLineEdit()
        self.user_edit.setPlaceholderText("the mail account's user name (blank: no login)")
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.sender_edit = QLineEdit()
        self.sender_edit.setPlaceholderText("referrals@yourcompany.com")
        self.cafile_edit = QLineEdit()
        self.cafile_edit.setPlaceholderText("optional: your mail relay's own CA certificate (.pem)")
        self.port_spin.setMaximumWidth(110)
        form_box = QWidget()
        form_box.setMaximumWidth(640)  # a maximised dialog keeps the form readable
        form = QFormLayout(form_box)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Server", self.host_edit)
        form.addRow("Port", self.port_spin)
        form.addRow("", self.starttls_check)
        form.addRow("User name", self.user_edit)
        form.addRow("Password", self.password_edit)
        form.addRow("From address", self.sender_edit)
        form.addRow("Certificate", self.cafile_edit)
        self._boxes: dict[str, QWidget] = {
            "host": self.host_edit,
            "port": self.port_spin,
            "starttls": self.starttls_check,
            "username": self.user_edit,
            "sender": self.sender_edit,
            "cafile": self.cafile_edit,
        }

        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.hide()

        self.send_button = QPushButton("Send now")
        self.send_button.setToolTip("Send the e-mails waiting in the outbox now")
        self.send_button.clicked.connect(self.send_requested)
        self.save_button = QPushButton("Save settings")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self._on_save_button_clicked)
        actions = QHBoxLayout()
        actions.addStretch(1)
        actions.addWidget(self.send_button)
        actions.addWidget(self.save_button)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 14)
        layout.setSpacing(12)
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addWidget(form_box)
        layout.addWidget(self.message_label)
        layout.addStretch(1)
        layout.addLayout(actions)
        layout.addWidget(buttons)
        self._show(smtp_settings.load(context.conn))

    def _show(self, settings: SmtpSettings) -> None:
        self.host_edit.setText(settings.host)
        self.port_spin.setValue(settings.port)
        self.starttls_check.setChecked(settings.starttls)
        self.user_edit.setText(settings.username)
        self.sender_edit.setText(settings.sender)
        self.cafile_edit.setText(settings.cafile)
        self.password_edit.clear()
        self.password_edit.setPlaceholderText(
            "saved: leave blank to keep it"
            if settings.has_password
            else "the mail account's password"
        )
        self.send_button.setEnabled(settings.configured)

    def form_settings(self) -> SmtpSettings:
        return SmtpSettings(
            host=self.host_edit.text().strip(),
            port=self.port_spin.value(),
            starttls=self.starttls_check.isChecked(),
            username=self.user_edit.text().strip(),
            password=self.password_edit.text(),
            sender=self.sender_edit.text().strip(),
            cafile=self.cafile_edit.text().strip(),
        )

    def _say(self, text: str, *, problem: bool) -> None:
        color = theme.DANGER if problem else theme.SUCCESS
        self.message_label.setStyleSheet(f"color: {color};")
        self.message_label.setText(text)
        self.message_label.show()

    @property
    def message(self) -> str:
        return self.message_label.text() if self.message_label.isVisibleTo(self) else ""

    def save(self) -> Task:
        """Store the form (a user write); Save waits meanwhile and the form stays as typed until
        it is stored. A refusal shows the reason and focuses its box; :attr:`saved` tells of
        success."""
        self.save_button.setEnabled(False)
        task = self.runner.write(
            partial(save_settings, self.form_settings()),
            label="Saving the mail settings",
            on_success=self._on_stored,
            on_error=self._on_refused,
        )
        task.finished.connect(lambda: self.save_button.setEnabled(True))
        return task

    def _on_refused(self, error: FieldRepError) -> None:
        self._say(f"Not saved: {error}.", problem=True)
        box = self._boxes.get(getattr(error, "field", ""))
        if box is not None:
            box.setFocus()

    def _on_stored(self, stored: SmtpSettings) -> None:
        self._show(stored)
        self._say(
            f"Saved. E-mails leave through {stored.host}:{stored.port} while you are online.",
            problem=False,
        )
        self.saved.emit(stored)

    def _on_save_button_clicked(self) -> None:
        self.save()
