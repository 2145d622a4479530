"""The pipeline board: one column per stage, each a QListView over a paged list model with one
painting delegate; count, value and overdue count in each column's header; drag a card to another
column to move it (one write through the service; Lost asks why, Won asks the value)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from PySide6.QtCore import QItemSelection, QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListView,
    QVBoxLayout,
    QWidget,
)

from fieldrep.domain.errors import FieldRepError
from fieldrep.services.context import Context
from fieldrep.services.referrals import pipeline
from fieldrep.services.referrals.model import Stage
from fieldrep.ui import theme
from fieldrep.ui.models.referral_board_model import CARD_ROLE, ReferralBoardModel
from fieldrep.ui.tasks import Task, TaskRunner
from fieldrep.ui.views.referral_card_delegate import ReferralCardDelegate

Ask = Callable[[QWidget, str], Any]


def ask_reason(parent: QWidget, name: str) -> str | None:
    text, ok = QInputDialog.getText(parent, "Lost", f"Why was {name} lost?")
    return text if ok else None


def ask_value(parent: QWidget, name: str) -> float | None:
    value, ok = QInputDialog.getDouble(
        parent, "Won", f"Deal value for {name} ($):", 1000.0, 0.01, 1e9, 2
    )
    return value if ok else None


class StageColumn(QFrame):
    def __init__(self, model: ReferralBoardModel, delegate: ReferralCardDelegate) -> None:
        super().__init__()
        self.setObjectName("card")
        self.model = model
        self.title = QLabel(model.stage.label)
        self.title.setObjectName("cardTitle")
        self.summary = QLabel()
        self.summary.setObjectName("muted")
        self.summary.setTextFormat(Qt.TextFormat.RichText)  # numbers only, and the red overdue
        self.view = QListView()
        self.view.setObjectName(f"board_{model.stage.value}")
        self.view.setModel(model)
        self.view.setItemDelegate(delegate)
        self.view.setUniformItemSizes(True)
        self.view.setDragEnabled(True)
        self.view.setAcceptDrops(True)
        self.view.setDropIndicatorShown(True)
        self.view.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.view.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setFrameShape(QFrame.Shape.NoFrame)
        # The column's own background shows through the list; a style sheet here would also
        # reach the scroll bar, whose groove then painted black.
        self.view.viewport().setAutoFillBackground(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.summary)
        layout.addWidget(self.view, 1)

    def set_totals(self, totals: pipeline.ColumnTotals) -> None:
        parts = [f"{totals.count:,}"]
        if totals.value:
            parts.append(f"${totals.value:,.0f}")
        text = " · ".join(parts)
        if totals.overdue:
            text += f" · <span style='color:{theme.DANGER}'>{totals.overdue:,} overdue</span>"
        self.summary.setText(text)


def _move(referral_id: str, target: Stage, kwargs: dict[str, Any], ctx: Context) -> pipeline.Moved:
    return pipeline.move(ctx, referral_id, target, **kwargs)


class ReferralBoard(QWidget):
    referral_selected = Signal(str)
    moved = Signal(object)  # pipeline.Moved
    move_refused = Signal(str)

    def __init__(self, ctx: Context, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.runner = runner
        self.ask_reason: Ask = ask_reason
        self.ask_value: Ask = ask_value
        self.delegate = ReferralCardDelegate(self)
        self.columns: dict[Stage, StageColumn] = {}
        self.filter = pipeline.Filter()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        for stage in Stage:
            model = ReferralBoardModel(ctx.conn, stage)
            model.setParent(self)
            model.move_requested.connect(self._on_model_move_requested)
            column = StageColumn(model, self.delegate)
            column.view.selectionModel().selectionChanged.connect(
                lambda selected, _d, c=column: self._on_column_selection_changed(c, selected)
            )
            self.columns[stage] = column
            layout.addWidget(column, 1)

    def set_filter(self, flt: pipeline.Filter) -> None:
        self.filter = flt
        self.reload()

    def reload(self) -> None:
        totals = pipeline.totals(self.ctx.conn, self.filter)
        for stage, column in self.columns.items():
            column.model.set_filter(self.filter)
            column.set_totals(totals[stage])

    def _on_column_selection_changed(self, column: StageColumn, selected: QItemSelection) -> None:
        indexes = selected.indexes()
        if not indexes:
            return
        for other in self.columns.values():
            if other is not column:
                other.view.clearSelection()
        card = indexes[0].data(CARD_ROLE)
        if card is not None:
            self.referral_selected.emit(card.id)

    def move_cards(self, ids: list[str], stage: str) -> list[Task]:
        """Move each card to ``stage`` through the service (asking what Lost and Won need), one
        user write per card; the board reloads as each is done or refused."""
        target = Stage(stage)
        tasks: list[Task] = []
        for referral_id in ids:
            row = self.ctx.conn.execute(
                "SELECT referred_name FROM referrals WHERE id = ?", (referral_id,)
            ).fetchone()
            name = row[0] if row else "this referral"
            kwargs: dict[str, Any] = {}
            if target is Stage.LOST:
                reason = self.ask_reason(self, name)
                if not reason:
                    continue
                kwargs["reason"] = reason
            if target is Stage.WON:
                value = self.ask_value(self, name)
                if value is None:
                    continue
                kwargs.update(value=value, create_account=True)
            tasks.append(
                self.runner.write(
                    partial(_move, referral_id, target, kwargs),
                    label=f"Moving {name}",
                    on_success=self._on_moved,
                    on_error=partial(self._on_move_refused, name),
                )
            )
        if not tasks:
            self.reload()
        return tasks

    def _on_moved(self, moved: pipeline.Moved) -> None:
        self.moved.emit(moved)
        self.reload()

    def _on_move_refused(self, name: str, error: FieldRepError) -> None:
        self.move_refused.emit(f"{name} was not moved: {error}")
        self.reload()

    def _on_model_move_requested(self, ids: list[str], stage: str) -> None:
        self.move_cards(ids, stage)

    def select(self, referral_id: str) -> bool:
        for column in self.columns.values():
            for row, card in enumerate(column.model.cards):
                if card.id == referral_id:
                    column.view.setCurrentIndex(column.model.index(row))
                    return True
        return False

    def current_index(self) -> QModelIndex | None:
        for column in self.columns.values():
            if column.view.currentIndex().isValid():
                return column.view.currentIndex()
        return None
