"""Small pieces the Territories page's panels share: a read-only table view and a message line."""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableView, QWidget

from fieldrep.ui import theme
from fieldrep.ui.models.territories_table_model import RowsTableModel

# A territory's or rep's name in a chart: longer names are cut (the tables have them whole); a
# 70-character name left no room for the bars and made matplotlib give up its layout.
CHART_NAME_CHARS = 24
CONTENTS_PRECISION = 60


def chart_name(name: str) -> str:
    return name if len(name) <= CHART_NAME_CHARS else name[: CHART_NAME_CHARS - 1] + "…"


def table_view(model: RowsTableModel, *, stretch_last: bool = True) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(24)
    header = view.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    # Sized from the rows on screen and a few more, not the first 1,000 (Qt's default): each
    # row sampled is a Python data() call per column, ~0.3 s on the GUI thread for a big diff.
    header.setResizeContentsPrecision(CONTENTS_PRECISION)
    header.setStretchLastSection(stretch_last)
    return view


class MessageLine(QLabel):
    """One line under a toolbar: green for done, red for a refused change (the error's own words)."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)
        self.setObjectName("muted")

    def ok(self, text: str) -> None:
        self.setStyleSheet(f"color: {theme.SUCCESS};")
        self.setText(text)

    def error(self, text: str) -> None:
        self.setStyleSheet(f"color: {theme.DANGER};")
        self.setText(text)

    def info(self, text: str) -> None:
        self.setStyleSheet(f"color: {theme.TEXT_MUTED};")
        self.setText(text)
