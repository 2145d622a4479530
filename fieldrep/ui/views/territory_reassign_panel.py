"""Reassignment tab: the engine's diff (moved, from, to, why), approved before it is applied.

Computing and applying both run in the background with progress and Cancel; applying is a long
user write (``runner.write_with_progress``) in one transaction: cancelling it, or a stale diff (an
account changed meanwhile), leaves nothing applied.
The left table sums the moves by flow (from → to); selecting a flow filters the moves beside it.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QSplitter, QVBoxLayout, QWidget

from fieldrep.services.context import Context
from fieldrep.services.territories import assignment as assign
from fieldrep.store.errors import StoreError
from fieldrep.ui.models.territories_table_model import RowsTableModel
from fieldrep.ui.tasks import Progress, Task, TaskKind, TaskRunner
from fieldrep.ui.views.territory_common import MessageLine, table_view
from fieldrep.ui.widgets.task_progress import TaskProgressWidget


def _compute(db_path: Path, progress: Progress) -> assign.AssignmentDiff:
    ctx = Context.open(db_path)
    try:
        return assign.assign_all(ctx, dry_run=True, progress=progress.report)
    finally:
        ctx.close()


def _apply(diff: assign.AssignmentDiff, ctx: Context, progress: Progress) -> int:
    """Applying the approved diff: the user write, on the worker's context."""
    assign.apply(ctx, diff, progress.report)
    return len(diff.moves)


class TerritoryReassignPanel(QWidget):
    diff_ready = Signal(object)
    diff_applied = Signal(int)
    apply_cancelled = Signal()

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.diff: assign.AssignmentDiff | None = None
        self.task: Task | None = None
        self.compute_button = QPushButton("Compute reassignment")
        self.compute_button.clicked.connect(self.compute_diff)
        self.approve_button = QPushButton("Approve and apply")
        self.approve_button.setEnabled(False)
        self.approve_button.clicked.connect(self.approve_diff)
        self.discard_button = QPushButton("Discard")
        self.discard_button.setEnabled(False)
        self.discard_button.clicked.connect(self.discard)
        self.progress = TaskProgressWidget()
        self.summary = MessageLine(
            "Compute the reassignment to see which accounts would move, where to and why. "
            "Nothing changes until you approve."
        )
        self.flow_model = RowsTableModel(
            [
                ("From", lambda f: f[0], False),
                ("To", lambda f: f[1], False),
                ("Accounts", lambda f: f"{f[2]:,}", True),
            ]
        )
        self.flow_table = table_view(self.flow_model)
        self.flow_table.selectionModel().selectionChanged.connect(self._on_flow_selected)
        self.moves_model = RowsTableModel(
            [
                ("Account", lambda m: m.account_name, False),
                ("From", lambda m: m.from_territory, False),
                ("To", lambda m: m.to_territory, False),
                ("Why", lambda m: m.reason, False),
            ]
        )
        self.moves_table = table_view(self.moves_model)
        self.moves_table.horizontalHeader().setSectionResizeMode(
            3, self.moves_table.horizontalHeader().ResizeMode.Interactive
        )
        row = QHBoxLayout()
        for w in (self.compute_button, self.approve_button, self.discard_button):
            row.addWidget(w)
        row.addStretch(1)
        row.addWidget(self.progress)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.flow_table)
        split.addWidget(self.moves_table)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)

    def compute_diff(self) -> Task:
        self.compute_button.setEnabled(False)
        self.approve_button.setEnabled(False)
        self.summary.info("Matching every account to its territory…")
        self.task = self.runner.run(
            _compute,
            kind=TaskKind.READ,
            label="Computing reassignment",
            on_success=self._on_diff_computed,
            on_failure=self._on_failed,
            on_cancelled=self._on_compute_cancelled,
        )
        self.progress.track(self.task)
        return self.task

    def _on_diff_computed(self, diff: assign.AssignmentDiff) -> None:
        self.diff = diff
        self.compute_button.setEnabled(True)
        self.approve_button.setEnabled(bool(diff.moves))
        self.discard_button.setEnabled(bool(diff.moves))
        self.flow_model.set_rows([(a, b, n) for (a, b), n in diff.counts().most_common()])
        self.moves_model.set_rows(diff.moves)
        head = assign.diff_text(diff, limit=0).splitlines()[0]
        unassigned = diff.unassigned[:3]
        tail = (
            " No territory for: " + "; ".join(f"{n} ({why})" for _, n, why in unassigned) + "."
            if unassigned
            else ""
        )
        self.summary.info(
            head + ("  Review the moves, then approve to apply them." if diff.moves else "") + tail
        )
        self.diff_ready.emit(diff)

    def _on_flow_selected(self, *_: object) -> None:
        if self.diff is None:
            return
        rows = self.flow_table.selectionModel().selectedRows()
        if not rows:
            self.moves_model.set_rows(self.diff.moves)
            return
        src, dst, _moved = self.flow_model.row(rows[0].row())
        self.moves_model.set_rows(
            [m for m in self.diff.moves if (m.from_territory, m.to_territory) == (src, dst)]
        )

    def approve_diff(self) -> Task | None:
        diff = self.diff
        if diff is None:
            return None
        self.approve_button.setEnabled(False)
        self.discard_button.setEnabled(False)
        self.compute_button.setEnabled(False)

        self.summary.info(f"Applying {len(diff.moves):,} moves…")
        self.task = self.runner.write_with_progress(
            partial(_apply, diff),
            label="Applying reassignment",
            on_success=self._on_diff_applied,
            on_error=self._on_failed,
            on_failure=self._on_failed,
            on_cancelled=self._on_apply_cancelled,
        )
        self.progress.track(self.task)
        return self.task

    def _on_diff_applied(self, count: int) -> None:
        self.summary.ok(f"Applied: {count:,} account(s) moved, each with its history.")
        self._clear()
        self.diff_applied.emit(count)

    def _on_apply_cancelled(self) -> None:
        self.summary.info("Cancelled: nothing was applied. The diff is still here to approve.")
        self.compute_button.setEnabled(True)
        self.approve_button.setEnabled(self.diff is not None)
        self.discard_button.setEnabled(self.diff is not None)
        self.apply_cancelled.emit()

    def _on_compute_cancelled(self) -> None:
        self.summary.info("Cancelled.")
        self.compute_button.setEnabled(True)

    def _on_failed(self, exc: BaseException) -> None:
        self.compute_button.setEnabled(True)
        self.approve_button.setEnabled(False)
        self.summary.error(str(exc) if isinstance(exc, StoreError) else f"Failed: {exc}")

    def discard(self) -> None:
        self._clear()
        self.summary.info("Diff discarded; nothing changed.")

    def _clear(self) -> None:
        self.diff = None
        self.flow_model.set_rows([])
        self.moves_model.set_rows([])
        self.compute_button.setEnabled(True)
        self.approve_button.setEnabled(False)
        self.discard_button.setEnabled(False)
