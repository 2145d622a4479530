"""The New account dialog: a name, created through the accounts service, refused names explained."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from fieldrep.domain.errors import FieldRepError
from fieldrep.ui import theme
from fieldrep.ui.tasks import Task
from fieldrep.ui.widgets.screen_fit import fit_on_show


class NewAccountDialog(QDialog):
    """A new account's name. A name the service refuses (blank, too long) keeps the dialog open
    with the text as typed and the reason under it; the account opens in the page (its creator's
    ``on_success``) once it exists."""

    created = Signal(str)  # the new account's id

    def __init__(
        self,
        create: Callable[[str, Callable[[FieldRepError], None]], Task],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        fit_on_show(self)  # at least its size hint, within the screen
        self._create = create
        self.setWindowTitle("New account")
        self.setMinimumWidth(460)
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. Bayside Bakery")
        self.error = QLabel()
        # Plain text: the message can quote the user's input.
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {theme.DANGER};")
        self.name.textEdited.connect(lambda _text: self.error.clear())
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.create_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.create_button.setText("Create")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Account name", self.name)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.account_id: str | None = None

    def submit(self) -> Task:
        """Create the account (a user write, ``create(name, on_refused)``); Create waits
        meanwhile and the dialog closes once the account exists."""
        self.create_button.setEnabled(False)
        task = self._create(self.name.text(), self._on_refused)
        task.succeeded.connect(self._on_created)
        task.finished.connect(lambda: self.create_button.setEnabled(True))
        return task

    def _on_refused(self, error: FieldRepError) -> None:
        self.error.setText(str(error))
        self.name.setFocus()

    def _on_created(self, created: tuple[str, str | None]) -> None:
        self.account_id = created[0]
        self.created.emit(self.account_id)
        self.accept()
