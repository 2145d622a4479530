"""The Accounts list's column widths: fixed for speed, fitted to the window's width.

The list never measures its 100,000 rows, so its columns have set widths (``COLUMNS``) and the name
takes what they leave: on a 1366-pixel laptop the default columns fit without a horizontal scroll.
On a wider window the name would take every spare pixel while a long industry or city is elided,
so once the name has :data:`NAME_ENOUGH` the rest is shared by the columns whose text is often
long, each up to its roomy width.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QTableView

from fieldrep.ui.models.accounts_table_model import COL_NAME, COLUMNS

NAME_ENOUGH = 440
# column key -> its width with room to spare ("Professional Services", "Sterling Heights, MI")
ROOMY = {"city": 190, "industry": 175, "owner": 150, "territory": 150, "geocode_quality": 120}


def fitted_widths(available: int) -> list[int]:
    """Every column's width for a viewport ``available`` pixels wide (the name's is what remains)."""
    widths = [width for _, _, width in COLUMNS]
    excess = available - sum(widths) - NAME_ENOUGH + widths[COL_NAME]
    if excess <= 0:
        return widths
    growable = [i for i, (key, _, _) in enumerate(COLUMNS) if key in ROOMY]
    want = {i: ROOMY[COLUMNS[i][0]] - widths[i] for i in growable}
    total = sum(want.values())
    share = min(1.0, excess / total) if total else 0.0
    for i in growable:
        widths[i] += int(want[i] * share)
    return widths


class ColumnFitter(QObject):
    """Refits ``table``'s columns whenever its viewport changes width."""

    def __init__(self, table: QTableView) -> None:
        super().__init__(table)
        self.table = table
        self._width = -1
        table.viewport().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self.fit()
        return False

    def fit(self) -> None:
        available = self.table.viewport().width()
        if available == self._width:
            return
        self._width = available
        for column, width in enumerate(fitted_widths(available)):
            if column != COL_NAME:  # the name stretches into what the others leave
                self.table.setColumnWidth(column, width)
