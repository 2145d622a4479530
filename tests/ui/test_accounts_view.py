"""The Accounts page with real widgets offscreen: search, filters, sort, paging, edits, visits, import."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import openpyxl
import pytest
from PySide6 import QtGui
from PySide6.QtCore import QModelIndex, QSettings, Qt
from PySide6.QtGui import QPalette, QTextDocument
from PySide6.QtWidgets import (
    QLabel,
    QMessageBox,
    QStyle,
    QStyleOptionComboBox,
    QStyleOptionViewItem,
)
from pytestqt.qtbot import QtBot

from fieldrep.geo.geocoder_settings import save_settings
from fieldrep.services.context import Context
from fieldrep.store.accounts_repository import Sort
from fieldrep.ui import theme
from fieldrep.ui.dates import long_date
from fieldrep.ui.main_window import MainWindow
from fieldrep.ui.models.accounts_table_model import ID_ROLE, PAGE_SIZE
from fieldrep.ui.tasks import Progress, TaskRunner, TaskState
from fieldrep.ui.views.account_detail_panel import TABS_MIN_HEIGHT
from fieldrep.ui.views.accounts_view import AccountsView
from fieldrep.ui.widgets.task_progress import TaskProgressWidget
from tests.geo.nominatim_server import running_nominatim, settings_for


@pytest.fixture
def view(ctx: Context, runner: TaskRunner, qtbot: QtBot) -> Iterator[AccountsView]:
    user = ctx.writer.insert("users", {"username": "ann", "display_name": "Ann Rep"})
    ctx.set_user(user)
    north = ctx.writer.insert("territories", {"name": "North"})
    rows = [
        {
            "name": f"Shop {i:04d}",
            "city": "Boston",
            "status": "active" if i % 2 else "prospect",
            "industry": "Retail" if i % 3 else "Food",
            "potential": float(i),
            "territory_id": north if i < 10 else None,
        }
        for i in range(1000)
    ]
    rows.append({"name": "Bayside Bakery", "city": "Cambridge", "notes": "likes croissants"})
    ctx.writer.insert_many("accounts", rows)
    runner.changes.flush()  # the page reads these writes when it is built
    widget = AccountsView(ctx, runner)
    qtbot.addWidget(widget)
    widget.resize(1200, 800)
    widget.show()
    yield widget
    runner.wait_for_idle()


def test_counts_paging_and_sorting(view: AccountsView, qtbot: QtBot) -> None:
    model = view.model
    assert view.count_label.text() == "1,001 accounts"
    assert model.rowCount() == 1001
    assert model.data(model.index(0, 0)) == "Bayside Bakery"
    # Only the pages looked at are loaded, never the whole table.
    assert model.data(model.index(999, 0)) == "Shop 0998"
    assert model.cached_rows <= 2 * PAGE_SIZE
    view.table.sortByColumn(5, Qt.SortOrder.DescendingOrder)  # potential
    qtbot.waitUntil(lambda: not model.sorting, timeout=10_000)
    assert model.data(model.index(0, 0)) == "Shop 0999"
    assert model.data(model.index(0, 5)) == "$999"


def test_a_new_order_is_read_on_a_worker_and_the_list_stays_until_it_arrives(
    view: AccountsView, qtbot: QtBot
) -> None:
    """Sorting by an unindexed column costs SQL a sort of every account (0.1-0.2 s on 100,000):
    not on the GUI thread. The list shows its rows meanwhile, then the new order."""
    model = view.model
    queries = model.queries
    view.table.sortByColumn(3, Qt.SortOrder.DescendingOrder)  # status
    assert model.sorting
    assert model.data(model.index(0, 0)) == "Bayside Bakery"  # as it was
    assert model.queries == queries  # the page on screen was cached: nothing read here
    qtbot.waitUntil(lambda: not model.sorting, timeout=10_000)
    assert model.sort_order.key == "status"
    expected = model.repository.page(model.filter, model.sort_order, limit=3)
    assert [model.account_id(r) for r in range(3)] == [row[0] for row in expected]
    # A filter chosen before the page arrives applies the order the header shows at once.
    view.table.sortByColumn(5, Qt.SortOrder.DescendingOrder)  # potential
    view.set_filter_value("industry", "Food")
    assert not model.sorting
    assert model.sort_order.key == "potential"
    assert model.data(model.index(0, 0)) == "Shop 0999"
    runner = view.runner
    runner.wait_for_idle()
    assert model.sort_order.key == "potential"  # the late page changed nothing


def test_the_selected_account_stays_selected_in_the_new_order(
    view: AccountsView, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its row in the new order is read on the worker with the page: none of it on this thread."""
    model = view.model
    (picked,) = model.repository.conn.execute(
        "SELECT id FROM accounts WHERE name = 'Shop 0998'"
    ).fetchone()
    assert view.select_account(picked)
    by_potential = Sort("potential")
    expected = model.repository.position(model.filter, by_potential, picked)
    assert expected > PAGE_SIZE  # not on the page read with the new order

    def not_here(*_args: object) -> None:
        raise AssertionError("the row was looked up on the GUI thread")

    monkeypatch.setattr(model.repository, "position", not_here)
    view.table.sortByColumn(5, Qt.SortOrder.AscendingOrder)  # potential
    qtbot.waitUntil(lambda: not model.sorting, timeout=10_000)
    assert model.sort_order == by_potential
    assert view.selected_account_id() == picked
    row = view.table.currentIndex().row()
    assert row == expected
    assert view.table.visualRect(model.index(row, 0)).intersects(view.table.viewport().rect())


