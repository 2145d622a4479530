"""The app fits the screen (issue 16, points 1-3): the first window, saved geometry, long jobs and
dialogs. Qt's offscreen screen is 800 x 800, smaller than any laptop: what fits there fits."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QByteArray, QRect, QSettings
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QApplication, QTabWidget
from pytestqt.qtbot import QtBot

from fieldrep.services.context import Context
from fieldrep.services.territories import service as territory_service
from fieldrep.ui import theme
from fieldrep.ui.dialogs.geocoder_settings_dialog import GeocoderSettingsDialog
from fieldrep.ui.dialogs.territory_edit_dialog import TerritoryEditDialog
from fieldrep.ui.main_window import MainWindow
from fieldrep.ui.tasks import Progress, TaskKind, TaskRunner
from fieldrep.ui.views.territories_view import TerritoriesView
from fieldrep.ui.views.territory_kpi_panel import TerritoryKpiPanel
from fieldrep.ui.widgets.screen_fit import FRAME_ALLOWANCE

LAPTOP_WIDTH = 1366


def _window(qtbot: QtBot, ctx: Context, runner: TaskRunner, settings: QSettings) -> MainWindow:
    window = MainWindow(ctx, runner, settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_saved_geometry_from_a_bigger_screen_is_not_restored_off_screen(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, settings: QSettings, tmp_path: Path
) -> None:
    # A geometry saved on a 1920 x 1080 monitor: a window at (1400, 700), 1400 x 900.
    big = MainWindow(ctx, runner, QSettings(str(tmp_path / "big.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(big)
    big.setGeometry(QRect(1400, 700, 1400, 900))
    settings.setValue("main_window/geometry", big.saveGeometry())
    assert isinstance(settings.value("main_window/geometry"), QByteArray)

    window = _window(qtbot, ctx, runner, settings)

    assert window.screen().availableGeometry().contains(window.frameGeometry())


def test_a_long_job_in_the_status_bar_fits_a_small_screen(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, settings: QSettings
) -> None:
    # The status bar's items (database, user, changes, network, sync) and a job's progress once
    # asked for 1,063 px together: on a screen narrower than that, a long job widened the window.
    window = _window(qtbot, ctx, runner, settings)
    window.show_page("accounts")
    room = window.screen().availableGeometry().width()
    release = threading.Event()
    long_name = "Importing accounts from a very long file name exported by a CRM, " * 8

    def slow(_db: Path, progress: Progress) -> None:
        progress.report(1, 10, long_name)
        release.wait(10)

    task = runner.run(slow, kind=TaskKind.READ, label=long_name)
    qtbot.waitUntil(lambda: task.progress_text == long_name)
    qtbot.wait(50)  # a layout pass
    try:
        assert window.statusBar().minimumSizeHint().width() <= room
        assert window.width() <= room
    finally:
        release.set()
        runner.wait_for_idle()


def test_a_long_job_never_widens_the_window(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, settings: QSettings
) -> None:
    window = _window(qtbot, ctx, runner, settings)
    window.show_page("territories")
    page = window.page("territories")
    assert isinstance(page, TerritoriesView)
    page.tabs.setCurrentWidget(page.balancing)  # built on first show: let its layout settle
    # The pages' own minimum widths (the Territories page's ~1,150 px: it fits a 1366 laptop, not
    # this 800-pixel offscreen screen) widen the window once the layout has run: the width the
    # job must not exceed is the settled one, whenever in the suite's order that pass comes.
    qtbot.waitUntil(lambda: page.balancing.isVisible())
    widths = [window.width()]

    def settled() -> bool:
        widths.append(window.width())
        return len(widths) > 4 and len(set(widths[-4:])) == 1

    qtbot.waitUntil(settled)  # the same width over a few layout passes
    width = window.width()
    release = threading.Event()
    long_name = "Balancing territories by visit hours including travel, " * 12

    def slow(_db: Path, progress: Progress) -> None:
        progress.report(1, 10, long_name)
        release.wait(10)

    task = runner.run(slow, kind=TaskKind.READ, label=long_name)
    page.balancing.progress.track(task)
    page.balancing.quality.setText("Busiest territory 3.2 times the lightest; " * 10)
    qtbot.waitUntil(lambda: task.progress_text == long_name)
    qtbot.wait(50)  # a layout pass
    try:
        # Never wider (the offscreen screen may still be settling the maximised window: narrower is
        # the window manager, not the job).
        assert window.width() <= width
        # Whether the window can still shrink to a 1366-pixel screen is checked by
        # test_main_window's fit tests; here it depended on fonts earlier tests set (1357 px in
        # the full suite's order, within 1350 alone), so it is not asserted here.
    finally:
        release.set()
        runner.wait_for_idle()


def test_geocoding_settings_open_at_their_size_hint_within_the_screen(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, settings: QSettings
) -> None:
    window = _window(qtbot, ctx, runner, settings)
    dialog = GeocoderSettingsDialog(ctx, runner, window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    area = dialog.screen().availableGeometry()
    hint = dialog.sizeHint()
    assert dialog.height() >= min(hint.height(), area.height() - FRAME_ALLOWANCE.height())
    assert area.contains(dialog.frameGeometry())
    # Taller than the screen: the cards scroll inside the dialog, the form keeps its rows.
    form_row = dialog.user_agent_edit
    assert form_row.height() >= form_row.sizeHint().height()


def test_a_territory_dialog_opens_whole(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, settings: QSettings
) -> None:
    window = _window(qtbot, ctx, runner, settings)
    dialog = TerritoryEditDialog(ctx, runner, None, window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    area = dialog.screen().availableGeometry()
    hint = dialog.sizeHint()
    assert dialog.width() >= min(hint.width(), area.width() - FRAME_ALLOWANCE.width())
    assert dialog.height() >= min(hint.height(), area.height() - FRAME_ALLOWANCE.height())
    assert area.contains(dialog.frameGeometry())


@pytest.fixture
def app_theme(qapp: QApplication) -> Iterator[QApplication]:
    """The look the app itself sets (theme.apply over the system's general font), whatever an
    earlier test left on the shared QApplication; restored afterwards."""
    saved = qapp.style().name(), qapp.palette(), qapp.font(), qapp.styleSheet()
    qapp.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.GeneralFont))
    theme.apply(qapp)
    yield qapp
    qapp.setStyle(saved[0])
    qapp.setPalette(saved[1])
    qapp.setFont(saved[2])
    qapp.setStyleSheet(saved[3])


def _visit_every_page(qtbot: QtBot, window: MainWindow) -> dict[str, int]:
    """Show every page and every tab of its tab widgets; the window's minimum width after each."""
    widths: dict[str, int] = {}
    for key in window.page_keys:
        window.show_page(key)
        qtbot.wait(20)
        widths[key] = window.minimumSizeHint().width()
        page = window.page(key)
        assert page is not None
        for tabs in page.findChildren(QTabWidget):
            for index in range(tabs.count()):
                tabs.setCurrentIndex(index)
                qtbot.wait(20)
                widths[f"{key}/{tabs.tabText(index)}"] = window.minimumSizeHint().width()
    return widths


@pytest.mark.parametrize("role", ["rep", "manager"])
def test_every_page_fits_a_1366_pixel_laptop(
    qtbot: QtBot,
    ctx: Context,
    runner: TaskRunner,
    settings: QSettings,
    app_theme: QApplication,
    role: str,
) -> None:
    """The window can shrink to a 1366-pixel screen on every page and tab, with names from the
    user's data longer than any layout expects and the KPI tab's status line showing."""
    long_name = "Greater Metropolitan Northeastern Pennsylvania and Southern New York Tier"
    user_id = ctx.writer.insert(
        "users",
        {"username": "dana", "display_name": long_name, "role": role, "email": "d@x.test"},
    )
    ctx.set_user(user_id)
    territory_service.create_territory(ctx, long_name)
    window = _window(qtbot, ctx, runner, settings)

    widths = _visit_every_page(qtbot, window)

    territories = window.page("territories")
    assert isinstance(territories, TerritoriesView)
    kpi = territories.findChild(TerritoryKpiPanel)
    assert kpi is not None
    territories.tabs.setCurrentWidget(kpi)
    kpi.updating.setText("Could not compute the figures: " + "database is locked; " * 20)
    kpi.updating.show()
    qtbot.wait(20)
    widths["territories/KPIs, status line"] = window.minimumSizeHint().width()
    runner.wait_for_idle()

    too_wide = {page: width for page, width in widths.items() if width > LAPTOP_WIDTH}
    assert not too_wide, f"wider than {LAPTOP_WIDTH} px at its narrowest: {too_wide}"
