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

from typing import cast

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QShowEvent
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


TAB_TITLES = {
    "definitions": "Definitions",
    "explain": "Accounts",
    "reassign": "Reassignment",
    "kpis": "KPIs and quotas",
    "balancing": "Balancing",
}


class TerritoriesView(QWidget):
    """The tabs are built when first shown (or first asked for): building all five on opening the
    page cost the GUI thread ~1 s on a big book (their queries, the charts). Until then a tab holds
    an empty placeholder that the panel replaces."""

    def __init__(self, context: Context, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx, self.runner = context, runner
        self._panels: dict[str, QWidget] = {}
        self.tabs = QTabWidget()
        for key, tab_title in TAB_TITLES.items():
            placeholder = QWidget()
            placeholder.setObjectName(f"placeholder_{key}")
            self.tabs.addTab(placeholder, tab_title)
        self.tabs.currentChanged.connect(self._on_tab_changed)
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
        # it is on screen (a hidden tab catches up when shown; an unbuilt one reads it when built).
        refresh_on_change(runner.changes, self, ACCESS_TABLES, lambda _c: self.update_access())

    # -- the tabs, built on first use ------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        # After the page has painted: opening the page and building its first tab are then two
        # short pauses instead of one long one.
        QTimer.singleShot(0, self, lambda: self._on_tab_changed(self.tabs.currentIndex()))

    def _on_tab_changed(self, index: int) -> None:
        if index < 0 or not self.isVisible() or self.runner.closed:
            return
        self._panel(list(TAB_TITLES)[index])

    def is_built(self, key: str) -> bool:
        return key in self._panels

    def _panel(self, key: str) -> QWidget:
        panel = self._panels.get(key)
        if panel is not None:
            return panel
        panel = self._build(key)
        self._panels[key] = panel
        index = list(TAB_TITLES).index(key)
        current = self.tabs.currentIndex()
        placeholder = self.tabs.widget(index)
        self.tabs.blockSignals(True)
        try:
            self.tabs.removeTab(index)
            self.tabs.insertTab(index, panel, TAB_TITLES[key])
            self.tabs.setCurrentIndex(current)
        finally:
            self.tabs.blockSignals(False)
        if placeholder is not None:
            placeholder.deleteLater()
        return panel

    def _build(self, key: str) -> QWidget:
        ctx, runner, relay = self.ctx, self.runner, self.runner.changes
        if key == "definitions":
            definitions = TerritoryDefinitionsPanel(ctx, runner)
            definitions.set_access(self.access)
            definitions.changed.connect(self._on_definitions_changed)
            refresh_on_change(relay, definitions, DEFINITION_TABLES, self._on_definitions_stale)
            return definitions
        if key == "explain":
            explain = TerritoryExplainPanel(ctx)
            refresh_on_change(
                relay,
                explain,
                ("accounts", "territories"),
                lambda _c: explain.search_for(explain.search.text()),
            )
            return explain
        if key == "reassign":
            reassign = TerritoryReassignPanel(runner)
            reassign.diff_applied.connect(self._on_accounts_moved)
            return reassign
        if key == "kpis":
            kpis = TerritoryKpiPanel(ctx, runner=runner)  # figures on a worker
            apply_access((kpis.quota_button,), self.access)
            refresh_on_change(relay, kpis, KPI_TABLES, lambda _c: kpis.reload())
            return kpis
        if key == "balancing":
            balancing = TerritoryBalancingPanel(runner)
            balancing.set_access(self.access)
            balancing.proposal_accepted.connect(self._on_accounts_moved)
            return balancing
        raise KeyError(key)

    @property
    def definitions(self) -> TerritoryDefinitionsPanel:
        return cast(TerritoryDefinitionsPanel, self._panel("definitions"))

    @property
    def explain(self) -> TerritoryExplainPanel:
        return cast(TerritoryExplainPanel, self._panel("explain"))

    @property
    def reassign(self) -> TerritoryReassignPanel:
        return cast(TerritoryReassignPanel, self._panel("reassign"))

    @property
    def kpis(self) -> TerritoryKpiPanel:
        return cast(TerritoryKpiPanel, self._panel("kpis"))

    @property
    def balancing(self) -> TerritoryBalancingPanel:
        return cast(TerritoryBalancingPanel, self._panel("balancing"))

    # -- behaviour -------------------------------------------------------------------------------

    def update_access(self) -> None:
        """Enable the manager's tools for a manager; for a rep, disable them and say why."""
        access = access_for(self.ctx)
        self.access = access
        if self.is_built("definitions"):
            self.definitions.set_access(access)
        if self.is_built("balancing"):
            self.balancing.set_access(access)
        if self.is_built("kpis"):
            apply_access((self.kpis.quota_button,), access)
        self.role_note.setText(
            ""
            if access.manager_tools
            else "Territories are read-only for you: your manager defines them, sets quotas and"
            " balances the team."
        )
        self.role_note.setVisible(not access.manager_tools)

    def _on_definitions_changed(self, *_: object) -> None:
        if self.is_built("kpis"):
            self.kpis.reload()

    def _on_definitions_stale(self, changes: Changes) -> None:
        self.definitions.refresh()
        if changes.touches("users"):
            self.definitions.refresh_users()

    def refresh(self) -> None:
        if self.is_built("definitions"):
            self.definitions.refresh()
        if self.is_built("kpis"):
            self.kpis.reload()

    def _on_accounts_moved(self, _count: int) -> None:
        self.refresh()
        if self.is_built("explain"):
            self.explain.search_for(self.explain.search.text())
