"""KPIs tab: accounts, potential, sales, quota attainment, coverage, visits and referrals.

Filters: per territory or per rep, the period kind and which period, a territory (narrows the rep
view to one territory's work) and the coverage window. The table and both matplotlib charts
(attainment bars, coverage bars) follow every filter change. "Quotas…" opens the quota editor.
"""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from fieldrep.reports import charts
from fieldrep.services import kpis
from fieldrep.services import territory_quotas as quotas
from fieldrep.services.context import Context
from fieldrep.ui.dialogs.territory_quota_dialog import QuotaDialog
from fieldrep.ui.models.territories_table_model import RowsTableModel, money, percent
from fieldrep.ui.views.territory_common import table_view
from fieldrep.ui.widgets.chart_canvas import ChartCanvas


class TerritoryKpiPanel(QWidget):
    refreshed = Signal()

    def __init__(
        self, ctx: Context, parent: QWidget | None = None, *, today: date | None = None
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.today = today or date.today()
        self.by = QComboBox()
        self.by.addItem("per territory", "territory")
        self.by.addItem("per rep", "rep")
        self.period_kind = QComboBox()
        for p in kpis.PERIODS:
            self.period_kind.addItem(p, p)
        self.period_kind.setCurrentText("quarter")
        self.period = QComboBox()
        self.territory = QComboBox()
        self.days = QSpinBox()
        self.days.setRange(7, 365)
        self.days.setValue(90)
        self.days.setSuffix(" days")
        self.quota_button = QPushButton("Quotas…")
        self.quota_button.setToolTip("Sales quotas per territory and per rep for any period")
        self.quota_button.clicked.connect(self.open_quotas)
        self.model = RowsTableModel(
            [
                ("Name", lambda r: r.name, False),
                ("Accounts", lambda r: f"{r.accounts:,}", True),
                ("Potential", lambda r: money(r.potential), True),
                ("Sales", lambda r: money(r.sales), True),
                ("Quota", lambda r: money(r.quota), True),
                ("Attainment", lambda r: percent(r.attainment), True),
                ("Coverage", lambda r: percent(r.coverage), True),
                ("Visits", lambda r: f"{r.visits:,}", True),
                ("Referrals in", lambda r: f"{r.referrals_received:,}", True),
                ("Won", lambda r: f"{r.referrals_won:,}", True),
            ]
        )
        self.attainment_chart = ChartCanvas(size=(5, 3.4))
        self.coverage_chart = ChartCanvas(size=(5, 3.4))
        filters = QHBoxLayout()
        for label, w in (
            ("Show", self.by),
            ("Period", self.period_kind),
            ("", self.period),
            ("Territory", self.territory),
            ("Coverage: visited in the last", self.days),
        ):
            if label:
                filters.addWidget(QLabel(label))
            filters.addWidget(w)
        filters.addStretch(1)
        filters.addWidget(self.quota_button)
        charts_row = QSplitter(Qt.Orientation.Horizontal)
        charts_row.addWidget(self.attainment_chart)
        charts_row.addWidget(self.coverage_chart)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(table_view(self.model, stretch_last=False))
        split.addWidget(charts_row)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setSizes([400, 400])
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(split, 1)
        self._fill_territories()
        self._fill_periods()
        self.period_kind.currentIndexChanged.connect(self._fill_periods)
        for w in (self.by, self.period, self.territory):
            w.currentIndexChanged.connect(self.refresh)
        self.days.valueChanged.connect(self.refresh)
        self.refresh()

    def _fill_territories(self) -> None:
        current = self.territory.currentData()
        self.territory.blockSignals(True)
        self.territory.clear()
        self.territory.addItem("all territories", None)
        for t in self.ctx.db.query(
            "SELECT id, name FROM territories WHERE kind = 'territory' AND archived = 0 "
            "ORDER BY name COLLATE NOCASE"
        ):
            self.territory.addItem(t["name"], t["id"])
        self.territory.setCurrentIndex(max(self.territory.findData(current), 0))
        self.territory.blockSignals(False)

    def _fill_periods(self, *_: object) -> None:
        kind = self.period_kind.currentData()
        self.period.blockSignals(True)
        self.period.clear()
        for p in quotas.periods_around(kind, self.today, back=7, ahead=0):
            self.period.addItem(p.label, p)
        self.period.setCurrentIndex(self.period.count() - 1)
        self.period.blockSignals(False)
        self.refresh()

    def current_period(self) -> kpis.Period:
        period: kpis.Period = self.period.currentData()
        return period

    def reload(self) -> None:
        """Territories may have been added, renamed or archived."""
        self._fill_territories()
        self.refresh()

    def refresh(self, *_: object) -> None:
        if self.period.count() == 0:
            return
        period = self.current_period()
        days = self.days.value()
        rows = kpis.kpis(
            self.ctx,
            self.by.currentData(),
            period,
            coverage_days=days,
            today=self.today,
            territory_id=self.territory.currentData(),
        )
        self.rows = rows
        self.model.set_rows([*rows, kpis.totals(rows)] if rows else [])
        scope = self.territory.currentText() if self.territory.currentData() else ""
        suffix = f", {scope}" if scope else ""
        self.attainment_chart.draw_with(
            charts.attainment_bars, rows, f"Sales quota attainment, {period.label}{suffix}"
        )
        self.coverage_chart.draw_with(charts.coverage_bars, rows, days)
        self.refreshed.emit()

    def open_quotas(self) -> QuotaDialog:
        dialog = QuotaDialog(
            self.ctx, self.period_kind.currentData(), self.current_period().start, self
        )
        dialog.saved.connect(lambda _n: self.refresh())
        dialog.open()
        return dialog
