"""The product's frame: navigation between the pages, menus, and the status bar.

Pages come from the registry in :mod:`fieldrep.ui.pages` and are built the first time they are shown.
The window reads the database only for the status bar (who is signed in, what waits to sync); pages
get the context and the task runner and do their own work. Sync belongs to the
:class:`~fieldrep.ui.sync_controller.SyncController` the app hands in: the window shows its state,
and its menu, status-bar button and settings dialog call it.

Kept whole: the frame's menus, navigation and status bar are wired to each other and to the pages.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QEvent, QRect, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QKeyEvent,
    QKeySequence,
    QPaintEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

import fieldrep
from fieldrep.domain.vocabulary import MANAGER_ROLES
from fieldrep.services.context import Context
from fieldrep.services.sync import conflicts as conflicts_service
from fieldrep.store import settings
from fieldrep.ui import icons, theme
from fieldrep.ui.change_relay import refresh_on_change
from fieldrep.ui.notification_sender import NotificationSender
from fieldrep.ui.pages import PAGES, PageSpec, build_page
from fieldrep.ui.status_bar import MainStatusBar
from fieldrep.ui.tasks import Progress, Task, TaskKind, TaskRunner
from fieldrep.ui.widgets.screen_fit import (
    FRAME_ALLOWANCE,
    available_geometry,
    fits_on_a_screen,
    room_on_screen,
)

if TYPE_CHECKING:
    # Imported when first used: the dialog pulls in httpx and pydantic, which the first paint
    # does not need (tests/ui/test_startup_imports.py keeps it so).
    from fieldrep.ui.dialogs.geocoder_settings_dialog import GeocoderSettingsDialog
    from fieldrep.ui.dialogs.sync_settings_dialog import SyncSettingsDialog
    from fieldrep.ui.sync_controller import SyncController

log = logging.getLogger(__name__)

DEFAULT_SIZE = QSize(1400, 900)
# What the status bar shows is read from these (the outbox, conflicts, who is signed in).
STATUS_TABLES = ("outbox", "conflicts", "users", "local_meta")
STATUS_REFRESH_MS = 5_000
_GEOMETRY_KEY = "main_window/geometry"
_STATE_KEY = "main_window/state"
_PAGE_KEY = "main_window/page"


PREWARM_AFTER_MS = 4_000
# Qt-free modules the Territories page (and the reports) import: charts and their numbers.
# And what the first import of a file read on its worker while the window waited (issue 16.11):
# sqlite-utils (the territories' definitions are read through it; it imports pandas, ~0.3 s) and
# the ISO 3166 region names (pycountry's tables, ~0.3 s).
PREWARM_MODULES = (
    "matplotlib.figure",
    "matplotlib.backends.backend_agg",
    "fieldrep.reports.charts",
    "fieldrep.services.territories.kpis",
    "fieldrep.services.territories.balancing",
    "sqlite_utils",
)


def _prewarm_imports(_db_path: Path, progress: Progress) -> None:
    """On a worker thread: imports, and the region names' tables (no widget, no database).

    With the collector paused: the modules' objects live until exit, and each full collection
    the imports set off walked the whole heap (the window, the caches, every module) in one call
    that held the GIL, 90-170 ms on 100,000 accounts. At the end all that is alive is set aside
    from the collector (``gc.freeze``), so later full collections (a sync, a reassignment) walk
    only what was made since; a reference cycle among the set-aside objects stays until exit.
    """
    import gc
    import importlib

    from fieldrep.domain import regions
    from fieldrep.services.gc_pause import collector_paused

    with collector_paused():
        for name in PREWARM_MODULES:
            progress.check()
            importlib.import_module(name)
        progress.check()
        regions.load()
    gc.freeze()


class _NavList(QListWidget):
    """The sidebar: arrows and Ctrl+1..9 switch pages; letters typed here do not (a list's
    type-ahead would jump to whichever page starts with the letter)."""

    def keyboardSearch(self, search: str) -> None:
        return

    def event(self, event: QEvent) -> bool:
        # With no type-ahead, a typed character is not the list's: let it reach the window's
        # shortcuts ("?" opens the shortcut list).
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and event.text().isprintable()
            and event.text()
        ):
            event.ignore()
            return False
        return super().event(event)


class MainWindow(QMainWindow):
    """Sidebar navigation + a stack of lazily built pages + the status bar."""

    page_changed = Signal(str)  # page key
    first_frame_shown = Signal()  # once, when the window's first frame is on screen
    open_database_requested = Signal(object)  # Path chosen in File > Open database...

    def __init__(
        self,
        context: Context,
        runner: TaskRunner,
        settings: QSettings,
        parent: QWidget | None = None,
        *,
        pages: tuple[PageSpec, ...] = PAGES,
        sync: SyncController | None = None,
    ) -> None:
        super().__init__(parent)
        self.context = context
        self.runner = runner
        self.sync = sync
        self._sync_dialog: SyncSettingsDialog | None = None
        self._geocoder_dialog: GeocoderSettingsDialog | None = None
        self._settings = settings
        self._specs = {spec.key: spec for spec in pages}
        self._order = [spec.key for spec in pages]
        self._built: dict[str, QWidget] = {}
        self._page_actions: dict[str, QAction] = {}
        self._first_frame_shown = False

        # The system adds the application's name ("— FieldRep") itself.
        self.setWindowTitle(context.path.name)
        self.setWindowIcon(icons.icon("app"))
        app = QApplication.instance()
        if not isinstance(app, QApplication) or app.styleSheet() != theme.STYLE_SHEET:
            # The app's theme normally carries it; a window made without the theme (tests, embedding)
            # still gets it. Both at once would make every widget resolve the same rules twice.
            self.setStyleSheet(theme.STYLE_SHEET)

        self.stack = QStackedWidget()
        self.stack.setObjectName("pages")
        self.nav = self._build_nav(pages)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self._build_sidebar())
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self.status = MainStatusBar()
        self.setStatusBar(self.status)
        self.status.task_progress.attach(runner)
        self.status.sync_requested.connect(self.sync_now)
        self.status.sign_in_requested.connect(self.open_sync_settings)
        self.status.conflicts_requested.connect(self._on_status_conflicts_requested)
        self.status.sync_button.setVisible(sync is not None)
        # The e-mail outbox sent in the background while online, failures told, the unread badge.
        self.notifications = NotificationSender(context, runner, self.status, self)
        if sync is not None:
            sync.state_changed.connect(self.refresh_status)
            sync.sync_finished.connect(self._on_sync_sync_finished)
        self._build_menus()

        runner.task_finished.connect(self._on_runner_task_finished)
        runner.task_failed.connect(self._on_runner_task_failed)
        # The outbox also grows from pages' own writes and shrinks from sync; a cheap count keeps
        # the status honest without every writer having to notify the window.
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(STATUS_REFRESH_MS)
        self._status_timer.timeout.connect(self.refresh_status)
        self._status_timer.start()
        # Every commit in the app (a page's edit, an applied sync page) announces its tables: the
        # status bar follows at once; the timer above only catches other processes' writes.
        refresh_on_change(runner.changes, self, STATUS_TABLES, lambda _c: self.refresh_status())

        self.refresh_status()
        self._restore_settings()

    # -- construction -------------------------------------------------------------------------

    def _build_nav(self, pages: tuple[PageSpec, ...]) -> QListWidget:
        nav = _NavList()
        nav.setObjectName("nav")
        nav.setIconSize(QSize(20, 20))
        nav.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        nav.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        nav.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        for number, spec in enumerate(pages, start=1):
            item = QListWidgetItem(icons.icon(spec.icon_name, theme.ICON, theme.ACCENT), spec.title)
            item.setData(Qt.ItemDataRole.UserRole, spec.key)
            item.setSizeHint(QSize(0, 42))
            if number <= 9:
                item.setToolTip(f"{spec.title} (Ctrl+{number})")
            nav.addItem(item)
        nav.currentRowChanged.connect(self._on_nav_current_row_changed)
        # Chosen with the mouse or Enter, the page takes the keyboard; arrows stay in the list.
        nav.itemClicked.connect(lambda _item: self.focus_page())
        nav.itemActivated.connect(lambda _item: self.focus_page())
        return nav

    def _build_sidebar(self) -> QWidget:
        sidebar = QWidget()
        sidebar.setObjectName("sidebar")
        sidebar.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        sidebar.setFixedWidth(224)

        logo = QLabel()
        logo.setPixmap(icons.icon("app").pixmap(QSize(34, 34)))
        brand = QLabel("FieldRep")
        brand.setObjectName("brand")
        subtitle = QLabel("Field sales, offline first")
        subtitle.setObjectName("brandSub")
        names = QVBoxLayout()
        names.setSpacing(0)
        names.addWidget(brand)
        names.addWidget(subtitle)
        header = QHBoxLayout()
        header.setSpacing(10)
        header.addWidget(logo)
        header.addLayout(names, 1)

        hint = QLabel(f"Ctrl+1–{min(len(self._order), 9)} to switch pages")
        hint.setObjectName("navHint")

        layout = QVBoxLayout(sidebar)
        layout.setContentsMargins(14, 18, 14, 14)
        layout.setSpacing(6)
        layout.addLayout(header)
        layout.addSpacing(18)
        layout.addWidget(self.nav, 1)
        layout.addWidget(hint)
        return sidebar

    def _build_menus(self) -> None:
        menu_bar = self.menuBar()

        file_menu = menu_bar.addMenu("&File")
        open_action = file_menu.addAction("&Open database…")
        open_action.setShortcut(QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self._on_open_action_triggered)
        if self.sync is None:  # no Sync menu to sit in beside Sync settings
            file_menu.addAction("&Geocoding settings…").triggered.connect(
                self.open_geocoder_settings
            )
        referral_action = file_menu.addAction("New &referral…")
        referral_action.setShortcut(QKeySequence("Ctrl+Shift+R"))
        referral_action.triggered.connect(self.open_referral_dialog)
        file_menu.addSeparator()
        quit_action = file_menu.addAction("&Quit")
        quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        quit_action.triggered.connect(self.close)

        view_menu = menu_bar.addMenu("&View")
        group = QActionGroup(self)
        group.setExclusive(True)
        for number, key in enumerate(self._order, start=1):
            spec = self._specs[key]
            action = view_menu.addAction(icons.icon(spec.icon_name), spec.title)
            action.setCheckable(True)
            group.addAction(action)
            if number <= 9:
                action.setShortcut(QKeySequence(f"Ctrl+{number}"))
            action.triggered.connect(lambda _checked=False, key=key: self.show_page(key))
            self._page_actions[key] = action
        view_menu.addSeparator()
        refresh_action = view_menu.addAction("&Refresh status")
        refresh_action.setShortcut(QKeySequence.StandardKey.Refresh)
        refresh_action.triggered.connect(self.refresh_status)

        if self.sync is not None:
            sync_menu = menu_bar.addMenu("&Sync")
            self.sync_now_action = sync_menu.addAction(icons.icon("sync"), "Sync &now")
            self.sync_now_action.setShortcut(QKeySequence("Ctrl+Shift+S"))
            self.sync_now_action.triggered.connect(self.sync_now)
            self.cancel_sync_action = sync_menu.addAction("&Cancel sync")
            self.cancel_sync_action.triggered.connect(self.sync.cancel)
            sync_menu.addSeparator()
            settings_action = sync_menu.addAction("Sync &settings…")
            settings_action.setShortcut(QKeySequence("Ctrl+,"))
            settings_action.triggered.connect(self.open_sync_settings)
            geocoding_action = sync_menu.addAction("&Geocoding settings…")
            geocoding_action.triggered.connect(self.open_geocoder_settings)
            if "conflicts" in self._specs:
                conflicts_action = sync_menu.addAction(icons.icon("conflicts"), "Review &conflicts")
                conflicts_action.triggered.connect(self._on_status_conflicts_requested)

        help_menu = menu_bar.addMenu("&Help")
        shortcuts_action = help_menu.addAction("&Keyboard shortcuts")
        shortcuts_action.setShortcuts([QKeySequence("?"), QKeySequence("F1")])
        shortcuts_action.triggered.connect(self.open_shortcuts)
        about_action = help_menu.addAction("&About FieldRep")
        about_action.setMenuRole(QAction.MenuRole.AboutRole)
        about_action.triggered.connect(self._on_about_action_triggered)

    # -- pages --------------------------------------------------------------------------------

    @property
    def page_keys(self) -> list[str]:
        return list(self._order)

    @property
    def current_page_key(self) -> str | None:
        item = self.nav.currentItem()
        return None if item is None else str(item.data(Qt.ItemDataRole.UserRole))

    def page(self, key: str) -> QWidget | None:
        """The page's widget if it has been built (pages are built on first show)."""
        return self._built.get(key)

    def show_page(self, key: str) -> None:
        if key not in self._specs:
            raise KeyError(f"no page {key!r}")
        row = self._order.index(key)
        if self.nav.currentRow() != row:
            self.nav.setCurrentRow(row)  # -> _on_nav_current_row_changed does the rest
        else:
            self._activate(key)

    def _activate(self, key: str) -> None:
        widget = self._built.get(key)
        if widget is None:
            widget = self._build(self._specs[key])
            self._built[key] = widget
            self.stack.addWidget(widget)
            self._connect_page(widget)
        self.stack.setCurrentWidget(widget)
        self._page_actions[key].setChecked(True)
        self.page_changed.emit(key)

    def _build(self, spec: PageSpec) -> QWidget:
        try:
            return build_page(spec, self.context, self.runner)
        except Exception as exc:
            # One broken page must not take the whole window down; say what happened instead.
            log.exception("page %s could not be built", spec.key)
            label = QLabel(f"The {spec.title} page could not be opened: {exc}")
            label.setObjectName("muted")
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setWordWrap(True)
            return label

    def focus_page(self) -> None:
        """Give the keyboard to the current page: its search if it has one (typing searches),
        else its first field or button."""
        widget = self.stack.currentWidget()
        if widget is None:
            return
        start = getattr(widget, "focus_start", None)
        if callable(start):
            start()
            return
        search = getattr(widget, "search", None)
        if isinstance(search, QWidget) and search.isEnabled():
            search.setFocus(Qt.FocusReason.OtherFocusReason)
            return
        candidate = widget.nextInFocusChain()
        while candidate is not None and candidate is not widget:
            if (
                widget.isAncestorOf(candidate)
                and candidate.focusPolicy() & Qt.FocusPolicy.TabFocus
                and candidate.isEnabled()
                and not candidate.isHidden()
            ):
                candidate.setFocus(Qt.FocusReason.OtherFocusReason)
                return
            candidate = candidate.nextInFocusChain()
        # Nothing to type into (an empty page): the page itself, so keys stay off the sidebar.
        if widget.focusPolicy() == Qt.FocusPolicy.NoFocus:
            widget.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        widget.setFocus(Qt.FocusReason.OtherFocusReason)

    def open_shortcuts(self) -> QDialog:
        """Help > Keyboard shortcuts (``?`` or F1): every shortcut in one list."""
        from fieldrep.ui.dialogs.shortcuts_dialog import ShortcutsDialog

        dialog = ShortcutsDialog(self)
        dialog.open()
        self._shortcuts_dialog = dialog
        return dialog

    def find_anywhere(self) -> None:
        """Ctrl+F from anywhere in the window: the current page's search, else the accounts'."""
        page = self.stack.currentWidget()
        if not callable(getattr(page, "focus_search", None)) and "accounts" in self._specs:
            self.show_page("accounts")
            page = self.stack.currentWidget()
        focus_search = getattr(page, "focus_search", None)
        if callable(focus_search):
            focus_search()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # Reached when no widget took the key: Ctrl+F with the focus in the sidebar, the status
        # bar or a page without a search of its own (a page's own Ctrl+F comes first).
        if event.matches(QKeySequence.StandardKey.Find):
            self.find_anywhere()
            return
        super().keyPressEvent(event)

    def _connect_page(self, widget: QWidget) -> None:
        """Pages that show accounts stay in step: a page asking to open an account (the map's
        click) opens it on the Accounts page; an account opened there is marked on the map."""
        requested = getattr(widget, "account_open_requested", None)
        if requested is not None:
            requested.connect(self.open_account)
        opened = getattr(widget, "account_opened", None)
        if opened is not None:
            opened.connect(self._on_page_account_opened)

    def open_account(self, account_id: str) -> None:
        if "accounts" not in self._specs:
            return
        self.show_page("accounts")
        page = self._built.get("accounts")
        if page is not None and hasattr(page, "open_account"):
            page.open_account(account_id)

    def _on_page_account_opened(self, account_id: str) -> None:
        page = self._built.get("map")
        if page is not None and hasattr(page, "show_account"):
            page.show_account(account_id)

    def _on_nav_current_row_changed(self, row: int) -> None:
        if 0 <= row < len(self._order):
            self._activate(self._order[row])

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not self._first_frame_shown:
            # Said on the event loop's next turn: by then the children have painted this frame too.
            self._first_frame_shown = True
            QTimer.singleShot(0, self, self.first_frame_shown.emit)

    def prewarm(self) -> None:
        """Import what the heavier pages need on a worker (the app calls this a few seconds after
        start): opening Territories imported matplotlib on the GUI thread, 1-2 s of a frozen
        window."""
        if not self.runner.closed:
            self.runner.run(_prewarm_imports, label="Preparing the pages", quiet=True)

    # -- status -------------------------------------------------------------------------------

    def refresh_status(self) -> None:
        """Re-read the signed-in user, the outbox length, sync state and open conflicts."""
        self.status.set_database(self.context.path)
        self.status.set_user(self.context.user())
        conn = self.context.conn
        ever_synced = bool(settings.get(conn, settings.LAST_SYNC_AT))
        # A demo book nobody signed in from: its rows are not anyone's edits waiting to go.
        demo = bool(settings.get(conn, settings.DEMO_SEED)) and not settings.get(
            conn, settings.SERVER_URL
        )
        if self.sync is None:
            self.status.set_pending(
                self.context.writer.pending_count(), ever_synced=ever_synced, demo=demo
            )
            self.status.set_conflicts(conflicts_service.open_count(self.context.conn))
        else:
            # One read of the sync status serves every item: counting a long outbox is not free.
            status = self.sync.status()
            self.status.set_pending(status.pending, ever_synced=ever_synced, demo=demo)
            self.status.set_conflicts(status.open_conflicts)
            line = self.sync.line(status)
            signed_in = status.signed_in
            self.status.set_sync(
                line.text,
                line.tooltip,
                line.tone,
                signed_in=signed_in,
                syncing=self.sync.is_syncing,
            )
            self.sync_now_action.setEnabled(signed_in and not self.sync.is_busy)
            self.cancel_sync_action.setEnabled(self.sync.is_syncing)

    # -- sync ---------------------------------------------------------------------------------

    def sync_now(self) -> None:
        """Sync in the background now (the status bar shows progress and a Cancel button)."""
        if self.sync is not None:
            self.sync.sync_now()

    def open_sync_settings(self) -> SyncSettingsDialog | None:
        """Show the (non-modal) sync settings dialog; the dialog, or None without sync."""
        if self.sync is None:
            return None
        if self._sync_dialog is None:
            from fieldrep.ui.dialogs.sync_settings_dialog import SyncSettingsDialog

            self._sync_dialog = SyncSettingsDialog(self.sync, self)
        self._sync_dialog.refresh()
        self._sync_dialog.show()
        self._sync_dialog.raise_()
        self._sync_dialog.activateWindow()
        return self._sync_dialog

    def open_referral_dialog(self) -> QWidget:
        """Ctrl+Shift+R anywhere: capture a referral; the account open on the Accounts page, if
        any, is the referrer."""
        from fieldrep.ui.dialogs.referral_dialog import ReferralDialog

        panel = getattr(self._built.get("accounts"), "panel", None)
        account = getattr(panel, "account_id", None) if panel and panel.isVisible() else None
        dialog = ReferralDialog(self.context, self.runner, account, parent=self)
        page = self._built.get("referrals")
        if page is not None and hasattr(page, "refresh"):
            dialog.captured.connect(lambda _result: page.refresh())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def open_geocoder_settings(self) -> GeocoderSettingsDialog:
        """Show the (non-modal) Geocoding dialog: placement counts, settings, place online."""
        dialog = self._geocoder_dialog
        if dialog is None:
            from fieldrep.ui.dialogs.geocoder_settings_dialog import GeocoderSettingsDialog

            dialog = self._geocoder_dialog = GeocoderSettingsDialog(self.context, self.runner, self)
            dialog.settings_saved.connect(self._on_geocoder_dialog_settings_saved)
            dialog.placing_finished.connect(self._on_geocoder_dialog_placing_finished)
        dialog.refresh()
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def _on_geocoder_dialog_settings_saved(self, _settings: object) -> None:
        # The Accounts page offers "Locate online" only while a geocoder is set up.
        accounts = self.page("accounts")
        if accounts is not None and hasattr(accounts, "refresh_geocoder"):
            accounts.refresh_geocoder()

    def _on_geocoder_dialog_placing_finished(self, _report: object) -> None:
        accounts = self.page("accounts")
        if accounts is not None and hasattr(accounts, "refresh_rows"):
            accounts.refresh_rows()

    def _on_status_conflicts_requested(self) -> None:
        if "conflicts" in self._specs:
            self.show_page("conflicts")

    def _on_sync_sync_finished(self, _outcome: object) -> None:
        self.refresh_status()

    def set_online(self, online: bool) -> None:
        """Show online/offline; the connectivity monitor and the sync engine drive this."""
        self.status.set_online(online)
        self.notifications.set_online(online)

    def _on_runner_task_finished(self, task: Task) -> None:
        if task.kind in (TaskKind.WRITE, TaskKind.NETWORK):
            self.refresh_status()

    def _on_runner_task_failed(self, task: Task, error: BaseException) -> None:
        # Non-modal: a failure in the background must not freeze the window behind a dialog.
        box = QMessageBox(
            QMessageBox.Icon.Warning, "FieldRep", f"{task.label} failed: {error}", parent=self
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    # -- menus --------------------------------------------------------------------------------

    def _on_open_action_triggered(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(
            self,
            "Open a FieldRep database",
            str(self.context.path.parent),
            "FieldRep databases (*.db *.sqlite *.sqlite3);;All files (*)",
        )
        if path:
            self.open_database_requested.emit(Path(path))

    def _on_about_action_triggered(self) -> None:
        QMessageBox.about(
            self,
            "About FieldRep",
            f"<h3>FieldRep {fieldrep.__version__}</h3>"
            "<p>Territories, accounts and referrals for field sales reps. Works offline and "
            "syncs with your team's server when the network is back.</p>"
            f"<p>Database: {self.context.path}</p>",
        )

    # -- settings -----------------------------------------------------------------------------

    def _restore_settings(self) -> None:
        geometry = self._settings.value(_GEOMETRY_KEY)
        # Saved geometry only where it still fits (the laptop left the office's big monitor).
        if (
            isinstance(geometry, QByteArray)
            and self.restoreGeometry(geometry)
            and (self.isMaximized() or fits_on_a_screen(self._expected_frame()))
        ):
            state = self._settings.value(_STATE_KEY)
            if isinstance(state, QByteArray):
                self.restoreState(state)
        else:
            self._place_on_screen()
        key = self._settings.value(_PAGE_KEY)
        self.show_page(key if isinstance(key, str) and key in self._specs else self._first_page())
        self.focus_page()  # typing at start goes to the page (its search), not the sidebar

    def _expected_frame(self) -> QRect:
        """The frame the window will have on screen (before it is shown, with an allowance)."""
        frame = self.frameGeometry()
        if frame.size() == self.size():  # not shown yet: the frame is not known
            frame = QRect(
                self.x(),
                self.y(),
                self.width() + FRAME_ALLOWANCE.width(),
                self.height() + FRAME_ALLOWANCE.height(),
            )
        return frame

    def _place_on_screen(self) -> None:
        """The default size, centred, where the screen has room for it; else maximised (a
        1366 x 768 laptop), so the title bar, menus and status bar are all on screen."""
        self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMaximized)
        area = available_geometry(self)
        room = room_on_screen(self)
        if DEFAULT_SIZE.width() <= room.width() and DEFAULT_SIZE.height() <= room.height():
            self.resize(DEFAULT_SIZE)
            frame = self._expected_frame()
            frame.moveCenter(area.center())
            self.move(frame.topLeft())
        else:
            self.resize(DEFAULT_SIZE.boundedTo(room))
            self.move(area.topLeft())
            self.setWindowState(self.windowState() | Qt.WindowState.WindowMaximized)

    def _first_page(self) -> str:
        """Where a window with no saved page opens: the team's home for a manager, the map for a rep."""
        role = (self.context.user() or {}).get("role")
        if "home" in self._specs and role in MANAGER_ROLES:
            return "home"
        if "map" in self._specs and role == "rep":  # a rep's day starts on the map (Today list)
            return "map"
        return self._order[0]

    def save_settings(self) -> None:
        self._settings.setValue(_GEOMETRY_KEY, self.saveGeometry())
        self._settings.setValue(_STATE_KEY, self.saveState())
        if self.current_page_key is not None:
            self._settings.setValue(_PAGE_KEY, self.current_page_key)
        self._settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self._status_timer.stop()
        if self._sync_dialog is not None:
            self._sync_dialog.close()
        self.save_settings()
        super().closeEvent(event)
