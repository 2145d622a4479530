"""The Referrals page: the board's columns and totals, a drag-and-drop move, filters, the detail."""

from __future__ import annotations

import re

from PySide6.QtCore import QModelIndex, Qt
from pytestqt.qtbot import QtBot

from fieldrep.services.context import Context
from fieldrep.services.referrals.capture import ReferralService
from fieldrep.services.referrals.model import Stage
from fieldrep.ui.models.referral_board_model import ReferralBoardModel
from fieldrep.ui.tasks import TaskRunner
from fieldrep.ui.views.referrals_view import ReferralsView
from tests.services.referrals.conftest import draft
from tests.services.referrals.conftest import org as org  # the fixture


def _capture(ctx: Context, org: dict[str, str], **fields: object) -> str:
    result = ReferralService(ctx).capture(draft(org, **fields))
    assert result.referral_id is not None
    return result.referral_id


def test_dragging_a_card_to_another_column_moves_it_with_one_service_write(
    qtbot: QtBot, ctx: Context, org: dict[str, str], runner: TaskRunner
) -> None:
    ctx.set_user(org["boss"])  # a manager captures: Omar gets the follow-up task
    lead = _capture(ctx, org)
    ctx.set_user(org["omar"])  # its owner
    view = ReferralsView(ctx, runner)
    qtbot.addWidget(view)
    view.resize(1366, 768)
    view.show()
    board = view.board
    new, contacted = board.columns[Stage.NEW], board.columns[Stage.CONTACTED]
    assert [c.id for c in new.model.cards] == [lead]
    assert new.summary.text().startswith("1")
    # the drag carries the card; the drop on the Contacted column asks the service to move it
    source = new.model.index(0)
    data = new.model.mimeData([source])
    before = ctx.writer.pending_count()
    with qtbot.waitSignal(board.moved) as moved:
        dropped = contacted.model.dropMimeData(
            data, Qt.DropAction.MoveAction, -1, -1, QModelIndex()
        )
    assert dropped is False  # the view never removes the row itself
    assert moved.args[0].to_stage is Stage.CONTACTED
    assert ctx.conn.execute("SELECT stage FROM referrals WHERE id = ?", (lead,)).fetchone() == (
        "contacted",
    )
    # one referral update, one stage event, the first-contact task closed
    assert ctx.writer.pending_count() - before == 3
    assert new.model.rowCount() == 0
    assert [c.id for c in contacted.model.cards] == [lead]
    assert view.notice.text() == "Moved: New -> Contacted."


def test_a_refused_drop_says_why_and_keeps_the_card(
    qtbot: QtBot, ctx: Context, org: dict[str, str], runner: TaskRunner
) -> None:
    lead = _capture(ctx, org)  # Omar's; Ann is signed in
    view = ReferralsView(ctx, runner)
    qtbot.addWidget(view)
    new, won = view.board.columns[Stage.NEW], view.board.columns[Stage.WON]
    view.board.ask_value = lambda _parent, _name: 2500.0
    won.model.dropMimeData(
        new.model.mimeData([new.model.index(0)]), Qt.DropAction.MoveAction, -1, -1, QModelIndex()
    )
    qtbot.waitUntil(lambda: "only its owner (Omar) or a manager" in view.notice.text())
    assert [c.id for c in new.model.cards] == [lead]


def test_won_asks_the_value_and_lost_the_reason(
    qtbot: QtBot, ctx: Context, org: dict[str, str], runner: TaskRunner
) -> None:
    first = _capture(ctx, org)
    second = _capture(
        ctx,
        org,
        referred_name="Kim Park",
        referred_company="Park Bakery",
        phone="",
        email="kim@parkbakery.com",
        street="",
    )
    ctx.set_user(org["boss"])
    view = ReferralsView(ctx, runner)
    qtbot.addWidget(view)
    view.board.ask_value = lambda _parent, _name: 2500.0
    view.board.ask_reason = lambda _parent, _name: "Chose a competitor"
    tasks = [*view.board.move_cards([first], "won"), *view.board.move_cards([second], "lost")]
    qtbot.waitUntil(lambda: all(t.state.done for t in tasks))
    won = view.board.columns[Stage.WON]
    assert won.summary.text() == "1 · $2,500"
    row = ctx.conn.execute("SELECT lost_reason FROM referrals WHERE id = ?", (second,)).fetchone()
    assert row == ("Chose a competitor",)