def test_a_row_picked_while_the_new_order_is_read_stays_picked(
    view: AccountsView, qtbot: QtBot
) -> None:
    model = view.model
    view.table.sortByColumn(3, Qt.SortOrder.DescendingOrder)  # status
    assert model.sorting
    view.table.selectRow(2)  # the user clicks a row of the list still on screen
    picked = view.selected_account_id()
    assert picked is not None
    qtbot.waitUntil(lambda: not model.sorting, timeout=10_000)
    assert view.selected_account_id() == picked


def test_closing_while_a_new_order_is_read_leaves_the_list_alone(
    view: AccountsView, qtbot: QtBot
) -> None:
    model = view.model
    runner = view.runner

    def busy(_db: object, progress: Progress) -> None:  # the read lane full (rank builds, export)
        progress.sleep(120)  # wakes and raises Cancelled when the runner shuts down
        raise AssertionError("the runner's shutdown did not cancel its running work")

    for _ in range(4):
        runner.run(busy, quiet=True, on_cancelled=lambda: None)
    view.table.sortByColumn(3, Qt.SortOrder.DescendingOrder)  # status: queued behind them
    assert model.sorting
    resets = model.refreshes
    runner.shutdown()  # quit, or File > Open database
    assert not model.sorting
    assert model.refreshes == resets  # no SQL on a database being closed, no half reset
    assert model.data(model.index(0, 0)) == "Bayside Bakery"


def test_a_new_order_under_a_filter_is_read_on_a_worker_even_with_its_rank_ready(
    view: AccountsView, qtbot: QtBot
) -> None:
    """Ranks page the whole list or a search, not a filtered list: that one is SQL."""
    model = view.model
    model.prepare_quick_search()
    view.table.sortByColumn(5, Qt.SortOrder.DescendingOrder)
    qtbot.waitUntil(lambda: model.rank_ready and not model.sorting, timeout=10_000)
    view.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    qtbot.waitUntil(lambda: not model.sorting, timeout=10_000)
    view.set_filter_value("status", "active")
    view.table.sortByColumn(5, Qt.SortOrder.DescendingOrder)  # ranked, but filtered
    assert model.sorting
    qtbot.waitUntil(lambda: not model.sorting, timeout=10_000)
    assert model.data(model.index(0, 0)) == "Shop 0999"


def test_search_as_you_type_is_debounced(view: AccountsView, qtbot: QtBot) -> None:
    refreshes = view.model.refreshes
    with qtbot.waitSignal(view.search_applied, timeout=5000) as signal:
        qtbot.keyClicks(view.search, "croiss")
    assert signal.args == ["croiss"]
    assert view.model.refreshes == refreshes + 1  # one query for six keystrokes
    assert view.count_label.text() == "1 of 1,001 accounts"
    assert view.model.data(view.model.index(0, 0)) == "Bayside Bakery"
    qtbot.keyClick(view.search, Qt.Key.Key_Escape)
    assert view.search.text() == ""
    assert view.model.rowCount() == 1001


def test_quick_search_path_matches_sql_and_survives_edits(
    view: AccountsView, qtbot: QtBot, ctx: Context
) -> None:
    model = view.model
    line = TaskProgressWidget()  # as in the status bar: housekeeping is not shown
    qtbot.addWidget(line)
    line.attach(view.runner)
    model.prepare_quick_search()  # what the page does a second after it opened
    model.sort(1, Qt.SortOrder.DescendingOrder)  # a new order: its rank is built in the background
    assert any(t.label == "Preparing quick search" for t in view.runner.active_tasks)
    assert line.task is None
    model.sort(0, Qt.SortOrder.AscendingOrder)
    qtbot.waitUntil(lambda: model.rank_ready, timeout=10_000)
    view.search.setText("shop 09")
    view.apply_filters()
    assert model.fast_searches == 1
    assert model.rowCount() == 100  # Shop 0900 .. Shop 0999
    assert [model.data(model.index(r, 0)) for r in (0, 1, 99)] == [
        "Shop 0900",
        "Shop 0901",
        "Shop 0999",
    ]
    # A rename makes the rank stale: the SQL path answers (right at once), a new rank follows.
    shop = ctx.db.execute("SELECT id FROM accounts WHERE name = 'Shop 0950'").fetchone()[0]
    view.service.update(shop, {"name": "Shop 0900a"})
    view.runner.changes.flush()  # the page refreshes from the change notification now, not later
    model.refresh()
    assert not model.rank_ready
    assert model.fast_searches == 1
    assert [model.data(model.index(r, 0)) for r in (0, 1, 2)] == [
        "Shop 0900",
        "Shop 0900a",
        "Shop 0901",
    ]
    qtbot.waitUntil(lambda: model.rank_ready, timeout=10_000)
    view.apply_filters()
    assert model.fast_searches == 2
    assert [model.data(model.index(r, 0)) for r in (0, 1, 2)] == [
        "Shop 0900",
        "Shop 0900a",
        "Shop 0901",
    ]
    view.table.sortByColumn(5, Qt.SortOrder.DescendingOrder)  # potential, SQL until ranked
    qtbot.waitUntil(lambda: not model.sorting, timeout=10_000)
    assert model.data(model.index(0, 0)) == "Shop 0999"
    qtbot.waitUntil(lambda: model.rank_ready, timeout=10_000)
    fast = model.fast_searches  # 2, or 3 if the rank came before the first page
    view.apply_filters()
    assert model.fast_searches == fast + 1
    assert model.data(model.index(0, 0)) == "Shop 0999"


