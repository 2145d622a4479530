"""The manager's home follows a sync: what the sync brings in reaches the figures through the one
change notification, with the page left open (issue 20)."""

from __future__ import annotations

from collections.abc import Callable

from pytestqt.qtbot import QtBot

from fieldrep.server import admin
from fieldrep.services.context import Context
from fieldrep.ui.sync_controller import SyncController
from fieldrep.ui.tasks import TaskRunner
from fieldrep.ui.views.manager_home_view import ManagerHomeView
from tests.sync.harness import account
from tests.ui.sync_support import Live, sign_in, sync


def _coverage(home: ManagerHomeView) -> str:
    titles = [card.title.text() for card in home.cards]
    card = home.cards[next(i for i, t in enumerate(titles) if t.startswith("Coverage"))]
    return card.detail.text()


def test_a_sync_that_brings_accounts_refreshes_the_open_team_page(
    qtbot: QtBot,
    ctx: Context,
    runner: TaskRunner,
    live: Live,
    make_sync: Callable[..., SyncController],
) -> None:
    admin.put_rows(live.storage, "accounts", [account(live.org.t1, f"Shop {i}") for i in range(3)])
    controller = make_sync()
    sign_in(qtbot, controller, live, "manager")
    home = ManagerHomeView(ctx, runner)
    qtbot.addWidget(home)
    with qtbot.waitSignal(home.refreshed, timeout=30_000):
        home.show()
    assert _coverage(home).startswith("0 of 3 accounts visited")
    opened = home.data

    admin.put_rows(
        live.storage,
        "accounts",
        [account(live.org.t1, "North new"), account(live.org.t2, "South new")],
    )
    with qtbot.waitSignal(home.refreshed, timeout=30_000):  # no click, no reopening
        outcome = sync(qtbot, controller)
        assert outcome.ok, outcome.problem
    assert home.data is not opened
    assert _coverage(home).startswith("0 of 5 accounts visited")
    assert home.isVisible()


def test_a_hidden_team_page_reads_nothing_until_shown_again(
    qtbot: QtBot, ctx: Context, runner: TaskRunner
) -> None:
    home = ManagerHomeView(ctx, runner)
    qtbot.addWidget(home)
    with qtbot.waitSignal(home.refreshed, timeout=30_000):
        home.show()
    assert _coverage(home).startswith("0 of 0 accounts")
    home.hide()
    built = []
    home.refreshed.connect(lambda: built.append(1))
    with qtbot.waitSignal(runner.changes.changed, timeout=5_000):
        ctx.writer.insert("accounts", {"name": "Arrived while hidden"})
    assert built == []
    with qtbot.waitSignal(home.refreshed, timeout=30_000):
        home.show()
    assert _coverage(home).startswith("0 of 1 account")
