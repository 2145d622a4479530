"""The e-mail templates for referrers: pick one, edit its subject and body, see it filled with
sample values as you type, Save or Reset to default (issue 19 point 5).

The fields a template may name are listed beside the editor (double-click one to insert it). A
template naming any other field is refused by
:func:`fieldrep.services.notifications.templates.save`: the dialog says which field, under the
editor, and nothing is saved. Edited templates live in this laptop's database only.

Edits to a template not yet saved are kept while another is looked at (the list marks it "not
saved"); closing the dialog drops them.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QTextOption
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from fieldrep.domain.errors import ValidationError
from fieldrep.services.context import Context
from fieldrep.services.notifications import templates
from fieldrep.services.notifications.templates import MessageTemplate, TemplateError
from fieldrep.ui import theme
from fieldrep.ui.tasks import Task, TaskRunner
from fieldrep.ui.widgets.screen_fit import fit_on_show

NAME_ROLE = Qt.ItemDataRole.UserRole


def _save_template(name: str, subject: str, body: str, ctx: Context) -> None:
    """Save's write; a refused template comes back as a ``ValidationError`` (its sentence)."""
    try:
        with ctx.writer.transaction() as conn:
            templates.save(conn, name, subject, body)
    except TemplateError as exc:
        raise ValidationError(str(exc), table="message_templates") from exc


def _reset_template(name: str, ctx: Context) -> MessageTemplate:
    try:
        with ctx.writer.transaction() as conn:
            return templates.reset(conn, name)
    except TemplateError as exc:
        raise ValidationError(str(exc), table="message_templates") from exc


