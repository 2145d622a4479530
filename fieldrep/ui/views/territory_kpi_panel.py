"""KPIs tab: accounts, potential, sales, quota attainment, coverage, visits and referrals.

Filters: per territory or per rep, the period kind and which period, a territory (narrows the rep
view to one territory's work) and the coverage window. The table and both matplotlib charts
(attainment bars, coverage bars) follow every filter change. "Quotas…" opens the quota editor (its Save a user write).

The figures are computed on a worker (over 100,000 accounts they cost the GUI
thread 0.3-0.5 s per filter change), a quarter of a second after the last change (five clicks on
the coverage arrows: one computation); meanwhile the old figures stay, greyed, under "Updating…".
The charts are drawn on the same worker with matplotlib's Agg renderer into images (drawing them
on the GUI thread cost ~0.5 s of text layout per change); the panel only shows the images.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from fieldrep.reports import charts
from fieldrep.services.context import Context
from fieldrep.services.territories import kpis, quotas
from fieldrep.ui.dialogs.territory_quota_dialog import QuotaDialog
from fieldrep.ui.models.territories_table_model import RowsTableModel, money, percent
from fieldrep.ui.tasks import Progress, TaskRunner
from fieldrep.ui.views.territory_common import chart_name, table_view
from fieldrep.ui.widgets.elided_label import ElidedLabel

KPI_DEBOUNCE_MS = 250
CHART_DPI = 90
# A row's name in a chart: longer names are cut (the table has them whole); a 70-character name
# left no room for the bars and made matplotlib give up its layout.
CHART_NAME_CHARS = 24
# The smallest image drawn, whatever the widget's size before it is first shown.
MIN_CHART = QSize(360, 240)


def render_chart(builder: Callable[..., None], size: QSize, *args: Any) -> tuple[Figure, QImage]:
    """``builder(figure, *args)`` drawn by Agg into an image of ``size`` pixels. Safe on a worker:
    it touches no widget (a QImage is plain memory) and no pyplot state."""
    width, height = max(size.width(), MIN_CHART.width()), max(size.height(), MIN_CHART.height())
    figure = Figure(figsize=(width / CHART_DPI, height / CHART_DPI), dpi=CHART_DPI)
    canvas = FigureCanvasAgg(figure)
    builder(figure, *args)
    canvas.draw()
    buffer = canvas.buffer_rgba()
    image = QImage(
        bytes(buffer), buffer.shape[1], buffer.shape[0], QImage.Format.Format_RGBA8888
    ).copy()
    return figure, image


@dataclass
class KpiFigures:
    """What one computation hands the panel: the rows and both charts drawn."""

    rows: list[kpis.KpiRow]
    attainment: tuple[Figure, QImage]
    coverage: tuple[Figure, QImage]


class ChartImage(QLabel):
    """A chart drawn elsewhere, shown as an image scaled to the room it has. ``figure`` is the
    matplotlib figure it was drawn from (for tests and tooltips); ``resized`` asks for a new
    drawing at the new size."""

    resized = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.figure: Figure | None = None
        self._pixmap = QPixmap()
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(120, 90)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)

    def sizeHint(self) -> QSize:
        return QSize(450, 306)

    def set_chart(self, figure: Figure, image: QImage) -> None:
        self.figure = figure
        self._pixmap = QPixmap.fromImage(image)
        self._fit()

    def _fit(self) -> None:
        if self._pixmap.isNull():
            return
        if self._pixmap.size() == self.size():
            self.setPixmap(self._pixmap)
        else:
            self.setPixmap(
                self._pixmap.scaled(
                    self.size(),
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()
        if event.oldSize() != event.size():
            self.resized.emit()


class TerritoryKpiPanel(QWidget):
    refreshed = Signal()

    def __init__(
        self,
        ctx: Context,
        parent: QWidget | None = None,
        *,
        today: date | None = None,
        runner: TaskRunner,
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
        # Elided, never widening the window (its failure text can be long: the tooltip has it all).
        self.updating = ElidedLabel("Updating the figures…")
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
        # Territory names come from the user's data: a long one must not widen the window.
        self.territory.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.territory.setMinimumContentsLength(10)
        self.days = QSpinBox()
        self.days.setRange(7, 365)
        self.days.setValue(90)
        self.days.setSuffix(" days")
        self.days.setToolTip("Coverage counts the accounts visited within this many days")
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
        self.attainment_chart = ChartImage()
        self.coverage_chart = ChartImage()
        self._redraw = QTimer(self)  # the charts drawn again for a new size, once it settles
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(KPI_DEBOUNCE_MS)
        self._redraw.timeout.connect(self._draw_again)
        for chart in (self.attainment_chart, self.coverage_chart):
            chart.resized.connect(self._redraw.start)
        filters = QHBoxLayout()
        for label, w in (
            ("Show", self.by),
            ("Period", self.period_kind),
            ("", self.period),
            ("Territory", self.territory),
            ("Coverage: last", self.days),
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

    def _chart_args(self) -> dict[str, Any]:
        """What the charts need besides the rows, read on the GUI thread."""
        scope = self.territory.currentText() if self.territory.currentData() else ""
        suffix = f", {scope}" if scope else ""
        return {
            "title": f"Sales quota attainment, {self.current_period().label}{suffix}",
            "days": self.days.value(),
            "attainment_size": self.attainment_chart.size(),
            "coverage_size": self.coverage_chart.size(),
        }

    @staticmethod
    def _draw(rows: Sequence[kpis.KpiRow], chart: dict[str, Any]) -> KpiFigures:
        named = [dataclasses.replace(r, name=chart_name(r.name)) for r in rows]
        return KpiFigures(
            list(rows),
            render_chart(charts.attainment_bars, chart["attainment_size"], named, chart["title"]),
            render_chart(charts.coverage_bars, chart["coverage_size"], named, chart["days"]),
        )

    @classmethod
    def _compute_now(
        cls, ctx: Context, filters: dict[str, Any], chart: dict[str, Any]
    ) -> KpiFigures:
        by = filters.pop("by")
        period = filters.pop("period")
        return cls._draw(kpis.kpis(ctx, by, period, **filters), chart)

    def _compute(self) -> None:
        if self.runner.closed:
            return
        asked = self._asked
        filters = self._filters()
        chart = self._chart_args()

        def compute(db_path: Path, _progress: Progress) -> KpiFigures:
            ctx = Context.open(db_path)
            try:
                return self._compute_now(ctx, filters, chart)
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

    def _show(self, asked: int, figures: KpiFigures) -> None:
        if asked != self._asked:
            return  # the filters changed meanwhile: newer figures are on their way
        self._shown = asked
        self.figures.setEnabled(True)
        self.updating.hide()
        self.updating.setText("Updating the figures…")
        rows = figures.rows
        self.rows = rows
        self.model.set_rows([*rows, kpis.totals(rows)] if rows else [])
        self._show_charts(asked, figures)
        self.refreshed.emit()

    def _show_charts(self, asked: int, figures: KpiFigures) -> None:
        if asked != self._asked:
            return
        self.attainment_chart.set_chart(*figures.attainment)
        self.coverage_chart.set_chart(*figures.coverage)

    def _draw_again(self) -> None:
        """The charts at their new size, on a worker (the figures themselves are unchanged)."""
        if self.computing or self.attainment_chart.figure is None:
            return  # a computation on its way draws them anyway
        asked, rows, chart = self._asked, list(self.rows), self._chart_args()
        if self.runner.closed:
            return
        self.runner.run(
            lambda _db, _progress: self._draw(rows, chart),
            label="Drawing the territory charts",
            quiet=True,
            on_success=partial(self._show_charts, asked),
        )

    def open_quotas(self) -> QuotaDialog:
        dialog = QuotaDialog(
            self.ctx, self.runner, self.period_kind.currentData(), self.current_period().start, self
        )
        dialog.saved.connect(lambda _rows_changed: self.refresh())
        dialog.open()
        return dialog
