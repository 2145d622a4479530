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

from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from fieldrep.services.context import Context
from fieldrep.ui.tasks import TaskRunner
from fieldrep.ui.views.territory_balancing_panel import TerritoryBalancingPanel
from fieldrep.ui.views.territory_definitions_panel import TerritoryDefinitionsPanel
from fieldrep.ui.views.territory_explain_panel import TerritoryExplainPanel
from fieldrep.ui.views.territory_kpi_panel import TerritoryKpiPanel
from fieldrep.ui.views.territory_reassign_panel import TerritoryReassignPanel


class TerritoriesView(QWidget):
    def __init__(self, context: Context, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx, self.runner = context, runner
        self.definitions = TerritoryDefinitionsPanel(context, runner)
        self.explain = TerritoryExplainPanel(context)
        self.reassign = TerritoryReassignPanel(runner)
        self.kpis = TerritoryKpiPanel(context)
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
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.tabs, 1)

    def refresh(self) -> None:
        self.definitions.refresh()
        self.kpis.reload()

    def _on_accounts_moved(self, _count: int) -> None:
        self.refresh()
        self.explain.find(self.explain.search.text())
