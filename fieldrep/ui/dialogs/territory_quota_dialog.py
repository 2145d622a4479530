"""Edit sales quotas for one period: every active territory and every rep, one target each.

Choose month, quarter or year and the period; type targets (empty removes a quota). Save is a user
write (``runner.write``) of all changed targets in one transaction through the quotas service;
Save waits while it runs; a bad value names the row and nothing is saved.
"""

from __future__ import annotations

from datetime import date
from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fieldrep.domain.errors import FieldRepError
from fieldrep.services.context import Context
from fieldrep.services.territories import kpis, quotas
from fieldrep.ui import theme
from fieldrep.ui.tasks import Task, TaskRunner
from fieldrep.ui.widgets.screen_fit import fit_on_show

COL_NAME, COL_KIND, COL_TARGET = range(3)


class QuotaDialog(QDialog):
    saved = Signal(int)  # rows changed

    def __init__(
        self,
        ctx: Context,
        runner: TaskRunner,
        kind: str = "quarter",
        on: date | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        fit_on_show(self)  # at least its size hint, within the screen
        self.ctx, self.runner = ctx, runner
        self.setWindowTitle("Sales quotas")
        self.resize(560, 640)
        self._lines: list[quotas.QuotaLine] = []
        self.kind = QComboBox()
        for p in kpis.PERIODS:
            self.kind.addItem(p, p)
        self.kind.setCurrentText(kind)
        self.period = QComboBox()
        self._on = on or date.today()
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Territory / rep", "", "Sales quota"])
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COL_KIND, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_TARGET, QHeaderView.ResizeMode.ResizeToContents)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {theme.DANGER};")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Close
        )
        buttons.accepted.connect(self.save)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(QLabel("Period"))
        row.addWidget(self.kind)
        row.addWidget(self.period, 1)
        hint = QLabel("Empty removes the quota. Monthly quotas add up to a quarter; a quarterly one "
                      "is split over its months in the KPIs.")  # fmt: skip
        hint.setObjectName("muted")
        hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(hint)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.kind.currentIndexChanged.connect(self._fill_periods)
        self.period.currentIndexChanged.connect(self.load)
        self._fill_periods()

    def _fill_periods(self, *_: object) -> None:
        self.period.blockSignals(True)
        self.period.clear()
        here = kpis.period_of(self.kind.currentData(), self._on)
        for p in quotas.periods_around(self.kind.currentData(), self._on):
            self.period.addItem(p.label, p)
        self.period.setCurrentIndex(max(self.period.findText(here.label), 0))
        self.period.blockSignals(False)
        self.load()

    def current_period(self) -> kpis.Period:
        period: kpis.Period = self.period.currentData()
        return period

    def load(self, *_: object) -> None:
        self._lines = quotas.lines(self.ctx, self.current_period())
        self.table.setRowCount(len(self._lines))
        for i, line in enumerate(self._lines):
            name = QTableWidgetItem(line.name)
            kind = QTableWidgetItem(line.kind)
            for item in (name, kind):
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
            kind.setForeground(Qt.GlobalColor.gray)
            target = QTableWidgetItem("" if line.target is None else f"{line.target:,.0f}")
            target.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(i, COL_NAME, name)
            self.table.setItem(i, COL_KIND, kind)
            self.table.setItem(i, COL_TARGET, target)
        self.error.clear()

    def _target_item(self, row: int) -> QTableWidgetItem:
        item = self.table.item(row, COL_TARGET)
        assert item is not None  # every row gets its target cell when the table is filled
        return item

    def set_target(self, name: str, text: str) -> None:
        for i, line in enumerate(self._lines):
            if line.name == name:
                self._target_item(i).setText(text)
                return
        raise KeyError(name)

    def edits(self) -> list[quotas.QuotaEdit]:
        out = []
        for i, line in enumerate(self._lines):
            text = self._target_item(i).text().strip()
            old = "" if line.target is None else f"{line.target:,.0f}"
            if text != old:
                out.append(quotas.QuotaEdit(line.kind, line.key, text or None))
        return out

    def save(self) -> Task:
        """Write the changed targets (a user write); Save waits meanwhile, a refusal names the
        row with nothing saved, the table is read again once saved."""
        self.save_button.setEnabled(False)
        task = self.runner.write(
            partial(_set_quotas, self.current_period(), self.edits()),
            label="Saving quotas",
            on_success=self._on_saved,
            on_error=self._on_refused,
        )
        task.finished.connect(lambda: self.save_button.setEnabled(True))
        return task

    def _on_refused(self, error: FieldRepError) -> None:
        self.error.setText(f"Nothing saved: {error}")

    def _on_saved(self, changed: int) -> None:
        self.load()
        self.saved.emit(changed)


def _set_quotas(period: kpis.Period, edits: list[quotas.QuotaEdit], ctx: Context) -> int:
    """The dialog's write, on the worker's context: how many quotas changed."""
    return quotas.set_quotas(ctx, period, edits)
