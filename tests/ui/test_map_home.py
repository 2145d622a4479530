"""A rep's app opens on the map (the day's list beside it), and opening the map never imports numpy or
shapely on the GUI thread: a placeholder shows while a worker imports them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from fieldrep.services.context import Context
from fieldrep.ui.main_window import MainWindow
from fieldrep.ui.map.map_home import MapHome
from fieldrep.ui.map.map_page import MapPage
from fieldrep.ui.tasks import TaskRunner


def _user(ctx: Context, role: str) -> str:
    user = ctx.writer.insert(
        "users", {"username": role, "display_name": f"Pat {role}", "role": role}
    )
    ctx.set_user(user)
    return user


def _window(qtbot: QtBot, ctx: Context, runner: TaskRunner, settings: QSettings) -> MainWindow:
    window = MainWindow(ctx, runner, settings)
    qtbot.addWidget(window)
    window.resize(1366, 768)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_a_rep_opens_on_the_map_with_today_beside_it(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, settings: QSettings
) -> None:
    _user(ctx, "rep")
    ctx.writer.insert("accounts", {"name": "Corner Bakery", "lat": 41.88, "lon": -87.63})
    window = _window(qtbot, ctx, runner, settings)
    assert window.current_page_key == "map"
    home = window.page("map")
    assert isinstance(home, MapHome)
    qtbot.waitUntil(lambda: home.page is not None, timeout=20_000)
    page = home.page
    assert isinstance(page, MapPage)
    qtbot.waitUntil(lambda: page.bundle is not None, timeout=20_000)
    assert page.tabs.currentWidget() is page.route_panel
    assert page.tabs.tabText(page.tabs.currentIndex()) == "Today"
    assert page.route_panel.isVisible()


def test_a_rep_who_left_another_page_opens_there(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, settings: QSettings
) -> None:
    _user(ctx, "rep")
    settings.setValue("main_window/page", "referrals")
    window = _window(qtbot, ctx, runner, settings)
    assert window.current_page_key == "referrals"
    assert window.page("map") is None  # never built: no map work for a page not shown


def test_a_manager_and_a_local_book_keep_their_own_first_page(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, settings: QSettings, tmp_path: Path
) -> None:
    window = _window(qtbot, ctx, runner, settings)  # nobody signed in: a local book
    assert window.current_page_key == "accounts"
    window.close()
    _user(ctx, "manager")
    second = _window(
        qtbot, ctx, runner, QSettings(str(tmp_path / "m.ini"), QSettings.Format.IniFormat)
    )
    assert second.current_page_key == "home"


_PROBE = """
import sys
import threading
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

WATCHED = ("numpy", "shapely")
first_import: dict[str, str] = {}


class _Watch:
    def find_spec(self, name, path=None, target=None):
        if name in WATCHED and name not in first_import:
            main = threading.current_thread() is threading.main_thread()
            first_import[name] = "gui" if main else "worker"
        return None


sys.meta_path.insert(0, _Watch())

from fieldrep.services.context import Context
from fieldrep.ui.main_window import MainWindow
from fieldrep.ui.tasks import TaskRunner

app = QApplication([])
ctx = Context.open(Path(sys.argv[1]))
runner = TaskRunner(ctx.path)
window = MainWindow(ctx, runner, QSettings(sys.argv[2], QSettings.Format.IniFormat))
window.resize(1366, 768)
window.show()
assert window.current_page_key == "map", window.current_page_key
home = window.page("map")
print("placeholder:", home.page is None and home.placeholder.isVisible())
while home.page is None or home.page.bundle is None:
    app.processEvents()
    runner.wait_for_idle()
print("built:", type(home.page).__name__)
print("imports:", ",".join(f"{k}={v}" for k, v in sorted(first_import.items())))
window.close()
runner.shutdown()
ctx.close()
"""


def test_opening_the_map_imports_numpy_and_shapely_off_the_gui_thread(
    ctx: Context, tmp_path: Path
) -> None:
    """In a fresh interpreter (this one imported them long ago): an import hook notes the thread
    that first imports each module."""
    _user(ctx, "rep")
    ctx.writer.insert("accounts", {"name": "Corner Bakery", "lat": 41.88, "lon": -87.63})
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(ctx.path), str(tmp_path / "w.ini")],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    lines = dict(line.split(": ", 1) for line in out.stdout.splitlines() if ": " in line)
    assert lines["placeholder"] == "True"
    assert lines["built"] == "MapPage"
    assert lines["imports"] == "numpy=worker,shapely=worker"


def test_the_probe_sees_a_gui_thread_import(tmp_path: Path) -> None:
    """The hook itself works: importing shapely on the main thread is reported as such."""
    probe = _PROBE.split("from fieldrep.services.context")[0] + (
        "import shapely\nprint('imports:', ','.join(f'{k}={v}' for k, v in sorted(first_import.items())))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert "shapely=gui" in out.stdout
