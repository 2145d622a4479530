"""Tells the UI whether the network is reachable, from Qt's QNetworkInformation when available.

Without a backend (some containers, minimal installs) the state stays *offline*: claiming to be
online when we cannot know would promise a sync that may not happen. The sync engine, which knows
whether the server actually answered, can override the state through the main window.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QNetworkInformation

log = logging.getLogger(__name__)

_REACHABLE = (QNetworkInformation.Reachability.Online, QNetworkInformation.Reachability.Site)


class ConnectivityMonitor(QObject):
    """Emits :attr:`online_changed` whenever the system's reachability flips."""

    online_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._online = False
        self.backend: str | None = None

    @property
    def online(self) -> bool:
        return self._online

    def start(self) -> bool:
        """Load the platform's backend; ``False`` (and offline) if there is none."""
        info = QNetworkInformation.instance()
        if info is None and QNetworkInformation.loadDefaultBackend():
            info = QNetworkInformation.instance()
        if info is None:
            log.info("no network information backend; showing offline")
            return False
        self.backend = info.backendName()
        info.reachabilityChanged.connect(self._on_info_reachability_changed)
        self._on_info_reachability_changed(info.reachability())
        return True

    def _on_info_reachability_changed(self, reachability: QNetworkInformation.Reachability) -> None:
        online = reachability in _REACHABLE
        if online != self._online:
            self._online = online
            self.online_changed.emit(online)
