"""The Reports page: pick a report, its period, territory and rep; see a live preview (tables and
charts); export it as PDF, XLSX or CSV with progress and Cancel.

Building and writing run off the GUI thread (:mod:`fieldrep.ui.tasks`, each opening its own
connection); a preview that a newer filter change has overtaken is dropped when it arrives.

Kept whole: one page whose filters, preview and export share the report chosen.
"""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from fieldrep.domain.vocabulary import ACCOUNT_STATUSES
from fieldrep.reports.catalog import KINDS, MAP_REPORTS, build_report
from fieldrep.reports.export import write_report
from fieldrep.reports.model import Report
from fieldrep.reports.periods import PeriodError, ReportPeriod, add_months, current, parse_period
from fieldrep.services.context import Context
from fieldrep.ui.tasks import Progress, Task, TaskKind, TaskRunner
from fieldrep.ui.views.report_preview_table import ReportTableModel, fit_columns, report_table_view
from fieldrep.ui.widgets.chart_canvas import ChartCanvas
from fieldrep.ui.widgets.task_progress import TaskProgressWidget

ALL = ""
EXPORTS = {  # label -> (format, excel BOM, file filter)
    "PDF": ("pdf", False, "PDF (*.pdf)"),
    "Excel workbook (XLSX)": ("xlsx", False, "Excel workbook (*.xlsx)"),
    "CSV": ("csv", False, "CSV (*.csv)"),
    "CSV for Excel": ("csv", True, "CSV (*.csv)"),
}


def period_choices(today: date) -> list[tuple[str, ReportPeriod]]:
    quarter = current("quarter", today)
    month = current("month", today)
    year = current("year", today)
    last_q = ReportPeriod("quarter", add_months(quarter.start, -3), quarter.start)
    last_m = ReportPeriod("month", add_months(month.start, -1), month.start)
    last_y = ReportPeriod("year", add_months(year.start, -12), year.start)
    return [
        (f"This quarter ({quarter.label})", quarter),
        (f"Last quarter ({last_q.label})", last_q),
        (f"This month ({month.label})", month),
        (f"Last month ({last_m.label})", last_m),
        (f"This year ({year.label})", year),
        (f"Last year ({last_y.label})", last_y),
    ]


