"""The Accounts page: search-as-you-type, filters, a sortable SQL-backed table and the detail panel.

Keyboard first: Ctrl+F search, Ctrl+N new account, Enter opens the selected account, Esc closes the
panel (or clears the search). Searches are debounced so typing a word costs one query, not one per
key; counts show how many accounts match out of how many.

The page is split by job: this module builds it and holds its reactions to its own widgets (the
search, the table and its selection, the detail panel). Its row of filters is a widget of its own
(:class:`~fieldrep.ui.views.accounts_filter_bar.AccountsFilterBar`), and the page owns two objects
for the rest: ``account_actions`` (import, export, Locate online, Log visit, Today:
:class:`~fieldrep.ui.views.accounts_actions.AccountsActions`) and ``changes`` (re-reading what
other writers changed: :class:`~fieldrep.ui.views.accounts_changes.AccountsChanges`). The New
account dialog lives in its own module.

Kept whole: the construction and the reactions share every widget of the page.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QPaintEvent, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from fieldrep.domain.errors import FieldRepError
from fieldrep.services.context import Context
from fieldrep.store.accounts_repository import AccountFilter
from fieldrep.store.accounts_repository import AccountsRepository as Repository
from fieldrep.ui import theme
from fieldrep.ui.dialogs.new_account_dialog import NewAccountDialog
from fieldrep.ui.icons import ICON_DIR
from fieldrep.ui.models.accounts_table_model import COLUMNS, AccountsTableModel
from fieldrep.ui.tasks import Task, TaskRunner
from fieldrep.ui.views.accounts_actions import AccountsActions
from fieldrep.ui.views.accounts_changes import AccountsChanges, industries_read
from fieldrep.ui.views.accounts_columns import ColumnFitter
from fieldrep.ui.views.accounts_filter_bar import AccountsFilterBar
from fieldrep.ui.widgets.task_progress import TaskProgressWidget

if TYPE_CHECKING:
    # Both imported when the detail panel is first opened: the first paint needs neither.
    from fieldrep.services.accounts.service import AccountsService
    from fieldrep.ui.views.account_detail_panel import AccountDetailPanel

SEARCH_DEBOUNCE_MS = 180
# The columns kept beside an open account: what a rep picks the next call by.
COMPACT_COLUMNS = frozenset(("name", "city", "status", "potential", "last_visit"))
QUICK_SEARCH_DELAY_MS = 1000
_STYLE = f"""
QTableView {{ background: {theme.SURFACE}; border: 1px solid {theme.BORDER}; border-radius: 8px;
             gridline-color: transparent; selection-background-color: {theme.ACCENT_SOFT};
             selection-color: {theme.TEXT}; }}
QHeaderView::section {{ background: {theme.SURFACE}; color: {theme.TEXT_MUTED}; border: none;
                       border-bottom: 1px solid {theme.BORDER}; padding: 6px 8px;
                       font-weight: 600; }}
QLineEdit#search {{ padding: 7px 10px; border: 1px solid {theme.BORDER}; border-radius: 8px;
                   background: {theme.SURFACE}; font-size: 11pt; }}
QLineEdit#search:focus {{ border: 1px solid {theme.ACCENT}; }}
QComboBox {{ padding: 4px 8px; border: 1px solid {theme.BORDER}; border-radius: 6px;
            background: {theme.SURFACE}; }}
QComboBox::drop-down {{ border: none; width: 20px; }}
QComboBox::down-arrow {{ image: url({(ICON_DIR / "chevron-down.svg").as_posix()});
                        width: 12px; height: 12px; }}
QPushButton {{ padding: 6px 14px; border: 1px solid {theme.BORDER}; border-radius: 6px;
              background: {theme.SURFACE}; }}
