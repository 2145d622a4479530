"""What every action mixin of :class:`~fieldrep.ui.map.map_page.MapPage` needs from the page: its
data, canvas, side tabs and message line, and the page's own ``say``, ``set_tool`` and ``reload``
(the page defines them; these stubs give the mixins their types)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from PySide6.QtWidgets import QWidget

if TYPE_CHECKING:
    from PySide6.QtWidgets import QLabel, QTabWidget

    from fieldrep.services.context import Context
    from fieldrep.ui.map.canvas import MapCanvas
    from fieldrep.ui.map.map_page import MapBundle
    from fieldrep.ui.tasks import Task, TaskRunner


class MapActionsBase:
    """Needs the attributes below, which :class:`MapPage` creates."""

    context: Context
    runner: TaskRunner
    bundle: MapBundle | None
    canvas: MapCanvas
    tabs: QTabWidget
    message: QLabel

    def say(self, text: str, *, error: bool = False) -> None:
        raise NotImplementedError

    def _widget(self) -> QWidget:
        return cast(QWidget, self)

    def set_tool(self, key: str) -> None:
        raise NotImplementedError

    def reload(self) -> Task:
        raise NotImplementedError
