"""The Conflicts page's table: a thin adapter over a list of :class:`ConflictItem`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from fieldrep.services.sync.conflicts import ConflictItem, format_value
from fieldrep.services.sync.session import describe_age
from fieldrep.ui import theme

Index = QModelIndex | QPersistentModelIndex

COL_RECORD = 0
COL_NAME = 1
COL_FIELD = 2
COL_YOURS = 3
COL_OTHER = 4
COL_NOW = 5
COL_WHEN = 6
HEADERS = ("Record", "Name", "Field", "Your value", "Other value", "Laptop shows", "Found")


def other_text(item: ConflictItem) -> str:
    if item.refused_reason is not None:
        return f"Refused: {item.refused_reason}"
    if not item.row_exists:
        return "Deleted by someone else"
    return format_value(item.other_value, item.field)


def now_text(item: ConflictItem) -> str:
    if not item.row_exists:
        return "Record deleted"
    if item.refused_reason is not None:
        # A record the server does not have (or no longer shows you) stays here as you wrote it.
        return "The server's value" if item.on_server else "Yours, only here"
    return "Yours" if item.yours_kept else "Other value"


class ConflictsTableModel(QAbstractTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[ConflictItem] = []

    def set_rows(self, rows: Sequence[ConflictItem]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    @property
    def rows(self) -> list[ConflictItem]:
        return list(self._rows)

    def item(self, row: int) -> ConflictItem:
        return self._rows[row]

    def row_of(self, conflict_id: int) -> int | None:
        for number, item in enumerate(self._rows):
            if item.id == conflict_id:
                return number
        return None

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def _text(self, item: ConflictItem, column: int) -> str:
        if column == COL_RECORD:
            return item.record
        if column == COL_NAME:
            return item.row_label
        if column == COL_FIELD:
            return item.field_label
        if column == COL_YOURS:
            return format_value(item.your_value, item.field)
        if column == COL_OTHER:
            return other_text(item)
        if column == COL_NOW:
            return now_text(item)
        return describe_age(item.detected_at)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        item = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return " ".join(self._text(item, column).split())  # one line per cell
        if role == Qt.ItemDataRole.ToolTipRole:
            if column in (COL_YOURS, COL_OTHER):
                return self._text(item, column)
            return item.summary
        if role == Qt.ItemDataRole.ForegroundRole and column == COL_NOW:
            color = theme.SUCCESS if item.yours_kept else theme.WARNING
            return QBrush(QColor(color))
        if role == Qt.ItemDataRole.UserRole:
            return item.id
        return None