def test_the_industry_list_is_read_in_the_background_a_second_after_start(
    view: AccountsView, qtbot: QtBot
) -> None:
    """DISTINCT over a big book is a scan of every account: not on the GUI thread."""
    industry = view.filters["industry"]
    assert industry.count() == 1
    qtbot.waitUntil(lambda: industry.count() == 3, timeout=10_000)
    assert [industry.itemText(i) for i in range(3)] == ["Industry", "Food", "Retail"]
    industry.showPopup()  # nothing read again
    assert industry.count() == 3
    industry.hidePopup()


def test_filters_combine(view: AccountsView) -> None:
    industry = view.filters["industry"]
    assert industry.count() == 1  # filled when opened, if before the background read
    industry.showPopup()
    assert [industry.itemText(i) for i in range(industry.count())] == [
        "Industry",
        "Food",
        "Retail",
    ]
    industry.hidePopup()
    view.set_filter_value("status", "active")
    assert view.model.rowCount() == 500
    view.set_filter_value("industry", "Food")
    assert view.model.rowCount() == 167
    (north,) = [
        view.filters["territory_id"].itemData(i)
        for i in range(view.filters["territory_id"].count())
        if view.filters["territory_id"].itemText(i) == "North"
    ]
    view.set_filter_value("territory_id", north)
    assert view.model.rowCount() == 2  # Shop 0003 and 0009
    assert view.count_label.text() == "2 of 1,001 accounts"
    view.set_filter_value("not_visited_days", 30)
    assert view.model.rowCount() == 2
    view.clear_filters()
    assert view.model.rowCount() == 1001


def test_open_edit_validate_undo_with_keyboard(
    view: AccountsView, qtbot: QtBot, ctx: Context
) -> None:
    view.table.setFocus()
    view.table.selectRow(0)
    qtbot.keyClick(view.table, Qt.Key.Key_Return)
    panel = view.panel
    assert panel.isVisible()
    assert panel.title.text() == "Bayside Bakery"
    panel.edits["email"].setText("not an email")
    refused = panel.save()
    assert refused is not None
    assert not panel.save_button.isEnabled()  # Save waits for its write
    qtbot.waitUntil(lambda: refused.state.done)
    assert "email" in panel.error.text()
    assert panel.edits["email"].styleSheet() != ""
    assert panel.edits["email"].hasFocus()
    assert panel.edits["email"].text() == "not an email"  # the form as typed
    assert panel.save_button.isEnabled()
    panel.edits["email"].setText("hello@bayside.example")
    panel.edits["name"].setText("Bayside Bakes")
    with qtbot.waitSignal(panel.account_changed):
        qtbot.keyClick(panel.edits["name"], Qt.Key.Key_Return)
    assert ctx.db.execute("SELECT email FROM accounts WHERE name = 'Bayside Bakes'").fetchone() == (
        "hello@bayside.example",
    )
    assert view.model.data(view.model.index(0, 0)) == "Bayside Bakes"
    assert panel.undo_button.isEnabled()
    with qtbot.waitSignal(panel.account_changed):
        qtbot.mouseClick(panel.undo_button, Qt.MouseButton.LeftButton)
    assert ctx.db.execute(
        "SELECT email FROM accounts WHERE name = 'Bayside Bakery'"
    ).fetchone() == (None,)
    qtbot.keyClick(panel.edits["name"], Qt.Key.Key_Escape)
    assert not panel.isVisible()


def test_delete_asks_first(view: AccountsView, ctx: Context, qtbot: QtBot) -> None:
    view.open_row(0)
    view.panel.ask_delete()
    box = view.panel.confirm_box
    assert box is not None
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert ctx.db.execute("SELECT count(*) FROM accounts").fetchone()[0] == 1001
    view.panel.ask_delete()
    box = view.panel.confirm_box
    assert box is not None
    with qtbot.waitSignal(view.panel.account_deleted):
        box.button(QMessageBox.StandardButton.Yes).click()
    assert ctx.db.execute("SELECT count(*) FROM accounts").fetchone()[0] == 1000
    assert view.model.rowCount() == 1000
    assert not view.panel.isVisible()


def test_log_visit_in_two_clicks_and_today(view: AccountsView, qtbot: QtBot, ctx: Context) -> None:
    view.open_row(0)
    qtbot.mouseClick(view.panel.visit_button, Qt.MouseButton.LeftButton)  # click 1
    dialog = view.account_actions.dialogs[-1]
    dialog.next_step.setText("Bring samples")
    # Logged late: a visit ten days ago whose follow-up fell due since shows in Today.
    dialog.when.setDateTime(dialog.when.dateTime().addDays(-10))
    dialog.due.setDate(dialog.due.date().addDays(-10))
    with qtbot.waitSignal(dialog.logged):
        qtbot.mouseClick(dialog.log_button, Qt.MouseButton.LeftButton)  # click 2
    assert ctx.db.execute("SELECT outcome FROM visits").fetchall() == [("met",)]
    # last visit column: past a week, the date itself
    ten_days_ago = long_date(date.today() - timedelta(days=10))
    assert view.model.data(view.model.index(0, 8)) == ten_days_ago
    assert view.panel.tabs.tabText(1) == "Visits 1"
    assert view.today_button.text() == "Today (1)"
    today = view.account_actions.open_today()
    assert today.tree.topLevelItemCount() == 1
    assert today.heading.text() == "1 task due, 1 overdue"
    assert today.tree.topLevelItem(0).text(1) == "Bring samples"
    assert not today.empty.isVisible()
    with qtbot.waitSignal(today.task_completed):
        today.complete_selected()
    qtbot.waitUntil(lambda: today.tree.topLevelItemCount() == 0)
    assert today.empty.isVisible()  # says why the list is empty instead of a bare table
    assert not today.tree.isVisible()
    assert view.today_button.text() == "Today"
    today.close()


