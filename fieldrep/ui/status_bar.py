"""The main window's status bar: which database, who is signed in, what waits to sync, online or not,
when the last sync was and what went wrong, plus "Sync now", the open conflicts and the unread
notifications (a badge; clicking it asks for the notification centre).

It only displays what it is told (``set_*``); the main window reads the database and the sync
controller, and the connectivity monitor decides online/offline, so this widget never queries
anything itself. Its buttons only emit signals.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QStatusBar, QWidget

from fieldrep.ui import icons, theme
from fieldrep.ui.widgets.elided_label import ElidedLabel
from fieldrep.ui.widgets.task_progress import TaskProgressWidget

ROLE_TITLES = {"rep": "Sales rep", "manager": "Manager", "admin": "Administrator"}
_TONES = {"ok": theme.SUCCESS, "busy": theme.ACCENT, "problem": theme.DANGER, "off": theme.OFFLINE}


ICON_ITEM_MINIMUM = 16  # an item's text at its narrowest: "…" (the whole text is its tooltip)


class _IconLabel(QWidget):
    """An icon followed by a text, as one status-bar item."""

    def __init__(self, icon_name: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.icon = QLabel()
        if icon_name is not None:
            self.icon.setPixmap(icons.icon(icon_name, theme.TEXT_MUTED).pixmap(QSize(14, 14)))
        # Elided with "…" where the bar is short of room (a task's progress beside it), down to
        # the icon and "…" on a narrow window: a long job never makes the bar widen the window.
        self.text = ElidedLabel(minimum_width=ICON_ITEM_MINIMUM)
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
    """Database, user, pending changes, connectivity and sync on the left; conflicts, task
    progress and "Sync now" on the right."""

    sync_requested = Signal()
    sign_in_requested = Signal()
    conflicts_requested = Signal()
    notifications_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeGripEnabled(False)
        self.database = _IconLabel("database")
        self.user = _IconLabel("user")
        self.pending = _IconLabel("pending")
        self.online = _IconLabel()
        self.sync = _IconLabel()
        self.sync.text.setObjectName("syncText")
        # Long sync messages may be clipped in a narrow window rather than widen it (the full
        # sentence is in the tooltip).
        self.sync.text.setMinimumWidth(24)
        self.user.text.setMinimumWidth(24)
        self.conflicts_button = QPushButton()
        self.conflicts_button.setObjectName("conflictsButton")
        self.conflicts_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.conflicts_button.clicked.connect(self.conflicts_requested)
        self.conflicts_button.setStyleSheet(
            f"QPushButton {{ color: {theme.WARNING}; background: #FEF3E2; border: 1px solid #F8D8A8;"
            " font-weight: 600; }"
        )
        self.conflicts_button.hide()
        self.unread_button = QPushButton()
        self.unread_button.setObjectName("unreadBadge")
        self.unread_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.unread_button.clicked.connect(self.notifications_requested)
        self.unread_button.setStyleSheet(
            f"QPushButton {{ color: white; background: {theme.ACCENT}; border: none;"
            " border-radius: 9px; padding: 1px 10px; font-weight: 600; }"
        )
        self.unread_button.hide()
        self.sync_button = QPushButton("Sync now")
        self.sync_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.sync_button.clicked.connect(self._on_sync_button_clicked)
        self.task_progress = TaskProgressWidget()
        # Permanent widgets: a transient showMessage() must never hide who is signed in or where.
        items = (self.database, self.user, self.pending, self.online, self.sync)
        for index, item in enumerate(items):
            if index:
                self.addPermanentWidget(_separator())
            self.addPermanentWidget(item)
        # A notice (an e-mail that could not be sent) where the platform has no tray: in the
        # room between the items, since a showMessage() would have none beside them.
        self.notice = ElidedLabel()
        self.notice.setObjectName("statusNotice")
        self.notice.setMinimumWidth(0)  # no room taken from the items while it says nothing
        self.notice.setStyleSheet(f"color: {theme.DANGER}; padding-left: 12px;")
        self._notice_timer = QTimer(self)
        self._notice_timer.setSingleShot(True)
        self._notice_timer.timeout.connect(self.clear_notice)
        self.addPermanentWidget(self.notice, 1)
        self.addPermanentWidget(self.unread_button)
        self.addPermanentWidget(self.conflicts_button)
        self.addPermanentWidget(self.task_progress)
        self.addPermanentWidget(self.sync_button)
        self._online: bool = False
        self._signed_in = False
        self._tone = "off"
        self.set_online(False)
        self.set_sync("Sync off: not signed in", "", "off", signed_in=False, syncing=False)

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
    def sync_text(self) -> str:
        return self.sync.text.text()

    @property
    def sync_tone(self) -> str:
        return self._tone

    @property
    def conflicts_text(self) -> str:
        return self.conflicts_button.text() if self.conflicts_button.isVisibleTo(self) else ""

    @property
    def unread_text(self) -> str:
        return self.unread_button.text() if self.unread_button.isVisibleTo(self) else ""

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

    def set_pending(self, count: int, *, ever_synced: bool = True, demo: bool = False) -> None:
        """What waits to be sent. A demo book's rows are not the user's edits, and a database
        that never synced has nothing "synced"."""
        noun = "change" if count == 1 else "changes"
        if demo:
            text = "Demo data, not synced"
            tip = (
                "This is the demo database: its accounts stay on this laptop and are never sent."
                " Sign in to work on your team's data."
            )
        elif count == 0 and not ever_synced:
            text, tip = "No changes yet", "Nothing has been changed here, and nothing synced yet"
        elif count == 0:
            text, tip = "All changes synced", "No local changes are waiting to be sent"
        elif not ever_synced:
            text = f"{count:,} {noun} not sent yet"
            tip = f"{count:,} local {noun} will be sent once you sign in and sync"
        else:
            text = f"{count:,} {noun} to sync"
            tip = f"{count:,} local {noun} will be sent to the server at the next sync"
        self.pending.text.setText(text)
        self.pending.setToolTip(tip)

    def set_online(self, online: bool) -> None:
        self._online = online
        color = theme.SUCCESS if online else theme.OFFLINE
        self.online.icon.setPixmap(icons.dot(color, 10))
        # "Network", so it is not read as the state of sync beside it ("Sync off: ...").
        self.online.text.setText("Network online" if online else "Network offline")
        self.online.setToolTip(
            "The network is reachable; changes sync in the background"
            if online
            else "Working offline: every change is kept and sent when you are back online"
        )

    def set_sync(
        self, text: str, tooltip: str, tone: str, *, signed_in: bool, syncing: bool
    ) -> None:
        """The sync item (``tone``: ok, busy, problem or off) and what the button offers."""
        self._tone = tone
        self._signed_in = signed_in
        self.sync.icon.setPixmap(icons.dot(_TONES.get(tone, theme.OFFLINE), 10))
        self.sync.text.setText(text)
        color = theme.DANGER if tone == "problem" else theme.TEXT_MUTED
        self.sync.text.setStyleSheet(f"color: {color};")
        self.sync.setToolTip(tooltip)
        if signed_in:
            self.sync_button.setText("Sync now")
            self.sync_button.setToolTip("Send your changes and fetch your team's now")
        else:
            self.sync_button.setText("Sign in…")
            self.sync_button.setToolTip("Sign in to your team's sync server")
        self.sync_button.setEnabled(not syncing)

    def set_conflicts(self, count: int) -> None:
        if count <= 0:
            self.conflicts_button.hide()
            return
        noun = "conflict" if count == 1 else "conflicts"
        self.conflicts_button.setText(f"⚠ {count:,} {noun} to review")
        self.conflicts_button.setToolTip("Open the Conflicts page to decide which values stay")
        self.conflicts_button.show()

    @property
    def notice_text(self) -> str:
        return self.notice.text()

    def show_notice(self, text: str, ms: int = 15_000) -> None:
        """Say ``text`` for ``ms`` milliseconds (the whole sentence also in the tooltip)."""
        self.notice.setText(text)
        self.notice.setToolTip(text)
        self._notice_timer.start(ms)

    def clear_notice(self) -> None:
        self.notice.setText("")
        self.notice.setToolTip("")

    def set_unread(self, count: int, newest: str = "") -> None:
        """The unread notifications' badge (hidden at none); ``newest``: the latest one's subject,
        for the tooltip."""
        if count <= 0:
            self.unread_button.hide()
            return
        self.unread_button.setText(f"{count:,} unread")
        noun = "notification" if count == 1 else "notifications"
        tip = f"{count:,} unread {noun}"
        self.unread_button.setToolTip(f"{tip}; the latest: {newest}" if newest else tip)
        self.unread_button.show()

    def _on_sync_button_clicked(self) -> None:
        if self._signed_in:
            self.sync_requested.emit()
        else:
            self.sign_in_requested.emit()
