"""The Territories page (managers): definitions, accounts and reasons, reassignment, KPIs, balancing.

Five tabs, each its own panel module:

- *Definitions* (``territory_definitions_panel``): territories in precedence order with their place
  in the hierarchy, the selected one's definition, its members (routing weight, capacity), handover,
  GeoJSON/KML import and export;
- *Accounts* (``territory_explain_panel``): any account's territory, owner and the reason;
- *Reassignment* (``territory_reassign_panel``): the engine's diff, approved before it is applied;
- *KPIs* (``territory_kpi_panel``): figures and charts that follow the filters, and the quota editor;
- *Balancing* (``territory_balancing_panel``): a proposal with before/after figures, accepted or
  rejected.

Long work runs on the TaskRunner; widgets never write to the database themselves.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from fieldrep.services.context import Context
from fieldrep.store.changes import Changes
from fieldrep.ui.change_relay import refresh_on_change
from fieldrep.ui.roles import ACCESS_TABLES, Access, access_for, apply_access
from fieldrep.ui.tasks import TaskRunner
from fieldrep.ui.views.territory_balancing_panel import TerritoryBalancingPanel
from fieldrep.ui.views.territory_definitions_panel import TerritoryDefinitionsPanel
from fieldrep.ui.views.territory_explain_panel import TerritoryExplainPanel
from fieldrep.ui.views.territory_kpi_panel import TerritoryKpiPanel
from fieldrep.ui.views.territory_reassign_panel import TerritoryReassignPanel

DEFINITION_TABLES = ("territories", "territory_members", "users", "accounts")
KPI_TABLES = (
    "territories",
    "territory_members",
    "users",
    "accounts",
    "visits",
    "deals",
    "quotas",
    "referrals",
)


class TerritoriesView(QWidget):
    def __init__(self, context: Context, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx, self.runner = context, runner
        self.definitions = TerritoryDefinitionsPanel(context, runner)
        self.explain = TerritoryExplainPanel(context)
        self.reassign = TerritoryReassignPanel(runner)
        self.kpis = TerritoryKpiPanel(context, runner=runner)  # figures on a worker
        self.balancing = TerritoryBalancingPanel(runner)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.definitions, "Definitions")
        self.tabs.addTab(self.explain, "Accounts")
        self.tabs.addTab(self.reassign, "Reassignment")
        self.tabs.addTab(self.kpis, "KPIs and quotas")
        self.tabs.addTab(self.balancing, "Balancing")
        self.definitions.changed.connect(self.kpis.reload)
        self.reassign.diff_applied.connect(self._on_accounts_moved)
        self.balancing.proposal_accepted.connect(self._on_accounts_moved)
        title = QLabel("Territories")
        title.setObjectName("pageTitle")
        # Said once, above the tabs, where a rep finds the tools greyed out.
        self.role_note = QLabel()
        self.role_note.setObjectName("muted")
        self.role_note.setWordWrap(True)
        self.role_note.setTextFormat(Qt.TextFormat.PlainText)
        self.role_note.hide()
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.role_note)
        layout.addWidget(self.tabs, 1)
        self.access = Access(True)
        self.update_access()
        # What sync, an import or another page changed: each tab re-reads what it shows, when
        # it is on screen (a hidden tab catches up when shown).
        relay = runner.changes
        refresh_on_change(relay, self, ACCESS_TABLES, lambda _c: self.update_access())
        refresh_on_change(relay, self.definitions, DEFINITION_TABLES, self._on_definitions_stale)
        refresh_on_change(relay, self.kpis, KPI_TABLES, lambda _c: self.kpis.reload())
        refresh_on_change(
            relay,
            self.explain,
            ("accounts", "territories"),
            lambda _c: self.explain.search_for(self.explain.search.text()),
        )

    def update_access(self) -> None:
        """Enable the manager's tools for a manager; for a rep, disable them and say why."""
        access = access_for(self.ctx)
        self.access = access
        self.definitions.set_access(access)
        self.balancing.set_access(access)
        apply_access((self.kpis.quota_button,), access)
        self.role_note.setText(
            ""
            if access.manager_tools
            else "Territories are read-only for you: your manager defines them, sets quotas and"
            " balances the team."
        )
        self.role_note.setVisible(not access.manager_tools)

    def _on_definitions_stale(self, changes: Changes) -> None:
        self.definitions.refresh()
        if changes.touches("users"):
            self.definitions.refresh_users()

    def refresh(self) -> None:
        self.definitions.refresh()
        self.kpis.reload()

    def _on_accounts_moved(self, _count: int) -> None:
        self.refresh()
        self.explain.search_for(self.explain.search.text())
