"""Every page shows what sync (or any other writer) changed, at once: the change notification."""

from __future__ import annotations

from collections.abc import Callable

from pytestqt.qtbot import QtBot

from fieldrep.server import admin
from fieldrep.services.context import Context
from fieldrep.store.changes import Changes
from fieldrep.ui.main_window import MainWindow
from fieldrep.ui.sync_controller import SyncController
from fieldrep.ui.tasks import Progress, TaskKind, TaskRunner
from fieldrep.ui.views.accounts_view import AccountsView
from tests.sync.harness import account
from tests.ui.sync_support import Live, sign_in


def _names_shown(view: AccountsView) -> set[str]:
    model = view.model
    return {model.data(model.index(row, 0)) for row in range(model.rowCount())}


def test_a_reps_first_sync_fills_the_accounts_list_without_touching_search(
    qtbot: QtBot,
    live: Live,
    make_sync: Callable[..., SyncController],
    window_with_sync: Callable[..., MainWindow],
) -> None:
    north = [f"North account {i:03d}" for i in range(112)]
    admin.put_rows(live.storage, "accounts", [account(live.org.t1, name) for name in north])
    admin.put_rows(live.storage, "accounts", [account(live.org.t2, "Someone else's account")])
    controller = make_sync()
    window = window_with_sync(controller)
    window.show_page("accounts")
    view = window.page("accounts")
    assert isinstance(view, AccountsView)
    assert view.model.matching == 0
    territory_filter = view.filters["territory_id"]
    assert territory_filter.findText("North") == -1

    sign_in(qtbot, controller, live, "rep1")

    qtbot.waitUntil(lambda: view.model.matching == len(north), timeout=10_000)
    assert _names_shown(view) == set(north)
    assert view.count_label.text() == "112 accounts"
    assert view.search.text() == ""
    assert territory_filter.findText("North") > 0  # the filter offers the rep's territory


def test_an_open_account_and_the_today_count_follow_a_write_made_elsewhere(
    qtbot: QtBot, ctx: Context, runner: TaskRunner
) -> None:
    account_id = ctx.writer.insert("accounts", {"name": "Bayside Bakery"})
    view = AccountsView(ctx, runner)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    view.open_account(account_id)
    assert view.panel.title.text() == "Bayside Bakery"

    def rename(db_path: object, _progress: Progress) -> None:
        worker = Context.open(db_path)  # type: ignore[arg-type]
        try:
            worker.writer.update("accounts", account_id, {"name": "Bayside Bakery & Cafe"})
        finally:
            worker.close()

    with qtbot.waitSignal(runner.changes.changed, timeout=5_000) as blocker:
        runner.run(rename, kind=TaskKind.WRITE)
    assert isinstance(blocker.args[0], Changes)
    assert blocker.args[0].touches("accounts")
    qtbot.waitUntil(lambda: view.panel.title.text() == "Bayside Bakery & Cafe")
    assert _names_shown(view) == {"Bayside Bakery & Cafe"}


def test_an_unsaved_edit_in_the_open_account_survives_a_refresh(
    qtbot: QtBot, ctx: Context, runner: TaskRunner
) -> None:
    account_id = ctx.writer.insert("accounts", {"name": "Bayside Bakery", "city": "Leeds"})
    view = AccountsView(ctx, runner)
    qtbot.addWidget(view)
    view.show()
    view.open_account(account_id)
    view.panel.edits["phone"].setText("0113 496 0000")  # typed, not saved

    with qtbot.waitSignal(runner.changes.changed, timeout=5_000):
        ctx.writer.update("accounts", account_id, {"city": "York"})

    assert view.panel.edits["phone"].text() == "0113 496 0000"
    assert _names_shown(view) == {"Bayside Bakery"}


def test_a_hidden_page_refreshes_when_shown_again(
    qtbot: QtBot, ctx: Context, runner: TaskRunner
) -> None:
    view = AccountsView(ctx, runner)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    view.hide()
    refreshes = view.model.refreshes
    with qtbot.waitSignal(runner.changes.changed, timeout=5_000):
        ctx.writer.insert("accounts", {"name": "Arrived while hidden"})
    assert view.model.refreshes == refreshes  # no work for a page nobody sees
    view.show()
    qtbot.waitUntil(lambda: view.count_label.text() == "1 account")
    assert _names_shown(view) == {"Arrived while hidden"}


def test_a_burst_of_commits_is_one_signal(qtbot: QtBot, ctx: Context, runner: TaskRunner) -> None:
    seen: list[Changes] = []
    runner.changes.changed.connect(seen.append)

    def many(db_path: object, _progress: Progress) -> None:
        worker = Context.open(db_path)  # type: ignore[arg-type]
        try:
            for i in range(200):
                worker.writer.insert("accounts", {"name": f"Account {i}"})
            worker.writer.insert("territories", {"name": "North"})
        finally:
            worker.close()

    task = runner.run(many, kind=TaskKind.WRITE)
    qtbot.waitUntil(lambda: task.state.done and seen and seen[-1].touches("territories"))
    # 201 commits, a handful of signals (one per MIN_GAP_MS at most), every table in them
    assert len(seen) < 20
    assert set().union(*(c.tables for c in seen)) >= {"accounts", "territories"}
