"""A one-line label that elides its text instead of widening the window it is in."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

# The narrowest it asks to be: a few words, then "…" (the whole text is in the tooltip).
MINIMUM_WIDTH = 80


class ElidedLabel(QLabel):
    """Plain text on one line: as wide as the text where there is room, elided ("…") where there
    is not, never forcing its window wider; the full text is its tooltip while elided."""

    def __init__(
        self,
        text: str = "",
        parent: QWidget | None = None,
        *,
        minimum_width: int = MINIMUM_WIDTH,
        preferred_width: int | None = None,
    ) -> None:
        super().__init__(parent)
        self.minimum_width = minimum_width
        # The most it asks for however long its text: it then leaves its neighbours their room.
        self.preferred_width = preferred_width
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), self.minimum_width), hint.height())

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        if self.preferred_width is None:
            return hint
        return QSize(min(hint.width(), self.preferred_width), hint.height())

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        rect = self.contentsRect()
        text = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, rect.width())
        self.setToolTip(self.text() if text != self.text() else "")
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(rect, int(self.alignment() | Qt.AlignmentFlag.AlignVCenter), text)
