"""The main window on a real migrated database, offscreen: navigation, status bar, restored layout."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QRect, QSettings, Qt
from PySide6.QtWidgets import QLabel, QWidget
from pytestqt.qtbot import QtBot

from fieldrep.services.context import Context
from fieldrep.store import local_meta
from fieldrep.ui.main_window import MainWindow
from fieldrep.ui.pages import PAGES, PageSpec
from fieldrep.ui.tasks import Progress, TaskKind, TaskRunner
from fieldrep.ui.widgets.not_built_panel import NotBuiltPanel


def make_window(
    qtbot: QtBot,
    ctx: Context,
    runner: TaskRunner,
    settings: QSettings,
    pages: tuple[PageSpec, ...] = PAGES,
) -> MainWindow:
    window = MainWindow(ctx, runner, settings, pages=pages)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


@pytest.fixture
def manager(ctx: Context) -> str:
    user_id = ctx.writer.insert(
        "users",
        {"username": "dana", "display_name": "Dana Reyes", "role": "manager", "email": "d@x.test"},
    )
    ctx.set_user(user_id)
    return user_id


@pytest.fixture
def window(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, settings: QSettings, manager: str
) -> MainWindow:
    return make_window(qtbot, ctx, runner, settings)


def nav_rect(window: MainWindow, key: str) -> QRect:
    item = window.nav.item(window.page_keys.index(key))
    return window.nav.visualItemRect(item)


def test_opens_on_the_first_page_with_every_page_listed(window: MainWindow) -> None:
    assert window.page_keys == [
        "accounts",
        "map",
        "referrals",
        "territories",
        "reports",
        "conflicts",
        "home",
        "rewards",
    ]
    titles = [window.nav.item(i).text() for i in range(window.nav.count())]
    assert titles == [
        "Accounts",
        "Map",
        "Referrals",
        "Territories",
        "Reports",
        "Conflicts",
        "Team",
        "Rewards",
    ]
    assert window.current_page_key == "home"  # the window's user is a manager
    assert window.windowTitle() == "fieldrep.db"  # the system adds "— FieldRep"
    # Pages are built lazily: only the one on screen exists so far.
    assert window.page("home") is not None
    assert window.page("accounts") is None
    assert window.page("map") is None


def test_click_in_the_navigation_switches_page(qtbot: QtBot, window: MainWindow) -> None:
    with qtbot.waitSignal(window.page_changed) as blocker:
        qtbot.mouseClick(
            window.nav.viewport(),
            Qt.MouseButton.LeftButton,
            pos=nav_rect(window, "referrals").center(),
        )
    assert blocker.args == ["referrals"]
    assert window.current_page_key == "referrals"
    page = window.page("referrals")
    assert page is not None
    assert window.stack.currentWidget() is page


@pytest.mark.parametrize(
    ("number", "key"),
    [(2, "map"), (4, "territories"), (5, "reports"), (1, "accounts"), (7, "home"), (8, "rewards")],
)
def test_ctrl_number_switches_page(qtbot: QtBot, window: MainWindow, number: int, key: str) -> None:
    if key == "accounts":
        window.show_page("reports")
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window, Qt.Key(Qt.Key.Key_0 + number), Qt.KeyboardModifier.ControlModifier)
    assert window.current_page_key == key
    assert window.stack.currentWidget() is window.page(key)


def test_unbuilt_page_says_so_and_what_it_will_do(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, settings: QSettings
) -> None:
    # Real views replace the registry's placeholders over time, so build the registry here.
    pages = tuple(PageSpec(s.key, s.title, s.icon_name, None) for s in PAGES)
    window = make_window(qtbot, ctx, runner, settings, pages)
    window.show_page("territories")
    panel = window.page("territories")
    assert isinstance(panel, NotBuiltPanel)
    texts = [label.text() for label in panel.findChildren(QLabel)]
    assert "Territories" in texts
    assert "Not built yet" in texts
    assert any(text.startswith("Assign reps") for text in texts)


def test_a_registered_factory_gets_the_context_and_runner(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, settings: QSettings
) -> None:
    received: list[tuple[Context, TaskRunner]] = []

    def factory(context: Context, task_runner: TaskRunner) -> QWidget:
        received.append((context, task_runner))
        return QLabel("real accounts page")

    def broken(context: Context, task_runner: TaskRunner) -> QWidget:
        raise ValueError("missing basemap")

    pages = (
        PageSpec("accounts", "Accounts", "accounts", factory),
        PageSpec("map", "Map", "map", broken),
    )
    window = make_window(qtbot, ctx, runner, settings, pages)
    assert received == [(ctx, runner)]
    page = window.page("accounts")
    assert isinstance(page, QLabel)
    assert page.text() == "real accounts page"
    window.show_page("accounts")
    assert len(received) == 1, "a page is built once"
    window.show_page("map")
    error = window.page("map")
    assert isinstance(error, QLabel)
    assert "could not be opened: missing basemap" in error.text()


def test_status_bar_shows_database_user_and_pending(
    qtbot: QtBot, ctx: Context, db_path: Path, window: MainWindow
) -> None:
    status = window.status
    assert status.database_text == "fieldrep.db"
    assert str(db_path) in status.database.toolTip()
    assert status.user_text == "Dana Reyes · Manager"
    assert ctx.writer.pending_count() == 1  # the user row itself waits to be synced
    assert status.pending_text == "1 change not sent yet"  # never synced

    with ctx.writer.transaction() as conn:
        local_meta.put(conn, "last_sync_at", "2026-01-05T10:00:00.000Z")
    ctx.writer.insert("accounts", {"name": "Harbor Dental", "city": "Boston"})
    window.refresh_status()
    assert status.pending_text == "2 changes to sync"
    ctx.writer.insert_many("accounts", [{"name": f"Clinic {n}"} for n in range(1500)])
    window.refresh_status()
    assert status.pending_text == "1,502 changes to sync"


def test_status_bar_refreshes_after_a_background_write(
    qtbot: QtBot, window: MainWindow, runner: TaskRunner
) -> None:
    assert window.status.pending_text == "1 change not sent yet"

    def add_account(db_path: Path, progress: Progress) -> str:
        worker = Context.open(db_path)
        try:
            return worker.writer.insert("accounts", {"name": "Lakeside Clinic"})
        finally:
            worker.close()

    task = runner.run(add_account, kind=TaskKind.WRITE, label="Add account")
    with qtbot.waitSignal(task.finished):
        pass
    assert window.status.pending_text == "2 changes not sent yet"


def test_not_signed_in_and_nothing_pending(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, settings: QSettings
) -> None:
    ctx.db.conn.execute("DELETE FROM outbox")
    window = make_window(qtbot, ctx, runner, settings)
    assert window.status.user_text == "Not signed in"
    # Never synced: nothing can be "synced" yet.
    assert window.status.pending_text == "No changes yet"
    with ctx.writer.transaction() as conn:  # as after a completed sync
        local_meta.put(conn, "last_sync_at", "2026-01-05T10:00:00.000Z")
        conn.execute("DELETE FROM outbox")
    qtbot.waitUntil(lambda: window.status.pending_text == "All changes synced")


def test_a_demo_book_is_not_changes_to_sync(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, settings: QSettings
) -> None:
    with ctx.writer.transaction() as conn:
        local_meta.put(conn, "demo_seed", "1")
    ctx.writer.insert_many("accounts", [{"name": f"Demo {i}"} for i in range(50)])
    window = make_window(qtbot, ctx, runner, settings)
    assert window.status.pending_text == "Demo data, not synced"
    assert "never sent" in window.status.pending.toolTip()


def test_changes_made_before_any_sync_say_so(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, settings: QSettings
) -> None:
    ctx.writer.insert("accounts", {"name": "Mine"})
    window = make_window(qtbot, ctx, runner, settings)
    assert window.status.pending_text == "1 change not sent yet"


def test_online_indicator_defaults_offline_and_can_be_driven(window: MainWindow) -> None:
    assert window.status.online_text == "Network offline"
    assert not window.status.is_online
    window.set_online(True)
    assert window.status.online_text == "Network online"
    assert window.status.is_online
    window.set_online(False)
    assert window.status.online_text == "Network offline"


def test_geometry_and_page_restored_by_the_next_window(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, settings: QSettings, manager: str
) -> None:
    first = make_window(qtbot, ctx, runner, settings)
    # Smaller than the offscreen screen (800x600), which restoreGeometry() would clamp to.
    first.resize(720, 480)
    first.move(QPoint(20, 15))
    first.show_page("reports")
    qtbot.waitUntil(lambda: first.size().width() == 720)
    geometry = first.geometry()
    first.close()

    stored = QSettings(settings.fileName(), QSettings.Format.IniFormat)
    assert stored.value("main_window/page") == "reports"

    second = make_window(qtbot, ctx, runner, settings)
    assert second.current_page_key == "reports"
    assert second.size() == geometry.size()
    # Position: Qt's offscreen plugin re-adds a guessed title-bar height (8 px) on restore,
    # so allow that much; a lost position would put the window back at the default centre.
    moved = second.geometry().topLeft() - geometry.topLeft()
    assert abs(moved.x()) <= 8
    assert abs(moved.y()) <= 8


def test_first_start_fits_the_screen(window: MainWindow) -> None:
    """The default 1400 x 900 does not fit the offscreen 800 x 600 screen: maximised instead."""
    area = window.screen().availableGeometry()
    assert area.width() < 1400
    assert window.isMaximized()
    assert area.contains(window.frameGeometry())


def test_settings_stay_in_the_test_folder(tmp_path: Path, window: MainWindow) -> None:
    window.close()
    assert Path(window._settings.fileName()).parent == tmp_path
    assert Path(window._settings.fileName()).exists()


def test_the_prewarm_reads_what_a_first_import_needs_and_sets_the_heap_aside() -> None:
    """What a first import of a file read on its worker (sqlite-utils, the region names) is read
    in the prewarm, with the collector paused; all that is alive then is set aside from it."""
    import gc
    import sys

    from fieldrep.domain import regions
    from fieldrep.ui.main_window import _prewarm_imports

    assert gc.isenabled()
    gc.unfreeze()  # anything an earlier test's bulk job set aside
    try:
        _prewarm_imports(Path(), Progress(lambda *_: None))
        assert "sqlite_utils" in sys.modules
        assert regions._tables is not None
        assert gc.get_freeze_count() > 0
        assert gc.isenabled()  # the collector resumes
    finally:
        gc.unfreeze()  # this test process goes on making and dropping windows
