"""The Referrals page's Metrics tab: the referral programme's figures for a period (issue 19).

Filters: the period (this month, this quarter, this year, or one written as ``2026``, ``2026-Q3``
or ``2026-07``), a territory (with the territories below it) and a rep. The figures are
:func:`fieldrep.services.rewards.metrics.compute`'s, shown as they are: referral rate, conversion
by cohort month, median times to first contact and to conversion, SLA compliance, reward cost,
ROI, redemption rate and the top referrers, with two charts (conversion by cohort month, top
referrers).

Both the figures and the charts are made on a worker of the task runner (matplotlib's Agg into
images, as the territory KPI panel does); the panel only shows the results, the older ones greyed
under "Updating…" until the newer arrive. Nothing is computed before the tab is shown, and each
showing computes afresh.

Kept whole: one tab whose filters, figures, tables and charts share one computation and its refresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fieldrep.reports import charts
from fieldrep.services.context import Context
from fieldrep.services.rewards import metrics
from fieldrep.ui import theme
from fieldrep.ui.tasks import TaskKind, TaskRunner
from fieldrep.ui.views.territory_common import chart_name
from fieldrep.ui.views.territory_kpi_panel import ChartImage, render_chart

DEBOUNCE_MS = 250
CUSTOM = "custom"
# The figures shown, in order: (key, label, tooltip).
FIGURES = (
    ("referrals", "Referrals", "Referrals created in the period (duplicates not counted)"),
    ("referral_rate", "Referral rate", "Active accounts that referred someone / active accounts"),
    ("first_contact", "First contact", "Median time from capture to the first move out of New"),
    ("conversion", "Time to conversion", "Median time from capture to Won"),
    (
        "sla",
        "SLA compliance",
        "First contact within 48 hours of capture, of the referrals contacted or overdue",
    ),
    ("reward_cost", "Reward cost", "Rewards approved, issued or redeemed, clawbacks netted"),
    ("roi", "ROI", "Won value / reward cost"),
    ("redemption", "Redemption rate", "Rewards redeemed / rewards issued or redeemed"),
)


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


def _money(cents: int) -> str:
    return f"{cents / 100:,.2f}"


def figure_texts(m: metrics.Metrics) -> dict[str, str]:
    """What each figure box says for ``m`` (the test compares these with ``metrics.compute``)."""
    return {
        "referrals": f"{m.referrals:,}  ({m.won:,} won, worth {_money(m.won_value_cents)})",
        "referral_rate": f"{_pct(m.referral_rate)}  ({m.referring_accounts:,} of"
        f" {m.active_accounts:,} accounts)",
        "first_contact": "–"
        if m.median_hours_to_first_contact is None
        else f"{m.median_hours_to_first_contact:.1f} h",
        "conversion": "–"
        if m.median_days_to_conversion is None
        else f"{m.median_days_to_conversion:.1f} days",
        "sla": f"{_pct(m.sla_compliance)}  ({m.sla_met:,} of {m.sla_counted:,})",
        "reward_cost": _money(m.reward_cost_cents),
        "roi": "–" if m.roi is None else f"{m.roi:.1f}×",
        "redemption": f"{_pct(m.redemption_rate)}  ({m.rewards_redeemed:,} of"
        f" {m.rewards_issued:,})",
    }


def period_text(choice: str, today: date, custom: str = "") -> str:
    """The period ``metrics.period_bounds`` reads for a choice of the period box."""
    if choice == "month":
        return f"{today.year}-{today.month:02d}"
    if choice == "quarter":
        return f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    if choice == "year":
        return str(today.year)
    return custom.strip()


@dataclass
class MetricFigures:
    """One computation: the metrics and both charts drawn."""

    metrics: metrics.Metrics
    cohorts: tuple[Figure, QImage]
    referrers: tuple[Figure, QImage]


def compute_figures(
    db_path: Path, filters: dict[str, Any], sizes: tuple[QSize, QSize]
) -> MetricFigures:
    """The metrics and the charts, on the caller's thread with its own connection (a worker's)."""
    ctx = Context.open(db_path)
    try:
        m = metrics.compute(ctx.conn, **filters)
    finally:
        ctx.close()
    return draw(m, sizes)


def draw(m: metrics.Metrics, sizes: tuple[QSize, QSize]) -> MetricFigures:
    top = m.top_referrers
    return MetricFigures(
        m,
        render_chart(charts.cohort_conversion_bars, sizes[0], m.conversion_by_cohort),
        render_chart(
            charts.top_referrer_bars,
            sizes[1],
            [chart_name(t["name"] or "(unnamed)") for t in top],
            [t["referrals"] for t in top],
            [t["won"] for t in top],
        ),
    )


class ReferralMetricsPanel(QWidget):
    refreshed = Signal()

    def __init__(
        self,
        ctx: Context,
        runner: TaskRunner,
        parent: QWidget | None = None,
        *,
        today: date | None = None,
        now: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.runner = runner
        self.today = today or date.today()
        self.now = now  # the SLA's "now" (tests pin it); None: the clock's
        self.metrics: metrics.Metrics | None = None
        self._asked = 0
        self._shown = 0
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._compute)

        self.period = QComboBox()
        for label, key in (
            ("This month", "month"),
            ("This quarter", "quarter"),
            ("This year", "year"),
            ("Custom", CUSTOM),
        ):
            self.period.addItem(label, key)
        self.period.setCurrentIndex(1)
        self.custom = QLineEdit()
        self.custom.setPlaceholderText("2026, 2026-Q3 or 2026-07")
        self.custom.setToolTip("A year (2026), a quarter (2026-Q3) or a month (2026-07)")
        self.custom.setMaximumWidth(180)
        self.custom.setEnabled(False)
        self.territory = QComboBox()
        self.rep = QComboBox()
        for combo in (self.territory, self.rep):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(12)
        self._fill_combos()
        self.status = QLabel()
        self.status.setObjectName("muted")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)

        filters = QHBoxLayout()
        filters.addWidget(QLabel("Period"))
        filters.addWidget(self.period)
        filters.addWidget(self.custom)
        filters.addWidget(QLabel("Territory"))
        filters.addWidget(self.territory, 1)
        filters.addWidget(QLabel("Rep"))
        filters.addWidget(self.rep, 1)
        filters.addWidget(self.status, 2)

        self.values: dict[str, QLabel] = {}
        grid = QGridLayout()
        grid.setHorizontalSpacing(18)
        grid.setVerticalSpacing(2)
        for i, (key, label, tip) in enumerate(FIGURES):
            caption = QLabel(label)
            caption.setObjectName("muted")
            caption.setToolTip(tip)
            value = QLabel("–")
            value.setToolTip(tip)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            font = value.font()
            font.setPointSizeF(font.pointSizeF() * 1.25)
            font.setBold(True)
            value.setFont(font)
            row, col = divmod(i, 4)
            grid.addWidget(caption, row * 2, col)
            grid.addWidget(value, row * 2 + 1, col)
            self.values[key] = value
        for col in range(4):
            grid.setColumnStretch(col, 1)
        tiles = QFrame()
        tiles.setLayout(grid)

        self.cohorts = QTableWidget(0, 4)
        self.cohorts.setHorizontalHeaderLabels(["Cohort month", "Referred", "Won", "Conversion"])
        self.top = QTableWidget(0, 4)
        self.top.setHorizontalHeaderLabels(["Top referrer", "Referred", "Won", "Won value"])
        for table in (self.cohorts, self.top):
            table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
            table.verticalHeader().hide()
            table.setAlternatingRowColors(True)
            table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
            table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.cohort_chart = ChartImage()
        self.referrer_chart = ChartImage()
        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(DEBOUNCE_MS)
        self._redraw.timeout.connect(self._draw_again)
        for chart in (self.cohort_chart, self.referrer_chart):
            chart.resized.connect(self._redraw.start)

        tables = QSplitter(Qt.Orientation.Horizontal)
        tables.addWidget(self.cohorts)
        tables.addWidget(self.top)
        charts_row = QSplitter(Qt.Orientation.Horizontal)
        charts_row.addWidget(self.cohort_chart)
        charts_row.addWidget(self.referrer_chart)
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(tables)
        body.addWidget(charts_row)
        body.setStretchFactor(0, 2)
        body.setStretchFactor(1, 3)
        self.figures = QWidget()
        figures_layout = QVBoxLayout(self.figures)
        figures_layout.setContentsMargins(0, 0, 0, 0)
        figures_layout.addWidget(tiles)
        figures_layout.addWidget(body, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addLayout(filters)
        layout.addWidget(self.figures, 1)

        self.period.currentIndexChanged.connect(self._on_period_changed)
        self.custom.editingFinished.connect(self.refresh)
        self.territory.currentIndexChanged.connect(self.refresh)
        self.rep.currentIndexChanged.connect(self.refresh)

    def _fill_combos(self) -> None:
        conn = self.ctx.conn
        self.territory.addItem("All territories", None)
        for (name,) in conn.execute(
            "SELECT DISTINCT name FROM territories WHERE archived = 0 AND kind = 'territory'"
            " ORDER BY name COLLATE NOCASE"
        ):
            self.territory.addItem(name, name)
        self.rep.addItem("All reps", None)
        for uid, name in conn.execute(
            "SELECT id, coalesce(nullif(display_name, ''), username) AS n FROM users"
            " WHERE active = 1 ORDER BY n COLLATE NOCASE"
        ):
            self.rep.addItem(name, uid)

    # -- filters ----------------------------------------------------------------------------------

    def period_text(self) -> str:
        return period_text(self.period.currentData(), self.today, self.custom.text())

    def filters(self) -> dict[str, Any]:
        """``metrics.compute``'s keyword arguments for the filters shown."""
        return {
            "period": self.period_text(),
            "territory": self.territory.currentData(),
            "rep": self.rep.currentData(),
            "now": self.now,
        }

    def _on_period_changed(self, _index: int) -> None:
        custom = self.period.currentData() == CUSTOM
        self.custom.setEnabled(custom)
        if custom:
            if not self.custom.text():
                self.custom.setText(str(self.today.year))
            self.custom.setFocus()
        self.refresh()

    # -- computing --------------------------------------------------------------------------------

    @property
    def computing(self) -> bool:
        """Whether the figures shown are older than the filters."""
        return self._shown != self._asked

    def showEvent(self, event: QShowEvent) -> None:
        # Nothing is computed for a tab never opened; each opening computes afresh (a stage move
        # on the board or a sync may have changed the figures).
        super().showEvent(event)
        if not event.spontaneous():
            self.refresh()

    def refresh(self, *_: object) -> None:
        try:
            metrics.period_bounds(self.period_text())
        except metrics.PeriodError as exc:
            self._asked += 1
            self._shown = self._asked
            self.figures.setEnabled(False)  # the last figures stay, greyed: not this period's
            self._say(str(exc), error=True)
            return
        self._asked += 1
        self.figures.setEnabled(False)
        self._say("Updating the figures…")
        self._debounce.start()

    def _sizes(self) -> tuple[QSize, QSize]:
        return self.cohort_chart.size(), self.referrer_chart.size()

    def _compute(self) -> None:
        if self.runner.closed:
            return
        asked, filters, sizes = self._asked, self.filters(), self._sizes()
        self.runner.run(
            lambda db_path, _progress: compute_figures(db_path, filters, sizes),
            kind=TaskKind.READ,
            label="Computing referral metrics",
            quiet=True,
            on_success=partial(self._show, asked),
            on_failure=partial(self._on_failed, asked),
        )

    def _on_failed(self, asked: int, error: BaseException) -> None:
        if asked == self._asked:
            self._shown = asked
            self.figures.setEnabled(True)
            self._say(f"Could not compute the metrics: {error}", error=True)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setToolTip(text)
        self.status.setStyleSheet(f"color: {theme.DANGER};" if error else "")

    def _show(self, asked: int, figures: MetricFigures) -> None:
        if asked != self._asked:
            return  # the filters changed meanwhile: newer figures are on their way
        self._shown = asked
        m = figures.metrics
        self.metrics = m
        self.figures.setEnabled(True)
        start, end = metrics.period_bounds(m.period)
        last = end - timedelta(days=1)
        self._say(f"{m.period}: {start:%d %b %Y} – {last:%d %b %Y}")
        for key, text in figure_texts(m).items():
            self.values[key].setText(text)
        self.cohorts.setRowCount(len(m.conversion_by_cohort))
        for row, (month, c) in enumerate(m.conversion_by_cohort.items()):
            for col, text in enumerate(
                (month, f"{c['referrals']:,}", f"{c['won']:,}", f"{c['rate']:.0%}")
            ):
                self._cell(self.cohorts, row, col, text)
        self.top.setRowCount(len(m.top_referrers))
        for row, t in enumerate(m.top_referrers):
            for col, text in enumerate(
                (
                    t["name"] or "(unnamed)",
                    f"{t['referrals']:,}",
                    f"{t['won']:,}",
                    _money(t["won_value_cents"]),
                )
            ):
                self._cell(self.top, row, col, text)
        self._show_charts(asked, figures)
        self.refreshed.emit()

    @staticmethod
    def _cell(table: QTableWidget, row: int, col: int, text: str) -> None:
        item = QTableWidgetItem(text)
        if col:
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        table.setItem(row, col, item)

    def _show_charts(self, asked: int, figures: MetricFigures) -> None:
        if asked != self._asked:
            return
        self.cohort_chart.set_chart(*figures.cohorts)
        self.referrer_chart.set_chart(*figures.referrers)

    def _draw_again(self) -> None:
        """The charts at their new size, on a worker (the figures are unchanged)."""
        if self.computing or self.metrics is None or self.runner.closed:
            return
        asked, m, sizes = self._asked, self.metrics, self._sizes()
        self.runner.run(
            lambda _db, _progress: draw(m, sizes),
            label="Drawing the referral charts",
            quiet=True,
            on_success=partial(self._show_charts, asked),
        )
