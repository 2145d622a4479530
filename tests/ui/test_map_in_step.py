"""The Map and the Accounts page stay in step: a click on the map opens the account on the
Accounts page, and an account opened there is marked (and centred) on the map."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from pytestqt.qtbot import QtBot

from fieldrep.geo.projection import lonlat_to_world
from fieldrep.services.context import Context
from fieldrep.ui.main_window import MainWindow
from fieldrep.ui.map.map_home import MapHome
from fieldrep.ui.map.map_page import MapPage
from fieldrep.ui.tasks import TaskRunner


def test_map_click_opens_the_account_and_the_list_marks_the_map(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, settings: QSettings
) -> None:
    user = ctx.writer.insert(
        "users", {"username": "dana", "display_name": "Dana", "role": "manager"}
    )
    ctx.set_user(user)
    ids = [
        ctx.writer.insert(
            "accounts", {"name": f"Bakery {i}", "lat": 41.0 + 0.05 * i, "lon": -87.7 + 0.05 * i}
        )
        for i in range(6)
    ]
    window = MainWindow(ctx, runner, settings)
    qtbot.addWidget(window)
    window.resize(1366, 768)
    window.show()
    qtbot.waitExposed(window)
    window.show_page("map")
    home = window.page("map")
    assert isinstance(home, MapHome)
    qtbot.waitUntil(lambda: home.page is not None, timeout=20_000)
    page = home.page
    assert isinstance(page, MapPage)
    qtbot.waitUntil(lambda: page.bundle is not None, timeout=20_000)
    qtbot.waitUntil(page.canvas.scene_ready, timeout=20_000)

    x, y = page.canvas.screen_of(*lonlat_to_world(-87.7 + 0.05 * 3, 41.0 + 0.05 * 3))
    qtbot.mouseClick(page.canvas, Qt.MouseButton.LeftButton, pos=QPoint(round(x), round(y)))
    assert window.current_page_key == "accounts"
    accounts = window.page("accounts")
    qtbot.waitUntil(lambda: accounts.panel.account_id == ids[3], timeout=20_000)  # type: ignore[union-attr]

    accounts.open_account(ids[5])  # type: ignore[union-attr]
    assert page.current_account_id() == ids[5]
    cx, cy = lonlat_to_world(-87.7 + 0.05 * 5, 41.0 + 0.05 * 5)
    assert (page.canvas.cx, page.canvas.cy) == pytest.approx((cx, cy))
