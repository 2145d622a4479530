"""The Map page as the window builds it: a light placeholder at once, the real map once its libraries
are in.

:class:`~fieldrep.ui.map.map_page.MapPage` needs numpy and shapely (and the map's services built on
them): importing those the first time costs a good part of a second, and done on the GUI thread it
froze the window as the page opened (a rep's app opens on the map, so at every start). This module
imports nothing heavy: it shows "Opening the map…", imports the Qt-free modules on a worker of the
task runner, then builds the page on the GUI thread, where every import it makes is already done.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from fieldrep.services.context import Context
from fieldrep.ui.tasks import Progress, Task, TaskRunner

log = logging.getLogger(__name__)

# Imported on the worker, heaviest first; none of them imports Qt.
HEAVY_MODULES = (
    "numpy",
    "shapely",
    "fieldrep.geo.projection",
    "fieldrep.geo.spatial",
    "fieldrep.geo.basemap",
    "fieldrep.geo.routing",
    "fieldrep.services.map.data",
    "fieldrep.services.map.selection",
    "fieldrep.services.map.territory",
    "fieldrep.services.map.route_planning",
    "fieldrep.services.accounts.visits",
)


def import_map_modules(_db_path: Path, progress: Progress) -> None:
    """On a worker: import what the map page needs and read the built-in basemap (cached)."""
    for name in HEAVY_MODULES:
        progress.check()
        importlib.import_module(name)
    from fieldrep.geo import basemap

    basemap.load()


class MapHome(QWidget):
    """The Map page's slot in the window: a placeholder, then the :class:`MapPage` itself."""

    account_open_requested = Signal(str)
    ready = Signal(object)  # the MapPage, once built

    def __init__(self, context: Context, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mapHome")
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.context = context
        self.runner = runner
        self.page: Any = None  # the MapPage once built
        self._pending_account: str | None = None
        self.placeholder = QLabel("Opening the map…")
        self.placeholder.setObjectName("muted")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.addWidget(self.placeholder)
        self.task: Task = runner.run(
            import_map_modules,
            label="Opening the map",
            quiet=True,
            on_success=lambda _r: self._build(),
            on_failure=self._on_import_failed,
        )

    def _build(self) -> None:
        from fieldrep.ui.map.map_page import MapPage

        if self.runner.closed or self.context.closed:  # the window closed while importing
            return
        page = MapPage(self.context, self.runner)
        page.account_open_requested.connect(self.account_open_requested)
        self._layout.removeWidget(self.placeholder)
        self.placeholder.hide()
        self.placeholder.deleteLater()
        self._layout.addWidget(page)
        page.show()  # at once, not on the layout's next turn of the event loop
        self.page = page
        if self.hasFocus():  # the window gave the page the keyboard while it was opening
            page.canvas.setFocus(Qt.FocusReason.OtherFocusReason)
        if self._pending_account is not None:
            account, self._pending_account = self._pending_account, None
            page.loaded.connect(
                lambda: page.show_account(account), Qt.ConnectionType.SingleShotConnection
            )
        self.ready.emit(page)

    def focus_start(self) -> None:
        """The keyboard goes to the map (arrows pan, +/- zoom), or here until the map is built."""
        if self.page is not None:
            self.page.canvas.setFocus(Qt.FocusReason.OtherFocusReason)
        else:
            self.setFocus(Qt.FocusReason.OtherFocusReason)

    def _on_import_failed(self, exc: BaseException) -> None:
        log.error("the map could not be opened: %s", exc, exc_info=exc)
        self.placeholder.setText(f"The map could not be opened: {exc}")

    def show_account(self, account_id: str) -> bool:
        """Centre the map on an account (the Accounts list calls this); remembered until the map
        has loaded."""
        if self.page is None or self.page.bundle is None:
            if self.page is None:
                self._pending_account = account_id
            else:
                page = self.page
                page.loaded.connect(
                    lambda: page.show_account(account_id), Qt.ConnectionType.SingleShotConnection
                )
            return False
        return bool(self.page.show_account(account_id))
