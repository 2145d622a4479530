"""Referrals as a table (COL_* columns), fetched from SQL a page at a time with the board's filters."""

from __future__ import annotations

import sqlite3
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from fieldrep.services.referrals import pipeline
from fieldrep.ui import theme
from fieldrep.ui.dates import friendly_local_day, friendly_moment
from fieldrep.ui.models.referral_board_model import CARD_ROLE

COL_NAME, COL_COMPANY, COL_STAGE, COL_OWNER, COL_TERRITORY, COL_REFERRER, COL_CAPTURED = range(7)
COL_CREATED, COL_DUE, COL_VALUE = range(7, 10)
HEADERS = (
    "Referred",
    "Company",
    "Stage",
    "Owner",
    "Territory",
    "Referred by",
    "Captured by",
    "Captured",
    "Due",
    "Value",
)
PAGE = 300
Index = QModelIndex | QPersistentModelIndex


class ReferralTableModel(QAbstractTableModel):
    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__()
        self.conn = conn
        self.filter = pipeline.Filter(linked=True)
        self.rows: list[pipeline.Card] = []
        self._more = False

    def set_filter(self, flt: pipeline.Filter) -> None:
        self.beginResetModel()
        self.filter = flt
        self.rows = pipeline.cards(self.conn, flt, limit=PAGE)
        self._more = len(self.rows) == PAGE
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def canFetchMore(self, parent: Index) -> bool:
        return not parent.isValid() and self._more

    def fetchMore(self, parent: Index) -> None:
        if parent.isValid() or not self._more:
            return
        more = pipeline.cards(self.conn, self.filter, limit=PAGE, offset=len(self.rows))
        self._more = len(more) == PAGE
        if more:
            self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows) + len(more) - 1)
            self.rows.extend(more)
            self.endInsertRows()

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        card = self.rows[index.row()]
        if role == CARD_ROLE:
            return card
        col = index.column()
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_DUE and card.overdue:
            return QColor(theme.DANGER)
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_NAME and card.duplicate_of_id:
            return QColor(theme.TEXT_MUTED)
        if role == Qt.ItemDataRole.TextAlignmentRole and col == COL_VALUE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if col == COL_NAME:
            return card.name + (" (linked)" if card.duplicate_of_id else "")
        if col == COL_STAGE:
            return card.stage.title()
        if col == COL_DUE:
            if not card.sla_due_at or card.stage in ("won", "lost"):
                return ""
            return friendly_moment(card.sla_due_at) + (", overdue" if card.overdue else "")
        if col == COL_VALUE:
            return f"${card.amount:,.0f}" if card.amount else ""
        if col == COL_CREATED:
            return friendly_local_day(card.created_at)
        return (
            card.name,
            card.company,
            card.stage,
            card.owner,
            card.territory,
            card.referrer,
            card.captured_by,
        )[col]
