"""Today: the signed-in rep's open tasks due today or overdue, to tick off or open their account."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fieldrep.services.visits import complete_task, due_tasks
from fieldrep.ui import theme
from fieldrep.ui.dates import friendly_day
from fieldrep.ui.widgets.screen_fit import fit_on_show

TASK_ROLE = Qt.ItemDataRole.UserRole
ACCOUNT_ROLE = Qt.ItemDataRole.UserRole + 1


class TodayDialog(QDialog):
    account_requested = Signal(str)
    task_completed = Signal(str)

    def __init__(self, ctx: object, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        fit_on_show(self)  # at least its size hint, within the screen
        self.ctx = ctx
        self.setWindowTitle("Today")
        self.resize(820, 480)
        self.heading = QLabel()
        self.heading.setObjectName("cardTitle")
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Due", "Task", "Account"])
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.itemActivated.connect(self._on_tree_item_activated)
        self.empty = QLabel(
            "Nothing is due. A visit's next step becomes a task here on its follow-up date."
        )
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet(f"color: {theme.TEXT_MUTED}; padding: 40px;")
        self.done_button = QPushButton("Mark done")
        self.done_button.clicked.connect(self.complete_selected)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        # Enter opens the task's account (the list's activation), as the footer says; as a
        # dialog's default button, "Mark done" would tick the task off on the same key press.
        for button in (self.done_button, close):
            button.setAutoDefault(False)
        buttons = QHBoxLayout()
        buttons.addWidget(QLabel("Enter opens the account."))
        buttons.addStretch(1)
        buttons.addWidget(self.done_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.empty, 1)
        layout.addLayout(buttons)
        self.refresh()

    def refresh(self) -> int:
        tasks = due_tasks(self.ctx.conn, self.ctx.user_id)  # type: ignore[attr-defined]
        self.tree.clear()
        for task in tasks:
            due = friendly_day(task["due_date"], empty="no date")
            item = QTreeWidgetItem([due, task["title"], task["account_name"] or ""])
            item.setData(0, TASK_ROLE, task["id"])
            item.setData(0, ACCOUNT_ROLE, task["account_id"])
            if task["overdue"]:
                item.setForeground(0, QBrush(QColor(theme.DANGER)))
            self.tree.addTopLevelItem(item)
        overdue = sum(1 for t in tasks if t["overdue"])
        count = f"{len(tasks)} task{'' if len(tasks) == 1 else 's'} due"
        self.heading.setText(count + (f", {overdue} overdue" if overdue else ""))
        self.tree.setVisible(bool(tasks))
        self.empty.setVisible(not tasks)
        self.tree.resizeColumnToContents(0)
        self.tree.setColumnWidth(1, 430)
        self.tree.resizeColumnToContents(2)
        if tasks and (first := self.tree.topLevelItem(0)) is not None:
            self.tree.setCurrentItem(first)
        self.done_button.setEnabled(bool(tasks))
        return len(tasks)

    def complete_selected(self) -> None:
        item = self.tree.currentItem()
        if item is None:
            return
        task_id = item.data(0, TASK_ROLE)
        complete_task(self.ctx, task_id)
        self.task_completed.emit(task_id)
        self.refresh()

    def _on_tree_item_activated(self, item: QTreeWidgetItem, _column: int) -> None:
        account = item.data(0, ACCOUNT_ROLE)
        if account:
            self.account_requested.emit(account)
