"""One stage column of the pipeline board: referrals as cards, fetched from SQL a page at a time.

A thin adapter over :class:`fieldrep.services.referrals.pipeline.Card` rows. Dragging a card
carries its id; a drop asks (signal ``move_requested``) for the move to be made through the service,
after which the board reloads. The model never removes a row itself, so a refused move loses
nothing on screen.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)

from fieldrep.services.referrals import pipeline
from fieldrep.services.referrals.model import Stage
from fieldrep.ui.dates import friendly_moment

MIME = "application/x-fieldrep-referral"
CARD_ROLE = Qt.ItemDataRole.UserRole + 1
PAGE = 200

Index = QModelIndex | QPersistentModelIndex


class ReferralBoardModel(QAbstractListModel):
    move_requested = Signal(list, str)  # referral ids, target stage

    def __init__(self, conn: sqlite3.Connection, stage: Stage, page: int = PAGE) -> None:
        super().__init__()
        self.conn, self.stage, self.page = conn, stage, page
        self.filter = pipeline.Filter(stage=stage)
        self.cards: list[pipeline.Card] = []
        self._more = False

    def set_filter(self, flt: pipeline.Filter) -> None:
        self.beginResetModel()
        self.filter = replace(flt, stage=self.stage)
        self.cards = pipeline.cards(self.conn, self.filter, limit=self.page, sort="due")
        self._more = len(self.cards) == self.page
        self.endResetModel()

    def reload(self) -> None:
        self.set_filter(self.filter)

    # -- list model -------------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.cards)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.cards):
            return None
        card = self.cards[index.row()]
        if role == CARD_ROLE:
            return card
        if role == Qt.ItemDataRole.DisplayRole:
            return card.name
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [f"{card.name} ({card.company})" if card.company else card.name]
            lines.append(f"{card.owner or 'no owner'}, {card.territory or 'no territory'}")
            if card.sla_due_at and card.stage not in ("won", "lost"):
                when = "Overdue since" if card.overdue else "Due"
                lines.append(f"{when} {friendly_moment(card.sla_due_at)}")
            if card.referrer:
                lines.append(f"Referred by {card.referrer}")
            return "\n".join(lines)
        return None

    def canFetchMore(self, parent: Index) -> bool:
        return not parent.isValid() and self._more

    def fetchMore(self, parent: Index) -> None:
        if parent.isValid() or not self._more:
            return
        more = pipeline.cards(
            self.conn, self.filter, limit=self.page, offset=len(self.cards), sort="due"
        )
        self._more = len(more) == self.page
        if more:
            self.beginInsertRows(QModelIndex(), len(self.cards), len(self.cards) + len(more) - 1)
            self.cards.extend(more)
            self.endInsertRows()

    # -- drag and drop ----------------------------------------------------------------------------

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.ItemIsDropEnabled
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemIsDragEnabled
            | Qt.ItemFlag.ItemNeverHasChildren
        )

    def mimeTypes(self) -> list[str]:
        return [MIME]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        data = QMimeData()
        ids = [self.cards[i.row()].id for i in indexes if i.isValid()]
        data.setData(MIME, QByteArray("\n".join(ids).encode()))
        return data

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def canDropMimeData(
        self, data: QMimeData, action: Qt.DropAction, row: int, column: int, parent: Index
    ) -> bool:
        return data.hasFormat(MIME)

    def dropMimeData(
        self, data: QMimeData, action: Qt.DropAction, row: int, column: int, parent: Index
    ) -> bool:
        if not data.hasFormat(MIME):
            return False
        ids = [i for i in bytes(data.data(MIME).data()).decode().split("\n") if i]
        known = {c.id for c in self.cards}
        ids = [i for i in ids if i not in known]  # dropped back on its own column: nothing to do
        if ids:
            self.move_requested.emit(ids, self.stage.value)
        # False: the dragging view must not remove the card; the board reloads after the move.
        return False
