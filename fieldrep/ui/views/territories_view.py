"""The Territories page (managers): definitions and members, reassignment, KPIs, balancing.

Four tabs. *Definitions*: territories in precedence order (lower priority number wins), edited in a
dialog (polygon from GeoJSON/KML, pasted postal codes, regions, attribute rules), moved up/down,
archived, imported and exported; members with routing weight and capacity. *Reassignment*: the
engine's diff (moved, from, to, why) computed in the background and applied only when approved.
*KPIs*: per territory or rep for a period, with attainment and coverage charts that follow the
filters. *Balancing*: a proposal with before/after workload and its quality figures, accepted or
rejected. Long work runs on the TaskRunner; the widgets never write to the database themselves.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from fieldrep.reports import charts
from fieldrep.services import assignment_service as assign
from fieldrep.services import kpis
from fieldrep.services import territories as svc
from fieldrep.services import territory_balancing as tb
from fieldrep.services import territory_geojson as gj
from fieldrep.services.context import Context
from fieldrep.store.errors import StoreError
from fieldrep.ui.dialogs.territory_edit_dialog import TerritoryEditDialog
from fieldrep.ui.models.territories_table_model import RowsTableModel, money, percent
from fieldrep.ui.tasks import Progress, TaskKind, TaskRunner
from fieldrep.ui.widgets.chart_canvas import ChartCanvas


def _definition(r: dict[str, Any]) -> str:
    parts = []
    if r["has_polygon"]:
        parts.append("polygon")
    if r["postal_code_count"]:
        parts.append(f"{r['postal_code_count']} postal codes")
    if r["region_count"]:
        parts.append(f"{r['region_count']} regions")
    if r["rule_count"]:
        parts.append(f"{r['rule_count']} rules")
    return ", ".join(parts) or "–"


def _table(model: RowsTableModel) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.verticalHeader().hide()
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    view.horizontalHeader().setStretchLastSection(True)
    return view


def _compute_diff(db_path: Path, progress: Progress) -> assign.AssignmentDiff:
    ctx = Context.open(db_path)
    try:
        return assign.assign_all(
            ctx, dry_run=True, progress=lambda d, t, s: progress.report(d, t, s)
        )
    finally:
        ctx.close()


class TerritoriesView(QWidget):
    diff_ready = Signal(object)
    diff_applied = Signal(int)
    proposal_ready = Signal(object)
    proposal_accepted = Signal(int)

    def __init__(self, context: Context, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx, self.runner = context, runner
        self.diff: assign.AssignmentDiff | None = None
        self.proposal: tb.Proposal | None = None
        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_definitions(), "Definitions")
        self.tabs.addTab(self._build_reassign(), "Reassignment")
        self.tabs.addTab(self._build_kpis(), "KPIs")
        self.tabs.addTab(self._build_balancing(), "Balancing")
        layout = QVBoxLayout(self)
        title = QLabel("Territories")
        title.setStyleSheet("font-size: 16pt; font-weight: 600;")
        layout.addWidget(title)
        layout.addWidget(self.tabs)
        self.refresh()

    # -- definitions ------------------------------------------------------------------------------

    def _build_definitions(self) -> QWidget:
        self.territory_model = RowsTableModel(
            [
                (
                    "Territory",
                    lambda r: (
                        ("    " if r["parent_id"] else "")
                        + r["name"]
                        + ("  (archived)" if r["archived"] else "")
                    ),
                    False,
                ),
                ("Kind", lambda r: r["kind"], False),
                ("Priority", lambda r: r["priority"], True),
                ("Definition", _definition, False),
                ("Accounts", lambda r: f"{r['accounts']:,}", True),
                ("Owner", lambda r: r["owner_name"], False),
                ("Members", lambda r: r["members"], True),
            ]
        )
        self.territory_model.colour = lambda r: r["color"]
        self.territory_table = _table(self.territory_model)
        self.territory_table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.territory_table.doubleClicked.connect(lambda _i: self.edit_selected())
        buttons = QHBoxLayout()
        for text, slot in (
            ("New…", self.new_territory),
            ("Edit…", self.edit_selected),
            ("▲ Up", lambda: self.move_selected(-1)),
            ("▼ Down", lambda: self.move_selected(1)),
            ("Archive/Restore", self.toggle_archive),
            ("Import GeoJSON/KML…", self._on_import_clicked),
            ("Export GeoJSON…", self._on_export_clicked),
        ):
            button = QPushButton(text)
            button.clicked.connect(slot)
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.definition_message = QLabel()
        self.definition_message.setWordWrap(True)
        self.member_model = RowsTableModel(
            [
                ("Member", lambda m: m["display_name"] or m["username"], False),
                ("Role", lambda m: m["role"], False),
                ("Weight", lambda m: f"{m['routing_weight']:g}", True),
                ("Capacity", lambda m: m["capacity"] if m["capacity"] is not None else "∞", True),
                ("Accounts here", lambda m: m["accounts"], True),
            ]
        )
        self.member_table = _table(self.member_model)
        self.member_user = QComboBox()
        for u in self.ctx.db.query(
            "SELECT id, coalesce(nullif(display_name, ''), username) AS n "
            "FROM users WHERE active = 1 ORDER BY n"
        ):
            self.member_user.addItem(u["n"], u["id"])
        self.member_weight = QDoubleSpinBox()
        self.member_weight.setRange(0, 100)
        self.member_weight.setValue(1.0)
        self.member_capacity = QSpinBox()
        self.member_capacity.setRange(0, 1_000_000)
        self.member_capacity.setSpecialValueText("unlimited")
        set_member = QPushButton("Set member")
        set_member.clicked.connect(self.set_member)
        remove_member = QPushButton("Remove")
        remove_member.clicked.connect(self.remove_member)
        member_row = QHBoxLayout()
        for label, widget in (
            ("User", self.member_user),
            ("Weight", self.member_weight),
            ("Capacity", self.member_capacity),
        ):
            member_row.addWidget(QLabel(label))
            member_row.addWidget(widget)
        member_row.addWidget(set_member)
        member_row.addWidget(remove_member)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(QLabel("Members (routing weight and capacity)"))
        right_layout.addWidget(self.member_table)
        right_layout.addLayout(member_row)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.territory_table)
        split.addWidget(right)
        split.setSizes([700, 420])
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addLayout(buttons)
        layout.addWidget(self.definition_message)
        layout.addWidget(split, 1)
        return page

    def refresh(self) -> None:
        selected = self.selected_id()
        self.territory_model.set_rows(svc.territory_rows(self.ctx))
        for i, r in enumerate(self.territory_model.rows):
            if r["id"] == selected:
                self.territory_table.selectRow(i)
        self._refresh_members()
        self.refresh_kpis()

    def selected_id(self) -> str | None:
        rows = self.territory_table.selectionModel().selectedRows()
        return self.territory_model.row(rows[0].row())["id"] if rows else None

    def select(self, name: str) -> None:
        for i, r in enumerate(self.territory_model.rows):
            if r["name"] == name:
                self.territory_table.selectRow(i)

    def _on_selection_changed(self, *_: object) -> None:
        self._refresh_members()

    def _refresh_members(self) -> None:
        tid = self.selected_id()
        self.member_model.set_rows(svc.members(self.ctx, tid) if tid else [])

    def _report(self, action: Any, done: str) -> bool:
        try:
            action()
        except StoreError as exc:
            self.definition_message.setStyleSheet("color: #DC2626;")
            self.definition_message.setText(str(exc))
            return False
        self.definition_message.setStyleSheet("color: #16A34A;")
        self.definition_message.setText(done)
        self.refresh()
        return True

    def new_territory(self) -> TerritoryEditDialog:
        dialog = TerritoryEditDialog(self.ctx, None, self)
        dialog.accepted.connect(self.refresh)
        dialog.open()
        return dialog

    def edit_selected(self) -> TerritoryEditDialog | None:
        tid = self.selected_id()
        if tid is None:
            return None
        dialog = TerritoryEditDialog(self.ctx, tid, self)
        dialog.accepted.connect(self.refresh)
        dialog.open()
        return dialog

    def move_selected(self, direction: int) -> None:
        tid = self.selected_id()
        if tid:
            self._report(
                lambda: svc.move_precedence(self.ctx, tid, direction),
                "Precedence changed; run the reassignment to apply it to accounts.",
            )

    def toggle_archive(self) -> None:
        tid = self.selected_id()
        if tid:
            archived = bool(svc.get_row(self.ctx, tid)["archived"])
            self._report(
                lambda: svc.archive_territory(self.ctx, tid, not archived),
                "Restored." if archived else "Archived.",
            )

    def set_member(self) -> None:
        tid = self.selected_id()
        if tid:
            cap = self.member_capacity.value() or None
            self._report(
                lambda: svc.set_member(
                    self.ctx,
                    tid,
                    self.member_user.currentData(),
                    weight=self.member_weight.value(),
                    capacity=cap,
                ),
                "Member saved.",
            )

    def remove_member(self) -> None:
        tid = self.selected_id()
        if tid:
            self._report(
                lambda: svc.remove_member(self.ctx, tid, self.member_user.currentData()),
                "Member removed.",
            )

    def import_file(self, path: str | Path) -> bool:
        def run() -> None:
            result = gj.import_file(self.ctx, path)
            self._imported = result

        return self._report(run, f"Imported {Path(path).name}.")

    def export_file(self, path: str | Path) -> bool:
        return self._report(lambda: gj.export_file(self.ctx, path), f"Exported to {path}.")

    def _on_import_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import territories", "", "GeoJSON or KML (*.geojson *.json *.kml)"
        )
        if path:
            self.import_file(path)

    def _on_export_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export territories", "territories.geojson", "GeoJSON (*.geojson)"
        )
        if path:
            self.export_file(path)

    # -- reassignment -----------------------------------------------------------------------------

    def _build_reassign(self) -> QWidget:
        self.compute_button = QPushButton("Compute reassignment")
        self.compute_button.clicked.connect(self.compute_diff)
        self.approve_button = QPushButton("Approve and apply")
        self.approve_button.setEnabled(False)
        self.approve_button.clicked.connect(self.approve_diff)
        self.diff_summary = QLabel("Compute the reassignment to see which accounts would move.")
        self.diff_summary.setWordWrap(True)
        self.diff_model = RowsTableModel(
            [
                ("Account", lambda m: m.account_name, False),
                ("From", lambda m: m.from_territory, False),
                ("To", lambda m: m.to_territory, False),
                ("Why", lambda m: m.reason, False),
            ]
        )
        row = QHBoxLayout()
        row.addWidget(self.compute_button)
        row.addWidget(self.approve_button)
        row.addStretch(1)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addLayout(row)
        layout.addWidget(self.diff_summary)
        layout.addWidget(_table(self.diff_model), 1)
        return page

    def compute_diff(self) -> None:
        self.compute_button.setEnabled(False)
        self.approve_button.setEnabled(False)
        self.diff_summary.setText("Matching every account to its territory…")
        self.runner.run(
            _compute_diff,
            kind=TaskKind.READ,
            label="Computing reassignment",
            on_success=self._on_diff_computed,
            on_failure=self._on_task_failed,
        )

    def _on_diff_computed(self, diff: assign.AssignmentDiff) -> None:
        self.diff = diff
        self.compute_button.setEnabled(True)
        self.approve_button.setEnabled(bool(diff.moves))
        self.diff_model.set_rows(diff.moves)
        flows = ", ".join(f"{n:,} {a} → {b}" for (a, b), n in diff.counts().most_common(4))
        first = assign.diff_text(diff, limit=0).splitlines()[0]
        self.diff_summary.setText(
            first
            + (f"  Largest flows: {flows}." if flows else "")
            + ("  Not applied until you approve." if diff.moves else "")
        )
        self.diff_ready.emit(diff)

    def approve_diff(self) -> None:
        diff = self.diff
        if diff is None:
            return
        self.approve_button.setEnabled(False)

        def apply(db_path: Path, progress: Progress) -> int:
            ctx = Context.open(db_path)
            try:
                assign.apply(ctx, diff, lambda d, t, s: progress.report(d, t, s))
                return len(diff.moves)
            finally:
                ctx.close()

        self.runner.run(
            apply,
            kind=TaskKind.WRITE,
            label="Applying reassignment",
            on_success=self._on_diff_applied,
            on_failure=self._on_task_failed,
        )

    def _on_diff_applied(self, count: int) -> None:
        self.diff_summary.setText(f"Applied: {count:,} account(s) moved, each with its history.")
        self.diff_model.set_rows([])
        self.diff = None
        self.refresh()
        self.diff_applied.emit(count)

    def _on_task_failed(self, exc: BaseException) -> None:
        self.compute_button.setEnabled(True)
        self.propose_button.setEnabled(True)
        message = str(exc) if isinstance(exc, StoreError) else f"failed: {exc}"
        self.diff_summary.setText(message)
        self.balance_summary.setText(message)

    # -- KPIs -------------------------------------------------------------------------------------

    def _build_kpis(self) -> QWidget:
        self.kpi_by = QComboBox()
        self.kpi_by.addItem("per territory", "territory")
        self.kpi_by.addItem("per rep", "rep")
        self.kpi_period = QComboBox()
        for p in kpis.PERIODS:
            self.kpi_period.addItem(p, p)
        self.kpi_period.setCurrentText("quarter")
        self.kpi_days = QSpinBox()
        self.kpi_days.setRange(7, 365)
        self.kpi_days.setValue(90)
        self.kpi_days.setSuffix(" days")
        for w in (self.kpi_by, self.kpi_period):
            w.currentIndexChanged.connect(self.refresh_kpis)
        self.kpi_days.valueChanged.connect(self.refresh_kpis)
        self.kpi_model = RowsTableModel(
            [
                ("Name", lambda r: r.name, False),
                ("Accounts", lambda r: f"{r.accounts:,}", True),
                ("Potential", lambda r: money(r.potential), True),
                ("Sales", lambda r: money(r.sales), True),
                ("Quota", lambda r: money(r.quota), True),
                ("Attainment", lambda r: percent(r.attainment), True),
                ("Coverage", lambda r: percent(r.coverage), True),
                ("Visits", lambda r: r.visits, True),
                ("Referrals", lambda r: r.referrals_received, True),
                ("Won", lambda r: r.referrals_won, True),
            ]
        )
        self.attainment_chart = ChartCanvas(size=(5, 3))
        self.coverage_chart = ChartCanvas(size=(5, 3))
        filters = QHBoxLayout()
        self.kpi_period_label = QLabel()
        for label, w in (
            ("Show", self.kpi_by),
            ("Period", self.kpi_period),
            ("Coverage window", self.kpi_days),
        ):
            filters.addWidget(QLabel(label))
            filters.addWidget(w)
        filters.addWidget(self.kpi_period_label)
        filters.addStretch(1)
        charts_row = QSplitter(Qt.Orientation.Horizontal)
        charts_row.addWidget(self.attainment_chart)
        charts_row.addWidget(self.coverage_chart)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(_table(self.kpi_model))
        split.addWidget(charts_row)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addLayout(filters)
        layout.addWidget(split, 1)
        return page

    def refresh_kpis(self, *_: object) -> None:
        period = kpis.period_of(self.kpi_period.currentData(), date.today())
        days = self.kpi_days.value()
        rows = kpis.kpis(self.ctx, self.kpi_by.currentData(), period, coverage_days=days)
        self.kpi_period_label.setText(period.label)
        self.kpi_model.set_rows([*rows, kpis.totals(rows)] if rows else [])
        self.attainment_chart.draw_with(
            charts.attainment_bars, rows, f"Quota attainment, {period.label}"
        )
        self.coverage_chart.draw_with(charts.coverage_bars, rows, days)

    # -- balancing --------------------------------------------------------------------------------

    def _build_balancing(self) -> QWidget:
        self.balance_measure = QComboBox()
        for label, key in (
            ("visit hours incl. travel", "hours"),
            ("accounts", "accounts"),
            ("potential", "potential"),
        ):
            self.balance_measure.addItem(label, key)
        self.balance_tolerance = QSpinBox()
        self.balance_tolerance.setRange(1, 100)
        self.balance_tolerance.setValue(10)
        self.balance_tolerance.setSuffix(" % max/min excess")
        self.propose_button = QPushButton("Propose balanced territories")
        self.propose_button.clicked.connect(self.propose)
        self.accept_button = QPushButton("Accept proposal")
        self.accept_button.clicked.connect(self.accept_proposal)
        self.reject_button = QPushButton("Reject")
        self.reject_button.clicked.connect(self.reject_proposal)
        for b in (self.accept_button, self.reject_button):
            b.setEnabled(False)
        self.balance_summary = QLabel(
            "Capacitated k-means (Bradley, Bennett & Demiriz 2000): "
            "evens the chosen workload, keeps territories compact, "
            "leaves locked accounts and prefers current assignments."
        )
        self.balance_summary.setWordWrap(True)
        self.balance_chart = ChartCanvas(size=(7, 3))
        self.balance_model = RowsTableModel(
            [
                ("Territory", lambda r: r.name, False),
                ("Accounts now", lambda r: r.accounts_before, True),
                ("proposed", lambda r: r.accounts_after, True),
                ("Hours now", lambda r: f"{r.hours_before:,.0f}", True),
                ("proposed ", lambda r: f"{r.hours_after:,.0f}", True),
                ("Potential now", lambda r: money(r.potential_before), True),
                ("proposed  ", lambda r: money(r.potential_after), True),
            ]
        )
        row = QHBoxLayout()
        for w in (
            QLabel("Balance"),
            self.balance_measure,
            QLabel("Tolerance"),
            self.balance_tolerance,
            self.propose_button,
            self.accept_button,
            self.reject_button,
        ):
            row.addWidget(w)
        row.addStretch(1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(_table(self.balance_model))
        split.addWidget(self.balance_chart)
        split.setSizes([560, 560])
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addLayout(row)
        layout.addWidget(self.balance_summary)
        layout.addWidget(split, 1)
        return page

    def propose(self) -> None:
        measure = self.balance_measure.currentData()
        tolerance = self.balance_tolerance.value() / 100

        def run(db_path: Path, progress: Progress) -> tb.Proposal:
            ctx = Context.open(db_path)
            try:
                progress.report(0, None, "Balancing territories")
                return tb.propose(ctx, measure, tolerance=tolerance)
            finally:
                ctx.close()

        self.propose_button.setEnabled(False)
        self.balance_summary.setText("Computing a balanced proposal…")
        self.runner.run(
            run,
            kind=TaskKind.READ,
            label="Balancing territories",
            on_success=self._on_proposal_ready,
            on_failure=self._on_task_failed,
        )

    def _on_proposal_ready(self, proposal: tb.Proposal) -> None:
        self.proposal = proposal
        self.propose_button.setEnabled(True)
        self.accept_button.setEnabled(bool(proposal.moves))
        self.reject_button.setEnabled(True)
        self.balance_model.set_rows(proposal.rows)
        m = proposal.measure
        pick = {
            "accounts": ("accounts_before", "accounts_after"),
            "potential": ("potential_before", "potential_after"),
            "hours": ("hours_before", "hours_after"),
        }[m]
        self.balance_chart.draw_with(
            charts.balance_bars,
            [r.name for r in proposal.rows],
            [getattr(r, pick[0]) for r in proposal.rows],
            [getattr(r, pick[1]) for r in proposal.rows],
            m,
        )
        notes = "; ".join(proposal.result.notes)
        self.balance_summary.setText(
            f"max/min {m}: {proposal.ratio_before:.2f} now → {proposal.ratio_after:.2f} proposed; "
            f"{len(proposal.moves):,} accounts move ({proposal.share_moved:.1%}); "
            f"{proposal.skipped_without_coordinates} without coordinates stay. {notes}"
        )
        self.proposal_ready.emit(proposal)

    def accept_proposal(self) -> None:
        proposal = self.proposal
        if proposal is None:
            return
        self.accept_button.setEnabled(False)
        self.reject_button.setEnabled(False)

        def run(db_path: Path, progress: Progress) -> int:
            ctx = Context.open(db_path)
            try:
                return tb.accept(ctx, proposal)
            finally:
                ctx.close()

        self.runner.run(
            run,
            kind=TaskKind.WRITE,
            label="Accepting balancing proposal",
            on_success=self._on_proposal_accepted,
            on_failure=self._on_task_failed,
        )

    def _on_proposal_accepted(self, count: int) -> None:
        self.proposal = None
        self.balance_summary.setText(
            f"Accepted: {count:,} accounts moved and the new boundaries "
            "saved as the territories' polygons."
        )
        self.refresh()
        self.proposal_accepted.emit(count)

    def reject_proposal(self) -> None:
        self.proposal = None
        self.balance_model.set_rows([])
        self.accept_button.setEnabled(False)
        self.reject_button.setEnabled(False)
        self.balance_summary.setText("Proposal rejected; nothing changed.")
