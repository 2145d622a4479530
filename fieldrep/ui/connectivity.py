"""Tells the UI whether the sync server can be reached, so sync starts as soon as it can.

Two sources, one answer (:attr:`ConnectivityMonitor.online`):

- Qt's ``QNetworkInformation`` says whether the laptop has a network at all. Without a backend (some
  containers, minimal installs) the state stays *offline*: claiming to be online when we cannot know
  would promise a sync that may not happen.
- Once a server is known (:meth:`set_server`), a probe opens a TCP connection to its host and port
  every :attr:`probe_interval_ms` (and at once when the system's reachability flips). A laptop on a
  hotel Wi-Fi portal has "a network" but no server, so the probe's answer is the one that counts.

The sync controller also reports what it learnt from a real sync (:meth:`report`), so a failed
sync shows offline at once and the next successful probe turns it back online, which triggers sync.
Everything runs on the GUI thread with Qt's asynchronous sockets: no thread, no blocking.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from PySide6.QtCore import QObject, QTimer, Signal

if TYPE_CHECKING:
    # QtNetwork is imported when monitoring starts: loading it is time the first frame can spare.
    from PySide6.QtNetwork import QAbstractSocket, QNetworkInformation, QTcpSocket

log = logging.getLogger(__name__)

DEFAULT_PROBE_INTERVAL_MS = 20_000
PROBE_TIMEOUT_MS = 5_000


def server_address(url: str) -> tuple[str, int] | None:
    """``("sync.example.com", 443)`` for ``https://sync.example.com``; None if unusable."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.scheme not in ("http", "https"):
        return None
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


class ConnectivityMonitor(QObject):
    """Emits :attr:`online_changed` whenever the server's (or the system's) reachability flips."""

    online_changed = Signal(bool)
    probed = Signal(bool)  # every probe's answer, changed or not (diagnostics and tests)

    def __init__(
        self, parent: QObject | None = None, *, probe_interval_ms: int = DEFAULT_PROBE_INTERVAL_MS
    ) -> None:
        super().__init__(parent)
        self._online = False
        self._system_online: bool | None = None  # None: no backend, we cannot tell
        self._server: tuple[str, int] | None = None
        self.backend: str | None = None
        self._socket: QTcpSocket | None = None
        self._probe_timer = QTimer(self)
        self._probe_timer.setInterval(probe_interval_ms)
        self._probe_timer.timeout.connect(self.probe)
        self._timeout = QTimer(self)
        self._timeout.setSingleShot(True)
        self._timeout.setInterval(PROBE_TIMEOUT_MS)
        self._timeout.timeout.connect(self._on_timeout_timeout)

    @property
    def online(self) -> bool:
        return self._online

    @property
    def server(self) -> tuple[str, int] | None:
        return self._server

    @property
    def probe_interval_ms(self) -> int:
        return self._probe_timer.interval()

    def start(self) -> bool:
        """Load the platform's backend; ``False`` (and offline until a probe says otherwise) if
        there is none."""
        from PySide6.QtNetwork import QNetworkInformation

        info = QNetworkInformation.instance()
        if info is None and QNetworkInformation.loadDefaultBackend():
            info = QNetworkInformation.instance()
        if info is None:
            log.info("no network information backend; relying on the server probe")
            return False
        self.backend = info.backendName()
        info.reachabilityChanged.connect(self._on_info_reachability_changed)
        self._on_info_reachability_changed(info.reachability())
        return True

    def set_server(self, url: str | None) -> None:
        """Probe this server from now on (``None``: stop probing, follow the system alone)."""
        address = server_address(url) if url else None
        if address == self._server:
            return
        self._server = address
        self._abort_probe()
        if address is None:
            self._probe_timer.stop()
            self._set_online(bool(self._system_online))
            return
        self._probe_timer.start()
        self.probe()

    def stop(self) -> None:
        self._probe_timer.stop()
        self._abort_probe()

    def report(self, reachable: bool) -> None:
        """What a real request just learnt about the server."""
        self._set_online(reachable)

    def probe(self) -> None:
        """Try to open a connection to the server now; the answer arrives asynchronously."""
        if self._server is None or self._socket is not None:
            return
        if self._system_online is False:
            self._finish_probe(False)  # no network at all: no need to wait for a timeout
            return
        from PySide6.QtNetwork import QTcpSocket

        socket = QTcpSocket(self)
        socket.connected.connect(lambda: self._finish_probe(True))
        socket.errorOccurred.connect(self._on_socket_error_occurred)
        self._socket = socket
        self._timeout.start()
        socket.connectToHost(*self._server)

    # -- internals ----------------------------------------------------------------------------

    def _on_socket_error_occurred(self, _error: QAbstractSocket.SocketError) -> None:
        self._finish_probe(False)

    def _on_timeout_timeout(self) -> None:
        self._finish_probe(False)

    def _abort_probe(self) -> None:
        self._timeout.stop()
        socket, self._socket = self._socket, None
        if socket is not None:
            socket.blockSignals(True)
            socket.abort()
            socket.deleteLater()

    def _finish_probe(self, reachable: bool) -> None:
        self._abort_probe()
        self._set_online(reachable)
        self.probed.emit(reachable)

    def _on_info_reachability_changed(self, reachability: QNetworkInformation.Reachability) -> None:
        from PySide6.QtNetwork import QNetworkInformation

        reachable = (QNetworkInformation.Reachability.Online, QNetworkInformation.Reachability.Site)
        self._system_online = reachability in reachable
        if self._server is None:
            self._set_online(self._system_online)
        elif self._system_online:
            self.probe()
        else:
            self._abort_probe()
            self._set_online(False)

    def _set_online(self, online: bool) -> None:
        if online != self._online:
            self._online = online
            log.info("connectivity: %s", "online" if online else "offline")
            self.online_changed.emit(online)
