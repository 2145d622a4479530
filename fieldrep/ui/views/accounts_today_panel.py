"""Today: the signed-in rep's open tasks due today or overdue, to tick off or open their account.

Each task shows when it is due, its account's address and how far it is from the rep's home, when
their home is known; the line under the list says so. (Not from a live position: Qt's positioning
module comes with PySide6-Addons, which the app does not install.)
"Log visit…" logs a visit at the task's account and then asks whether the visit closes the task
(default yes). A manager also sees the team's overdue tasks, with the rep's name.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fieldrep.services.accounts.visits import (
    LoggedVisit,
    complete_task,
    distance_km,
    due_tasks,
    home_of,
    team_overdue_tasks,
)
from fieldrep.services.context import Context
from fieldrep.ui import theme
from fieldrep.ui.dates import friendly_day
from fieldrep.ui.tasks import Task, TaskRunner
from fieldrep.ui.widgets.screen_fit import fit_on_show

TASK_ROLE = Qt.ItemDataRole.UserRole
ACCOUNT_ROLE = Qt.ItemDataRole.UserRole + 1
TITLE_ROLE = Qt.ItemDataRole.UserRole + 2
# The distance before the address: it is what a rep scans for; the address may be cut.
COLUMNS = ["Due", "Task", "Account", "Distance", "Address", "Rep"]
DUE, TASK, ACCOUNT, DISTANCE, ADDRESS, REP = range(len(COLUMNS))


def address_of(task: dict[str, Any]) -> str:
    """The account's address on one line ("" if it has none)."""
    town = " ".join(p for p in (task.get("postal_code"), task.get("city")) if p)
    return ", ".join(p for p in (task.get("street"), town) if p)


def distance_text(task: dict[str, Any], origin: tuple[float, float] | None) -> str:
    if origin is None or task.get("lat") is None or task.get("lon") is None:
        return ""
    km = distance_km(origin[0], origin[1], float(task["lat"]), float(task["lon"]))
    return f"{km:.1f} km" if km < 10 else f"{km:,.0f} km"


