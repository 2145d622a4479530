"""The accounts list as a Qt table model backed by SQL: a window of pages, never the whole table.

``rowCount`` is the SQL count for the current search and filters; rows are fetched a page at a time
when the view asks for them (keyset paging when walking forward from a cached page, offset paging
for a jump) and only the last :data:`MAX_PAGES` pages stay in memory, so scrolling through 100,000
accounts holds a few thousand tuples at most. Sorting is SQL ``ORDER BY`` on the clicked column.

A search with no other filter takes a faster path once the current order's rank is ready
(:mod:`fieldrep.store.accounts_search`, built on the task runner's read lane, never on the GUI
thread): one FTS5 query gives the count and the matching rowids, and pages are read by rowid.
Until the rank is ready, or after any write made it stale, the SQL path answers. On that path the
signed-in user's own accounts come first (:attr:`AccountsTableModel.own_first_for`, built with the
rank on the same worker); the SQL path keeps the plain order.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor

from fieldrep.services.sync.conflicts import refused_reasons
from fieldrep.store.accounts_repository import (
    COLUMN_INDEX,
    AccountFilter,
    AccountsRepository,
    Sort,
)
from fieldrep.store.accounts_search import (
    RankedSearch,
    Version,
    build_rank,
    own_first,
    rank_order,
)
from fieldrep.ui import theme
from fieldrep.ui.dates import friendly_day, friendly_moment

log = logging.getLogger(__name__)

PAGE_SIZE = 100
RANK_DEFER_MS = 300  # after a write, the list's page is read before the new rank is built
MAX_RANKS = 3  # sort orders whose rank is kept (about 1 MB each per 100,000 accounts)
MAX_PAGES = 25

# (list column key, header, width hint)
# The name takes the room the others leave (accounts_view): at 1366 px it keeps ~220 px and no
# default column needs a horizontal scroll.
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("name", "Account", 220),
    ("city", "City", 130),
    ("postal_code", "ZIP", 56),
    ("status", "Status", 70),
    ("industry", "Industry", 105),
    ("potential", "Potential", 104),
    ("owner", "Owner", 105),
    ("territory", "Territory", 105),
    ("last_visit", "Last visit", 90),
    ("geocode_quality", "Location", 96),
)
COL_NAME = 0
STATUS_COLORS = {
    "active": theme.SUCCESS,
    "prospect": theme.ACCENT,
    "inactive": theme.TEXT_MUTED,
    "lost": theme.DANGER,
}
# How well an account is placed on the map, in plain words (no "ZIP centre" jargon).
QUALITY_LABELS = {
    "address": "Exact address",
    "street": "Street",
    "postal_code": "ZIP, approx.",
    "city": "City, approx.",
    "manual": "Pinned by hand",
    None: "Not placed",
}
ID_ROLE = Qt.ItemDataRole.UserRole + 1
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_ROLES = frozenset((_DISPLAY, _FOREGROUND, _ALIGNMENT, _TOOLTIP, int(ID_ROLE)))
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_REGION = COLUMN_INDEX["region"]
# Colours, not brushes: the view's delegate converts them, and touching QBrush would make PySide
# build QGradient's enums (~2 ms at start-up) for nothing.
_STATUS_COLORS = {status: QColor(color) for status, color in STATUS_COLORS.items()}
_MUTED = QColor(theme.TEXT_MUTED)
_REFUSED = QColor(theme.DANGER)

_Index = QModelIndex | QPersistentModelIndex


def _days_ago(iso: str | None) -> str:
    return friendly_day(iso)


@dataclass(frozen=True)
class ListRead:
    """The list after a write, as a worker read it in one read transaction (:meth:`reload`)."""

    filter: AccountFilter
    sort: Sort
    count: int  # the accounts matching ``filter``
    total: int  # every account
    refused: dict[str, str]  # accounts with a change the server refused: id -> reason
    page: list[tuple[Any, ...]]  # the first page in ``sort``


class AccountsTableModel(QAbstractTableModel):
    count_changed = Signal(int, int)  # matching, total
    # A new order is on screen; the account that was selected before it (None: none), for the
    # view to select again (its row is known without SQL when the order was read on a worker).
    reordered = Signal(object)

    def __init__(
        self, repository: AccountsRepository, parent: Any = None, runner: Any = None
    ) -> None:
        super().__init__(parent)
        self.repository = repository
        self.search = RankedSearch(repository.conn)
        self._runner = runner  # a TaskRunner to build ranks on; None: always the SQL path
        # a few orders, newest last: (data version, rank[rowid], the rowids in that order, the
        # rank searches use: the user's own accounts first)
        self._ranks: dict[Sort, tuple[Version, list[int], list[int], list[int]]] = {}
        self.own_first_for: str | None = None  # whose accounts a search shows first
        self._rank_timer = QTimer(self)  # a rank rebuilt after a write, once the page is read
        self._rank_timer.setSingleShot(True)
        self._rank_timer.setInterval(RANK_DEFER_MS)
        self._rank_timer.timeout.connect(self._on_rank_timer_timeout)
        self._rank_pending: tuple[Sort, Version] | None = None
        self._sort_pending: Sort | None = None  # an order whose first page a worker reads
        self._reloads = 0  # reloads asked for; a read that is not the latest is dropped
        self._reload_pending: int | None = None  # the reload whose read is on a worker
        self._refused_stale = False  # a write since the refusals were read (a reload pending)
        # The view's selected account (set by the view): kept across a change of order.
        self.selected_account: Callable[[], str | None] = lambda: None
        self._known_row: tuple[str, int] | None = None  # an account's row, read with the page
        self._active_rank: list[int] | None = None
        self._matches: list[int] | None = None  # the fast path's matching rowids
        self._matches_sorted = False
        self.fast_searches = 0  # searches answered by the ranked path (diagnostics, tests)
        self._warm = False  # ranks are kept up to date once prepare_quick_search() was called
        self.filter = AccountFilter()
        self.sort_order = Sort()
        self._count = 0
        self._total = 0
        self._total_stale = True
        self._pages: OrderedDict[int, list[tuple[Any, ...]]] = OrderedDict()
        self.queries = 0  # page fetches (diagnostics, tests)
        self.refreshes = 0  # counts re-run (one per search or filter change)
        # Accounts with a change the server refused: id -> reason (marked in the list).
        self.refused: dict[str, str] = {}

    # -- query --------------------------------------------------------------------------------

    def set_filter(self, flt: AccountFilter) -> None:
        self.filter = flt
        self.refresh(data_changed=False)

    def refresh(
        self,
        *,
        data_changed: bool = True,
        first_page: list[tuple[Any, ...]] | None = None,
        known_row: tuple[str, int] | None = None,
        read: ListRead | None = None,
    ) -> None:
        """Re-count and drop cached pages. A search or sort keeps the cached grand total; an edit,
        import or delete (``data_changed``) counts it again. ``first_page``: the list's first page
        in this filter and order, and ``known_row``: an account's row in it, read on a worker;
        ``read``: the counts, refusals and first page read on a worker (:meth:`reload`)."""
        if self._sort_pending is not None:
            # The header already shows the order asked for: apply it now, whatever else changed.
            self.sort_order, self._sort_pending = self._sort_pending, None
        self._reload_pending = None  # this refresh reads at least as late as a pending reload
        self._total_stale = self._total_stale or data_changed
        self.refreshes += 1
        if read is not None:
            self.refused = read.refused
            first_page = read.page
        elif data_changed or self._refused_stale:
            self.refused = refused_reasons(self.repository.conn, "accounts")
        self._refused_stale = False
        self.beginResetModel()
        self._pages.clear()
        self._known_row = known_row
        # After a write, the new rank is built a moment later: a rank built while this thread
        # reads the list's first page competes with it for the GIL row by row (a sync page of
        # 5,000: the page read took 0.3 s instead of a few ms).
        rank = self._usable_rank(defer=data_changed)
        text = self.filter.text
        if rank is not None and text.strip() and self.filter == AccountFilter(text=text):
            rank = self._ranks[self.sort_order][3]  # the user's own accounts first
            self._active_rank = rank
            self._matches = self.search.matches(text, rank)
            self._matches_sorted = False
            self._count = len(self._matches)
            self.fast_searches += 1
        elif rank is not None and self.filter == AccountFilter():
            self._browse_ranked(rank, self._ranks[self.sort_order][2])
        else:
            self._active_rank = self._matches = None
            self._count = self.repository.count(self.filter) if read is None else read.count
            if first_page is not None:
                self._pages[0] = first_page
        if read is not None:
            self._total = read.total
        elif self.filter == AccountFilter():
            self._total = self._count
        elif self._total_stale or not self._total:
            self._total = self.repository.total()
        self._total_stale = False
        self.endResetModel()
        self.count_changed.emit(self._count, self._total)

    def reload(self, on_done: Callable[[], object] | None = None) -> None:
        """After a write made elsewhere (a sync page, an import): :meth:`refresh`, with the count,
        the refusals and the first page read on a worker. Right after a big write that read cost
        the GUI thread 0.2-0.3 s (the writer held the GIL row by row); the list shows its old rows
        until the new ones arrive, then ``on_done`` is called. A refresh made meanwhile (a new
        search, filter or order) supersedes it. Without a runner, refreshes here."""
        if self._runner is None or self._runner.closed or self._sort_pending is not None:
            self.refresh()
            if on_done is not None:
                on_done()
            return
        # Whichever refresh comes first counts the total and reads the refusals again.
        self._total_stale = self._refused_stale = True
        self._reloads += 1
        self._reload_pending = number = self._reloads
        self._runner.run(
            partial(_list_read_operation, self.filter, self.sort_order),
            label="Reading the list",
            on_success=partial(self._on_list_read, number, on_done),
            on_failure=partial(self._on_list_read_failed, number, on_done),
            on_cancelled=partial(self._on_list_read_failed, number, None, None),
            quiet=True,
        )

    @property
    def reloading(self) -> bool:
        """Whether a reload's read is still on a worker (diagnostics, tests)."""
        return self._reload_pending is not None

    def _on_list_read(
        self, number: int, on_done: Callable[[], object] | None, read: ListRead
    ) -> None:
        if self._reload_pending != number or self._runner is None or self._runner.closed:
            return  # a later reload or a refresh since, or closing
        if read.filter != self.filter or read.sort != self.sort_order:
            self.refresh()  # cannot happen without a refresh that cleared the pending reload
        else:
            self.refresh(read=read)
        if on_done is not None:
            on_done()

    def _on_list_read_failed(
        self, number: int, on_done: Callable[[], object] | None, error: BaseException | None
    ) -> None:
        if self._reload_pending != number:
            return
        self._reload_pending = None
        if error is None or self._runner is None or self._runner.closed:
            return  # cancelled: the page is closing
        log.warning("could not read the list on a worker: %s", error)
        self.refresh()  # read here, then
        if on_done is not None:
            on_done()

    # -- the ranked fast path ---------------------------------------------------------------------

    def prepare_quick_search(self) -> None:
        """Start keeping the current order's rank ready (the page calls this once it has painted,
        so start-up never competes with the rank build, and again when the user types)."""
        self._warm = True
        self._usable_rank()

    def _on_rank_timer_timeout(self) -> None:
        if self._runner is None or self._runner.closed:
            return  # the page is closing (quit, another database): its connection may be closed
        self._usable_rank()

    def set_own_first(self, user_id: str | None) -> None:
        """Searches show ``user_id``'s accounts first (None: in the list's order only); the
        ranks are built again for it."""
        if user_id == self.own_first_for:
            return
        self.own_first_for = user_id
        self._ranks.clear()
        self._rank_pending = None
        if self._matches is not None:
            self.refresh(data_changed=False)  # the SQL path until the new rank is ready
        else:
            self._usable_rank()

    def _usable_rank(self, sort: Sort | None = None, *, defer: bool = False) -> list[int] | None:
        """The rank of ``sort`` (by default the current order) if it matches the data as it is
        now; else schedule one (``defer``: in :data:`RANK_DEFER_MS`)."""
        sort = self.sort_order if sort is None else sort
        version = self.search.version()
        held = self._ranks.get(sort)
        if held is not None and held[0] == version:
            return held[1]
        self._ranks = {s: r for s, r in self._ranks.items() if r[0] == version}
        if (
            self._runner is not None
            and not self._runner.closed
            and (self._warm or self.filter.text.strip())
            and self._rank_pending != (sort, version)
        ):
            if defer:
                if not self._rank_timer.isActive():
                    self._rank_timer.start()
                return None
            self._rank_pending = (sort, version)
            owner = self.own_first_for
            self._runner.run(
                partial(_rank_operation, sort, owner),
                label="Preparing quick search",
                on_success=partial(self._on_rank_built, sort, version, owner),
                on_failure=partial(self._on_rank_failed, sort, version),
                on_cancelled=partial(self._on_rank_failed, sort, version, None),
                quiet=True,
            )
        return None

    def _on_rank_built(
        self,
        sort: Sort,
        version: Version,
        owner: str | None,
        built: tuple[list[int], list[int], list[int]],
    ) -> None:
        if self._rank_pending == (sort, version):
            self._rank_pending = None
        rank, order, searched = built
        if version == self.search.version() and owner == self.own_first_for:
            self._ranks.pop(sort, None)
            self._ranks[sort] = (version, rank, order, searched)
            while len(self._ranks) > MAX_RANKS:
                del self._ranks[next(iter(self._ranks))]
            if sort == self.sort_order and self.filter == AccountFilter() and self._matches is None:
                # The same rows in the same order (the same data, the same ORDER BY): pages from
                # here on come from the rank, so a jump deep into the list costs no SQL sort.
                if len(order) == self._count:
                    self._browse_ranked(rank, order)
                else:
                    # The data changed under the list (a sync, say) before its change notice
                    # reached this model: the rank is the newer truth, so show it, and say so.
                    self.refresh()

    def _browse_ranked(self, rank: list[int], order: list[int]) -> None:
        """The whole list (no search, no filter) in the order ``rank`` holds: a page anywhere is
        a slice and one read by rowid, where SQL would sort every account for OFFSET (0.3 s on
        100,000 accounts by potential)."""
        self._active_rank = rank
        self._matches = order  # never sorted in place: it is already in rank order
        self._matches_sorted = True
        self._count = len(order)

    @property
    def browsing_ranked(self) -> bool:
        """Whether the unfiltered list's pages come from the rank (diagnostics, tests)."""
        return self._matches is not None and self.filter == AccountFilter()

    def _on_rank_failed(self, sort: Sort, version: Version, error: BaseException | None) -> None:
        # Not the user's problem (nor a cancel): the SQL path keeps answering, a little slower.
        if error is not None:
            log.warning("could not prepare the quick search order: %s", error)
        if self._rank_pending == (sort, version):
            self._rank_pending = None

    @property
    def rank_ready(self) -> bool:
        held = self._ranks.get(self.sort_order)
        return held is not None and held[0] == self.search.version()

    def _ranked_page(self, number: int) -> list[tuple[Any, ...]]:
        assert self._matches is not None
        assert self._active_rank is not None
        rank = self._active_rank
        if number == 0 and not self._matches_sorted:
            chunk = self.search.first(self._matches, rank, PAGE_SIZE)
        else:
            if not self._matches_sorted:
                self._matches.sort(key=rank.__getitem__)
                self._matches_sorted = True
            chunk = self._matches[number * PAGE_SIZE : (number + 1) * PAGE_SIZE]
        return self.search.rows(chunk, rank)

    @property
    def matching(self) -> int:
        return self._count

    @property
    def total(self) -> int:
        return self._total

    def _page(self, number: int) -> list[tuple[Any, ...]]:
        page = self._pages.get(number)
        if page is not None:
            self._pages.move_to_end(number)
            return page
        previous = self._pages.get(number - 1)
        self.queries += 1
        if self._matches is not None:
            page = self._ranked_page(number)
        elif previous and len(previous) == PAGE_SIZE:
            page = self.repository.page_after(
                self.filter, self.sort_order, previous[-1], limit=PAGE_SIZE
            )
        else:
            page = self.repository.page(
                self.filter, self.sort_order, offset=number * PAGE_SIZE, limit=PAGE_SIZE
            )
        self._pages[number] = page
        while len(self._pages) > MAX_PAGES:
            self._pages.popitem(last=False)
        return page

    def row_tuple(self, row: int) -> tuple[Any, ...] | None:
        if not 0 <= row < self._count:
            return None
        page = self._page(row // PAGE_SIZE)
        offset = row % PAGE_SIZE
        return page[offset] if offset < len(page) else None

    def account_id(self, row: int) -> str | None:
        record = self.row_tuple(row)
        return None if record is None else str(record[0])

    def row_of(self, account_id: str) -> int | None:
        """The row of an account in the list as it is now (None if the list does not hold it):
        from the cached pages, else asked of the database (after a refresh nothing is cached)."""
        for number, page in self._pages.items():
            for offset, record in enumerate(page):
                if record[0] == account_id:
                    return number * PAGE_SIZE + offset
        if self._known_row is not None and self._known_row[0] == account_id:
            return self._known_row[1]
        if self._matches is None:
            return self.repository.position(self.filter, self.sort_order, account_id)
        found = self.repository.conn.execute(
            "SELECT rowid FROM accounts WHERE id = ?", (account_id,)
        ).fetchone()
        if found is None:
            return None
        if not self._matches_sorted:
            assert self._active_rank is not None
            self._matches.sort(key=self._active_rank.__getitem__)
            self._matches_sorted = True
        try:
            return self._matches.index(found[0])
        except ValueError:  # not among the matches
            return None

    @property
    def cached_rows(self) -> int:
        return sum(len(p) for p in self._pages.values())

    # -- Qt model API ---------------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._count

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section][1]
        return None

    def data(self, index: _Index, role: int = _DISPLAY) -> Any:
        # Qt asks each visible cell for a dozen roles per paint; most get None without a lookup.
        if role not in _ROLES or not index.isValid():
            return None
        record = self.row_tuple(index.row())
        if record is None:
            return None
        key = COLUMNS[index.column()][0]
        value = record[COLUMN_INDEX[key]]
        if key == "name" and self.refused and record[0] in self.refused:
            if role == _DISPLAY:
                return f"\u26a0 {value}"
            if role == _FOREGROUND:
                return _REFUSED
            if role == _TOOLTIP:
                return f"Not accepted by the server: {self.refused[record[0]]} (see Conflicts)"
        if role == _DISPLAY:
            if key == "city" and record[_REGION]:
                return f"{value or ''}, {record[_REGION]}".lstrip(", ")
            return self._display(key, value)
        if role == ID_ROLE:
            return record[0]
        if role == _FOREGROUND:
            if key == "status" and value in STATUS_COLORS:
                return _STATUS_COLORS[value]
            if key in ("last_visit", "geocode_quality") and not value:
                return _MUTED
        elif role == _ALIGNMENT and key == "potential":
            return _RIGHT
        elif role == _TOOLTIP and key == "last_visit" and value:
            return friendly_moment(value)  # the day and local time of the visit
        return None

    @staticmethod
    def _display(key: str, value: Any) -> str:
        if key == "potential":
            return "" if value is None else f"${value:,.0f}"
        if key == "status":
            return (value or "").capitalize()
        if key == "last_visit":
            return _days_ago(value)
        if key == "geocode_quality":
            return QUALITY_LABELS.get(value, str(value))
        return "" if value is None else str(value)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Show the list in a new order. With no rank of that order to page from, its first page
        is read on a worker (SQL sorts every account for an unindexed column: 0.1-0.2 s on
        100,000), with the selected account's row in it, and the rows change when it arrives;
        until then the list stays as it was."""
        key = COLUMNS[column][0]
        sort = Sort(key, order == Qt.SortOrder.DescendingOrder)
        selected = self.selected_account()
        ranked = self.filter == AccountFilter(text=self.filter.text)  # pages may come from a rank
        if (
            self._runner is None
            or self._runner.closed
            or sort == self.sort_order
            or (ranked and self._usable_rank(sort) is not None)
        ):
            self._sort_pending = None
            self.sort_order = sort
            self.refresh(data_changed=False)
            self.reordered.emit(selected)
            return
        self._sort_pending = sort  # and its rank is on the way, if the list keeps ranks
        flt, version = self.filter, self.search.version()
        self._runner.run(
            partial(_first_page_operation, flt, sort, selected),
            label="Sorting",
            on_success=partial(self._on_first_page, flt, sort, version, selected),
            on_failure=partial(self._on_first_page_failed, sort),
            on_cancelled=partial(self._on_first_page_failed, sort, None),
            quiet=True,
        )

    @property
    def sorting(self) -> bool:
        """Whether a new order's first page is still being read (diagnostics, tests)."""
        return self._sort_pending is not None

    def _on_first_page(
        self,
        flt: AccountFilter,
        sort: Sort,
        version: Version,
        asked_for: str | None,
        read: tuple[list[tuple[Any, ...]], int | None],
    ) -> None:
        if self._sort_pending != sort or self._runner is None or self._runner.closed:
            return  # another order was asked for since, a refresh applied this one, or closing
        self._sort_pending = None
        self.sort_order = sort
        page, row = read
        selected = self.selected_account()  # maybe a row picked while the page was read
        if flt == self.filter and version == self.search.version():
            known = (asked_for, row) if asked_for is not None and row is not None else None
            self.refresh(data_changed=False, first_page=page, known_row=known)
        else:  # an edit or a new filter since the read: the page no longer holds; read it here
            self.refresh(data_changed=False)
        self.reordered.emit(selected)

    def _on_first_page_failed(self, sort: Sort, error: BaseException | None) -> None:
        if self._sort_pending != sort:
            return
        self._sort_pending = None
        if error is None or self._runner is None or self._runner.closed:
            return  # cancelled: the page is closing (quit, another database)
        log.warning("could not read the list in its new order on a worker: %s", error)
        selected = self.selected_account()
        self.sort_order = sort
        self.refresh(data_changed=False)  # the order the header shows, read here
        self.reordered.emit(selected)


