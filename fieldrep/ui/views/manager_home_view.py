"""The manager's home: the team's key figures for the current period at a glance, each a card that
opens the list behind it, with sparklines and small charts (a click on a chart opens its table).

Everything is computed off the GUI thread by :func:`fieldrep.reports.home.build_home` together with
the lists behind the figures, so a click opens its list at once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from fieldrep.reports import figures
from fieldrep.reports.home import Home, build_home
from fieldrep.reports.model import Table
from fieldrep.services.context import Context
from fieldrep.store.changes import Changes
from fieldrep.ui import theme
from fieldrep.ui.change_relay import refresh_on_change
from fieldrep.ui.tasks import Progress, TaskKind, TaskRunner
from fieldrep.ui.views.report_preview_table import TableDialog
from fieldrep.ui.widgets.chart_canvas import ChartCanvas

# The tables the figures are read from: a change to any of them (a sync, an import, an edit on
# another page) refreshes the page while it is shown, or the next time it is shown.
HOME_TABLES = (
    "accounts",
    "deals",
    "quotas",
    "visits",
    "tasks",
    "referrals",
    "referral_events",
    "rewards",
    "territories",
    "territory_members",
    "users",
)


@dataclass
class HomeData:
    home: Home
    drills: list[Table]  # the list behind each tile, in tile order


class KpiCard(QFrame):
    """One figure: title, value, a line of detail and a sparkline; a click opens its list."""

    clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.title = QLabel()
        self.title.setObjectName("muted")
        self.value = QLabel()
        self.value.setStyleSheet(f"font-size: 20pt; font-weight: 600; color: {theme.TEXT};")
        self.detail = QLabel()
        self.detail.setObjectName("muted")
        self.detail.setWordWrap(True)
        self.spark = ChartCanvas(size=(2.4, 0.45))
        self.spark.setFixedHeight(34)
        self.spark.canvas.setStyleSheet("background: transparent;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.value)
        layout.addWidget(self.detail)
        layout.addWidget(self.spark)
        # A click on the sparkline is a click on the card.
        self.spark.canvas.mpl_connect("button_press_event", lambda _e: self.clicked.emit())

    def set_tile(
        self, title: str, value: str, detail: str, spark: list[float], alert: bool
    ) -> None:
        self.title.setText(title)
        self.value.setText(value)
        colour = theme.DANGER if alert else theme.TEXT
        self.value.setStyleSheet(f"font-size: 20pt; font-weight: 600; color: {colour};")
        self.detail.setText(detail + "  ›")
        self.setToolTip("Click to see the list behind this figure")
        self.spark.setVisible(bool(spark))
        if spark:
            self.spark.draw_with(figures.sparkline, spark)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mousePressEvent(event)


class ManagerHomeView(QWidget):
    refreshed = Signal()

    def __init__(
        self,
        context: Context,
        runner: TaskRunner,
        parent: QWidget | None = None,
        *,
        today: date | None = None,
    ) -> None:
        super().__init__(parent)
        self.context = context
        self.runner = runner
        self.today = today
        self.data: HomeData | None = None
        self.dialog: TableDialog | None = None
        self._generation = 0
        self._loaded = False

        user = context.user() or {}
        name = str(user.get("display_name") or user.get("username") or "")
        self.heading = QLabel(f"{name}'s team" if name else "Your team")
        self.heading.setObjectName("pageTitle")
        self.subtitle = QLabel("Loading the team's figures…")
        self.subtitle.setObjectName("muted")
        self.period_kind = QComboBox()
        self.period_kind.addItem("This quarter", "quarter")
        self.period_kind.addItem("This month", "month")
        self.period_kind.addItem("This year", "year")
        self.period_kind.currentIndexChanged.connect(self.refresh)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)

        top = QHBoxLayout()
        titles = QVBoxLayout()
        titles.addWidget(self.heading)
        titles.addWidget(self.subtitle)
        top.addLayout(titles, 1)
        top.addWidget(self.period_kind)
        top.addWidget(self.refresh_button)

        self.cards = [KpiCard() for _ in range(6)]
        grid = QGridLayout()
        grid.setSpacing(12)
        for i, card in enumerate(self.cards):
            grid.addWidget(card, i // 3, i % 3)
            card.clicked.connect(lambda i=i: self.open_tile(i))
        self.charts = [ChartCanvas(size=(4.2, 3.0)) for _ in range(3)]
        charts_row = QHBoxLayout()
        charts_row.setSpacing(12)
        for i, canvas in enumerate(self.charts):
            canvas.setMinimumHeight(240)
            canvas.setToolTip("Click to see the table behind this chart")
            canvas.canvas.mpl_connect("button_press_event", self._chart_clicked(i))
            frame = QFrame()
            frame.setObjectName("card")
            box = QVBoxLayout(frame)
            box.setContentsMargins(6, 6, 6, 6)
            box.addWidget(canvas)
            charts_row.addWidget(frame)

        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(24, 18, 24, 18)
        layout.setSpacing(14)
        layout.addLayout(top)
        layout.addLayout(grid)
        layout.addLayout(charts_row, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        refresh_on_change(runner.changes, self, HOME_TABLES, self._on_data_changed)

    def _on_data_changed(self, _changes: Changes) -> None:
        if self._loaded:  # before the first show, showing the page reads the figures anyway
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._loaded:
            self._loaded = True
            self.refresh()

    def refresh(self) -> None:
        self._loaded = True
        self._generation += 1
        generation = self._generation
        kind = str(self.period_kind.currentData())
        today = self.today

        def op(db_path: Path, progress: Progress) -> HomeData:
            conn = sqlite3.connect(db_path)
            try:
                home = build_home(conn, today=today, period_kind=kind)
                drills = []
                for tile in home.tiles:
                    progress.check()
                    drills.append(tile.drill() if tile.drill else Table(tile.title, []))
                return HomeData(home, drills)
            finally:
                conn.close()

        self.runner.run(
            op,
            kind=TaskKind.READ,
            label="Updating the team's figures",
            quiet=True,
            on_success=lambda data: self._on_built(generation, data),
            on_failure=lambda exc: self.subtitle.setText(f"The figures could not be read: {exc}"),
        )

    def _on_built(self, generation: int, data: Any) -> None:
        if generation != self._generation:
            return
        self.data = data
        home = data.home
        self.subtitle.setText(
            f"{home.period.label}, to {home.today.strftime('%d %B %Y')} · click any figure for "
            "the list behind it"
        )
        for card, tile in zip(self.cards, home.tiles, strict=False):
            card.set_tile(tile.title, tile.value, tile.detail, tile.spark, tile.alert)
        for canvas, chart in zip(self.charts, home.charts, strict=False):
            canvas.draw_with(chart.draw)
        self.refreshed.emit()

    def _chart_clicked(self, index: int) -> Callable[[object], None]:
        def clicked(_event: object) -> None:
            self.open_chart(index)

        return clicked

    def open_tile(self, index: int) -> TableDialog | None:
        if self.data is None:
            return None
        return self._open(self.data.drills[index])

    def open_chart(self, index: int) -> TableDialog | None:
        if self.data is None:
            return None
        return self._open(self.data.home.chart_tables[index])

    def _open(self, table: Table) -> TableDialog:
        if self.dialog is not None:
            self.dialog.close()
        self.dialog = TableDialog(table, self)
        self.dialog.show()
        return self.dialog