class TodayDialog(QDialog):
    account_requested = Signal(str)
    task_completed = Signal(str)
    visit_logged = Signal(str)  # the account's id

    def __init__(self, ctx: Context, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        fit_on_show(self)  # at least its size hint, within the screen
        self.ctx = ctx
        self.runner = runner
        self.close_question: QMessageBox | None = None
        self.log_dialog: QDialog | None = None
        self.setWindowTitle("Today")
        self.resize(980, 480)
        self.heading = QLabel()
        self.heading.setObjectName("cardTitle")
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(COLUMNS)
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
        self.log_button = QPushButton("Log visit…")
        self.log_button.setToolTip("Log a visit at the task's account; it then offers to close it")
        self.log_button.clicked.connect(self.log_visit_for_selected)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        # Enter opens the task's account (the list's activation), as the footer says; as a
        # dialog's default button, "Mark done" would tick the task off on the same key press.
        for button in (self.log_button, self.done_button, close):
            button.setAutoDefault(False)
        self.where = QLabel()
        self.where.setObjectName("muted")
        buttons = QHBoxLayout()
        buttons.addWidget(QLabel("Enter opens the account."))
        buttons.addWidget(self.where)
        buttons.addStretch(1)
        buttons.addWidget(self.log_button)
        buttons.addWidget(self.done_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.empty, 1)
        layout.addLayout(buttons)
        self.refresh()

    def _origin(self) -> tuple[tuple[float, float] | None, str]:
        home = home_of(self.ctx.conn, self.ctx.user_id)
        if home is not None:
            return home, "Distances from your home."
        return None, ""

    def refresh(self) -> int:
        user_id = self.ctx.user_id
        tasks = due_tasks(self.ctx.conn, user_id)
        manager = user_id is not None and self.ctx.role() in ("manager", "admin")
        team = team_overdue_tasks(self.ctx.conn, user_id) if manager and user_id else []
        origin, where = self._origin()
        self.where.setText(where)
        self.tree.clear()
        for task in [*tasks, *team]:
            due = friendly_day(task["due_date"], empty="no date")
            item = QTreeWidgetItem(
                [
                    due,
                    task["title"],
                    task["account_name"] or "",
                    distance_text(task, origin),
                    address_of(task),
                    "you" if task["user_id"] == user_id else task["rep_name"] or "",
                ]
            )
            item.setData(0, TASK_ROLE, task["id"])
            item.setData(0, ACCOUNT_ROLE, task["account_id"])
            item.setData(0, TITLE_ROLE, task["title"])
            item.setTextAlignment(DISTANCE, Qt.AlignmentFlag.AlignRight)
            if task["overdue"]:
                item.setForeground(DUE, QBrush(QColor(theme.DANGER)))
            self.tree.addTopLevelItem(item)
        self.tree.setColumnHidden(REP, not team)
        self.tree.setColumnHidden(DISTANCE, origin is None)
        overdue = sum(1 for t in tasks if t["overdue"])
        count = f"{len(tasks)} task{'' if len(tasks) == 1 else 's'} due"
        heading = count + (f", {overdue} overdue" if overdue else "")
        if manager:
            heading += f"; the team has {len(team)} overdue"
        self.heading.setText(heading)
        rows = len(tasks) + len(team)
        self.tree.setVisible(bool(rows))
        self.empty.setVisible(not rows)
        for column in (DUE, ACCOUNT, DISTANCE, REP):
            self.tree.resizeColumnToContents(column)
        self.tree.setColumnWidth(TASK, 260)
        self.tree.setColumnWidth(ADDRESS, 240)
        if rows and (first := self.tree.topLevelItem(0)) is not None:
            self.tree.setCurrentItem(first)
        self.done_button.setEnabled(bool(rows))
        self.log_button.setEnabled(bool(rows))
        return rows

    def log_visit_for_selected(self) -> QDialog | None:
        """The Log visit dialog for the selected task's account; once the visit is logged, the
        question whether it closes the task."""
        from fieldrep.ui.dialogs.log_visit_dialog import LogVisitDialog

        item = self.tree.currentItem()
        if item is None or not item.data(0, ACCOUNT_ROLE):
            return None
        account_id = str(item.data(0, ACCOUNT_ROLE))
        task_id, title = str(item.data(0, TASK_ROLE)), str(item.data(0, TITLE_ROLE))
        dialog = LogVisitDialog(self.ctx, self.runner, account_id, item.text(ACCOUNT), self)
        dialog.logged.connect(lambda visit: self._after_visit(account_id, task_id, title, visit))
        self.log_dialog = dialog
        dialog.open()
        return dialog

    def _after_visit(self, account_id: str, task_id: str, title: str, _visit: LoggedVisit) -> None:
        self.visit_logged.emit(account_id)
        question = QMessageBox(
            QMessageBox.Icon.Question,
            "Close the task?",
            f"The visit is logged. Does it close the task “{title}”?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            self,
        )
        question.setDefaultButton(QMessageBox.StandardButton.Yes)
        question.finished.connect(lambda _result: self._close_task_answered(task_id, question))
        self.close_question = question
        question.open()

    def _close_task_answered(self, task_id: str, question: QMessageBox) -> None:
        answer = question.standardButton(question.clickedButton())
        if answer == QMessageBox.StandardButton.Yes:
            self._complete(task_id, only_if_open=True)
        else:
            self.refresh()

    def complete_selected(self) -> None:
        item = self.tree.currentItem()
        if item is None:
            return
        self._complete(item.data(0, TASK_ROLE), only_if_open=False)

    def _complete(self, task_id: str, *, only_if_open: bool) -> Task:
        """Mark the task done (a user write); ``task_completed`` once it is (``only_if_open``:
        not if it already was)."""

        def done(was_open: bool) -> None:
            if was_open or not only_if_open:
                self.task_completed.emit(task_id)
            self.refresh()

        return self.runner.write(
            partial(complete_task, task_id=task_id),
            label="Completing the task",
            on_success=done,
        )

    def _on_tree_item_activated(self, item: QTreeWidgetItem, _column: int) -> None:
        account = item.data(0, ACCOUNT_ROLE)
        if account:
            self.account_requested.emit(account)