def _rank_operation(
    sort: Sort, owner: str | None, db_path: Path, _progress: Any
) -> tuple[list[int], list[int], list[int]]:
    """On a worker thread, with its own connection: the rank, the rowids in its order and the
    rank searches use (``owner``'s accounts first; the rank itself when there is no owner)."""
    from fieldrep.store.db import connect

    conn = connect(db_path)
    try:
        rank = build_rank(conn, sort)
        searched = rank if owner is None else own_first(conn, rank, owner)
    finally:
        conn.close()
    return rank, rank_order(rank), searched


def _first_page_operation(
    flt: AccountFilter, sort: Sort, account_id: str | None, db_path: Path, _progress: Any
) -> tuple[list[tuple[Any, ...]], int | None]:
    """On a worker thread, with its own connection: the first page of the list in a new order,
    and the row of ``account_id`` in it (None: not in the list, or no account asked for)."""
    from fieldrep.store.db import connect

    conn = connect(db_path)
    try:
        repository = AccountsRepository(conn)
        page = repository.page(flt, sort, offset=0, limit=PAGE_SIZE)
        row = None if account_id is None else repository.position(flt, sort, account_id)
        return page, row
    finally:
        conn.close()


def _list_read_operation(flt: AccountFilter, sort: Sort, db_path: Path, _progress: Any) -> ListRead:
    """On a worker thread, with its own connection and in one read transaction: the list's
    counts, refusals and first page (:meth:`AccountsTableModel.reload`)."""
    from fieldrep.store.db import connect

    conn = connect(db_path)
    try:
        conn.execute("BEGIN")  # one snapshot: the count and the page agree
        try:
            repository = AccountsRepository(conn)
            return ListRead(
                filter=flt,
                sort=sort,
                count=repository.count(flt),
                total=repository.total(),
                refused=refused_reasons(conn, "accounts"),
                page=repository.page(flt, sort, offset=0, limit=PAGE_SIZE),
            )
        finally:
            conn.rollback()
    finally:
        conn.close()
