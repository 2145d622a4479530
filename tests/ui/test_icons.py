"""Icons are drawn when Qt asks for a size, in the colour asked for, and survive Qt's own copying."""

from __future__ import annotations

import gc
from collections import Counter

from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon, QImage, QPainter, QPixmap

from fieldrep.ui import icons

RED, BLUE = "#ff0000", "#0000ff"


def _colours(image: QImage) -> Counter[str]:
    """How many clearly drawn (not anti-aliased edge) pixels there are of each colour."""
    seen: Counter[str] = Counter()
    for x in range(image.width()):
        for y in range(image.height()):
            pixel = image.pixelColor(x, y)
            if pixel.alpha() > 200:
                seen[pixel.name()] += 1
    return seen


def test_drawn_at_the_size_asked_in_the_colour_asked(qapp: object) -> None:
    icon = icons.icon("accounts", RED, BLUE)
    for side in (14, 20, 34, 64):
        pixmap = icon.pixmap(QSize(side, side))
        assert pixmap.size() == QSize(side, side)
        assert set(_colours(pixmap.toImage())) == {RED}
    selected = icon.pixmap(QSize(20, 20), QIcon.Mode.Selected)
    assert set(_colours(selected.toImage())) == {BLUE}
    active = icon.pixmap(QSize(20, 20), QIcon.Mode.Active)
    assert set(_colours(active.toImage())) == {BLUE}


def test_each_size_is_rendered_once(qapp: object) -> None:
    icon = icons.icon("map")
    first = icon.pixmap(QSize(20, 20))
    assert icon.pixmap(QSize(20, 20)).cacheKey() == first.cacheKey()
    assert icon.pixmap(QSize(24, 24)).cacheKey() != first.cacheKey()


def test_sharp_on_a_high_dpi_screen(qapp: object) -> None:
    pixmap = icons.icon("accounts", RED).pixmap(QSize(20, 20), 2.0)
    assert pixmap.size() == QSize(40, 40)  # device pixels, not a 20 px image scaled up
    assert pixmap.devicePixelRatio() == 2.0


def test_square_icon_fits_a_wide_rect(qapp: object) -> None:
    icon = icons.icon("accounts", RED)
    assert icon.actualSize(QSize(40, 20)) == QSize(20, 20)
    canvas = QPixmap(40, 20)
    canvas.fill(BLUE)
    painter = QPainter(canvas)
    icon.paint(painter, 0, 0, 40, 20)
    painter.end()
    image = canvas.toImage()
    assert image.pixelColor(2, 10).name() == BLUE  # the margins are left alone
    assert _colours(image)[RED] > 0


def test_without_a_selected_colour_the_style_treats_modes(qapp: object) -> None:
    icon = icons.icon("accounts", RED)
    disabled = _colours(icon.pixmap(QSize(20, 20), QIcon.Mode.Disabled).toImage())
    assert disabled
    assert RED not in disabled  # greyed, as Qt does for any icon
    normal = icon.pixmap(QSize(20, 20))
    assert set(_colours(normal.toImage())) == {RED}


def test_a_modified_copy_lives_on_after_the_original(qapp: object) -> None:
    original = icons.icon("accounts", RED)
    copy = QIcon(original)
    copy.addPixmap(QPixmap(8, 8))  # detaches: Qt clones the engine
    del original
    gc.collect()
    more = [QIcon(copy) for _ in range(3)]
    for extra in more:
        extra.addPixmap(QPixmap(4, 4))
    del more
    gc.collect()
    assert set(_colours(copy.pixmap(QSize(20, 20)).toImage())) == {RED}


def test_a_missing_file_falls_back_to_a_standard_icon(qapp: object) -> None:
    icon = icons.icon("no-such-icon")
    assert not icon.isNull()
    assert not icon.pixmap(QSize(16, 16)).isNull()
