"""Balancing tab: analyse workload, propose balanced territories, accept or reject the proposal.

The proposal (capacitated k-means, see ``fieldrep.domain.balancing``) is shown as before/after
figures per territory, a chart, the list of account moves, and its quality figures: max/min workload
ratio now and proposed, and the share of accounts moved. Computing runs in the background with
progress and Cancel; accepting is a long user write (``runner.write_with_progress``) of the
moves (with history) and the new boundaries in one transaction.
"""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from fieldrep.reports import charts
from fieldrep.services.context import Context
from fieldrep.services.territories import balancing
from fieldrep.store.errors import StoreError
from fieldrep.ui.models.territories_table_model import RowsTableModel, money
from fieldrep.ui.roles import Access, apply_access
from fieldrep.ui.tasks import Progress, Task, TaskKind, TaskRunner
from fieldrep.ui.views.territory_common import MessageLine, chart_name, table_view
from fieldrep.ui.widgets.chart_canvas import ChartCanvas
from fieldrep.ui.widgets.task_progress import TaskProgressWidget

_PICK = {
    "accounts": ("accounts_before", "accounts_after"),
    "potential": ("potential_before", "potential_after"),
    "hours": ("hours_before", "hours_after"),
}


def _ratio(value: float) -> str:
    """A max/min ratio; infinite when some territory has no workload at all."""
    return f"{value:.2f}" if math.isfinite(value) else "∞ (a territory has no workload)"


def _spread(rows: list[balancing.TerritoryBalance], attr: str) -> str:
    values = [getattr(r, attr) for r in rows]
    low = min(values, default=0.0)
    return _ratio(max(values) / low if low > 0 else math.inf)


def _analyse(db_path: Path, progress: Progress) -> list[balancing.TerritoryBalance]:
    ctx = Context.open(db_path)
    try:
        progress.report(0, None, "Analysing balance")
        return balancing.current_balance(ctx)
    finally:
        ctx.close()


def _accept(proposal: balancing.Proposal, ctx: Context, progress: Progress) -> int:
    """Accepting the proposal: the user write, on the worker's context."""
    progress.report(0, None, "Applying the proposal")
    return balancing.accept(ctx, proposal)


