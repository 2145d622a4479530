"""The Accounts list after a write made elsewhere: its count and first page are read on a worker
(``AccountsTableModel.reload``), never on the GUI thread, and a newer refresh wins."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from fieldrep.services.context import Context
from fieldrep.store.accounts_repository import AccountFilter, AccountsRepository
from fieldrep.ui.models.accounts_table_model import AccountsTableModel
from fieldrep.ui.tasks import TaskRunner
from fieldrep.ui.views.accounts_view import AccountsView


def _names(model: AccountsTableModel) -> list[str]:
    return [model.data(model.index(row, 0)) for row in range(model.rowCount())]


def test_a_reload_keeps_the_old_rows_until_the_workers_read_arrives(
    qtbot: QtBot, ctx: Context, runner: TaskRunner
) -> None:
    ctx.writer.insert("accounts", {"name": "Alder Farm"})
    model = AccountsTableModel(AccountsRepository(ctx.conn), runner=runner)
    model.refresh()
    assert _names(model) == ["Alder Farm"]
    ctx.writer.insert("accounts", {"name": "Birch Dairy"})
    refreshes, done = model.refreshes, []

    model.reload(on_done=lambda: done.append(True))

    # Nothing read here: the result can only arrive through the event loop.
    assert model.reloading
    assert model.refreshes == refreshes
    assert (model.matching, model.total) == (1, 1)
    qtbot.waitUntil(lambda: bool(done))
    assert not model.reloading
    assert (model.matching, model.total) == (2, 2)
    assert _names(model) == ["Alder Farm", "Birch Dairy"]
    assert model.queries == 1  # the first page came from the worker, not from this thread


def test_a_refresh_made_meanwhile_wins_over_a_reloads_read(
    qtbot: QtBot, ctx: Context, runner: TaskRunner
) -> None:
    for name in ("Alder Farm", "Birch Dairy", "Cedar Mill"):
        ctx.writer.insert("accounts", {"name": name})
    model = AccountsTableModel(AccountsRepository(ctx.conn), runner=runner)
    model.refresh()
    done: list[bool] = []
    model.reload(on_done=lambda: done.append(True))

    model.set_filter(AccountFilter(text="Birch"))  # typed before the read came back

    runner.wait_for_idle()  # the read delivered, and dropped
    qtbot.wait(10)
    assert not done
    assert model.filter == AccountFilter(text="Birch")
    assert (model.matching, model.total) == (1, 3)
    assert _names(model) == ["Birch Dairy"]


def test_the_page_keeps_the_selected_row_across_a_write_made_elsewhere(
    qtbot: QtBot, ctx: Context, runner: TaskRunner
) -> None:
    ids = [ctx.writer.insert("accounts", {"name": n}) for n in ("Alder Farm", "Birch Dairy")]
    view = AccountsView(ctx, runner)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    view.select_account(ids[1])

    with qtbot.waitSignal(runner.changes.changed, timeout=5_000):
        ctx.writer.insert("accounts", {"name": "Cedar Mill"})  # sorts after both

    qtbot.waitUntil(lambda: view.model.matching == 3 and not view.model.reloading)
    assert view.selected_account_id() == ids[1]
    assert view.count_label.text() == "3 accounts"