def test_ctrl_l_logs_a_visit_to_the_selected_row(
    view: AccountsView, qtbot: QtBot, ctx: Context
) -> None:
    view.table.setFocus()
    view.table.selectRow(1)
    qtbot.keyClick(view.table, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    dialog = view.account_actions.dialogs[-1]
    assert dialog.account_id == view.model.account_id(1)
    with qtbot.waitSignal(dialog.logged):
        qtbot.mouseClick(dialog.log_button, Qt.MouseButton.LeftButton)
    assert ctx.db.execute("SELECT account_id FROM visits").fetchall() == [(dialog.account_id,)]


def _create(qtbot: QtBot, view: AccountsView, name: str) -> str:
    """Create an account through the page (a user write) and wait until it opened."""
    task = view.create_account(name)
    qtbot.waitUntil(lambda: task.state.done)
    assert task.state is TaskState.SUCCEEDED, task.error
    return str(task.result[0])


def test_new_account_with_ctrl_n_path(view: AccountsView, ctx: Context, qtbot: QtBot) -> None:
    account = _create(qtbot, view, "Zeta Zinc")
    assert view.panel.account_id == account
    assert view.panel.isVisible()
    assert view.panel.title.text() == "Zeta Zinc"
    assert view.count_label.text() == "1,002 accounts"


def test_import_dialog_mapping_progress_and_result(
    view: AccountsView, qtbot: QtBot, ctx: Context, tmp_path: Path
) -> None:
    src = tmp_path / "new.csv"
    src.write_text(
        "Label,Town,Zip Code,Memo\nAcme Tools,Cambridge,02139,x\n"
        "Bad Zip,Boston,ABCDE,y\nFresh Farm,Denver,,z\n"
    )
    dialog = view.account_actions.open_import(src)
    assert dialog.data is None  # read in the background, the window stays live
    with qtbot.waitSignal(dialog.loaded, timeout=20_000) as read:
        pass
    assert read.args == [True]
    assert [c.currentData() for c in dialog.combos] == [None, "city", "postal_code", "notes"]
    assert not dialog.import_button.isEnabled()  # "Label" is not a known name for the name
    assert "account name" in dialog.message.text()
    dialog.set_field(0, "name")
    assert dialog.import_button.isEnabled()
    dialog.set_field(3, "city")  # one column per field: Town lets go of City
    assert dialog.combos[1].currentData() is None
    dialog.set_field(1, "city")
    dialog.set_field(3, None)
    with qtbot.waitSignal(dialog.imported, timeout=20000):
        dialog.import_button.click()
    assert dialog.report is not None
    # A bad ZIP is an optional cell: dropped with a warning, the row imports (unplaced).
    assert dialog.report.imported == 3
    text = dialog.result_text.toPlainText()
    assert "1 rows imported with a warning" in text
    assert "line 3, Zip Code: 'ABCDE' is not a US ZIP code" in text
    assert "In a territory: 0; 3 match no territory" in text
    assert (tmp_path / "new.errors.csv").exists()  # the warned row is listed there too
    assert ctx.db.execute("SELECT notes FROM accounts WHERE name = 'Acme Tools'").fetchone() == (
        None,
    )
    assert view.model.rowCount() == 1004
    dialog.close()


def test_import_dialog_counts_every_problem_it_does_not_list(
    view: AccountsView, qtbot: QtBot, tmp_path: Path
) -> None:
    src = tmp_path / "many.csv"
    rows = [",Boston,MA,02139" for _ in range(260)]  # 260 nameless rows: 200 listed
    rows += [f"Lost {n},Atlantis,ZZ," for n in range(60)]  # 60 placed nowhere: 50 listed
    src.write_text("Company,City,State,ZIP\n" + "\n".join(rows) + "\n")
    dialog = view.account_actions.open_import(src)
    with qtbot.waitSignal(dialog.loaded, timeout=20_000):
        pass
    with qtbot.waitSignal(dialog.imported, timeout=20_000):
        dialog.import_button.click()
    text = dialog.result_text.toPlainText()
    assert "260 rows not imported" in text
    assert text.count("every account needs a name") == 200
    assert "… and 60 more in the errors file" in text
    assert "60 imported without a location:" in text
    assert "… and 10 more (Sync ▸ Geocoding settings lists them all)" in text
    dialog.close()


def test_import_cancel_imports_nothing(
    view: AccountsView, qtbot: QtBot, ctx: Context, tmp_path: Path
) -> None:
    src = tmp_path / "many.csv"
    src.write_text("Name\n" + "".join(f"Row {i}\n" for i in range(30_000)))
    dialog = view.account_actions.open_import(src)
    with qtbot.waitSignal(dialog.loaded, timeout=20_000):
        pass
    dialog.start()
    with qtbot.waitSignal(dialog.task.progressed, timeout=20000):
        pass
    with qtbot.waitSignal(dialog.task.cancelled, timeout=20000):
        dialog.cancel_button.click()
    assert "nothing was imported" in dialog.message.text()
    assert ctx.db.execute("SELECT count(*) FROM accounts").fetchone()[0] == 1001
    dialog.close()


def test_export_of_the_filtered_list_runs_in_the_background(
    view: AccountsView, qtbot: QtBot, tmp_path: Path
) -> None:
    view.set_filter_value("industry", "Food")
    view.search.setText("shop 00")
    view.apply_filters()
    view.table.sortByColumn(5, Qt.SortOrder.DescendingOrder)  # potential
    qtbot.waitUntil(lambda: not view.model.sorting, timeout=10_000)
    expected = [view.model.data(view.model.index(r, 0)) for r in range(view.model.rowCount())]
    assert len(expected) == 34  # Shop 0000 .. 0099, every third
    for name in ("food.csv", "food.xlsx"):
        task = view.account_actions.export_to(tmp_path / name)
        assert view.task_line.isVisible()
        with qtbot.waitSignal(task.succeeded, timeout=20_000):
            pass
        assert view.notice.text() == f"Exported 34 accounts to {name}."
        assert not view.task_line.isVisible()
    with (tmp_path / "food.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["Account name"] for r in rows] == expected
    sheet = openpyxl.load_workbook(tmp_path / "food.xlsx", read_only=True).active
    assert [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)] == expected


def test_export_cancel_leaves_no_file(view: AccountsView, qtbot: QtBot, tmp_path: Path) -> None:
    target = tmp_path / "all.xlsx"
    task = view.account_actions.export_to(target)
    task.cancel()  # before or while it runs: either way no file
    with qtbot.waitSignal(task.finished, timeout=20_000):
        pass
    if task.state.value == "cancelled":
        assert view.notice.text() == "Export cancelled; no file was written."
        assert not target.exists()
    assert not list(tmp_path.glob(".*.partial"))


def test_locate_online_with_a_configured_geocoder(
    view: AccountsView, qtbot: QtBot, ctx: Context
) -> None:
    # Checked once the page has painted (the check is not worth delaying the first paint for).
    qtbot.waitUntil(lambda: "No online geocoder" in view.locate_button.toolTip())
    assert not view.locate_button.isEnabled()  # nothing configured: never goes online
    assert not view.locate_button.isVisible()
    ctx.writer.insert(
        "accounts",
        {
            "name": "Corner Shop",
            "street": "12 Main St",
            "city": "Cambridge",
            "postal_code": "02139",
        },
    )
    with running_nominatim() as server:
        save_settings(ctx.db.conn, settings_for(server, delay=0.0))
        view.account_actions.update_locate_button()
        assert view.locate_button.isEnabled()
        task = view.account_actions.locate_online()
        assert task is not None
        with qtbot.waitSignal(task.finished, timeout=30_000):
            pass
    # Every unplaced Shop has the city Boston (a city centre online) and Corner Shop a street.
    assert view.notice.text() == "Located 1,002 of 1,002 accounts online (0 not found)."
    row = ctx.db.execute(
        "SELECT geocode_quality, geocode_source FROM accounts WHERE name = 'Corner Shop'"
    ).fetchone()
    assert row[0] == "address"
    assert row[1].startswith("nominatim:127.0.0.1")
    view.set_filter_value("geocode_quality", "address")
    assert view.model.rowCount() == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"Company,ZIP\n", "header row but no data rows"),
        (b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 20, "not a text file"),
        (b'Company,ZIP\n"Acme,02139\nBeta,10001\n', "never closes"),
    ],
)
def test_import_dialog_refuses_bad_files_with_a_reason(
    view: AccountsView, qtbot: QtBot, ctx: Context, tmp_path: Path, content: bytes, message: str
) -> None:
    src = tmp_path / "bad.csv"
    src.write_bytes(content)
    dialog = view.account_actions.open_import(src)
    with qtbot.waitSignal(dialog.loaded, timeout=20_000):
        pass
    assert message in dialog.message.text()
    assert not dialog.import_button.isEnabled()
    assert ctx.db.execute("SELECT count(*) FROM accounts").fetchone()[0] == 1001
    dialog.close()


