"""Showing a report :class:`~fieldrep.reports.model.Table` in Qt: a thin table model over it (cells
as the PDF writes them, numbers right-aligned, subtotal and total rows bold, hierarchy indented),
a table view set up for it, and a dialog that shows "the list behind a figure"."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from fieldrep.reports.model import NA, Table, cell_text, is_numeric

Index = QModelIndex | QPersistentModelIndex
PREVIEW_ROWS = 5000  # the preview shows this many rows; the export writes them all


class ReportTableModel(QAbstractTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.table: Table | None = None
        self._rows: list[list[Any]] = []
        self._total: list[Any] | None = None
        self._bold = QFont()
        self._bold.setBold(True)

    def set_table(self, table: Table | None) -> None:
        self.beginResetModel()
        self.table = table
        self._rows = table.rows[:PREVIEW_ROWS] if table else []
        self._total = table.totals() if table else None
        self.endResetModel()

    @property
    def truncated(self) -> int:
        """Rows the preview leaves out."""
        return len(self.table.rows) - len(self._rows) if self.table else 0

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid():
            return 0
        return len(self._rows) + (1 if self._total is not None else 0)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() or self.table is None else len(self.table.columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            self.table is not None
            and orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
        ):
            return self.table.columns[section].header
        return None

    def row_values(self, row: int) -> list[Any]:
        if row < len(self._rows):
            return self._rows[row]
        return self._total or []

    def link(self, row: int) -> tuple[str, str] | None:
        if self.table is None or row >= len(self._rows) or row >= len(self.table.links):
            return None
        return self.table.links[row]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self.table is None:
            return None
        column = self.table.columns[index.column()]
        row = index.row()
        value = self.row_values(row)[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            text = cell_text(value, column)
            if index.column() == 0 and self.table.levels and row < len(self._rows):
                text = "    " * self.table.levels[row] + text
            return text
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if is_numeric(column) or value == NA:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole and (
            row >= len(self._rows) or row in self.table.subtotal_rows
        ):
            return self._bold
        if role == Qt.ItemDataRole.ToolTipRole and value == NA:
            return "Cannot be computed here (no quota, or nothing to divide by)"
        return None


def report_table_view(model: ReportTableModel) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setAlternatingRowColors(True)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(24)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    view.horizontalHeader().setStretchLastSection(True)
    view.setWordWrap(False)
    return view


def fit_columns(view: QTableView, table: Table) -> None:
    """Widths from the columns' declared widths (characters), like the XLSX writer's."""
    chars = view.fontMetrics().averageCharWidth()
    for i, column in enumerate(table.columns):
        view.setColumnWidth(i, max(60, min(360, int(column.width * chars * 1.15) + 16)))


class TableDialog(QDialog):
    """The list behind a figure of the manager's home."""

    def __init__(self, table: Table, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(table.title)
        self.resize(900, 560)
        self.model = ReportTableModel(self)
        self.model.set_table(table)
        self.view = report_table_view(self.model)
        fit_columns(self.view, table)
        title = QLabel(table.title)
        title.setObjectName("cardTitle")
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        if not table.rows:
            empty = QLabel("Nothing here.")
            empty.setObjectName("muted")
            layout.addWidget(empty)
        layout.addWidget(self.view, 1)
        for note in table.notes:
            label = QLabel(note)
            label.setObjectName("muted")
            label.setWordWrap(True)
            layout.addWidget(label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
