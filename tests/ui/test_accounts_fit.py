"""Accounts on a 1366 x 768 laptop (issue 16, point 4): the default columns fit, the name first;
the open account shows how to reach it, with links, and empty lists say what would be there."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from fieldrep.services.context import Context
from fieldrep.ui.models.accounts_table_model import COLUMNS
from fieldrep.ui.tasks import TaskRunner
from fieldrep.ui.views.account_detail_panel import EMPTY_TABS
from fieldrep.ui.views.accounts_columns import NAME_ENOUGH
from fieldrep.ui.views.accounts_view import AccountsView

# The Accounts page's share of a maximised 1366-pixel window (the sidebar takes 224).
PAGE_WIDTH, PAGE_HEIGHT = 1366 - 224, 768 - 80


def test_the_default_columns_fit_without_a_horizontal_scroll(
    qtbot: QtBot, ctx: Context, runner: TaskRunner
) -> None:
    ctx.writer.insert_many(
        "accounts", [{"name": f"Abbott & Brennan Moving & Storage {i}"} for i in range(40)]
    )
    view = AccountsView(ctx, runner)
    qtbot.addWidget(view)
    view.resize(PAGE_WIDTH, PAGE_HEIGHT)
    view.show()
    qtbot.waitExposed(view)
    assert view.table.horizontalScrollBar().maximum() == 0
    assert view.table.horizontalHeader().logicalIndexAt(5) == 0  # the name is the first column
    assert view.table.columnWidth(0) >= 200


def test_a_wide_window_gives_long_values_room_once_the_name_has_enough(
    qtbot: QtBot, ctx: Context, runner: TaskRunner
) -> None:
    ctx.writer.insert_many(
        "accounts",
        [{"name": f"Shop {i}", "industry": "Professional Services"} for i in range(40)],
    )
    view = AccountsView(ctx, runner)
    qtbot.addWidget(view)
    view.resize(1920 - 224, 1080 - 80)
    view.show()
    qtbot.waitExposed(view)
    industry = [key for key, _, _ in COLUMNS].index("industry")
    text = view.table.fontMetrics().horizontalAdvance("Professional Services")
    qtbot.waitUntil(lambda: view.table.columnWidth(industry) > text)
    assert view.table.columnWidth(0) >= NAME_ENOUGH
    assert view.table.horizontalScrollBar().maximum() == 0
    # Back on a laptop: the set widths again, the name as wide as before.
    view.resize(PAGE_WIDTH, PAGE_HEIGHT)
    qtbot.waitUntil(lambda: view.table.columnWidth(industry) == COLUMNS[industry][2])
    assert view.table.horizontalScrollBar().maximum() == 0
    assert view.table.columnWidth(0) >= 200


def test_the_open_account_offers_call_mail_and_maps_links(
    qtbot: QtBot, ctx: Context, runner: TaskRunner
) -> None:
    account = ctx.writer.insert(
        "accounts",
        {
            "name": "Bayside Bakery",
            "phone": "+1 (617) 555-0100",
            "email": "hello@bayside.example",
            "street": "1 Harbor St",
            "city": "Boston",
        },
    )
    view = AccountsView(ctx, runner)
    qtbot.addWidget(view)
    view.resize(PAGE_WIDTH, PAGE_HEIGHT)
    view.show()
    qtbot.waitExposed(view)
    view.open_account(account)
    qtbot.wait(10)  # the layout settles
    links = view.panel.links.text()
    assert "href='tel:+16175550100'" in links
    assert "mailto:hello@bayside.example" in links
    assert "openstreetmap.org/search?query=1%20Harbor%20St%2C%20Boston" in links
    for key in ("phone", "email", "street", "city"):  # in view without scrolling the fields
        edit = view.panel.edits[key]
        shown = edit.visibleRegion().boundingRect()
        assert shown.height() == edit.height(), key
    visits = view.panel.lists["visits"]
    assert visits.topLevelItem(0).text(0) == EMPTY_TABS["visits"]


def test_a_rep_starts_on_my_accounts_and_clears_it_with_the_chip(
    qtbot: QtBot, ctx: Context, runner: TaskRunner
) -> None:
    rep = ctx.writer.insert("users", {"username": "ann", "display_name": "Ann", "role": "rep"})
    other = ctx.writer.insert("users", {"username": "bo", "display_name": "Bo", "role": "rep"})
    ctx.set_user(rep)
    ctx.writer.insert_many(
        "accounts",
        [
            {"name": "Mine 1", "owner_id": rep},
            {"name": "Mine 2", "owner_id": rep},
            {"name": "Bo's", "owner_id": other},
        ],
    )
    runner.changes.flush()
    view = AccountsView(ctx, runner)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    assert view.model.matching == 2
    assert view.mine_chip.isVisible()
    qtbot.mouseClick(view.mine_chip, Qt.MouseButton.LeftButton)
    assert view.model.matching == 3
    assert not view.mine_chip.isVisible()


def test_a_manager_starts_on_every_account(qtbot: QtBot, ctx: Context, runner: TaskRunner) -> None:
    boss = ctx.writer.insert("users", {"username": "mo", "role": "manager"})
    ctx.set_user(boss)
    ctx.writer.insert_many("accounts", [{"name": "A", "owner_id": boss}, {"name": "B"}])
    runner.changes.flush()
    view = AccountsView(ctx, runner)
    qtbot.addWidget(view)
    view.show()
    assert view.model.matching == 2
    assert not view.mine_chip.isVisible()