def test_import_contacts_from_the_gui_then_find_them(
    view: AccountsView, qtbot: QtBot, ctx: Context, tmp_path: Path
) -> None:
    src = tmp_path / "people.csv"
    src.write_text(
        "Full Name,Company,E-mail\nGrace Hopper,Bayside Bakery,grace@bayside.example\n"
        "Nobody Known,No Such Shop,\n"
    )
    dialog = view.account_actions.open_import(src)
    with qtbot.waitSignal(dialog.loaded, timeout=20_000):
        pass
    dialog.set_kind("contacts")
    assert [c.currentData() for c in dialog.combos] == ["full_name", "account", "email"]
    assert dialog.import_button.isEnabled()
    with qtbot.waitSignal(dialog.imported, timeout=20_000):
        dialog.import_button.click()
    assert dialog.report is not None
    assert (dialog.report.imported, dialog.report.failed_rows) == (1, 1)
    assert "no account is named 'No Such Shop'" in dialog.result_text.toPlainText()
    assert "territory" not in dialog.result_text.toPlainText()  # contacts have none
    view.search.setText("hopper")
    view.apply_filters()
    assert view.model.rowCount() == 1
    assert view.model.data(view.model.index(0, 0)) == "Bayside Bakery"
    view.open_row(0)
    assert view.panel.tabs.tabText(0) == "Contacts 1"
    dialog.close()


def test_open_account_keeps_the_columns_that_fit_and_reads_back_its_figures(
    view: AccountsView, qtbot: QtBot, ctx: Context
) -> None:
    header = view.table.horizontalHeader()
    shown = [header.model().headerData(c, Qt.Orientation.Horizontal) for c in range(10)]
    assert not any(view.table.isColumnHidden(c) for c in range(len(shown)))
    row = next(
        r
        for r in range(view.model.rowCount())
        if view.model.data(view.model.index(r, 0)) == "Shop 0999"
    )
    view.open_row(row)
    visible = [shown[c] for c in range(len(shown)) if not view.table.isColumnHidden(c)]
    assert visible == ["Account", "City", "Status", "Potential", "Last visit"]
    panel = view.panel
    assert panel.edits["potential"].text() == "999"
    panel.edits["potential"].setText("12,500")
    with qtbot.waitSignal(panel.account_changed):
        assert panel.save() is not None
    assert panel.edits["potential"].text() == "12,500"  # shown with separators, stored as a number
    stored = ctx.db.execute("SELECT potential FROM accounts WHERE name = 'Shop 0999'").fetchone()
    assert stored == (12500.0,)
    assert panel.changes() == {}  # the formatted text is not mistaken for an edit
    qtbot.keyClick(panel.edits["name"], Qt.Key.Key_Escape)
    assert not any(view.table.isColumnHidden(c) for c in range(len(shown)))