QPushButton:hover {{ background: #F1F3F6; }}
QPushButton#primary {{ background: {theme.ACCENT}; color: white; border: none; font-weight: 600; }}
QPushButton#chip {{ background: {theme.ACCENT_SOFT}; color: {theme.ACCENT}; border: none;
                   border-radius: 12px; padding: 4px 12px; font-weight: 600; }}
{theme.COMBO_POPUP}"""


class AccountsView(QWidget):
    account_opened = Signal(str)
    search_applied = Signal(str)  # after the model shows the results for this text

    def __init__(self, context: Context, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.runner = runner
        self.repository = Repository(context.conn)
        self.model = AccountsTableModel(self.repository, self, runner)
        self.setStyleSheet(_STYLE)
        self.account_actions = AccountsActions(self)

        title = QLabel("Accounts")
        title.setObjectName("pageTitle")
        # Plain text: both labels can show a name or a message quoting the user's input.
        self.count_label = QLabel()
        self.count_label.setTextFormat(Qt.TextFormat.PlainText)
        self.count_label.setObjectName("muted")
        self.new_button = QPushButton("New account")
        self.new_button.setObjectName("primary")
        self.new_button.setToolTip("Ctrl+N")
        self.new_button.clicked.connect(self.new_account)
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip("Ctrl+I")
        self.import_button.clicked.connect(lambda: self.account_actions.open_import())
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Ctrl+E")
        self.export_button.clicked.connect(self.account_actions.ask_and_export)
        self.today_button = QPushButton("Today")
        self.today_button.setToolTip("Tasks due today and overdue (Ctrl+T)")
        self.today_button.clicked.connect(self.account_actions.open_today)
        self.locate_button = QPushButton("Locate online")
        self.locate_button.clicked.connect(self.account_actions.locate_online)
        # Hidden until the first paint has shown whether a geocoder is set up (update_locate_button).
        self.locate_button.setVisible(False)
        self.locate_button.setEnabled(False)
        self.task_line = TaskProgressWidget()
        self.notice = QLabel()
        self.notice.setTextFormat(Qt.TextFormat.PlainText)
        self.notice.setObjectName("muted")
        self.notice.setWordWrap(True)
        self.notice.hide()  # shown with a message (account_actions.say)
        head = QHBoxLayout()
        head.addWidget(title)
        head.addSpacing(12)
        head.addWidget(self.count_label, 0, Qt.AlignmentFlag.AlignBottom)
        head.addStretch(1)
        for button in self._head_buttons():
            head.addWidget(button)
        # Never squeezed below their text in a narrow window: the title, the count, the buttons.
        for widget in (title, self.count_label, *self._head_buttons()):
            widget.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Preferred)
        # What the page says and the work it runs sit on a line of their own, under the title,
        # so neither crowds the title row; the line takes no room while both are idle.
        status = QHBoxLayout()
        status.addWidget(self.notice, 1)
        status.addWidget(self.task_line)

        self.search = QLineEdit()
        self.search.setObjectName("search")
        self.search.setPlaceholderText("Search names, addresses, contacts and notes   (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(self.apply_filters)
        self.search.textChanged.connect(lambda _text: self._debounce.start())
        self.search.textChanged.connect(lambda _text: self.model.prepare_quick_search())
        self.search.returnPressed.connect(self._on_search_return_pressed)

        self.filter_bar = AccountsFilterBar(self.repository)
        self.filter_bar.changed.connect(self.apply_filters)
        self.filter_bar.clear_button.clicked.connect(self.clear_filters)
        # The bar's own widgets, as the page's tests and keyboard handling know them.
        self.filters = self.filter_bar.combos
        self.mine_chip = self.filter_bar.mine_chip
        self.clear_button = self.filter_bar.clear_button

        self.table = QTableView()
        self.table.setModel(self.model)
        self._empty: QLabel | None = None
        # Indicator first, then sorting on: that sorts (counts and reads the first page) once.
        self.model.count_changed.connect(self._on_model_count_changed)
        # The selected account stays selected (and in view) when the list changes order.
        self.model.selected_account = self.selected_account_id
        self.model.reordered.connect(self._on_model_reordered)
        self.table.horizontalHeader().setSortIndicator(0, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(30)
        # Fixed row heights and column widths: the view never measures 100,000 rows.
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        for column, (_, _, width) in enumerate(COLUMNS):
            self.table.setColumnWidth(column, width)
        # The name first and always whole enough to read: it takes the width the other columns
        # leave, so the default columns fit a 1366-pixel laptop without a horizontal scroll.
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(48)
        self.column_fitter = ColumnFitter(self.table)  # wider windows: room for long values
        self.table.doubleClicked.connect(lambda index: self.open_row(index.row()))

        # The detail panel joins the splitter when an account is first opened (see ``panel``).
        self._panel: AccountDetailPanel | None = None
        self._splitter = splitter = QSplitter()
        splitter.addWidget(self.table)
        splitter.setStretchFactor(0, 3)
        splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 18, 24, 12)
        layout.setSpacing(10)
        layout.addLayout(head)
        layout.addLayout(status)
        layout.addWidget(self.search)
        layout.addWidget(self.filter_bar)
        layout.addWidget(splitter, 1)

        for keys, slot in (
            (QKeySequence.StandardKey.Find, self.focus_search),
            (QKeySequence.StandardKey.New, self.new_account),
            (QKeySequence(Qt.Key.Key_Escape), self._on_escape),
            (QKeySequence("Ctrl+L"), self._on_log_visit_shortcut),
            (QKeySequence("Ctrl+I"), lambda: self.account_actions.open_import()),
            (QKeySequence("Ctrl+E"), self.account_actions.ask_and_export),
            (QKeySequence("Ctrl+T"), self.account_actions.open_today),
        ):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
        for enter_key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            enter = QShortcut(QKeySequence(enter_key), self.table)
            enter.setContext(Qt.ShortcutContext.WidgetShortcut)
            enter.activated.connect(self.open_current)

        # A small window squeezes the page rather than the page forcing the window wide.
        self.setMinimumSize(360, 300)
        self.account_actions.update_today()
        self.changes = AccountsChanges(self)
        self.update_own_first()
        self.start_on_my_accounts()
        self._painted = False
        # After the first paint, not during it: preparing the quick-search order holds the GIL.
        self._warm_timer = QTimer(self)
        self._warm_timer.setSingleShot(True)
        self._warm_timer.setInterval(QUICK_SEARCH_DELAY_MS)
        self._warm_timer.timeout.connect(self._on_warm_timer_timeout)
        self._warm_timer.start()

    @cached_property
    def service(self) -> AccountsService:
        from fieldrep.services.accounts.service import AccountsService

        return AccountsService(self.context)

    @property
    def panel(self) -> AccountDetailPanel:
        """The detail panel, built the first time it is needed (hidden until an account opens)."""
        if self._panel is None:
            from fieldrep.ui.views.account_detail_panel import AccountDetailPanel

            panel = AccountDetailPanel(self.repository, self.service, self.runner)
            panel.hide()
            panel.account_changed.connect(self._on_panel_account_changed)
            panel.account_deleted.connect(self._on_panel_account_deleted)
            panel.log_visit_requested.connect(self.account_actions.open_log_visit)
            panel.closed.connect(self._on_panel_closed)
            self._splitter.addWidget(panel)
            self._splitter.setStretchFactor(1, 2)
            self._splitter.setSizes([760, 460])
            self._panel = panel
        return self._panel

    def _on_panel_closed(self) -> None:
        self._show_columns(compact=False)
        self.table.setFocus()

    def _show_columns(self, *, compact: bool) -> None:
        """Beside the open account the table keeps only the columns that fit, rather than cutting
        figures in half; all of them come back when the panel closes."""
        for column, (key, _, _) in enumerate(COLUMNS):
            self.table.setColumnHidden(column, compact and key not in COMPACT_COLUMNS)

    def panel_open(self) -> bool:
        return self._panel is not None and self._panel.isVisible()

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not self._painted:
            # Checked once the page is on screen: the check imports the geocoding module, which
            # the first paint does not need.
            self._painted = True
            QTimer.singleShot(0, self, self.account_actions.update_locate_button)

    def _on_warm_timer_timeout(self) -> None:
        if self.runner.closed:
            return  # the window is closing
        if self.isVisible():  # a page never shown (or closed) waits for the first keystroke
            self.model.prepare_quick_search()
            # and the place lookup the first save needs, which reads its data on first use
            self.runner.run(_warm_places, label="Preparing place lookups", quiet=True)
            # and the industries (a scan of every account), before the user opens that list
            if not self.filter_bar.industries_loaded:
                self.runner.run(
                    industries_read,
                    label="Reading industries",
                    on_success=self.filter_bar.fill_industries,
                    quiet=True,
                )

    # -- filters ---------------------------------------------------------------------------------

    def current_filter(self) -> AccountFilter:
        return AccountFilter(text=self.search.text(), **self.filter_bar.values())

    def update_own_first(self) -> None:
        """A rep's searches show their own accounts first (issue 16, point 13)."""
        user_id = self.context.user_id
        self.model.set_own_first(user_id if self.context.role() == "rep" else None)

    def start_on_my_accounts(self) -> bool:
        """A rep's list starts on the accounts they own (the chip clears it); True if it did."""
        user_id = self.context.user_id
        if self.context.role() != "rep" or user_id is None:
            return False
        owns_some = self.context.conn.execute(
            "SELECT 1 FROM accounts WHERE owner_id = ? LIMIT 1", (user_id,)
        ).fetchone()
        combo = self.filters["owner_id"]
        index = combo.findData(user_id)
        if index < 0 or owns_some is None:  # a rep who owns nothing yet sees the team's
            return False
        combo.setCurrentIndex(index)
        return True

    def apply_filters(self) -> None:
        self._debounce.stop()
        if self.context.closed:  # the window is closing: its database already is
            return
        flt = self.current_filter()
        mine = self.context.user_id
        self.mine_chip.setVisible(mine is not None and flt.owner_id == mine)
        selected = self.selected_account_id()
        self.model.set_filter(flt)
        if selected is not None:
            self.select_account(selected)
        self.search_applied.emit(flt.text)

    def set_filter_value(self, key: str, value: Any) -> None:
        self.filter_bar.set_value(key, value)

    def clear_filters(self) -> None:
        self.filter_bar.reset()
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        self.apply_filters()

    def _on_model_count_changed(self, matching: int, total: int) -> None:
        noun = "account" if total == 1 else "accounts"
        if matching == total:
            self.count_label.setText(f"{total:,} {noun}")
        else:
            self.count_label.setText(f"{matching:,} of {total:,} {noun}")
        if matching and self._empty is None:
            return
        if not total:
            self.empty.setText(
                "No accounts yet. Sign in to your team's server (Sync › Sync settings, Ctrl+,)"
                " to get your team's accounts, import a file, or add one with New account."
            )
        elif not matching:
            self.empty.setText("No account matches this search and these filters.")
        self.empty.setVisible(not matching)

    @property
    def empty(self) -> QLabel:
        """Said in the empty table, rather than a blank list under the headers. Made the first time
        it is needed: asking for the table's viewport at start-up costs PySide ~8 ms (it looks up
        the type of a widget it did not create)."""
        if self._empty is None:
            label = self._empty = QLabel(self.table.viewport())
            label.setObjectName("muted")
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setWordWrap(True)
            label.hide()
            QVBoxLayout(self.table.viewport()).addWidget(label)
        return self._empty

    # -- selection and the panel -------------------------------------------------------------------

    def selected_account_id(self) -> str | None:
        index = self.table.currentIndex()
        return self.model.account_id(index.row()) if index.isValid() else None

    def _head_buttons(self) -> tuple[QPushButton, ...]:
        return (
            self.today_button,
            self.locate_button,
            self.import_button,
            self.export_button,
            self.new_button,
        )

    def _on_model_reordered(self, account_id: str | None) -> None:
        if account_id is not None:
            self.select_account(account_id)

    def select_account(self, account_id: str) -> bool:
        row = self.model.row_of(account_id)
        if row is None:
            return False
        index = self.model.index(row, 0)
        self.table.selectionModel().setCurrentIndex(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.table.scrollTo(index)
        return True

    def open_current(self) -> None:
        index = self.table.currentIndex()
        if index.isValid():
            self.open_row(index.row())

    def open_row(self, row: int) -> None:
        account_id = self.model.account_id(row)
        if account_id is not None:
            self.open_account(account_id)

    def open_account(self, account_id: str) -> None:
        if self.panel.show_account(account_id):
            self._show_columns(compact=True)
            self.panel.show()
            self.panel.edits["name"].setFocus()
            self.account_opened.emit(account_id)

    def _on_log_visit_shortcut(self) -> None:
        """Ctrl+L: log a visit to the selected row's account, else to the open one."""
        account_id = self.selected_account_id()
        if account_id is None and self.panel_open():
            account_id = self.panel.account_id
        if account_id is not None:
            self.account_actions.open_log_visit(account_id)

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def _on_search_return_pressed(self) -> None:
        self.apply_filters()
        if self.model.matching:
            self.table.setFocus()
            self.table.selectRow(0)

    def _on_escape(self) -> None:
        if self.panel_open():
            self.panel.close_panel()
        elif self.search.text():
            self.search.clear()
            self.apply_filters()

    def _on_panel_account_changed(self, account_id: str) -> None:
        self.model.refresh()
        self.select_account(account_id)

    def _on_panel_account_deleted(self, _account_id: str) -> None:
        self.model.refresh()

    def refresh_rows(self) -> None:
        """Re-read the rows and the open account after a change made elsewhere."""
        self.model.refresh()
        if self.panel_open() and self.panel.account_id is not None:
            self.panel.show_account(self.panel.account_id)

    def refresh_geocoder(self) -> None:
        """The online geocoder's settings changed elsewhere (the Geocoding dialog)."""
        self.account_actions.update_locate_button()

    # -- actions ---------------------------------------------------------------------------------

    def new_account(self) -> NewAccountDialog:
        """Ctrl+N: ask for a name; the new account opens once the name is accepted."""
        dialog = NewAccountDialog(self.create_account, self)
        self.account_actions.keep(dialog)
        dialog.open()
        return dialog

    def create_account(
        self, name: str, on_refused: Callable[[FieldRepError], None] | None = None
    ) -> Task:
        """Create an account named ``name`` (a user write); it opens in the panel, with where it
        went, once created. A refused name goes to ``on_refused`` (else the page's notice)."""
        return self.runner.write(
            partial(_create_account, name),
            label=f"Creating {name}",
            on_success=self._show_new_account,
            on_error=on_refused or (lambda error: self.account_actions.say(str(error), error=True)),
        )

    def _show_new_account(self, created: tuple[str, str | None]) -> None:
        account_id, note = created
        self.panel.show_created(account_id, note)
        self.clear_filters()
        self.open_account(account_id)


def _create_account(name: str, ctx: Context) -> tuple[str, str | None]:
    """New account's write: its id, and the sentence on where it went."""
    from fieldrep.services.accounts.service import AccountsService

    service = AccountsService(ctx)
    return service.create({"name": name}), service.last_note


def _warm_places(_db_path: Any, _progress: Any) -> None:
    """On a worker thread: the place lookup's data, and the sync protocol module the list's
    first refresh after a write imports to read refusals (pydantic: 0.5-1.6 s of import that
    otherwise ran on the GUI thread, the whole of the refresh after an import)."""
    from fieldrep.geo.gazetteer import default_gazetteer
    from fieldrep.sync import protocol  # noqa: F401  (imported for its side effect: loaded)

    default_gazetteer().warm()
