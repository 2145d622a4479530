"""KPIs tab: accounts, potential, sales, quota attainment, coverage, visits and referrals.

Filters: per territory or per rep, the period kind and which period, a territory (narrows the rep
view to one territory's work) and the coverage window. The table and both matplotlib charts
(attainment bars, coverage bars) follow every filter change. "Quotas…" opens the quota editor.

With a task runner the figures are computed on a worker (over 100,000 accounts they cost the GUI
thread 0.3-0.5 s per filter change), a quarter of a second after the last change (five clicks on
the coverage arrows: one computation); meanwhile the old figures stay, greyed, under "Updating…".
"""

from __future__ import annotations

from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
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
from fieldrep.ui.tasks import Progress, TaskRunner
from fieldrep.ui.views.territory_common import table_view
from fieldrep.ui.widgets.chart_canvas import ChartCanvas

KPI_DEBOUNCE_MS = 250


class TerritoryKpiPanel(QWidget):
    refreshed = Signal()

    def __init__(
        self,
        ctx: Context,
        parent: QWidget | None = None,
        *,
        today: date | None = None,
        runner: TaskRunner | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.today = today or date.today()
        self.runner = runner
        self.rows: list[kpis.KpiRow] = []
        self._asked = 0  # the filter changes asked for, and the one whose figures are shown
        self._shown = 0
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(KPI_DEBOUNCE_MS)
        self._debounce.timeout.connect(self._compute)
        self.updating = QLabel("Updating the figures…")
        self.updating.setObjectName("muted")
        self.updating.hide()
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
        filters.addWidget(self.updating)
        filters.addWidget(self.quota_button)
        charts_row = QSplitter(Qt.Orientation.Horizontal)
        charts_row.addWidget(self.attainment_chart)
        charts_row.addWidget(self.coverage_chart)
        split = QSplitter(Qt.Orientation.Vertical)
        self.figures = split
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

    @property
    def computing(self) -> bool:
        """Whether the figures shown are older than the filters (a computation is due or running)."""
        return self._shown != self._asked

    def refresh(self, *_: object) -> None:
        if self.period.count() == 0:
            return
        self._asked += 1
        if self.runner is None:
            self._show(self._asked, self._compute_now(self.ctx, self._filters()))
            return
        self.figures.setEnabled(False)  # the old figures, greyed, until the new ones arrive
        self.updating.show()
        self._debounce.start()

    def _filters(self) -> dict[str, Any]:
        return {
            "by": self.by.currentData(),
            "period": self.current_period(),
            "coverage_days": self.days.value(),
            "today": self.today,
            "territory_id": self.territory.currentData(),
        }

    @staticmethod
    def _compute_now(ctx: Context, filters: dict[str, Any]) -> list[kpis.KpiRow]:
        by = filters.pop("by")
        period = filters.pop("period")
        return kpis.kpis(ctx, by, period, **filters)

    def _compute(self) -> None:
        assert self.runner is not None
        if self.runner.closed:
            return
        asked = self._asked
        filters = self._filters()

        def compute(db_path: Path, _progress: Progress) -> list[kpis.KpiRow]:
            ctx = Context.open(db_path)
            try:
                return self._compute_now(ctx, filters)
            finally:
                ctx.close()

        self.runner.run(
            compute,
            label="Computing territory figures",
            quiet=True,
            on_success=partial(self._show, asked),
            on_failure=partial(self._on_compute_failed, asked),
        )

    def _on_compute_failed(self, asked: int, error: BaseException) -> None:
        if asked == self._asked:
            self._shown = asked
            self.figures.setEnabled(True)
            self.updating.setText(f"Could not compute the figures: {error}")

    def _show(self, asked: int, rows: list[kpis.KpiRow]) -> None:
        if asked != self._asked:
            return  # the filters changed meanwhile: newer figures are on their way
        self._shown = asked
        self.figures.setEnabled(True)
        self.updating.hide()
        self.updating.setText("Updating the figures…")
        period = self.current_period()
        days = self.days.value()
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