def _text_colour(view: AccountsView, index: QModelIndex) -> str:
    """The colour the table's delegate paints the cell's text in (from the model's colour)."""
    option = QStyleOptionViewItem()
    view.table.itemDelegate().initStyleOption(option, index)
    return option.palette.color(QPalette.ColorRole.Text).name()


def test_cells_colour_align_and_explain_what_the_rep_reads(
    view: AccountsView, qtbot: QtBot
) -> None:
    model = view.model
    view.table.sortByColumn(5, Qt.SortOrder.DescendingOrder)  # potential: Shop 0999 first
    qtbot.waitUntil(lambda: not model.sorting, timeout=10_000)
    status, potential, last_visit = (model.index(0, c) for c in (3, 5, 8))
    assert model.data(status) == "Active"
    assert _text_colour(view, status) == theme.SUCCESS.lower()
    assert model.data(potential, Qt.ItemDataRole.TextAlignmentRole) == int(
        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
    )
    assert model.data(model.index(0, 0), Qt.ItemDataRole.TextAlignmentRole) is None
    # Never visited: said in the muted colour, and no tooltip pretends to a date.
    assert model.data(last_visit) == "never"
    assert _text_colour(view, last_visit) == theme.TEXT_MUTED.lower()
    assert model.data(last_visit, Qt.ItemDataRole.ToolTipRole) is None
    # Roles the table does not use get nothing, for any cell.
    for role in (
        Qt.ItemDataRole.DecorationRole,
        Qt.ItemDataRole.FontRole,
        Qt.ItemDataRole.EditRole,
    ):
        assert model.data(status, role) is None
    assert model.data(model.index(0, 0), ID_ROLE) == view.model.account_id(0)


def _shown(label: QLabel) -> str:
    """What a label shows a reader: its text, or the text its rich text renders to."""
    text = label.text()
    if label.textFormat() == Qt.TextFormat.PlainText or (
        label.textFormat() == Qt.TextFormat.AutoText and not QtGui.Qt.mightBeRichText(text)
    ):
        return text
    document = QTextDocument()
    document.setHtml(text)
    return document.toPlainText()


def test_names_are_shown_as_typed_not_as_html(
    view: AccountsView, qtbot: QtBot, ctx: Context, tmp_path: Path
) -> None:
    name = "<b>Smith</b> <Jones> & Co"
    ctx.writer.insert("territories", {"name": "<i>South</i>"})
    account = _create(qtbot, view, name)
    view.service.update(account, {"territory_id": _territory(ctx, "<i>South</i>")})
    view.open_account(account)
    panel = view.panel
    assert _shown(panel.title) == name
    assert "<i>South</i> · " in _shown(panel.subtitle)
    dialog = view.account_actions.open_log_visit(account)
    assert _shown(dialog.heading) == f"Visit to {name}"
    dialog.close()
    src = tmp_path / "Q&A <b>draft.csv"
    src.write_bytes(b"")
    importer = view.account_actions.open_import(src)
    with qtbot.waitSignal(importer.loaded, timeout=20_000):
        pass
    assert _shown(importer.file_label) == "Q&A <b>draft.csv"
    assert _shown(importer.message).startswith("Q&A <b>draft.csv")
    importer.close()
    view.account_actions.say(f"Exported 3 accounts to {src.name}.")
    assert _shown(view.notice) == "Exported 3 accounts to Q&A <b>draft.csv."


def _territory(ctx: Context, name: str) -> str:
    row = ctx.db.execute("SELECT id FROM territories WHERE name = ?", (name,)).fetchone()
    return str(row[0])


def test_long_values_show_their_beginning(view: AccountsView, qtbot: QtBot) -> None:
    account = _create(qtbot, view, "Abbott & Cunningham Excavating Group")
    website = "https://www.abbottcunninghamexcavatinggroup.example/contact/sales-office"
    view.service.update(account, {"website": website, "email": "contact@abbott.example"})
    view.panel.show_account(account)
    edits = view.panel.edits
    assert edits["website"].text() == website
    assert {key: edit.cursorPosition() for key, edit in edits.items()} == dict.fromkeys(edits, 0)


def test_the_visits_tab_names_outcomes_as_the_log_visit_dialog_does(
    view: AccountsView, qtbot: QtBot
) -> None:
    view.open_row(0)
    dialog = view.account_actions.open_log_visit(view.panel.account_id)
    (order,) = [b for b in dialog.outcome_buttons.buttons() if b.text() == "Order placed"]
    order.click()
    with qtbot.waitSignal(dialog.logged):
        qtbot.mouseClick(dialog.log_button, Qt.MouseButton.LeftButton)
    visits = view.panel.lists["visits"]
    assert visits.topLevelItemCount() == 1
    assert visits.topLevelItem(0).text(1) == "Order placed"


