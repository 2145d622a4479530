"""The Conflicts page: every value that lost a merge, both values side by side, and two ways out.

The list comes from :mod:`fieldrep.services.sync.conflicts` (read on the GUI thread: it is short and
indexed); a decision runs as a write task through the runner, so the new edit and its outbox entry
are written by the service, never by this widget. The page re-reads the list when it is shown and
after every network task (a sync may bring new conflicts).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QItemSelection, Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from fieldrep.services.context import Context
from fieldrep.services.sync import conflicts
from fieldrep.services.sync.conflicts import ConflictItem, format_value
from fieldrep.store.writer import Writer
from fieldrep.ui import theme
from fieldrep.ui.change_relay import refresh_on_change
from fieldrep.ui.models.conflicts_table_model import (
    COL_FIELD,
    COL_NAME,
    COL_NOW,
    COL_OTHER,
    COL_RECORD,
    COL_WHEN,
    COL_YOURS,
    ConflictsTableModel,
    other_text,
)
from fieldrep.ui.tasks import Task, TaskKind, TaskRunner

_STYLE = f"""
QTableView {{ background: {theme.SURFACE}; border: 1px solid {theme.BORDER}; border-radius: 8px;
             gridline-color: transparent; selection-background-color: {theme.ACCENT_SOFT};
             selection-color: {theme.TEXT}; }}
QTableView::item {{ padding: 0 8px; }}
QHeaderView::section {{ background: {theme.SURFACE}; color: {theme.TEXT_MUTED}; border: none;
                       border-bottom: 1px solid {theme.BORDER}; padding: 6px 8px;
                       font-weight: 600; }}
QPushButton {{ padding: 6px 16px; border: 1px solid {theme.BORDER}; border-radius: 6px;
              background: {theme.SURFACE}; }}