def test_filters_go_to_sql_and_the_detail_shows_the_whole_history(
    qtbot: QtBot, ctx: Context, org: dict[str, str], runner: TaskRunner
) -> None:
    lead = _capture(ctx, org, relationship="his supplier")
    _capture(
        ctx,
        org,
        referred_name="Kim Park",
        referred_company="Park Bakery",
        phone="",
        email="kim@parkbakery.com",
        street="",
        postal_code="02139",
    )
    view = ReferralsView(ctx, runner)
    qtbot.addWidget(view)
    new = view.board.columns[Stage.NEW]
    assert new.model.rowCount() == 2
    view.territory.setCurrentIndex(view.territory.findText("Texas Metros"))
    assert [c.id for c in new.model.cards] == [lead]
    assert view.table_model.rowCount() == 1
    view.search.setText("park")  # applied once typing pauses
    qtbot.waitUntil(lambda: new.model.rowCount() == 0)
    view.territory.setCurrentIndex(0)
    view.search.clear()
    qtbot.waitUntil(lambda: new.model.rowCount() == 2)
    view.stage.setCurrentIndex(view.stage.findData("new"))
    assert view.table_model.rowCount() == 2
    view.stage.setCurrentIndex(view.stage.findData("won"))
    assert view.table_model.rowCount() == 0
    assert new.model.rowCount() == 2  # the board shows every stage whatever the table's
    view.stage.setCurrentIndex(0)
    rect = new.view.visualRect(new.model.index(0))
    qtbot.mouseClick(new.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert view.detail.isVisibleTo(view)
    texts = [view.detail.history.item(i).text() for i in range(view.detail.history.count())]
    assert texts[0].split(" · ")[1] == "Captured"
    assert any("Routed" in t for t in texts)
    assert view.detail.title.text() == new.model.cards[0].name
    shown = view.detail.referral_id
    relationship = ctx.conn.execute(
        "SELECT relationship FROM referrals WHERE id = ?", (shown,)
    ).fetchone()[0]
    assert view.detail.values["relationship"].text() == (relationship or "—")
    # captured a moment ago: said as people say it, in local time
    assert re.fullmatch(
        r"to be contacted, given today \d\d:\d\d", view.detail.values["consent"].text()
    )
    assert texts[0].split(" · ")[0].startswith("today ")


def test_the_board_pages_a_long_column(qtbot: QtBot, ctx: Context, org: dict[str, str]) -> None:
    for n in range(7):
        _capture(
            ctx,
            org,
            referred_name=f"Lead {n}",
            referred_company=f"Firm {n}",
            phone="",
            email=f"lead{n}@firm{n}.com",
            street="",
        )
    model = ReferralBoardModel(ctx.conn, Stage.NEW, page=3)
    model.set_filter(model.filter)
    assert model.rowCount() == 3
    assert model.canFetchMore(QModelIndex())
    model.fetchMore(QModelIndex())
    model.fetchMore(QModelIndex())
    assert model.rowCount() == 7
    assert not model.canFetchMore(QModelIndex())


def test_opening_the_page_links_a_person_captured_twice_offline(
    qtbot: QtBot, ctx: Context, org: dict[str, str], runner: TaskRunner
) -> None:
    first = _capture(ctx, org)  # Ann's, owned by Omar
    late = ctx.writer.insert(  # Bob's capture of the same phone, as a sync brought it
        "referrals",
        {
            "referred_name": "Sam Lee",
            "match_phone": "+12145550199",
            "captured_by_id": org["bob"],
            "owner_id": org["omar"],
            "created_at": "2099-01-01T00:00:00.000Z",
            "updated_at": "2099-01-01T00:00:00.000Z",
        },
    )
    ctx.set_user(org["omar"])
    view = ReferralsView(ctx, runner)
    qtbot.addWidget(view)
    assert view.board.columns[Stage.NEW].model.rowCount() == 2  # not shown yet
    view.show()
    qtbot.waitUntil(lambda: view.board.columns[Stage.NEW].model.rowCount() == 1)
    assert [c.id for c in view.board.columns[Stage.NEW].model.cards] == [first]
    # The linking is a write on the write lane: its answer may arrive after the page's refresh
    # on the change it announced.
    qtbot.waitUntil(
        lambda: "1 referral(s) captured twice while offline were linked" in view.notice.text()
    )
    linked = ctx.conn.execute("SELECT duplicate_of_id FROM referrals WHERE id = ?", (late,))
    assert linked.fetchone() == (first,)


def test_a_long_column_scrolls_with_a_scroll_bar_painted_like_the_app(
    qtbot: QtBot, ctx: Context, org: dict[str, str], runner: TaskRunner
) -> None:
    # A style sheet on the lists once reached their scroll bars, whose grooves then painted black.
    firms = (
        "Acorn",
        "Birch",
        "Cedar",
        "Dahlia",
        "Elm",
        "Fern",
        "Gorse",
        "Hazel",
        "Iris",
        "Juniper",
    )
    for n, firm in enumerate(firms):
        _capture(
            ctx,
            org,
            referred_name=f"{firm} Owner",
            referred_company=f"{firm} Trading",
            phone="",
            email=f"owner{n}@{firm.lower()}.com",
            street="",
        )
    view = ReferralsView(ctx, runner)
    qtbot.addWidget(view)
    view.resize(1366, 500)
    view.show()
    qtbot.waitExposed(view)
    bar = view.board.columns[Stage.NEW].view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.isVisible() and bar.maximum() > 0)
    image = bar.grab().toImage()
    dark = sum(
        image.pixelColor(x, y).lightness() < 60
        for x in range(image.width())
        for y in range(image.height())
    )
    assert dark < image.width() * image.height() // 10


def test_the_detail_moves_a_stage_as_a_user_write_and_says_why_it_was_refused(
    qtbot: QtBot, ctx: Context, org: dict[str, str], runner: TaskRunner
) -> None:
    lead = _capture(ctx, org)  # Omar's; Ann is signed in
    view = ReferralsView(ctx, runner)
    qtbot.addWidget(view)
    view.show_referral(lead)
    detail = view.detail
    detail.stage.setCurrentIndex(detail.stage.findData(Stage.CONTACTED.value))
    refused = detail.move_stage()
    assert refused is not None
    qtbot.waitUntil(lambda: refused.state.done)
    assert detail.notice.text().startswith("Not moved: ")
    assert "only its owner (Omar) or a manager" in detail.notice.text()
    assert ctx.conn.execute("SELECT stage FROM referrals WHERE id = ?", (lead,)).fetchone() == (
        "new",
    )
    ctx.set_user(org["omar"])
    with qtbot.waitSignal(detail.moved) as moved:
        detail.move_stage()
    assert moved.args[0].to_stage is Stage.CONTACTED
    assert detail.notice.text() == moved.args[0].message
    assert ctx.conn.execute("SELECT stage FROM referrals WHERE id = ?", (lead,)).fetchone() == (
        "contacted",
    )
