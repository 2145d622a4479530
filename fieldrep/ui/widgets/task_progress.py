"""A compact progress line for background tasks: what is running, how far, and a Cancel button.

Attach it to a :class:`~fieldrep.ui.tasks.TaskRunner` to follow whatever task is running (the status
bar does this), or call :meth:`TaskProgressWidget.track` to follow one task (a page's own work).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QPushButton, QSizePolicy, QWidget

from fieldrep.ui.tasks import Task, TaskRunner
from fieldrep.ui.widgets.elided_label import ElidedLabel


class TaskProgressWidget(QWidget):
    """Label + progress bar + Cancel; hidden while nothing it follows is running."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner: TaskRunner | None = None
        self._task: Task | None = None
        # Plain text (task labels carry file names), elided: a long one never widens the window.
        self.label = ElidedLabel(minimum_width=40, preferred_width=360)
        self.label.setObjectName("muted")
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        # 140 px where there is room, narrower on a narrow window rather than widening it.
        self.bar.setMinimumWidth(64)
        self.bar.setMaximumWidth(140)
        self.bar.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 2, 10, 2)
        layout.setSpacing(10)
        layout.addWidget(self.label, 4)
        layout.addWidget(self.bar, 1)  # up to its 140 px as soon as the bar has room
        layout.addWidget(self.cancel_button)
        self.hide()

    @property
    def task(self) -> Task | None:
        return self._task

    def attach(self, runner: TaskRunner) -> None:
        """Follow the runner: show the oldest running task, then the next, until it is idle."""
        self._runner = runner
        runner.task_started.connect(self._on_runner_task_started)

    def track(self, task: Task) -> None:
        """Follow one task until it finishes."""
        self._disconnect()
        self._task = task
        task.progressed.connect(self._on_task_progressed)
        task.finished.connect(self._on_task_finished)
        self.label.setText(task.label)
        self._show_progress(task.progress_done, task.progress_total)
        self.cancel_button.setEnabled(not task.is_cancel_requested)
        self.show()

    def _show_progress(self, done: int, total: int | None) -> None:
        if total is None or total <= 0:
            self.bar.setRange(0, 0)  # busy indicator: we do not know how long it takes
        else:
            self.bar.setRange(0, total)
            self.bar.setValue(min(done, total))

    def _disconnect(self) -> None:
        if self._task is not None:
            self._task.progressed.disconnect(self._on_task_progressed)
            self._task.finished.disconnect(self._on_task_finished)
        self._task = None

    def _on_runner_task_started(self, task: Task) -> None:
        if self._task is None and not task.quiet:
            self.track(task)

    def _on_task_finished(self) -> None:
        self._disconnect()
        pending = [t for t in self._runner.active_tasks if not t.quiet] if self._runner else []
        if pending:
            self.track(pending[0])
        else:
            self.hide()

    def _on_task_progressed(self, done: int, total: int, text: str) -> None:
        if self._task is None:
            return
        self.label.setText(text or self._task.label)
        self._show_progress(done, None if total < 0 else total)

    def _on_cancel_button_clicked(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self.cancel_button.setEnabled(False)
            self.label.setText(f"Cancelling {self._task.label}...")
