"""A filter's combo box that is as wide as its chosen text, elides rather than cuts, and can fill
itself just before its list opens."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QPaintEvent, QPalette
from PySide6.QtWidgets import QComboBox, QStyle, QStyleOptionComboBox, QStylePainter

# The style draws a combo box's text a pixel inside its field, and a glyph can reach a pixel
# past its advance: the room kept beside the text so that a text that fits is never elided.
_LABEL_INSET = 2


class LazyComboBox(QComboBox):
    """A filter's combo box: it asks for the width of its chosen text but can shrink to its first
    item (the field's name, shown when nothing is chosen), eliding a longer choice rather than
    cutting it; and it can fill itself just before its list opens."""

    def __init__(self, before_popup: Callable[[], None] | None = None) -> None:
        super().__init__()
        self._before_popup = before_popup
        self.currentIndexChanged.connect(self.updateGeometry)

    def minimumSizeHint(self) -> QSize:
        return QSize(self._width_for(self.itemText(0)), super().minimumSizeHint().height())

    def sizeHint(self) -> QSize:
        width = self._width_for(self.currentText())
        return self.minimumSizeHint().expandedTo(QSize(width, 0))

    def _width_for(self, text: str) -> int:
        """The width that shows ``text`` whole: its own plus the frame, padding and arrow."""
        self.ensurePolished()
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        option.rect = QRect(0, 0, 1000, 30)  # any width wider than the frame, padding and arrow
        field = self.style().subControlRect(
            QStyle.ComplexControl.CC_ComboBox, option, QStyle.SubControl.SC_ComboBoxEditField, self
        )
        chrome = option.rect.width() - field.width()
        return self.fontMetrics().horizontalAdvance(text) + chrome + 2 * _LABEL_INSET

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QStylePainter(self)
        painter.setPen(self.palette().color(QPalette.ColorRole.Text))
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
        field = self.style().subControlRect(
            QStyle.ComplexControl.CC_ComboBox, option, QStyle.SubControl.SC_ComboBoxEditField, self
        )
        option.currentText = self.fontMetrics().elidedText(
            option.currentText, Qt.TextElideMode.ElideRight, field.width() - _LABEL_INSET
        )
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, option)

    def showPopup(self) -> None:
        if self._before_popup is not None:
            self._before_popup()
        super().showPopup()
