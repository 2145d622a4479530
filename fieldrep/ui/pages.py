"""The registry of the main window's pages, in navigation order.

Each page is ONE line: ``PageSpec(key, title, icon_name, factory)`` where ``factory(context, runner)``
returns the page's widget (a view class whose constructor takes those two will do). It is called the
first time the page is shown, so an unused page costs nothing at start-up. ``factory=None`` shows a
"not built yet" panel saying what will be there. To plug in a real page, import its view and replace
the ``None`` on that page's line, e.g.::

    PageSpec("accounts", "Accounts", "accounts", _lazy("fieldrep.ui.views.accounts_view", "AccountsView")),

``key`` is stable (it is saved as the last page the user looked at); ``icon_name`` is a file stem in
``resources/icons``. Ctrl+1..9 follow the order of this list.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtWidgets import QWidget

from fieldrep.services.context import Context
from fieldrep.ui.tasks import TaskRunner
from fieldrep.ui.widgets.not_built_panel import NotBuiltPanel

PageFactory = Callable[[Context, TaskRunner], QWidget]


def _lazy(module: str, name: str) -> PageFactory:
    """A factory that imports its view on first use, so start-up never pays for unseen pages
    (the Territories page pulls in matplotlib, for one)."""

    def factory(context: Context, runner: TaskRunner) -> QWidget:
        view: PageFactory = getattr(importlib.import_module(module), name)
        return view(context, runner)

    return factory


@dataclass(frozen=True)
class PageSpec:
    key: str
    title: str
    icon_name: str
    factory: PageFactory | None  # None: not built yet, a panel says what will be there


# What each page will offer, shown on its "not built yet" panel until the real view replaces it.
PLANNED: dict[str, tuple[str, list[str]]] = {
    "accounts": (
        "Every account and contact you look after, searchable even when you are offline.",
        [
            "search and filter thousands of accounts by name, city, industry, status or potential",
            "open an account to see its contacts, visits, open tasks and deals",
            "edit details and log visits on the road; changes sync when you are back online",
        ],
    ),
    "map": (
        "Your accounts on a map, so you can see where the work is and plan the day.",
        [
            "see accounts in your territory, coloured by status, potential or last visit",
            "select an area to list the accounts in it",
            "plan a route for the day's visits",
        ],
    ),
    "referrals": (
        "Leads that partners and customers send you, from first contact to reward.",
        [
            "follow each referral through its stages, with its full history",
            "route new referrals to the right territory and rep automatically",
            "see the rewards earned by the people who referred them",
        ],
    ),
    "territories": (
        "How accounts are divided between reps, and why each account sits where it does.",
        [
            "draw territories on the map or define them by postal codes and rules",
            "assign reps, set routing weights and capacity",
            "review balancing proposals before accepting them",
        ],
    ),
    "reports": (
        "Visits, pipeline and quota attainment, for you or for your team.",
        [
            "see charts of activity and results over any period",
            "compare reps and territories against their quotas",
            "export to CSV, Excel or PDF",
        ],
    ),
}


def build_page(spec: PageSpec, context: Context, runner: TaskRunner) -> QWidget:
    """The page's widget: its real view, or the "not built yet" panel while it has no factory."""
    if spec.factory is None:
        summary, plans = PLANNED.get(spec.key, ("", []))
        return NotBuiltPanel(spec.title, spec.icon_name, summary, plans)
    return spec.factory(context, runner)


PAGES: tuple[PageSpec, ...] = (
    PageSpec(
        "accounts", "Accounts", "accounts", _lazy("fieldrep.ui.views.accounts_view", "AccountsView")
    ),
    PageSpec("map", "Map", "map", _lazy("fieldrep.ui.map.map_home", "MapHome")),
    PageSpec(
        "referrals",
        "Referrals",
        "referrals",
        _lazy("fieldrep.ui.views.referrals_view", "ReferralsView"),
    ),
    PageSpec(
        "territories",
        "Territories",
        "territories",
        _lazy("fieldrep.ui.views.territories_view", "TerritoriesView"),
    ),
    PageSpec(
        "reports", "Reports", "reports", _lazy("fieldrep.ui.views.reports_view", "ReportsView")
    ),
    PageSpec(
        "conflicts",
        "Conflicts",
        "conflicts",
        _lazy("fieldrep.ui.views.conflicts_view", "ConflictsView"),
    ),
    # The manager's home; last so the other pages keep their Ctrl+number, and the page a manager
    # opens on (see MainWindow._restore_settings).
    PageSpec(
        "home", "Team", "user", _lazy("fieldrep.ui.views.manager_home_view", "ManagerHomeView")
    ),
    # Appended after the others so their Ctrl+number shortcuts stay the same: the manager's
    # approval queue; a rep follows their captured referrals' rewards here, read-only.
    PageSpec(
        "rewards", "Rewards", "referrals", _lazy("fieldrep.ui.views.rewards_view", "RewardsView")
    ),
)
