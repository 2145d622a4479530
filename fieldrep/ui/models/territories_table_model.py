"""Small table models for the Territories page: thin adapters over lists of row objects.

One generic :class:`RowsTableModel` takes column specs ``(header, getter, align_right)``; the page
builds the territory list, members, reassignment diff, KPI and balance tables from it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

Column = tuple[str, Callable[[Any], Any], bool]
Index = QModelIndex | QPersistentModelIndex
# Looked up once: a header sized to its contents asks for its titles thousands of times while a
# panel is built, and each lookup of a Qt enum member costs PySide a few microseconds.
_HORIZONTAL = Qt.Orientation.Horizontal
_DISPLAY = Qt.ItemDataRole.DisplayRole


class RowsTableModel(QAbstractTableModel):
    def __init__(self, columns: Sequence[Column], parent: Any = None) -> None:
        super().__init__(parent)
        self._columns = list(columns)
        self._rows: list[Any] = []
        self.colour: Callable[[Any], str | None] | None = None  # optional swatch per row

    def set_rows(self, rows: Sequence[Any]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def row(self, index: int) -> Any:
        return self._rows[index]

    @property
    def rows(self) -> list[Any]:
        return list(self._rows)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == _DISPLAY and orientation == _HORIZONTAL:
            return self._columns[section][0]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        _header, getter, right = self._columns[index.column()]
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            value = getter(row)
            return "" if value is None else str(value)
        if role == Qt.ItemDataRole.ToolTipRole:
            value = getter(row)
            return None if value is None else str(value)
        if role == Qt.ItemDataRole.TextAlignmentRole and right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.DecorationRole and index.column() == 0 and self.colour:
            colour = self.colour(row)
            return QBrush(QColor(colour)) if colour else None
        return None


def money(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"