@pytest.mark.parametrize("size", [(1024, 700), (1440, 900)])
def test_filter_names_are_readable_in_the_smallest_window(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, settings: QSettings, size: tuple[int, int]
) -> None:
    ctx.writer.insert("territories", {"name": "Greater Boston and the North Shore"})
    window = MainWindow(ctx, runner, settings)
    qtbot.addWidget(window)
    window.setWindowState(Qt.WindowState.WindowNoState)  # not maximised on the small screen
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    page = window.page("accounts")
    assert isinstance(page, AccountsView)
    assert window.width() == size[0]  # 1024 is the narrowest the window goes
    page.set_filter_value("not_visited_days", 365)
    page.filters["territory_id"].setCurrentIndex(1)  # chosen values may be elided, names not
    qtbot.wait(10)  # the layout settles the new widths
    for combo in page.filters.values():
        option = QStyleOptionComboBox()
        combo.initStyleOption(option)
        field = combo.style().subControlRect(
            QStyle.ComplexControl.CC_ComboBox, option, QStyle.SubControl.SC_ComboBoxEditField, combo
        )
        name = combo.itemText(0)
        assert field.width() > combo.fontMetrics().boundingRect(name).width(), name
    clear = page.clear_button
    assert clear.mapTo(page, clear.rect().topRight()).x() < page.width()
    runner.wait_for_idle()


@pytest.mark.parametrize("size", [(1024, 560), (1024, 700), (1440, 900)])
def test_the_open_account_keeps_its_fields_whole_and_scrolls_in_a_short_window(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, settings: QSettings, size: tuple[int, int]
) -> None:
    ctx.writer.insert(
        "accounts",
        {
            "name": "Abbott & Cunningham Excavating Group of the Greater Boston Area",
            "website": "https://www.abbottcunninghamexcavatinggroup.example/contact-us",
            "notes": "Gate code 4411",
        },
    )
    window = MainWindow(ctx, runner, settings)
    qtbot.addWidget(window)
    window.setWindowState(Qt.WindowState.WindowNoState)  # not maximised on the small screen
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    assert (window.width(), window.height()) == size
    page = window.page("accounts")
    assert isinstance(page, AccountsView)
    page.open_row(0)
    panel = page.panel
    assert panel.isVisible()
    qtbot.wait(10)  # the layout settles
    body = panel.scroll_area.widget()
    assert body.width() <= panel.scroll_area.viewport().width()  # nothing cut at the right
    for edit in panel.edits.values():
        assert edit.height() >= edit.sizeHint().height()  # never squeezed flat
    for button in (panel.save_button, panel.undo_button, panel.visit_button, panel.delete_button):
        assert button.width() >= button.sizeHint().width(), button.text()  # labels whole
    assert panel.tabs.height() >= TABS_MIN_HEIGHT
    bar = panel.scroll_area.verticalScrollBar()
    if body.sizeHint().height() <= panel.scroll_area.viewport().height():
        assert bar.maximum() == 0  # room for every field: nothing to scroll
    else:
        assert size[1] < 900  # only a short window is short of room
        assert bar.maximum() > 0  # and it scrolls the fields
    for button in (panel.save_button, panel.visit_button):  # in view without scrolling
        shown = button.visibleRegion().boundingRect()
        assert shown.height() == button.height(), button.text()
    if size == (1024, 560):
        assert bar.maximum() > 0  # this one is short of room whatever the fonts
    runner.wait_for_idle()


def test_import_column_headers_stay_readable_after_a_refused_file(
    view: AccountsView, qtbot: QtBot, tmp_path: Path
) -> None:
    refused = tmp_path / "unclosed.csv"
    refused.write_bytes(b'Company,ZIP\n"Acme,02139\nBeta,10001\n')
    good = tmp_path / "good.csv"
    good.write_text("Company,ZIP\nAcme,02139\n")
    dialog = view.account_actions.open_import()
    header = dialog.table.horizontalHeader()
    for path, readable in ((refused, False), (good, True), (refused, False)):
        with qtbot.waitSignal(dialog.loaded, timeout=20_000) as signal:
            dialog.load(path)
        assert signal.args == [readable]
        widths = [header.sectionSize(c) for c in range(3)]
        assert all(widths[c] >= header.sectionSizeHint(c) for c in range(3)), widths
    dialog.close()


@pytest.mark.parametrize("ranked", [False, True], ids=["sql", "quick search"])
def test_the_edited_account_stays_selected_wherever_it_is_in_the_list(
    view: AccountsView, qtbot: QtBot, ranked: bool
) -> None:
    if ranked:  # a search answered by the quick-search order
        view.model.prepare_quick_search()
        qtbot.waitUntil(lambda: view.model.rank_ready, timeout=10_000)
        view.search.setText("Boston")
        view.apply_filters()
        assert view.model.fast_searches
    row = 3 * PAGE_SIZE + 7  # far past the first page
    account = view.model.account_id(row)
    assert account is not None
    view.table.selectRow(row)
    view.open_current()
    view.panel.edits["phone"].setText("617-555-0199")
    with qtbot.waitSignal(view.panel.account_changed):
        view.panel.save()
    assert view.selected_account_id() == account  # the refresh kept it, on a page not loaded
    assert view.table.currentIndex().row() == row
    view.panel.close_panel()
    qtbot.keyClick(view.table, Qt.Key.Key_Return)  # Enter opens that account, no other
    assert view.panel.account_id == account

    dialog = view.account_actions.open_log_visit(account)
    dialog.outcome_buttons.buttons()[0].click()
    with qtbot.waitSignal(dialog.logged):
        qtbot.mouseClick(dialog.log_button, Qt.MouseButton.LeftButton)
    assert view.panel.lists["visits"].topLevelItemCount() == 1
    assert view.selected_account_id() == account


