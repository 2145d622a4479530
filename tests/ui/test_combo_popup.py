"""Every combo box's popup paints its current entry (issue 16, point 5): it was a blank white box."""

from __future__ import annotations

from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QComboBox, QWidget
from pytestqt.qtbot import QtBot

from fieldrep.services.context import Context
from fieldrep.ui import theme
from fieldrep.ui.tasks import TaskRunner
from fieldrep.ui.views.accounts_view import AccountsView


def _dark_pixels_of_current_entry(qtbot: QtBot, combo: QComboBox) -> int:
    combo.showPopup()
    view = combo.view()
    qtbot.waitUntil(view.isVisible)
    rect = view.visualRect(view.currentIndex())
    image: QImage = view.viewport().grab(rect).toImage()
    combo.hidePopup()
    dark = 0
    for x in range(image.width()):
        for y in range(image.height()):
            if QColor(image.pixel(x, y)).lightness() < 120:  # text, on a light background
                dark += 1
    return dark


def test_the_accounts_filters_show_their_current_entry(
    qtbot: QtBot, ctx: Context, runner: TaskRunner
) -> None:
    view = AccountsView(ctx, runner)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    combo = view.filters["status"]
    combo.setCurrentIndex(2)
    assert _dark_pixels_of_current_entry(qtbot, combo) > 20


def test_a_combo_under_the_app_theme_shows_its_current_entry(qtbot: QtBot) -> None:
    page = QWidget()
    page.setStyleSheet(theme.STYLE_SHEET)
    page.setPalette(theme.palette())
    combo = QComboBox(page)
    combo.addItems(["per territory", "per rep"])
    combo.setCurrentIndex(1)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitExposed(page)
    assert _dark_pixels_of_current_entry(qtbot, combo) > 20
