"""The main window's status bar: which database, who is signed in, what waits to sync, online or not.

It only displays what it is told (``set_*``); the main window reads the database and the connectivity
monitor (or the sync engine) decides online/offline, so this widget never queries anything itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QStatusBar, QWidget

from fieldrep.ui import icons, theme
from fieldrep.ui.widgets.task_progress import TaskProgressWidget

ROLE_TITLES = {"rep": "Sales rep", "manager": "Manager", "admin": "Administrator"}


class _IconLabel(QWidget):
    """An icon followed by a text, as one status-bar item."""

    def __init__(self, icon_name: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.icon = QLabel()
        if icon_name is not None:
            self.icon.setPixmap(icons.icon(icon_name, theme.TEXT_MUTED).pixmap(QSize(14, 14)))
        self.text = QLabel()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 0, 10, 0)
        layout.setSpacing(6)
        layout.addWidget(self.icon)
        layout.addWidget(self.text)


def _separator() -> QFrame:
    line = QFrame()
    line.setObjectName("statusSeparator")
    line.setFrameShape(QFrame.Shape.VLine)
    line.setFixedHeight(14)
    return line


def describe_user(user: Mapping[str, object] | None) -> str:
    """``"Dana Reyes · Manager"``, or ``"Not signed in"``."""
    if user is None:
        return "Not signed in"
    name = str(user.get("display_name") or user.get("username") or "Unknown user")
    role = str(user.get("role") or "")
    return f"{name} · {ROLE_TITLES.get(role, role.title())}" if role else name


class MainStatusBar(QStatusBar):
    """Database, user, pending changes and connectivity on the left; task progress on the right."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeGripEnabled(False)
        self.database = _IconLabel("database")
        self.user = _IconLabel("user")
        self.pending = _IconLabel("pending")
        self.online = _IconLabel()
        self.task_progress = TaskProgressWidget()
        # Permanent widgets: a transient showMessage() must never hide who is signed in or where.
        for index, item in enumerate((self.database, self.user, self.pending, self.online)):
            if index:
                self.addPermanentWidget(_separator())
            self.addPermanentWidget(item)
        spacer = QWidget()
        self.addPermanentWidget(spacer, 1)
        self.addPermanentWidget(self.task_progress)
        self._online: bool = False
        self.set_online(False)

    # Texts, read by tests and by anyone who wants to know what the user sees.
    @property
    def database_text(self) -> str:
        return self.database.text.text()

    @property
    def user_text(self) -> str:
        return self.user.text.text()

    @property
    def pending_text(self) -> str:
        return self.pending.text.text()

    @property
    def online_text(self) -> str:
        return self.online.text.text()

    @property
    def is_online(self) -> bool:
        return self._online

    def set_database(self, path: Path) -> None:
        self.database.text.setText(path.name)
        self.database.setToolTip(f"Database: {path}")

    def set_user(self, user: Mapping[str, object] | None) -> None:
        self.user.text.setText(describe_user(user))
        username = user.get("username") if user else None
        self.user.setToolTip(f"Signed in as {username}" if username else "Nobody is signed in")

    def set_pending(self, count: int) -> None:
        if count == 0:
            text, tip = "All changes synced", "No local changes are waiting to be sent"
        else:
            noun = "change" if count == 1 else "changes"
            text = f"{count:,} {noun} to sync"
            tip = f"{count:,} local {noun} will be sent to the server at the next sync"
        self.pending.text.setText(text)
        self.pending.setToolTip(tip)

    def set_online(self, online: bool) -> None:
        self._online = online
        color = theme.SUCCESS if online else theme.OFFLINE
        self.online.icon.setPixmap(icons.dot(color, 10))
        self.online.text.setText("Online" if online else "Offline")
        self.online.setToolTip(
            "The network is reachable; changes sync in the background"
            if online
            else "Working offline: every change is kept and sent when you are back online"
        )