class ReportsView(QWidget):
    preview_ready = Signal(object)  # Report
    export_finished = Signal(object)  # Path

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
        self.today = today or date.today()
        self.report: Report | None = None
        self._generation = 0
        self._export_task: Task | None = None

        title = QLabel("Reports")
        title.setObjectName("pageTitle")
        self.kind = QComboBox()
        for key, kind in KINDS.items():
            self.kind.addItem(kind.title, key)
            self.kind.setItemData(self.kind.count() - 1, kind.summary, Qt.ItemDataRole.ToolTipRole)
        self.period = QComboBox()
        self.period.setEditable(True)
        self.period.setMinimumContentsLength(16)
        self.period.setToolTip(
            "Pick a period, or type one: 2026-11 (month), 2026-Q3 (quarter), 2026 (year), "
            "2026-01-01..2026-03-31 (custom)"
        )
        for label, period in period_choices(self.today):
            self.period.addItem(label, period.code)
        self.territory = QComboBox()
        self.rep = QComboBox()
        # The accounts list's own filters (shown for that report only).
        self.status = QComboBox()
        self.industry = QComboBox()
        self.status_label = QLabel("Status")
        self.industry_label = QLabel("Industry")
        self._fill_names()
        self.export_format = QComboBox()
        self.export_format.addItems(list(EXPORTS))
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Write the report to a file (in the background)")
        self.export_button.clicked.connect(self._on_export_button_clicked)
        self.progress = TaskProgressWidget()
        # What the last export did; kept apart from the preview's text, which a refresh replaces.
        self.export_status = QLabel()
        self.export_status.setObjectName("muted")
        self.export_status.setTextFormat(Qt.TextFormat.PlainText)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setObjectName("muted")
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #DC2626;")
        self.error.hide()

        for combo in (
            self.kind,
            self.period,
            self.territory,
            self.rep,
            self.status,
            self.industry,
            self.export_format,
        ):
            # Shrinkable, so the page fits a small window; the list still shows whole names.
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(10)
        filters = QGridLayout()
        filters.setHorizontalSpacing(8)
        for n, (label, widget) in enumerate(
            (
                ("Report", self.kind),
                ("Period", self.period),
                ("Territory", self.territory),
                ("Rep", self.rep),
            )
        ):
            filters.addWidget(QLabel(label), n // 2, (n % 2) * 2)
            filters.addWidget(widget, n // 2, (n % 2) * 2 + 1)
        filters.addWidget(self.status_label, 0, 4)
        filters.addWidget(self.status, 0, 5)
        filters.addWidget(self.industry_label, 1, 4)
        filters.addWidget(self.industry, 1, 5)
        # The combos grow with the window (whole names) but can shrink to fit a small one.
        filters.setColumnStretch(1, 1)
        filters.setColumnStretch(3, 1)
        filters.setColumnStretch(5, 1)
        filters.setColumnStretch(6, 2)
        export_row = QHBoxLayout()
        export_row.addWidget(QLabel("Export as"))
        export_row.addWidget(self.export_format)
        export_row.addWidget(self.export_button)
        export_row.addWidget(self.progress)
        export_row.addWidget(self.export_status)
        export_row.addStretch(1)

        self.tabs = QTabWidget()
        self.charts_box = QWidget()
        self.charts_layout = QVBoxLayout(self.charts_box)
        self.charts_layout.setContentsMargins(0, 0, 0, 0)
        charts_scroll = QScrollArea()
        charts_scroll.setWidgetResizable(True)
        charts_scroll.setWidget(self.charts_box)
        self.canvases: list[ChartCanvas] = []
        self.models: list[ReportTableModel] = []
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.tabs)
        splitter.addWidget(charts_scroll)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([600, 400])
        self.splitter = splitter

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 18, 24, 12)
        layout.addWidget(title)
        layout.addLayout(filters)
        layout.addLayout(export_row)
        layout.addWidget(self.error)
        layout.addWidget(self.message)
        layout.addWidget(splitter, 1)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(250)
        self._debounce.timeout.connect(self.refresh)
        self.kind.currentIndexChanged.connect(self._debounce.start)
        self.period.currentTextChanged.connect(self._debounce.start)
        self.territory.currentIndexChanged.connect(self._debounce.start)
        self.rep.currentIndexChanged.connect(self._debounce.start)
        self.status.currentIndexChanged.connect(self._debounce.start)
        self.industry.currentIndexChanged.connect(self._debounce.start)
        self.refresh()

    # -- filters ------------------------------------------------------------------------------

    def _fill_names(self) -> None:
        conn = self.context.conn
        self.territory.addItem("All territories", ALL)
        for (name,) in conn.execute(
            "SELECT name FROM territories WHERE archived = 0 ORDER BY name COLLATE NOCASE"
        ):
            self.territory.addItem(name, name)
        self.rep.addItem("All reps", ALL)
        for username, name, active in conn.execute(
            "SELECT username, coalesce(nullif(display_name, ''), username), active FROM users "
            "WHERE role = 'rep' ORDER BY 2 COLLATE NOCASE"
        ):
            self.rep.addItem(name if active else f"{name} (left)", username)
        self.status.addItem("Any status", ALL)
        for status in ACCOUNT_STATUSES:
            self.status.addItem(status, status)
        self.industry.addItem("Any industry", ALL)
        for (industry,) in conn.execute(
            "SELECT DISTINCT industry FROM accounts WHERE industry IS NOT NULL AND industry != '' "
            "ORDER BY 1 COLLATE NOCASE"
        ):
            self.industry.addItem(industry, industry)

    def selected_period(self) -> ReportPeriod:
        """The period picked or typed; PeriodError names the accepted forms."""
        index = self.period.currentIndex()
        text = self.period.currentText()
        if index >= 0 and self.period.itemText(index) == text:
            return parse_period(str(self.period.itemData(index)))
        return parse_period(text)

    def show_report(
        self, kind: str, *, territory: str | None = None, rep: str | None = None
    ) -> None:
        """Select a report and filters (the manager's home opens the list behind a figure)."""
        self.kind.setCurrentIndex(max(0, self.kind.findData(kind)))
        self.territory.setCurrentIndex(max(0, self.territory.findData(territory or ALL)))
        self.rep.setCurrentIndex(max(0, self.rep.findData(rep or ALL)))
        self.refresh()

    def _extra(self, kind: str) -> dict[str, str | None]:
        """The accounts list's own filters; other reports take none."""
        for widget in (self.status, self.industry, self.status_label, self.industry_label):
            widget.setVisible(kind == "accounts")
        if kind != "accounts":
            return {}
        return {
            "status": self.status.currentData() or None,
            "industry": self.industry.currentData() or None,
        }

    def _options(self) -> tuple[str, ReportPeriod, str | None, str | None]:
        return (
            str(self.kind.currentData()),
            self.selected_period(),
            self.territory.currentData() or None,
            self.rep.currentData() or None,
        )

    # -- preview ------------------------------------------------------------------------------

    def refresh(self) -> None:
        self._debounce.stop()
        if self.runner.closed:
            return  # the window is closing: a queued refresh found its runner already shut down
        try:
            kind, period, territory, rep = self._options()
        except PeriodError as exc:
            self.error.setText(str(exc))
            self.error.show()
            return
        extra = self._extra(kind)
        self.error.hide()
        self._generation += 1
        generation = self._generation
        self.message.setText(f"Preparing {KINDS[kind].title} for {period.label}…")

        def op(db_path: Path, progress: Progress) -> Report:
            conn = sqlite3.connect(db_path)
            try:
                return build_report(conn, kind, period, territory=territory, rep=rep, **extra)
            finally:
                conn.close()

        self.runner.run(
            op,
            kind=TaskKind.READ,
            label="Preparing the report preview",
            quiet=True,
            on_success=lambda report: self._on_preview_built(generation, report),
            on_failure=lambda exc: self._on_preview_failed(generation, exc),
        )

    def _on_preview_failed(self, generation: int, exc: BaseException) -> None:
        if generation == self._generation:
            self.error.setText(str(exc))
            self.error.show()
            self.message.clear()

    def _on_preview_built(self, generation: int, report: Report) -> None:
        if generation != self._generation:
            return  # overtaken by a newer choice
        self.report = report
        lines = [f"{report.title} · {report.subtitle()}"]
        if report.empty:
            lines.append(report.empty_message)
        lines += report.notes
        self.message.setText("\n".join(lines))
        current_tab = self.tabs.currentIndex()
        self.tabs.clear()
        self.models = []
        for table in report.sections:
            model = ReportTableModel(self)
            model.set_table(table)
            view = report_table_view(model)
            if len(table.rows) <= 300:
                view.resizeColumnsToContents()
            else:
                fit_columns(view, table)
            page = QWidget()
            box = QVBoxLayout(page)
            box.setContentsMargins(0, 4, 0, 0)
            box.addWidget(view, 1)
            notes = list(table.notes)
            if model.truncated:
                notes.insert(
                    0,
                    f"The preview shows the first {len(table.rows) - model.truncated:,}"
                    f" of {len(table.rows):,} rows; the export writes them all.",
                )
            if notes:
                label = QLabel("\n".join(notes))
                label.setObjectName("muted")
                label.setWordWrap(True)
                box.addWidget(label)
            self.models.append(model)
            self.tabs.addTab(page, table.title)
        if 0 <= current_tab < self.tabs.count():
            self.tabs.setCurrentIndex(current_tab)
        for canvas in self.canvases:
            canvas.setParent(None)
            canvas.deleteLater()
        self.canvases = []
        for chart in report.charts:
            canvas = ChartCanvas(size=(5.2, 3.4))
            canvas.setMinimumHeight(300)
            canvas.draw_with(chart.draw)
            self.charts_layout.addWidget(canvas)
            self.canvases.append(canvas)
        self.preview_ready.emit(report)

    # -- export -------------------------------------------------------------------------------

    def _on_export_button_clicked(self) -> None:
        label = self.export_format.currentText()
        fmt, _bom, file_filter = EXPORTS[label]
        kind = str(self.kind.currentData())
        suggested = f"{kind}-{self.period.currentData() or 'report'}.{fmt}"
        path, _ = QFileDialog.getSaveFileName(self, "Export report", suggested, file_filter)
        if path:
            if not path.lower().endswith(f".{fmt}"):
                path += f".{fmt}"
            self.export_to(Path(path), label)

    def export_to(self, path: Path, label: str = "PDF") -> Task | None:
        """Build and write the report to ``path`` in the background; returns the task."""
        fmt, bom, _ = EXPORTS[label]
        try:
            kind, period, territory, rep = self._options()
        except PeriodError as exc:
            self.error.setText(str(exc))
            self.error.show()
            return None
        extra = self._extra(kind)

        def op(db_path: Path, progress: Progress) -> Path:
            progress.report(0, None, "Building the report")
            conn = sqlite3.connect(db_path)
            try:
                report = build_report(conn, kind, period, territory=territory, rep=rep, **extra)
                if fmt == "pdf" and kind in MAP_REPORTS and not report.empty:
                    progress.report(0, None, "Drawing the territory map")
                    from fieldrep.ui.map.map_export import report_map

                    picture = report_map(conn, territory, rep)
                    if picture is not None:
                        report.images.append(picture)
            finally:
                conn.close()
            return write_report(report, path, fmt, excel=bom, step=progress.report)

        self.export_button.setEnabled(False)
        self.export_status.clear()
        task = self.runner.run(
            op,
            kind=TaskKind.READ,
            label=f"Exporting {path.name}",
            on_success=self._on_export_succeeded,
            on_failure=self._on_export_failed,
            on_cancelled=self._on_export_cancelled,
        )
        self._export_task = task
        self.progress.track(task)
        return task

    def _on_export_succeeded(self, path: Any) -> None:
        self.export_button.setEnabled(True)
        self.export_status.setText(f"Saved {path}")
        self.export_finished.emit(path)

    def _on_export_failed(self, exc: BaseException) -> None:
        self.export_button.setEnabled(True)
        self.export_status.setText(f"The export failed: {exc}")

    def _on_export_cancelled(self) -> None:
        self.export_button.setEnabled(True)
        self.export_status.setText("Export cancelled; no file was written.")