QPushButton:hover {{ background: #F1F3F6; }}
QPushButton:disabled {{ color: {theme.OFFLINE}; }}
"""

EMPTY_TEXT = (
    "No conflicts to review.\n\nWhen you and a colleague change the same field while apart, the "
    "server keeps the newest value and the other one shows up here so you can decide."
)


def _value_box(title: str) -> tuple[QFrame, QLabel]:
    box = QFrame()
    box.setObjectName("card")
    heading = QLabel(title)
    heading.setObjectName("muted")
    value = QLabel()
    value.setWordWrap(True)
    value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    value.setStyleSheet("font-size: 12pt;")
    value.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(14, 10, 14, 12)
    layout.addWidget(heading)
    layout.addWidget(value, 1)
    return box, value


class ConflictsView(QWidget):
    """List of open conflicts + the selected one's two values and the Keep / Accept buttons."""

    conflicts_changed = Signal(int)  # open conflicts after a reload
    resolved = Signal(int, str)  # conflict id, resolution

    def __init__(self, context: Context, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.runner = runner
        self._busy = False
        # Asks before a refused change is discarded (tests answer for the user).
        self.confirm_discard: Callable[[ConflictItem], bool] = self._confirm_discard
        self.setStyleSheet(_STYLE)

        title = QLabel("Conflicts")
        title.setObjectName("pageTitle")
        self.count_label = QLabel()
        self.count_label.setObjectName("muted")
        header = QHBoxLayout()
        header.addWidget(title)
        header.addSpacing(12)
        header.addWidget(self.count_label, 1, Qt.AlignmentFlag.AlignBottom)

        self.model = ConflictsTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setShowGrid(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(30)
        head = self.table.horizontalHeader()
        head.setHighlightSections(False)
        head.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        for column, mode in (
            (COL_RECORD, QHeaderView.ResizeMode.ResizeToContents),
            (COL_NAME, QHeaderView.ResizeMode.Interactive),
            (COL_FIELD, QHeaderView.ResizeMode.ResizeToContents),
            (COL_YOURS, QHeaderView.ResizeMode.Stretch),
            (COL_OTHER, QHeaderView.ResizeMode.Stretch),
            (COL_NOW, QHeaderView.ResizeMode.ResizeToContents),
            (COL_WHEN, QHeaderView.ResizeMode.ResizeToContents),
        ):
            head.setSectionResizeMode(column, mode)
        self.table.setColumnWidth(COL_NAME, 220)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)

        self.empty_label = QLabel(EMPTY_TEXT)
        self.empty_label.setObjectName("muted")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.list_stack = QStackedWidget()
        self.list_stack.addWidget(self.table)
        self.list_stack.addWidget(self.empty_label)

        self.detail = self._build_detail()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 22, 28, 18)
        layout.setSpacing(14)
        layout.addLayout(header)
        intro = QLabel(
            "When you and someone else changed the same thing, the server keeps the newest value. "
            "Keep yours (it is sent again as a new change) or accept the other value. A change "
            "the server did not accept stays here until you send it again, hand it to your "
            "manager or discard it."
        )
        intro.setObjectName("muted")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addWidget(self.list_stack, 3)
        layout.addWidget(self.detail, 2)

        runner.task_finished.connect(self._on_runner_task_finished)
        # Conflicts recorded or settled by any writer (an applied sync page): the change notification.
        refresh_on_change(runner.changes, self, ("conflicts",), self._on_conflicts_announced)
        self.reload()

    def _build_detail(self) -> QFrame:
        detail = QFrame()
        detail.setObjectName("card")
        self.detail_title = QLabel()
        self.detail_title.setObjectName("cardTitle")
        self.detail_summary = QLabel()
        self.detail_summary.setObjectName("muted")
        self.detail_summary.setWordWrap(True)
        yours_box, self.yours_value = _value_box("Your value")
        other_box, self.other_value = _value_box("Other value")
        self.other_heading = other_box.findChild(QLabel)
        values = QHBoxLayout()
        values.setSpacing(14)
        values.addWidget(yours_box, 1)
        values.addWidget(other_box, 1)
        self.keep_button = QPushButton("Keep yours")
        self.keep_button.clicked.connect(self._on_keep_button_clicked)
        self.accept_button = QPushButton("Accept other value")
        self.accept_button.clicked.connect(self._on_accept_button_clicked)
        self.hand_button = QPushButton("Hand to my manager")
        self.hand_button.setToolTip(
            "Make your manager its owner and send it again; you keep it in view"
        )
        self.hand_button.clicked.connect(self._on_hand_button_clicked)
        self.hand_button.hide()
        self.message_label = QLabel()
        self.message_label.setObjectName("muted")
        self.message_label.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.message_label, 1)
        buttons.addWidget(self.keep_button)
        buttons.addWidget(self.hand_button)
        buttons.addWidget(self.accept_button)
        layout = QVBoxLayout(detail)
        layout.setContentsMargins(18, 14, 18, 14)
        layout.setSpacing(10)
        layout.addWidget(self.detail_title)
        layout.addWidget(self.detail_summary)
        layout.addLayout(values, 1)
        layout.addLayout(buttons)
        return detail

    # -- data ---------------------------------------------------------------------------------

    def reload(self) -> None:
        """Re-read the open conflicts, keeping the selection when it is still open."""
        selected = self.selected()
        items = conflicts.list_open(self.context.db.conn, self.context.writer.device_id)
        self.model.set_rows(items)
        count = len(items)
        self.count_label.setText(
            "nothing to review" if count == 0 else f"{count:,} to review, newest first"
        )
        self.list_stack.setCurrentWidget(self.table if items else self.empty_label)
        self.detail.setVisible(bool(items))
        row = self.model.row_of(selected.id) if selected is not None else None
        if items:
            self.table.selectRow(row if row is not None else 0)
        self._show(self.selected())
        self.conflicts_changed.emit(count)

    def _on_conflicts_announced(self, _changes: object) -> None:
        """Conflicts changed elsewhere: re-read them, keeping what the page last said."""
        if self._busy:
            return
        said = self.message_label.text()
        self.reload()
        self.message_label.setText(said)

    def selected(self) -> ConflictItem | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return self.model.item(rows[0].row()) if rows else None

    def select(self, conflict_id: int) -> None:
        row = self.model.row_of(conflict_id)
        if row is None:
            raise KeyError(f"conflict {conflict_id} is not open")
        self.table.selectRow(row)

    def _show(self, item: ConflictItem | None) -> None:
        if item is None:
            self.keep_button.setEnabled(False)
            self.accept_button.setEnabled(False)
            self.hand_button.hide()
            return
        self.detail_title.setText(f"{item.record} · {item.row_label} — {item.field_label}")
        self.detail_summary.setText(f"{item.summary}.")
        self.yours_value.setText(format_value(item.your_value, item.field))
        refused = item.refused_reason is not None
        if self.other_heading is not None:
            self.other_heading.setText("Server's answer" if refused else "Other value")
        self.other_value.setText(other_text(item))
        self.keep_button.setText("Send again" if refused else "Keep yours")
        self.accept_button.setText("Discard..." if refused else "Accept other value")
        self.keep_button.setEnabled(
            (item.row_exists if refused else item.can_keep_yours) and not self._busy
        )
        if refused:
            self.keep_button.setToolTip(
                "Send the record again as it is now (edit it first to fix what the server"
                " objected to); this item closes when the server accepts it"
            )
            self.accept_button.setToolTip("Remove your change from this laptop (asks first)")
        else:
            self.keep_button.setToolTip(
                "Write your value again as a new change; it is sent at the next sync"
                if item.can_keep_yours
                else "This record was deleted or cannot be changed, so your value cannot be kept"
            )
            self.accept_button.setToolTip("")
        # Handing over is for a new record the server would not take from this user.
        self.hand_button.setVisible(
            refused and item.tbl in conflicts.HANDABLE and not item.on_server
        )
        self.hand_button.setEnabled(item.row_exists and not self._busy)
        self.accept_button.setEnabled(not self._busy)

    def _on_selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        self.message_label.clear()
        self._show(self.selected())

    # -- decisions ----------------------------------------------------------------------------

    def keep_yours(self) -> Task | None:
        return self._resolve(conflicts.KEPT_YOURS)

    def accept_other(self) -> Task | None:
        return self._resolve(conflicts.ACCEPTED_OTHER)

    def hand_to_manager(self) -> Task | None:
        return self._resolve(conflicts.HANDED_OVER)

    def _confirm_discard(self, item: ConflictItem) -> bool:
        answer = QMessageBox.question(
            self,
            "Discard your change?",
            f"{item.record} {item.row_label}: the server did not accept your change"
            f" ({item.refused_reason}). Discarding removes it from this laptop; it cannot be"
            " undone.",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Discard

    def _resolve(self, resolution: str) -> Task | None:
        item = self.selected()
        if item is None or self._busy:
            return None
        keep = resolution == conflicts.KEPT_YOURS
        refused = item.refused_reason is not None
        resolve: Callable[[Writer, int], bool]
        if refused and resolution == conflicts.HANDED_OVER:
            user = self.context.user_id
            resolve = lambda w, i: bool(conflicts.hand_to_manager(w, i, user))  # noqa: E731
            sent = "Handed to your manager; it is sent at the next sync."
        elif refused and keep:
            resolve, sent = conflicts.send_again, "Queued; it is sent again at the next sync."
        elif refused:
            if not self.confirm_discard(item):
                return None
            resolve, sent = conflicts.discard_refused, "Discarded; removed from this laptop."
        else:
            resolve = conflicts.keep_yours if keep else conflicts.accept_other
            sent = "Saved as a new change; it is sent at the next sync."
        conflict_id = item.id
        self._busy = True
        self._show(item)

        def done(written: object) -> None:
            self._busy = False
            self.reload()
            if written or refused:
                self.message_label.setText(sent)
            else:
                self.message_label.setText("Done; the laptop already showed that value.")
            self.resolved.emit(item.id, resolution)

        def failed(error: BaseException) -> None:
            self._busy = False
            self.reload()
            self.message_label.setText(f"Could not save your decision: {error}")

        return self.runner.write(
            lambda ctx: resolve(ctx.writer, conflict_id),
            label="Saving your decision",
            on_success=done,
            on_failure=failed,
        )

    def _on_keep_button_clicked(self) -> None:
        self.keep_yours()

    def _on_accept_button_clicked(self) -> None:
        self.accept_other()

    def _on_hand_button_clicked(self) -> None:
        self.hand_to_manager()

    def _on_runner_task_finished(self, task: Task) -> None:
        if task.kind is TaskKind.NETWORK and not self._busy:
            self.reload()

    def showEvent(self, event: QShowEvent) -> None:
        if not self._busy:
            self.reload()
        super().showEvent(event)
