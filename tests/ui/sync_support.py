"""Real parts for the desktop sync tests: the sync server under uvicorn on a free loopback port
(SQLite storage in tmp_path), its seeded users and territories, and a signed-in controller.

The fixtures are registered for every desktop test by ``tests/ui/conftest.py`` under their short
names (``live``, ``make_sync``, ``window_with_sync``, ``sync_app``); test modules import only the
helpers (``Live``, ``SyncApp``, ``sign_in``, ``sync``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from fieldrep.server import admin
from fieldrep.server.storage import Storage
from fieldrep.services.context import Context
from fieldrep.ui.connectivity import ConnectivityMonitor
from fieldrep.ui.main_window import MainWindow
from fieldrep.ui.sync_controller import SyncController, SyncOutcome
from fieldrep.ui.tasks import TaskRunner
from tests.sync.harness import PASSWORD, Laptop, LiveServer, Org, account, seed_org


@dataclass
class Live:
    storage: Storage
    server: LiveServer
    org: Org
    tmp_path: Path

    @property
    def url(self) -> str:
        return self.server.url

    def laptop(self, name: str, user: str) -> Laptop:
        """Another laptop, signed in as ``user`` and synced once."""
        lap = Laptop(self.tmp_path / f"{name}.db", self.url)
        lap.login(user)
        lap.sync()
        return lap

    def put_account(self, name: str = "Acme Ltd") -> str:
        (row_id,) = admin.put_rows(self.storage, "accounts", [account(self.org.t1, name)])
        return str(row_id)


@pytest.fixture(name="live")
def live_fixture(tmp_path: Path) -> Iterator[Live]:
    storage = Storage(str(tmp_path / "server.db"))
    server = LiveServer(storage)
    try:
        yield Live(storage, server, seed_org(storage), tmp_path)
    finally:
        server.stop()
        storage.close()


@pytest.fixture(name="make_sync")
def make_sync_fixture(ctx: Context, runner: TaskRunner) -> Iterator[Callable[..., SyncController]]:
    """Started sync controllers for the test's database; stopped (timers, probes) at teardown so
    none fires later in another test's event loop."""
    made: list[SyncController] = []

    def make(monitor: ConnectivityMonitor | None = None, **kwargs: object) -> SyncController:
        controller = SyncController(ctx, runner, monitor, **kwargs)  # type: ignore[arg-type]
        controller.start()
        made.append(controller)
        return controller

    yield make
    for controller in made:
        controller.stop()
        if controller.monitor is not None:
            controller.monitor.stop()
    runner.wait_for_idle()
    for controller in made:
        controller.deleteLater()


def sign_in(qtbot: QtBot, controller: SyncController, live: Live, user: str = "rep1") -> None:
    """Sign in through the controller and wait for the first sync it starts."""
    with (
        qtbot.waitSignal(controller.sync_finished, timeout=30_000) as first,
        qtbot.waitSignal(controller.sign_in_finished, timeout=30_000),
    ):
        controller.sign_in(live.url, user, PASSWORD)
    outcome = first.args[0]
    assert isinstance(outcome, SyncOutcome)
    assert outcome.ok, outcome.problem


def sync(qtbot: QtBot, controller: SyncController) -> SyncOutcome:
    with qtbot.waitSignal(controller.sync_finished, timeout=30_000) as blocker:
        assert controller.sync_now() is not None
    outcome = blocker.args[0]
    assert isinstance(outcome, SyncOutcome)
    return outcome


@pytest.fixture(name="window_with_sync")
def window_with_sync_fixture(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, settings: QSettings
) -> Callable[..., MainWindow]:
    def make(controller: SyncController) -> MainWindow:
        window = MainWindow(ctx, runner, settings, sync=controller)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        return window

    return make


@dataclass
class SyncApp:
    """A started sync controller for the test's database and the main window built on it."""

    controller: SyncController
    window: MainWindow


@pytest.fixture(name="sync_app")
def sync_app_fixture(
    make_sync: Callable[..., SyncController], window_with_sync: Callable[..., MainWindow]
) -> SyncApp:
    controller = make_sync()
    return SyncApp(controller, window_with_sync(controller))