class TerritoryBalancingPanel(QWidget):
    analysed = Signal(object)
    proposal_ready = Signal(object)
    proposal_accepted = Signal(int)

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.proposal: balancing.Proposal | None = None
        self.task: Task | None = None
        self.access = Access(True)
        self.measure = QComboBox()
        for label, key in (
            ("visit hours incl. travel", "hours"),
            ("accounts", "accounts"),
            ("potential", "potential"),
        ):
            self.measure.addItem(label, key)
        self.tolerance = QSpinBox()
        self.tolerance.setRange(1, 100)
        self.tolerance.setValue(10)
        self.tolerance.setPrefix("busiest ≤ lightest + ")
        self.tolerance.setSuffix(" %")
        self.propose_button = QPushButton("Propose balanced territories")
        self.propose_button.clicked.connect(self.propose)
        self.accept_button = QPushButton("Accept proposal")
        self.accept_button.clicked.connect(self.accept_proposal)
        self.reject_button = QPushButton("Reject")
        self.reject_button.clicked.connect(self.reject_proposal)
        for b in (self.accept_button, self.reject_button):
            b.setEnabled(False)
        self.progress = TaskProgressWidget()
        self.quality = QLabel()
        self.quality.setWordWrap(True)  # a long verdict wraps rather than widening the window
        self.quality.setStyleSheet("font-size: 12pt; font-weight: 600;")
        self.summary = MessageLine(
            "Capacitated k-means (Bradley, Bennett & Demiriz 2000) evens the chosen workload, keeps "
            "territories compact, never moves locked accounts and prefers to keep accounts where "
            "they are. Nothing changes until you accept."
        )
        self.chart = ChartCanvas(size=(7, 3.4))
        self.model = RowsTableModel(
            [
                ("Territory", lambda r: r.name, False),
                ("Accounts now", lambda r: f"{r.accounts_before:,}", True),
                ("→ proposed", lambda r: f"{r.accounts_after:,}", True),
                ("Hours now", lambda r: f"{r.hours_before:,.0f}", True),
                ("→ proposed", lambda r: f"{r.hours_after:,.0f}", True),
                ("Potential now", lambda r: money(r.potential_before), True),
                ("→ proposed", lambda r: money(r.potential_after), True),
            ]
        )
        self.moves_model = RowsTableModel(
            [
                ("Account", lambda m: m.account_name, False),
                ("From", lambda m: m.from_territory, False),
                ("To", lambda m: m.to_territory, False),
            ]
        )
        right = QTabWidget()
        right.addTab(self.chart, "Workload chart")
        right.addTab(table_view(self.moves_model), "Account moves")
        self.right_tabs = right
        row = QHBoxLayout()
        for w in (
            QLabel("Balance"),
            self.measure,
            QLabel("Tolerance"),
            self.tolerance,
            self.propose_button,
            self.accept_button,
            self.reject_button,
        ):
            row.addWidget(w)
        row.addStretch(1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(table_view(self.model))
        split.addWidget(right)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setSizes([700, 700])
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        # The running proposal's progress and Cancel on a line of their own: beside the
        # buttons they pushed the window wider than a laptop's screen.
        layout.addWidget(self.progress)
        layout.addWidget(self.quality)
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)

    def set_access(self, access: Access) -> None:
        """Proposing and accepting new boundaries is a manager's; the analysis is anyone's."""
        self.access = access
        apply_access((self.propose_button,), access)
        for button in (self.accept_button, self.reject_button):
            button.setEnabled(access.manager_tools and self.proposal is not None)
            button.setToolTip("" if access.manager_tools else access.reason)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.runner.closed:
            return  # shown while its window closes: nothing to analyse for
        if self.proposal is None and self.model.rowCount() == 0 and self.task is None:
            self.analyse()

    def analyse(self) -> Task:
        """Today's balance per territory (accounts, potential, visit hours), in the background."""
        self.task = self.runner.run(
            _analyse,
            kind=TaskKind.READ,
            label="Analysing balance",
            on_success=self._on_analysed,
            on_failure=self._on_failed,
        )
        self.progress.track(self.task)
        return self.task

    def _on_analysed(self, rows: list[balancing.TerritoryBalance]) -> None:
        if self.proposal is not None:
            return
        self.model.set_rows(rows)
        self.chart.draw_with(
            charts.balance_bars,
            [chart_name(r.name) for r in rows],
            [r.hours_before for r in rows],
            None,
            "hours",
        )
        self.quality.setText(
            f"Balance now, max/min: visit hours {_spread(rows, 'hours_before')}  ·  accounts "
            f"{_spread(rows, 'accounts_before')}  ·  potential {_spread(rows, 'potential_before')}"
        )
        self.analysed.emit(rows)

    def propose(self) -> Task:
        measure = self.measure.currentData()
        tolerance = self.tolerance.value() / 100

        def run(db_path: Path, progress: Progress) -> balancing.Proposal:
            ctx = Context.open(db_path)
            try:
                progress.report(0, None, "Balancing territories")
                return balancing.propose(
                    ctx, measure, tolerance=tolerance, progress=progress.report
                )
            finally:
                ctx.close()

        self.propose_button.setEnabled(False)
        self.summary.info("Computing a balanced proposal…")
        self.task = self.runner.run(
            run,
            kind=TaskKind.READ,
            label="Balancing territories",
            on_success=self._on_proposal_ready,
            on_failure=self._on_failed,
            on_cancelled=self._on_cancelled,
        )
        self.progress.track(self.task)
        return self.task

    def _on_proposal_ready(self, proposal: balancing.Proposal) -> None:
        self.proposal = proposal
        self.propose_button.setEnabled(self.access.manager_tools)
        self.accept_button.setEnabled(bool(proposal.moves) and self.access.manager_tools)
        self.reject_button.setEnabled(True)
        self.model.set_rows(proposal.rows)
        self.moves_model.set_rows(proposal.moves)
        m = proposal.measure
        before, after = _PICK[m]
        self.chart.draw_with(
            charts.balance_bars,
            [chart_name(r.name) for r in proposal.rows],
            [getattr(r, before) for r in proposal.rows],
            [getattr(r, after) for r in proposal.rows],
            m,
        )
        self.quality.setText(
            f"Max/min {self.measure.currentText()}: {_ratio(proposal.ratio_before)} now → "
            f"{_ratio(proposal.ratio_after)} proposed  ·  {len(proposal.moves):,} accounts move "
            f"({proposal.share_moved:.1%})"
        )
        notes = " ".join(f"Note: {n}." for n in proposal.result.notes)
        skipped = proposal.skipped_without_coordinates
        self.summary.info(
            (f"{skipped:,} accounts without coordinates stay where they are. " if skipped else "")
            + notes
            + " Accept to move the accounts and save the new boundaries, or reject."
        )
        self.proposal_ready.emit(proposal)

    def accept_proposal(self) -> Task | None:
        proposal = self.proposal
        if proposal is None:
            return None
        self.accept_button.setEnabled(False)
        self.reject_button.setEnabled(False)

        self.task = self.runner.write_with_progress(
            partial(_accept, proposal),
            label="Accepting balancing proposal",
            on_success=self._on_proposal_accepted,
            on_error=self._on_failed,
            on_failure=self._on_failed,
            on_cancelled=self._on_cancelled,
        )
        self.progress.track(self.task)
        return self.task

    def _on_proposal_accepted(self, count: int) -> None:
        self.proposal = None
        self.quality.clear()
        self.summary.ok(
            f"Accepted: {count:,} accounts moved (with history) and the new boundaries saved as "
            "the territories' polygons."
        )
        self.proposal_accepted.emit(count)

    def reject_proposal(self) -> None:
        self.proposal = None
        self.model.set_rows([])
        self.moves_model.set_rows([])
        self.chart.figure.clear()
        self.chart.canvas.draw_idle()
        self.quality.clear()
        self.accept_button.setEnabled(False)
        self.reject_button.setEnabled(False)
        self.summary.info("Proposal rejected; nothing changed.")

    def _on_cancelled(self) -> None:
        self.propose_button.setEnabled(self.access.manager_tools)
        self.accept_button.setEnabled(self.proposal is not None and self.access.manager_tools)
        self.reject_button.setEnabled(self.proposal is not None)
        self.summary.info("Cancelled; nothing changed.")

    def _on_failed(self, exc: BaseException) -> None:
        self.propose_button.setEnabled(self.access.manager_tools)
        self.accept_button.setEnabled(False)
        self.summary.error(str(exc) if isinstance(exc, StoreError) else f"Failed: {exc}")
