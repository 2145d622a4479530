"""The one widget that shows matplotlib figures: a FigureCanvasQTAgg the chart builders draw into."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtWidgets import QSizePolicy, QVBoxLayout, QWidget


class ChartCanvas(QWidget):
    """Holds a Figure; ``draw_with(builder, *args)`` calls ``builder(figure, *args)`` and repaints."""

    def __init__(
        self, parent: QWidget | None = None, *, size: tuple[float, float] = (5, 3)
    ) -> None:
        super().__init__(parent)
        self.figure = Figure(figsize=size, dpi=90)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)

    def draw_with(self, builder: Callable[..., None], *args: Any, **kwargs: Any) -> None:
        builder(self.figure, *args, **kwargs)
        self.canvas.draw_idle()