def test_the_title_row_stays_whole_in_the_smallest_window_with_a_notice(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, settings: QSettings, tmp_path: Path
) -> None:
    window = MainWindow(ctx, runner, settings)
    qtbot.addWidget(window)
    window.setWindowState(Qt.WindowState.WindowNoState)  # not maximised on the small screen
    window.resize(1024, 700)
    window.show()
    qtbot.waitExposed(window)
    page = window.page("accounts")
    assert isinstance(page, AccountsView)
    assert not page.notice.isVisible()  # no message: no line for it
    page.search.setText("no such account anywhere")
    page.apply_filters()
    page.account_actions.say(
        f"Exported 44,930 accounts to {tmp_path / 'a rather long folder name' / 'x.xlsx'}."
    )
    qtbot.wait(10)  # the layout settles
    assert page.notice.isVisible()
    title = page.findChild(QLabel, "pageTitle")
    for widget in (title, page.count_label, *page._head_buttons()):
        if widget.isVisible():
            assert widget.width() >= widget.sizeHint().width(), widget.objectName()
    assert page.notice.visibleRegion().boundingRect().width() == page.notice.width()


def test_an_empty_list_says_why(view: AccountsView, qtbot: QtBot) -> None:
    assert view._empty is None  # not made until needed (start-up)
    view.search.setText("no such shop anywhere")
    view.apply_filters()
    assert view.empty.isVisible()
    assert view.empty.text() == "No account matches this search and these filters."
    view.clear_filters()
    assert not view.empty.isVisible()


def test_once_the_order_is_ready_a_jump_deep_into_the_list_reads_no_sql_sort(
    view: AccountsView, qtbot: QtBot
) -> None:
    model = view.model
    for column, descending in ((5, True), (0, False), (3, True)):  # potential, name, status
        view.table.sortByColumn(
            column, Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder
        )
        qtbot.waitUntil(lambda: not model.sorting, timeout=10_000)
        expected = [r[0] for r in model.repository.page(model.filter, model.sort_order, limit=2000)]
        model.prepare_quick_search()
        qtbot.waitUntil(lambda: model.browsing_ranked, timeout=10_000)
        assert model.rowCount() == len(expected)
        assert [model.account_id(row) for row in range(len(expected) - 1, -1, -1)] == expected[::-1]
    view.set_filter_value("status", "active")  # a filter: back to SQL, the same rows
    assert not model.browsing_ranked


def test_a_new_account_tells_where_it_went(view: AccountsView, qtbot: QtBot) -> None:
    _create(qtbot, view, "Nowhere Nails")
    assert view.panel.note.isVisible()
    assert view.panel.note.text() == "This account matches no territory: kept as yours"
    view.open_account(_territory_free_account(view))
    assert "kept as yours" not in view.panel.note.text()  # the note belongs to the new account


def _territory_free_account(view: AccountsView) -> str:
    row = view.context.conn.execute("SELECT id FROM accounts WHERE name = 'Shop 0500'").fetchone()
    return str(row[0])


def test_an_account_handed_to_a_colleague_is_read_only_with_the_reason(
    view: AccountsView, ctx: Context
) -> None:
    me = ctx.user_id
    ctx.writer.update("users", me, {"role": "rep"})
    omar = ctx.writer.insert("users", {"username": "omar", "display_name": "Omar", "role": "rep"})
    texas = ctx.writer.insert("territories", {"name": "Texas Metros", "owner_id": omar})
    theirs = ctx.writer.insert(
        "accounts", {"name": "Lone Star Feed", "territory_id": texas, "owner_id": omar}
    )
    mine = ctx.writer.insert("accounts", {"name": "My Own Shop", "owner_id": me})
    view.open_account(str(theirs))
    panel = view.panel
    assert panel.note.text() == (
        "Handed to Omar, Texas Metros: only they or their manager can change it now."
    )
    assert not panel.save_button.isEnabled()
    assert not panel.delete_button.isEnabled()
    assert panel.edits["name"].isReadOnly()
    panel.edits["name"].setText("Renamed")
    assert panel.save() is None
    assert ctx.conn.execute("SELECT name FROM accounts WHERE id = ?", (theirs,)).fetchone() == (
        "Lone Star Feed",
    )
    view.open_account(str(mine))  # the rep's own account is editable again
    assert panel.save_button.isEnabled()
    assert not panel.edits["name"].isReadOnly()
    assert not panel.note.isVisible()
    # A member of the colleague's territory may change it: the server would take the edit.
    ctx.writer.insert("territory_members", {"territory_id": texas, "user_id": me})
    view.open_account(str(theirs))
    assert panel.save_button.isEnabled()


def test_a_reps_search_shows_their_own_accounts_first(
    ctx: Context, runner: TaskRunner, qtbot: QtBot
) -> None:
    rep = ctx.writer.insert("users", {"username": "ann", "display_name": "Ann", "role": "rep"})
    other = ctx.writer.insert("users", {"username": "bo", "display_name": "Bo", "role": "rep"})
    ctx.set_user(rep)
    ctx.writer.insert_many(
        "accounts",
        [
            {"name": f"Harbor {i:03d}", "owner_id": rep if i in (40, 75) else other}
            for i in range(120)
        ],
    )
    runner.changes.flush()
    view = AccountsView(ctx, runner)
    qtbot.addWidget(view)
    view.show()
    view.set_filter_value("owner_id", None)  # the chip cleared: the whole team's accounts
    model = view.model
    model.prepare_quick_search()
    qtbot.waitUntil(lambda: model.rank_ready, timeout=10_000)
    view.search.setText("harb")
    view.apply_filters()
    assert model.fast_searches >= 1
    assert model.rowCount() == 120
    names = [model.data(model.index(r, 0)) for r in range(4)]
    assert names == ["Harbor 040", "Harbor 075", "Harbor 000", "Harbor 001"]
    runner.wait_for_idle()
