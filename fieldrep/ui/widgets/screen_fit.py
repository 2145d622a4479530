"""Windows and dialogs that fit the screen they open on (a 1366 x 768 laptop first).

- :func:`fit_to_screen`: a dialog at least as large as its size hint, never larger than the
  screen's available area (Qt's own first size stops at two thirds of the screen and squashes a
  long form to 10-pixel rows);
- :class:`FittingScrollArea`: content that asks for its whole height and scrolls inside the dialog
  or panel only when the screen cannot give it.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QRect, QSize
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFrame, QScrollArea, QWidget

# Room a window's frame (title bar, borders) takes around its client area, which is only known
# once it is shown: an allowance so a window sized before then still fits whole.
FRAME_ALLOWANCE = QSize(16, 48)


def available_geometry(widget: QWidget | None = None) -> QRect:
    """The available area (without task bars) of the screen ``widget`` is on, else the primary."""
    parent = widget.parentWidget() if widget is not None else None
    screen = (parent or widget).screen() if widget is not None else None
    screen = screen or QGuiApplication.primaryScreen()
    return screen.availableGeometry() if screen is not None else QRect(0, 0, 1366, 768)


def room_on_screen(widget: QWidget | None = None) -> QSize:
    """The largest client size a top-level window can have with its frame still on screen."""
    return available_geometry(widget).size() - FRAME_ALLOWANCE


def fits_on_a_screen(frame: QRect) -> bool:
    """Whether ``frame`` (a window's frame geometry) lies within one screen's available area."""
    return any(screen.availableGeometry().contains(frame) for screen in QGuiApplication.screens())


def fit_to_screen(dialog: QWidget) -> None:
    """Size ``dialog`` to at least its size hint, within the screen, centred on its parent."""
    dialog.ensurePolished()
    layout = dialog.layout()
    if layout is not None:
        layout.activate()
    room = room_on_screen(dialog)
    size = dialog.size().expandedTo(dialog.sizeHint()).boundedTo(room)
    size = size.expandedTo(dialog.minimumSize())
    dialog.resize(size)
    area = available_geometry(dialog)
    parent = dialog.parentWidget()
    centre = parent.window().frameGeometry().center() if parent is not None else area.center()
    frame = QRect(0, 0, size.width() + FRAME_ALLOWANCE.width(), size.height())
    frame.moveCenter(centre)
    # Kept inside the screen even when the parent window is not.
    frame.moveLeft(max(area.left(), min(frame.left(), area.right() - frame.width())))
    frame.moveTop(max(area.top(), min(frame.top(), area.bottom() - frame.height() - 40)))
    dialog.move(frame.topLeft())


class FittingScrollArea(QScrollArea):
    """Asks for all the height its content needs (QScrollArea caps its wish at a few lines), so
    it scrolls only when the window cannot give that."""

    def __init__(self, content: QWidget | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        if content is not None:
            self.setWidget(content)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()  # the content's wish changed
        return super().eventFilter(watched, event)

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        content = self.widget()
        if content is not None:
            wanted = content.sizeHint()
            hint.setHeight(wanted.height() + 2 * self.frameWidth())
            hint.setWidth(max(hint.width(), wanted.width() + 2 * self.frameWidth()))
        return hint

    def minimumSizeHint(self) -> QSize:
        content = self.widget()
        width = content.minimumSizeHint().width() if content is not None else 0
        return QSize(width + self.verticalScrollBar().sizeHint().width(), 120)


class _FitOnShow(QObject):
    def __init__(self, dialog: QWidget) -> None:
        super().__init__(dialog)
        dialog.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Show and isinstance(watched, QWidget):
            watched.removeEventFilter(self)
            fit_to_screen(watched)
        return False


def fit_on_show(dialog: QWidget) -> None:
    """Fit ``dialog`` to its content and the screen (:func:`fit_to_screen`) when first shown."""
    _FitOnShow(dialog)
