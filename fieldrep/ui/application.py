"""Starts the desktop app: the QApplication, the open database, the task runner and the main window.

:class:`AppSession` owns what belongs to one open database (context, runner, window) so that File >
Open database... can swap them without restarting. ``run()`` is what ``fieldrep`` (no command) calls.
"""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from types import FrameType

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QSettings, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from fieldrep import paths
from fieldrep.services.context import Context
from fieldrep.store.changes import ChangeHub
from fieldrep.store.errors import StoreError
from fieldrep.ui import icons, theme
from fieldrep.ui.connectivity import ConnectivityMonitor
from fieldrep.ui.main_window import PREWARM_AFTER_MS, MainWindow
from fieldrep.ui.sync_controller import SyncController
from fieldrep.ui.tasks import TaskRunner

log = logging.getLogger(__name__)

ORGANIZATION = "FieldRep"
APPLICATION = "FieldRep"
# Qt only runs Python code between events; a periodic no-op wakes the interpreter so that Ctrl+C
# in the terminal is noticed within this many milliseconds even while the window is idle.
_SIGNAL_POLL_MS = 250
BACKGROUND_AT_LATEST_MS = 1000


def window_settings() -> QSettings:
    """Where window geometry lives: beside the database in the app-data folder.

    Keeping it under :func:`fieldrep.paths.data_dir` means ``FIELDREP_HOME`` (tests, portable
    installs) isolates it together with everything else FieldRep writes.
    """
    return QSettings(str(paths.data_dir() / "window.ini"), QSettings.Format.IniFormat)


def _headless() -> bool:
    return QGuiApplication.platformName() in ("offscreen", "minimal")


def show_error(parent: QWidget | None, title: str, message: str) -> None:
    """Tell the user: always on stderr (the terminal that started us), and in a box when visible."""
    log.debug("%s: %s", title, message)
    sys.stderr.write(f"fieldrep: {message}\n")
    if not _headless():
        QMessageBox.critical(parent, title, message)


class AppSession(QObject):
    """The context, task runner and main window of the open database."""

    def __init__(
        self, settings: QSettings, changes: ChangeHub | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        # One hub for the process: every context opened on the database (the GUI's, the workers')
        # announces its commits there, and the task runner relays them to the pages.
        self.changes = changes or ChangeHub()
        self.context: Context | None = None
        self.runner: TaskRunner | None = None
        self.window: MainWindow | None = None
        self.sync: SyncController | None = None
        self.connectivity = ConnectivityMonitor(self)
        self._monitoring = False
        self._background_for: MainWindow | None = None

    def open(self, db_path: Path) -> bool:
        """Open ``db_path`` in a new window, replacing the current one; ``False`` if it cannot."""
        try:
            context = Context.open(db_path, self.changes)
        except StoreError as exc:
            show_error(self.window, "Could not open the database", str(exc))
            return False
        old_window = self.window
        if old_window is not None:
            old_window.save_settings()
        self._close_database()
        runner = TaskRunner(context.path, self)
        sync = SyncController(context, runner, self.connectivity, self)
        window = MainWindow(context, runner, self.settings, sync=sync)
        window.open_database_requested.connect(self.open)
        self.connectivity.online_changed.connect(window.set_online)
        window.set_online(self.connectivity.online)
        self.context, self.runner, self.window, self.sync = context, runner, window, sync
        # Background work starts once the window is on screen: the sync timer and the server
        # probe, and asking the system about the network (which loads a plugin). The first frame
        # needs none of them, and the window already shows the sync state read from the database.
        # (Or after a second at the latest, should the window start minimised and not paint.)
        window.first_frame_shown.connect(self._start_background)
        QTimer.singleShot(BACKGROUND_AT_LATEST_MS, self, self._start_background)
        window.show()
        if old_window is not None:
            # Shown first, closed second: closing the last window would quit the application.
            old_window.close()
            old_window.deleteLater()
        log.info("opened %s", context.path)
        return True

    @property
    def monitoring(self) -> bool:
        return self._monitoring

    def _start_background(self) -> None:
        """Once per open database: the sync timer and server probe; once per session: the
        network monitor."""
        if self.window is None or self._background_for is self.window:
            return
        self._background_for = self.window
        if self.sync is not None:
            self.sync.start()
        QTimer.singleShot(PREWARM_AFTER_MS, self.window, self.window.prewarm)
        if not self._monitoring:
            self._monitoring = True
            self.connectivity.start()

    def _close_database(self) -> None:
        if self.sync is not None:
            self.sync.stop()
            self.sync.deleteLater()
            self.sync = None
        if self.runner is not None:
            self.runner.shutdown()
            self.runner.deleteLater()
        if self.context is not None:
            self.context.close()
        self.runner = None
        self.context = None

    def close(self) -> None:
        """Stop background work, close the database; the window is already closed or closing."""
        self._close_database()
        self.window = None


def _install_sigint_handler(app: QApplication) -> QTimer:
    def _quit(_signum: int, _frame: FrameType | None) -> None:
        log.info("interrupted from the terminal; quitting")
        app.quit()

    signal.signal(signal.SIGINT, _quit)
    timer = QTimer(app)
    timer.timeout.connect(lambda: None)
    timer.start(_SIGNAL_POLL_MS)
    return timer


def run(db_path: Path, changes: ChangeHub | None = None) -> int:
    """Run the desktop app on ``db_path`` until the window closes; the process exit code.
    ``changes``: the process's change hub (app.py makes it)."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("FieldRep")
    app.setWindowIcon(icons.icon("app"))
    theme.apply(app)

    previous_handler = signal.getsignal(signal.SIGINT)
    _install_sigint_handler(app)
    session = AppSession(window_settings(), changes)
    try:
        if not session.open(Path(db_path)):
            return 1
        code = app.exec()
        # Quitting closes the window, and closing the last window posts a second Quit that would
        # end the next event loop at once; drop it so the QApplication stays usable in-process.
        QCoreApplication.removePostedEvents(app, QEvent.Type.Quit)
        return code
    finally:
        session.close()
        if previous_handler is not None:
            signal.signal(signal.SIGINT, previous_handler)
