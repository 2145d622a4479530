"""Save a drawn outline as a new territory or as an existing one's new shape, after seeing what the
territory engine would move (its dry run, computed on the write lane and rolled back). Previews
and saves go through ``runner.write_with_progress`` / ``runner.write`` on the worker's context."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from fieldrep.services.context import Context
from fieldrep.services.map import territory as map_territory
from fieldrep.services.territories.assignment import AssignmentDiff
from fieldrep.ui import theme
from fieldrep.ui.tasks import Task, TaskRunner

NEW = "__new__"


def diff_summary(diff: AssignmentDiff, limit: int = 40) -> str:
    if not diff.moves:
        return "No account changes territory or owner."
    lines = [f"{len(diff.moves):,} of {diff.total:,} accounts would move:"]
    for (src, dst), n in diff.counts().most_common(12):
        lines.append(f"  {n:>7,}  {src} -> {dst}")
    lines.append("")
    lines += [
        f"  {m.account_name}: {m.from_territory} -> {m.to_territory} ({m.reason})"
        for m in diff.moves[:limit]
    ]
    if len(diff.moves) > limit:
        lines.append(f"  ... and {len(diff.moves) - limit:,} more")
    return "\n".join(lines)


class TerritoryDrawDialog(QDialog):
    saved = Signal(str)  # what happened, for the page's message line
    previewed = Signal(object)  # AssignmentDiff

    def __init__(
        self,
        runner: TaskRunner,
        geometry: dict[str, Any],
        territories: list[tuple[str, str]],
        territory_id: str | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Save territory outline")
        self.setMinimumWidth(620)
        self.runner = runner
        self.outline_geometry = geometry
        self.diff: AssignmentDiff | None = None
        self._task: Task | None = None
        self.target = QComboBox()
        self.target.addItem("A new territory", NEW)
        for tid, name in territories:
            self.target.addItem(f"New outline for {name}", tid)
        if territory_id is not None:
            self.target.setCurrentIndex(max(0, self.target.findData(territory_id)))
        self.target.currentIndexChanged.connect(self._on_changed)
        self.name = QLineEdit()
        self.name.setPlaceholderText("Name of the new territory")
        self.name.textChanged.connect(self._on_changed)
        self.color = QLineEdit("#e8590c")
        self.color.setToolTip("Colour as #rrggbb")
        self.preview_button = QPushButton("Preview what moves")
        self.preview_button.clicked.connect(self.run_preview)
        self.diff_text = QPlainTextEdit()
        self.diff_text.setReadOnly(True)
        self.diff_text.setPlaceholderText(
            "Press Preview to see which accounts this outline moves, before saving."
        )
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.setStyleSheet(f"color: {theme.DANGER};")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.addButton(
            "Save and reassign", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.save_button.setEnabled(False)
        self.buttons.accepted.connect(self.run_save)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Save as", self.target)
        form.addRow("Name", self.name)
        form.addRow("Colour", self.color)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.preview_button)
        layout.addWidget(self.diff_text, 1)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self._on_changed()

    def _args(self) -> dict[str, Any]:
        target = self.target.currentData()
        return {
            "territory_id": None if target == NEW else str(target),
            "name": self.name.text().strip(),
            "color": self.color.text().strip() or None,
        }

    def _on_changed(self, *_a: Any) -> None:
        self.name.setEnabled(self.target.currentData() == NEW)
        self.diff = None
        self.save_button.setEnabled(False)
        self.diff_text.clear()

    def run_preview(self) -> Task:
        args, geometry = self._args(), self.outline_geometry
        self.error.clear()
        self.preview_button.setEnabled(False)
        self.diff_text.setPlainText("Working out which accounts move…")

        self._task = self.runner.write_with_progress(
            lambda ctx, _progress: map_territory.preview(ctx, geometry, **args),
            label="Previewing the outline",
            on_success=self._on_preview,
            on_failure=self._on_error,
        )
        return self._task

    def _on_preview(self, diff: AssignmentDiff) -> None:
        self.diff = diff
        self.preview_button.setEnabled(True)
        self.diff_text.setPlainText(diff_summary(diff))
        self.save_button.setEnabled(True)
        self.previewed.emit(diff)

    def _on_error(self, exc: BaseException) -> None:
        self.preview_button.setEnabled(True)
        self.diff_text.clear()
        self.error.setText(str(exc))

    def run_save(self) -> Task | None:
        if self.diff is None:
            self.error.setText("Preview first: saving reassigns accounts.")
            return None
        args, geometry = self._args(), self.outline_geometry
        self.save_button.setEnabled(False)

        self._task = self.runner.write(
            lambda ctx: map_territory.save(ctx, geometry, **args),
            label="Saving the outline",
            on_success=self._on_saved,
            on_failure=self._on_error,
        )
        return self._task

    def _on_saved(self, result: tuple[str, AssignmentDiff]) -> None:
        _tid, diff = result
        self.saved.emit(f"Outline saved; {len(diff.moves):,} accounts reassigned.")
        self.accept()


class TerritoryChangesDialog(QDialog):
    """A split or a merge: what it does in words, the engine's diff, then save."""

    saved = Signal(str)
    previewed = Signal(object)  # AssignmentDiff

    def __init__(
        self,
        runner: TaskRunner,
        changes: list[map_territory.Change],
        description: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Change territories")
        self.setMinimumWidth(620)
        self.runner = runner
        self.changes = changes
        self.diff: AssignmentDiff | None = None
        self.description = QLabel(description)
        self.description.setWordWrap(True)
        self.description.setTextFormat(Qt.TextFormat.PlainText)
        self.name = QLineEdit(next((c.name for c in changes if c.territory_id is None), ""))
        self.name.setVisible(any(c.territory_id is None for c in changes))
        self.name.textChanged.connect(self._on_changed)
        self.preview_button = QPushButton("Preview what moves")
        self.preview_button.clicked.connect(self.run_preview)
        self.diff_text = QPlainTextEdit()
        self.diff_text.setReadOnly(True)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {theme.DANGER};")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.addButton(
            "Save and reassign", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.save_button.setEnabled(False)
        self.buttons.accepted.connect(self.run_save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.description)
        if self.name.isVisibleTo(self) or any(c.territory_id is None for c in changes):
            form = QFormLayout()
            form.addRow("New territory's name", self.name)
            layout.addLayout(form)
        layout.addWidget(self.preview_button)
        layout.addWidget(self.diff_text, 1)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def _current(self) -> list[map_territory.Change]:
        from dataclasses import replace

        name = self.name.text().strip()
        return [replace(c, name=name) if c.territory_id is None else c for c in self.changes]

    def _on_changed(self, *_a: Any) -> None:
        self.diff = None
        self.save_button.setEnabled(False)
        self.diff_text.clear()

    def _run(
        self,
        fn: Callable[[Context, list[map_territory.Change]], Any],
        label: str,
        on_success: Callable[[Any], None],
        *,
        long: bool,
    ) -> Task:
        """``fn(ctx, changes)`` on the write lane: a preview (``long``: cancellable, as the
        window closes) or the save (a user write, which happens once asked for)."""
        changes = self._current()
        self.error.clear()
        if long:
            return self.runner.write_with_progress(
                lambda ctx, _progress: fn(ctx, changes),
                label=label,
                on_success=on_success,
                on_failure=self._on_error,
            )
        return self.runner.write(
            lambda ctx: fn(ctx, changes),
            label=label,
            on_success=on_success,
            on_failure=self._on_error,
        )

    def run_preview(self) -> Task:
        self.preview_button.setEnabled(False)
        self.diff_text.setPlainText("Working out which accounts move…")
        return self._run(
            map_territory.preview_changes, "Previewing the change", self._on_preview, long=True
        )

    def _on_preview(self, diff: AssignmentDiff) -> None:
        self.diff = diff
        self.preview_button.setEnabled(True)
        self.diff_text.setPlainText(diff_summary(diff))
        self.save_button.setEnabled(True)
        self.previewed.emit(diff)

    def _on_error(self, exc: BaseException) -> None:
        self.preview_button.setEnabled(True)
        self.diff_text.clear()
        self.error.setText(str(exc))

    def run_save(self) -> Task | None:
        if self.diff is None:
            self.error.setText("Preview first: saving reassigns accounts.")
            return None
        self.save_button.setEnabled(False)
        return self._run(
            map_territory.save_changes, "Saving the territories", self._on_saved, long=False
        )

    def _on_saved(self, result: tuple[list[str], AssignmentDiff]) -> None:
        self.saved.emit(f"Territories saved; {len(result[1].moves):,} accounts reassigned.")
        self.accept()
