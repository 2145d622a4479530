"""Starting the app: refusing a bad database, swapping databases, quitting on Ctrl+C."""

from __future__ import annotations

import os
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtNetwork import QNetworkInformation
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from fieldrep.services.context import Context
from fieldrep.ui.application import AppSession, run
from fieldrep.ui.connectivity import ConnectivityMonitor


@pytest.fixture
def session(settings: QSettings) -> Iterator[AppSession]:
    app_session = AppSession(settings)
    yield app_session
    if app_session.window is not None:
        app_session.window.close()
    app_session.close()


def test_a_non_sqlite_file_is_refused_and_left_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "notes.db"
    bad.write_bytes(b"shopping list\n")
    assert run(bad) == 1
    err = capsys.readouterr().err
    assert "is not a FieldRep database" in err
    assert err.count("\n") == 1, "one sentence, once"
    assert bad.read_bytes() == b"shopping list\n"


def test_session_swaps_databases_and_keeps_the_current_one_on_failure(
    qtbot: QtBot, tmp_path: Path, session: AppSession
) -> None:
    first_path, second_path = tmp_path / "north.db", tmp_path / "south.db"
    assert session.open(first_path)
    first_window, first_context = session.window, session.context
    assert first_window is not None
    assert first_context is not None
    assert first_window.isVisible()
    assert first_window.windowTitle().endswith("north.db")

    assert session.open(second_path)
    assert session.window is not None
    assert session.window is not first_window
    assert session.window.windowTitle().endswith("south.db")
    assert session.window.status.database_text == "south.db"
    qtbot.waitUntil(lambda: not first_window.isVisible())
    with pytest.raises(sqlite3.ProgrammingError):
        first_context.db.execute("SELECT 1")  # the old connection was closed

    folder = tmp_path / "a-folder.db"
    folder.mkdir()
    current = session.window
    assert not session.open(folder)
    assert session.window is current
    assert session.context is not None
    session.context.db.execute("SELECT 1")  # still open


def test_file_open_request_from_the_window_switches_database(
    qtbot: QtBot, tmp_path: Path, session: AppSession
) -> None:
    other = tmp_path / "other.db"
    Context.open(other).close()
    assert session.open(tmp_path / "main.db")
    assert session.window is not None
    session.window.open_database_requested.emit(other)
    assert session.context is not None
    assert session.context.path == other


def test_ctrl_c_in_the_terminal_quits(qtbot: QtBot, db_path: Path) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    saved = app.style().name(), app.palette(), app.font(), app.styleSheet()
    handler_before = signal.getsignal(signal.SIGINT)
    QTimer.singleShot(200, lambda: os.kill(os.getpid(), signal.SIGINT))
    try:
        assert run(db_path) == 0
    finally:
        app.setStyle(saved[0])
        app.setPalette(saved[1])
        app.setFont(saved[2])
        app.setStyleSheet(saved[3])
    assert signal.getsignal(signal.SIGINT) is handler_before
    assert db_path.exists()
    # No stray Quit is left behind to end every later event loop at once.
    app.processEvents()
    timer = QTimer()
    timer.setSingleShot(True)
    timer.setInterval(20)
    with qtbot.waitSignal(timer.timeout):
        timer.start()


def test_connectivity_monitor_follows_qt_network_information(qtbot: QtBot) -> None:
    monitor = ConnectivityMonitor()
    if not monitor.start():
        assert monitor.online is False  # no backend: the clear default is offline
        return
    info = QNetworkInformation.instance()
    assert info is not None
    assert monitor.backend == info.backendName()
    reachable = info.reachability() in (
        QNetworkInformation.Reachability.Online,
        QNetworkInformation.Reachability.Site,
    )
    assert monitor.online is reachable


def test_connectivity_changes_reach_the_status_bar(
    qtbot: QtBot, tmp_path: Path, session: AppSession
) -> None:
    assert session.open(tmp_path / "main.db")
    window = session.window
    assert window is not None
    assert window.status.online_text == "Network offline"
    session.connectivity.online_changed.emit(True)
    assert window.status.online_text == "Network online"
    session.connectivity.online_changed.emit(False)
    assert window.status.online_text == "Network offline"


def test_background_work_starts_once_the_first_frame_is_on_screen(
    qtbot: QtBot, tmp_path: Path, session: AppSession
) -> None:
    assert session.open(tmp_path / "main.db")
    window, sync = session.window, session.sync
    assert window is not None
    assert sync is not None
    # The network plugin and the sync timer wait for the window: nothing has painted yet.
    assert not session.monitoring
    assert not sync.timer.isActive()
    with qtbot.waitSignal(window.first_frame_shown, timeout=5000):
        pass
    assert session.monitoring
    assert sync.timer.isActive()
    # A second database opens in a new window: its own sync starts with its first frame, and the
    # network monitor keeps running, started once.
    assert session.open(tmp_path / "other.db")
    assert session.sync is not None
    assert session.window is not None
    assert not session.sync.timer.isActive()
    qtbot.waitUntil(session.sync.timer.isActive, timeout=5000)
    assert session.monitoring


def test_a_window_that_never_paints_still_starts_background_work(
    qtbot: QtBot, tmp_path: Path, session: AppSession
) -> None:
    assert session.open(tmp_path / "main.db")
    assert session.window is not None
    assert session.sync is not None
    session.window.hide()  # as good as minimised: no first frame
    qtbot.waitUntil(lambda: session.monitoring, timeout=5000)
    assert session.sync.timer.isActive()
