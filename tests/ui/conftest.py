"""Fixtures for the desktop tests: isolated window settings, a task runner, and no dangling threads;
the sync fixtures (``live``, ``make_sync``, ``window_with_sync``, ``sync_app``) are written in
:mod:`tests.ui.sync_support` and registered here, so test modules import only its helpers.

The autouse ``_no_dangling_threads`` fixture is napari's ``_dangling_qthreads`` idea: it records every
TaskRunner and QThread a test creates and fails the test if any of them still has work running when
it ends (after cleaning up, so one leak does not cascade into the next tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QCoreApplication, QSettings, QThread, QThreadPool

from fieldrep.services.context import Context
from fieldrep.ui.tasks import TaskRunner
from tests.ui.sync_support import (  # noqa: F401  (registered as fixtures for tests/ui)
    live_fixture,
    make_sync_fixture,
    sync_app_fixture,
    window_with_sync_fixture,
)


@pytest.fixture(autouse=True)
def _isolated_qsettings(tmp_path_factory: pytest.TempPathFactory, qapp: object) -> Iterator[None]:
    """Any default-constructed QSettings lands in a temporary folder, never the user's."""
    folder = tmp_path_factory.mktemp("qsettings")
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(folder))
        QSettings.setPath(fmt, QSettings.Scope.SystemScope, str(folder))
    previous = QCoreApplication.organizationName(), QCoreApplication.applicationName()
    QCoreApplication.setOrganizationName("FieldRepTests")
    QCoreApplication.setApplicationName("FieldRepTests")
    yield
    QCoreApplication.setOrganizationName(previous[0])
    QCoreApplication.setApplicationName(previous[1])


@pytest.fixture(autouse=True)
def _no_dangling_threads(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    runners: list[TaskRunner] = []
    threads: list[QThread] = []
    original_init = TaskRunner.__init__
    original_start = QThread.start

    def recording_init(self: TaskRunner, *args: object, **kwargs: object) -> None:
        original_init(self, *args, **kwargs)  # type: ignore[arg-type]
        runners.append(self)

    def recording_start(self: QThread, *args: object) -> None:
        threads.append(self)
        original_start(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(TaskRunner, "__init__", recording_init)
    monkeypatch.setattr(QThread, "start", recording_start)
    yield

    problems: list[str] = []
    global_pool = QThreadPool.globalInstance()
    if global_pool.activeThreadCount():
        problems.append(f"{global_pool.activeThreadCount()} QThreadPool.globalInstance() jobs")
        global_pool.waitForDone()
    for runner in runners:
        if not shiboken6.isValid(runner):
            continue
        if runner.threads_in_use or not runner.is_idle:
            problems.append(f"TaskRunner with {runner.active_tasks} still running")
        runner.shutdown()
    for thread in threads:
        if shiboken6.isValid(thread) and thread.isRunning():
            problems.append(f"QThread {thread.objectName() or thread!r} still running")
            thread.quit()
            thread.wait()
    if problems:
        pytest.fail("the test left background work running: " + "; ".join(problems))


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    """Window settings in a file of this test's own."""
    return QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def runner(ctx: Context) -> Iterator[TaskRunner]:
    task_runner = TaskRunner(ctx.path)
    yield task_runner
    task_runner.shutdown()