class MessageTemplatesDialog(QDialog):
    saved = Signal(str)  # the template's name, after Save or Reset to default

    def __init__(self, context: Context, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        fit_on_show(self)
        self.context = context
        self.runner = runner
        self.setWindowTitle("E-mail templates")
        self.resize(980, 620)
        self._drafts: dict[str, tuple[str, str]] = {}  # edits not saved yet, per template
        self._name = ""
        self._loading = False

        intro = QLabel(
            "The e-mails sent to customers who refer. Write ${field} where a value goes (the"
            " fields are listed on the right); $$ writes a dollar sign."
        )
        intro.setObjectName("muted")
        intro.setWordWrap(True)

        self.list = QListWidget()
        self.list.setMaximumWidth(200)
        for name in templates.DEFAULTS:
            item = QListWidgetItem(templates.TITLES.get(name, name))
            item.setData(NAME_ROLE, name)
            self.list.addItem(item)

        self.subject_edit = QLineEdit()
        self.body_edit = QPlainTextEdit()
        self.body_edit.setTabChangesFocus(True)
        # "${referred_name}" is not broken at its "$" as with word wrapping alone
        self.body_edit.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.fields = QListWidget()
        self.fields.setToolTip("Double-click a field to insert it where the cursor is")
        for name in sorted(templates.FIELDS):
            what, sample = templates.FIELD_HELP[name]
            item = QListWidgetItem(f"${{{name}}}\n    {what}")
            item.setToolTip(f"{what} (in the preview: {sample})")
            item.setData(NAME_ROLE, name)
            self.fields.addItem(item)
        self.fields.setMinimumWidth(240)
        self.fields.setMaximumWidth(280)
        fields_label = QLabel("Fields you can use")
        fields_label.setObjectName("muted")

        editor = QGridLayout()
        editor.addWidget(QLabel("Subject"), 0, 0)
        editor.addWidget(self.subject_edit, 0, 1)
        editor.addWidget(fields_label, 0, 2)
        editor.addWidget(QLabel("Body"), 1, 0, Qt.AlignmentFlag.AlignTop)
        editor.addWidget(self.body_edit, 1, 1)
        editor.addWidget(self.fields, 1, 2)
        editor.setColumnStretch(1, 1)

        self.preview_subject = QLabel()
        self.preview_subject.setTextFormat(Qt.TextFormat.PlainText)
        self.preview_subject.setWordWrap(True)
        bold = QFont(self.preview_subject.font())
        bold.setBold(True)
        self.preview_subject.setFont(bold)
        self.preview_body = QPlainTextEdit()
        self.preview_body.setReadOnly(True)
        preview_box = QGroupBox("Preview, with sample values")
        preview_layout = QVBoxLayout(preview_box)
        preview_layout.addWidget(self.preview_subject)
        preview_layout.addWidget(self.preview_body)

        self.message_label = QLabel()
        self.message_label.setTextFormat(Qt.TextFormat.PlainText)
        self.message_label.setWordWrap(True)
        self.message_label.hide()

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addLayout(editor, 3)
        right_layout.addWidget(preview_box, 2)
        split = QSplitter()
        split.addWidget(self.list)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)

        self.reset_button = QPushButton("Reset to default")
        self.reset_button.setToolTip("Forget the edits saved on this laptop: the default is used")
        self.reset_button.clicked.connect(self._on_reset_button_clicked)
        self.save_button = QPushButton("Save")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self._on_save_button_clicked)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        actions = QHBoxLayout()
        actions.addWidget(self.reset_button)
        actions.addStretch(1)
        actions.addWidget(self.save_button)
        actions.addWidget(buttons)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 14)
        layout.addWidget(intro)
        layout.addWidget(split, 1)
        layout.addWidget(self.message_label)
        layout.addLayout(actions)

        self.subject_edit.textChanged.connect(self._on_edited)
        self.body_edit.textChanged.connect(self._on_edited)
        self.fields.itemDoubleClicked.connect(self._insert_field)
        self.list.currentItemChanged.connect(self._on_template_chosen)
        self.list.setCurrentRow(0)

    # -- the template shown -----------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The template being edited."""
        return self._name

    def stored(self) -> MessageTemplate:
        return templates.load(self.context.conn, self._name)

    def select(self, name: str) -> None:
        for row in range(self.list.count()):
            if self.list.item(row).data(NAME_ROLE) == name:
                self.list.setCurrentRow(row)
                return
        raise KeyError(name)

    def _on_template_chosen(self, item: QListWidgetItem | None, _old: object = None) -> None:
        if item is None:
            return
        self._name = item.data(NAME_ROLE)
        tpl = self.stored()
        subject, body = self._drafts.get(self._name, (tpl.subject, tpl.body))
        self._show_text(subject, body)
        self.message_label.hide()

    def _show_text(self, subject: str, body: str) -> None:
        self._loading = True
        self.subject_edit.setText(subject)
        self.body_edit.setPlainText(body)
        self._loading = False
        self._on_edited()

    def _on_edited(self) -> None:
        if self._loading or not self._name:
            return
        subject, body = self.subject_edit.text(), self.body_edit.toPlainText()
        tpl = self.stored()
        if (subject, body) == (tpl.subject, tpl.body):
            self._drafts.pop(self._name, None)
        else:
            self._drafts[self._name] = (subject, body)
        self._update_preview(subject, body)
        self._update_marks()

    def _update_preview(self, subject: str, body: str) -> None:
        try:
            templates.check(subject, body)
        except TemplateError as exc:
            self.preview_subject.setText(f"Cannot be filled in: {exc}.")
            self.preview_subject.setStyleSheet(f"color: {theme.DANGER};")
            self.preview_body.setPlainText("")
            return
        filled_subject, filled_body = templates.render(
            MessageTemplate(self._name, subject, body), templates.SAMPLE
        )
        self.preview_subject.setStyleSheet("")
        self.preview_subject.setText(f"Subject: {filled_subject}")
        self.preview_body.setPlainText(filled_body)

    def _update_marks(self) -> None:
        conn = self.context.conn
        for row in range(self.list.count()):
            item = self.list.item(row)
            name = item.data(NAME_ROLE)
            notes = []
            if name in self._drafts:
                notes.append("not saved")
            elif templates.is_edited(conn, name):
                notes.append("edited")
            title = templates.TITLES.get(name, name)
            item.setText(f"{title} ({', '.join(notes)})" if notes else title)
        self.reset_button.setEnabled(
            self._name in self._drafts or templates.is_edited(conn, self._name)
        )

    def _insert_field(self, item: QListWidgetItem) -> None:
        self.body_edit.insertPlainText(f"${{{item.data(NAME_ROLE)}}}")
        self.body_edit.setFocus()

    # -- saving -----------------------------------------------------------------------------------

    def _say(self, text: str, *, problem: bool) -> None:
        self.message_label.setStyleSheet(f"color: {theme.DANGER if problem else theme.SUCCESS};")
        self.message_label.setText(text)
        self.message_label.show()

    @property
    def message(self) -> str:
        return self.message_label.text() if self.message_label.isVisibleTo(self) else ""

    def save(self) -> Task:
        """Store the template shown (a user write; Save waits meanwhile); a refusal shows the
        reason under the editor and nothing is saved; :attr:`saved` tells of success."""
        name = self._name
        self.save_button.setEnabled(False)
        task = self.runner.write(
            partial(_save_template, name, self.subject_edit.text(), self.body_edit.toPlainText()),
            label="Saving the e-mail template",
            on_success=lambda _result: self._on_stored(name),
            on_error=lambda error: self._say(f"Not saved: {error}.", problem=True),
        )
        task.finished.connect(lambda: self.save_button.setEnabled(True))
        return task

    def _on_stored(self, name: str) -> None:
        self._drafts.pop(name, None)
        self._update_marks()
        self._say("Saved. The next e-mails use it.", problem=False)
        self.saved.emit(name)

    def reset_to_default(self) -> Task:
        name = self._name
        self.reset_button.setEnabled(False)
        task = self.runner.write(
            partial(_reset_template, name),
            label="Resetting the e-mail template",
            on_success=lambda tpl: self._on_reset(name, tpl),
            on_error=lambda error: self._say(f"Not reset: {error}.", problem=True),
        )
        task.finished.connect(self._update_marks)
        return task

    def _on_reset(self, name: str, tpl: MessageTemplate) -> None:
        self._drafts.pop(name, None)
        if name == self._name:
            self._show_text(tpl.subject, tpl.body)
        self._update_marks()
        self._say("Back to the default template.", problem=False)
        self.saved.emit(name)

    def _on_save_button_clicked(self) -> None:
        self.save()

    def _on_reset_button_clicked(self) -> None:
        self.reset_to_default()
