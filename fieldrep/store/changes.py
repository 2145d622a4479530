"""One change notification for the whole app: which tables a committed transaction wrote.

In the shape of Anki's operation changes (``OpChanges`` handed to the ``operation_did_execute``
hook after every ``CollectionOp``): a writer does not call the pages that show its rows; it
announces what it changed, once, after its outermost COMMIT, and every listener decides whether
that concerns it. A rolled-back transaction announces nothing.

The :class:`ChangeHub` is Qt-free and thread-safe. The app makes one and hands it to every
:class:`~fieldrep.services.context.Context` it opens, the worker threads' included (through the
database path, see :class:`~fieldrep.services.context.DatabasePath`); the desktop app's adapter
re-emits announcements on the GUI thread as one Qt signal. Listeners are called on the thread
that committed, outside the hub's lock, so they must be quick and thread-safe (the Qt adapter only
queues the tables).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Changes:
    """What one committed transaction (or, in the UI, one burst of them) changed."""

    tables: frozenset[str]

    def touches(self, *tables: str) -> bool:
        """Whether any of ``tables`` changed."""
        return not self.tables.isdisjoint(tables)

    def __bool__(self) -> bool:
        return bool(self.tables)


Listener = Callable[[Changes], None]


class ChangeHub:
    """Listeners subscribe; writers announce the set of tables a committed transaction changed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` after every announcement; returns the function that unsubscribes."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    @property
    def listening(self) -> bool:
        """Whether anyone listens: a writer need not track what it writes for nobody."""
        with self._lock:
            return bool(self._listeners)

    def announce(self, tables: Iterable[str]) -> None:
        """Tell every listener that ``tables`` changed (nothing is said for an empty set)."""
        changes = Changes(frozenset(tables))
        if not changes:
            return
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(changes)
            except Exception:  # one broken listener must not stop the others or the writer
                log.exception("a change listener failed")
