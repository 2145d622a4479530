"""The desktop side of the change notification: one Qt signal, on the GUI thread, per burst.

:class:`ChangeRelay` listens to the database's :class:`~fieldrep.store.changes.ChangeHub` (whose
announcements come from whichever thread committed) and re-emits them on the GUI thread as
:attr:`ChangeRelay.changed`, merged: the first announcement after a quiet spell is passed on after
``coalesce_ms``, and while writes keep coming (a 100,000-row import, a sync applying page after
page) at most once every ``min_gap_ms``, with every table seen in between. Anki's main window
does the same with ``operation_did_execute``; its screens that are hidden only note that they
need a refresh and do it when shown, which :func:`refresh_on_change` offers every page.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QWidget

from fieldrep.store.changes import ChangeHub, Changes

COALESCE_MS = 30
MIN_GAP_MS = 400


class ChangeRelay(QObject):
    """Re-emits a hub's announcements on the GUI thread, merged into at most one per gap."""

    changed = Signal(object)  # Changes: every table changed since the last emission

    _arrived = Signal()

    def __init__(
        self,
        hub: ChangeHub | None,
        parent: QObject | None = None,
        *,
        coalesce_ms: int = COALESCE_MS,
        min_gap_ms: int = MIN_GAP_MS,
    ) -> None:
        super().__init__(parent)
        self.hub = hub
        self._lock = threading.Lock()
        self._pending: set[str] = set()
        self._coalesce_ms = coalesce_ms
        self._min_gap_ms = min_gap_ms
        self._last_emit = -1e9
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._emit_pending)
        self._arrived.connect(self._on_arrived, Qt.ConnectionType.QueuedConnection)
        self._unsubscribe = hub.subscribe(self._on_hub_announced) if hub is not None else None

    def close(self) -> None:
        """Stop listening (the database is being closed)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._timer.stop()

    def _on_hub_announced(self, changes: Changes) -> None:
        """Any thread: note the tables and wake the GUI thread (once per batch)."""
        with self._lock:
            wake = not self._pending
            self._pending.update(changes.tables)
        if wake:
            self._arrived.emit()

    def _on_arrived(self) -> None:
        if self._timer.isActive():
            return
        since = (time.monotonic() - self._last_emit) * 1000
        self._timer.start(max(self._coalesce_ms, int(self._min_gap_ms - since)))

    def _emit_pending(self) -> None:
        with self._lock:
            tables, self._pending = self._pending, set()
        if tables:
            self._last_emit = time.monotonic()
            self.changed.emit(Changes(frozenset(tables)))

    def flush(self) -> None:
        """Emit what is pending now (tests, and a caller about to read what was just written)."""
        self._timer.stop()
        self._emit_pending()


class _Watcher(QObject):
    """A page's subscription: a child of the page, so the connection ends with it."""

    def __init__(
        self, widget: QWidget, tables: frozenset[str], refresh: Callable[[Changes], object]
    ) -> None:
        super().__init__(widget)
        self.widget = widget
        self.tables = tables
        self.refresh = refresh
        self.missed: set[str] = set()  # tables changed while the page was hidden
        widget.installEventFilter(self)

    def on_changed(self, changes: Changes) -> None:
        if not changes.touches(*self.tables):
            return
        if self.widget.isVisible():
            self.refresh(changes)
        else:
            self.missed.update(changes.tables)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.widget and event.type() == QEvent.Type.Show and self.missed:
            # After the show has been handled: the page paints with its old rows first.
            QTimer.singleShot(0, self, self._catch_up)
        return False

    def _catch_up(self) -> None:
        missed, self.missed = self.missed, set()
        if missed:
            self.refresh(Changes(frozenset(missed)))


def refresh_on_change(
    relay: ChangeRelay | None,
    widget: QWidget,
    tables: Iterable[str],
    refresh: Callable[[Changes], object],
) -> None:
    """Call ``refresh(changes)`` when any of ``tables`` changed: at once while ``widget`` is
    visible, else the next time it is shown, with every table changed meanwhile (a hidden page
    does no work for a change it would not show)."""
    if relay is None:
        return
    watcher = _Watcher(widget, frozenset(tables), refresh)
    relay.changed.connect(watcher.on_changed)
