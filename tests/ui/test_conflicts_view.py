"""The Conflicts page on conflicts made by two real clients editing the same field through the real
server: both values shown, Keep yours and Accept other both work, and the decision syncs."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from fieldrep.domain.hlc import parse_clock
from fieldrep.services.context import Context
from fieldrep.ui.models.conflicts_table_model import COL_FIELD, COL_NAME, COL_OTHER, COL_YOURS
from fieldrep.ui.tasks import TaskRunner
from fieldrep.ui.views.conflicts_view import ConflictsView
from tests.sync.harness import Laptop, server_row
from tests.ui.sync_support import Live, SyncApp, sign_in, sync


def _edit_before(
    ctx: Context, other: Laptop, row_id: str, field: str, mine: str, theirs: str
) -> None:
    """This laptop edits first; the other laptop edits the same field later and syncs first."""
    ctx.writer.update("accounts", row_id, {field: mine})
    clock = ctx.db.conn.execute(
        "SELECT clocks FROM outbox WHERE row_id = ? ORDER BY seq DESC", (row_id,)
    ).fetchone()[0]
    other.writer.clock.observe(parse_clock(json.loads(clock)[field])[0])
    other.writer.update("accounts", row_id, {field: theirs})
    other.sync()


def _cell(view: ConflictsView, row: int, column: int) -> str:
    return str(view.model.index(row, column).data())


def test_conflicts_from_two_clients_are_shown_and_both_resolutions_sync(
    qtbot: QtBot,
    ctx: Context,
    live: Live,
    sync_app: SyncApp,
) -> None:
    a1 = live.put_account("Acme Ltd")
    a2 = live.put_account("Birch & Sons")
    controller, window = sync_app.controller, sync_app.window
    sign_in(qtbot, controller, live)
    boss = live.laptop("boss", "manager")
    _edit_before(ctx, boss, a1, "notes", "Wants a demo in May", "Budget frozen until Q3")
    _edit_before(ctx, boss, a2, "phone", "555-0101", "555-0199")

    outcome = sync(qtbot, controller)
    assert outcome.ok, outcome.problem
    assert outcome.result is not None
    assert outcome.result.conflicts == 2
    window.refresh_status()
    assert window.status.conflicts_text == "⚠ 2 conflicts to review"

    qtbot.mouseClick(window.status.conflicts_button, Qt.MouseButton.LeftButton)
    assert window.current_page_key == "conflicts"
    view = window.page("conflicts")
    assert isinstance(view, ConflictsView)
    assert view.model.rowCount() == 2
    rows = {_cell(view, r, COL_NAME): r for r in range(2)}
    assert set(rows) == {"Acme Ltd", "Birch & Sons"}
    acme, birch = rows["Acme Ltd"], rows["Birch & Sons"]
    assert (_cell(view, acme, COL_FIELD), _cell(view, acme, COL_YOURS)) == (
        "Notes",
        "Wants a demo in May",
    )
    assert _cell(view, acme, COL_OTHER) == "Budget frozen until Q3"
    assert (_cell(view, birch, COL_YOURS), _cell(view, birch, COL_OTHER)) == (
        "555-0101",
        "555-0199",
    )

    # Keep yours on Acme: a new edit that wins at the next sync.
    view.table.selectRow(acme)
    assert view.detail_title.text() == "Account · Acme Ltd — Notes"
    assert view.yours_value.text() == "Wants a demo in May"
    assert view.other_value.text() == "Budget frozen until Q3"
    assert view.keep_button.isEnabled()
    with qtbot.waitSignal(view.resolved, timeout=30_000) as kept:
        qtbot.mouseClick(view.keep_button, Qt.MouseButton.LeftButton)
    assert kept.args[1] == "kept_yours"
    assert view.message_label.text() == "Saved as a new change; it is sent at the next sync."
    assert view.model.rowCount() == 1
    assert ctx.writer.pending_count() == 1

    # Accept the other phone number: the laptop already shows it, nothing new to send.
    assert view.selected() is not None
    assert view.detail_title.text() == "Account · Birch & Sons — Phone"
    with qtbot.waitSignal(view.resolved, timeout=30_000) as accepted:
        qtbot.mouseClick(view.accept_button, Qt.MouseButton.LeftButton)
    assert accepted.args[1] == "accepted_other"
    assert view.model.rowCount() == 0
    assert view.list_stack.currentWidget() is view.empty_label
    assert not view.detail.isVisible()

    assert sync(qtbot, controller).ok
    assert ctx.writer.pending_count() == 0
    window.refresh_status()
    assert window.status.conflicts_text == ""
    stored1, stored2 = (
        server_row(live.storage, "accounts", a1),
        server_row(live.storage, "accounts", a2),
    )
    assert stored1 is not None
    assert stored2 is not None
    assert stored1["notes"] == "Wants a demo in May"
    assert stored2["phone"] == "555-0199"
    boss.sync()
    assert boss.rows("accounts")[a1]["notes"] == "Wants a demo in May"
    assert boss.rows("accounts")[a2]["phone"] == "555-0199"
    boss.close()


def test_an_empty_conflicts_page_says_what_it_is_for(
    qtbot: QtBot, ctx: Context, runner: TaskRunner
) -> None:
    view = ConflictsView(ctx, runner)
    qtbot.addWidget(view)
    view.show()
    assert view.model.rowCount() == 0
    assert view.list_stack.currentWidget() is view.empty_label
    assert view.empty_label.text().startswith("No conflicts to review.")
    assert view.keep_yours() is None


def test_a_refused_change_stays_and_can_be_sent_again_or_discarded(
    qtbot: QtBot, live: Live
) -> None:
    """What the server refuses stays on the laptop, marked; the page sends it again (whole) or,
    once the user confirms, discards it."""
    from fieldrep.server import admin
    from tests.sync.harness import account

    (south,) = admin.put_rows(live.storage, "accounts", [account(live.org.t2, "South's")])
    rep = live.laptop("rep1", "rep1")
    visit = rep.writer.insert(
        "visits", {"account_id": south, "user_id": live.org.rep2, "visited_at": "2024-01-01"}
    )
    assert rep.sync().rejected == 1
    runner = TaskRunner(rep.ctx.path)
    view = ConflictsView(rep.ctx, runner)
    qtbot.addWidget(view)
    view.show()
    view.table.selectRow(0)
    assert view.selected() is not None
    assert view.keep_button.text() == "Send again"
    assert view.accept_button.text() == "Discard..."
    assert view.hand_button.isHidden()  # a visit has no owner to hand over
    assert "outside your territories" in view.detail_summary.text()

    with qtbot.waitSignal(view.resolved, timeout=30_000):
        qtbot.mouseClick(view.keep_button, Qt.MouseButton.LeftButton)
    assert view.message_label.text() == "Queued; it is sent again at the next sync."
    assert rep.writer.pending_count() == 1
    again = rep.sync()
    assert again.rejected == 1  # still not allowed: it stays, marked
    assert visit in rep.rows("visits")

    asked: list[str] = []
    view.confirm_discard = lambda item: asked.append(item.row_id) is None and False
    view.reload()
    assert view.accept_other() is None  # the user said no: nothing happens
    assert asked == [visit]
    assert visit in rep.rows("visits")
    view.confirm_discard = lambda item: True
    with qtbot.waitSignal(view.resolved, timeout=30_000):
        qtbot.mouseClick(view.accept_button, Qt.MouseButton.LeftButton)
    assert view.model.rowCount() == 0
    assert visit not in rep.rows("visits")
    assert rep.sync().verified is True
    runner.shutdown()
    rep.close()
