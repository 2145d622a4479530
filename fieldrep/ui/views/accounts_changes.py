"""Keeping the Accounts page current when any writer changes what it shows: a sync page applied,
an import, another page's edit. The list, its filters' choices, the open account and the Today
count each re-read only when a table they read changed (the runner's change notifications)."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fieldrep.store.changes import Changes
from fieldrep.ui.change_relay import refresh_on_change

if TYPE_CHECKING:
    from fieldrep.ui.views.accounts_view import AccountsView

# What the list, its filters, the open account and the Today count are read from.
LIST_TABLES = ("accounts", "territories", "users", "visits")
WATCHED_TABLES = (*LIST_TABLES, "tasks", "contacts", "deals", "referrals")


class AccountsChanges:
    """Follows the changes for one Accounts page (``page.changes``) from its construction on."""

    def __init__(self, page: AccountsView) -> None:
        self.page = page
        self.runner = page.runner
        refresh_on_change(self.runner.changes, page, WATCHED_TABLES, self.on_data_changed)

    def on_data_changed(self, changes: Changes) -> None:
        page = self.page
        if changes.touches("users"):  # a new role, or the signed-in user arrived by sync
            page.update_own_first()
        if changes.touches("territories", "users"):
            page.filter_bar.refill(("territory_id", "owner_id"))
        if changes.touches("accounts"):
            self._reread_industries()
        if changes.touches(*LIST_TABLES):
            self._refresh_keeping_selection()
        if changes.touches(*LIST_TABLES, "contacts", "deals", "referrals") and page.panel_open():
            page.panel.reload()
        if changes.touches("tasks", "accounts"):
            page.account_actions.update_today()

    def after_bulk_change(self) -> None:
        """After an import: new owners or territories may have arrived with it; industries too."""
        self.page.filter_bar.refill(("territory_id", "owner_id"))
        self._reread_industries()
        self.page.apply_filters()

    def _reread_industries(self) -> None:
        # DISTINCT over the whole book: read on a worker, never on the GUI thread (it cost the
        # GUI thread 50 ms after each import); only once the list has been read at all.
        if self.page.filter_bar.industries_loaded:
            self.runner.run(
                industries_read,
                label="Reading industries",
                on_success=self.page.filter_bar.refill_industries,
                quiet=True,
            )

    def _refresh_keeping_selection(self) -> None:
        """Re-read the list (on a worker: the model's reload); the selected account stays
        selected if it kept its row (looking for it elsewhere would cost a query over the whole
        book on this thread)."""
        page = self.page
        row = page.table.currentIndex().row()
        selected = page.selected_account_id()
        page.model.reload(on_done=partial(self._select_if_still_at, row, selected))

    def _select_if_still_at(self, row: int, account_id: str | None) -> None:
        model = self.page.model
        if (
            account_id is not None
            and 0 <= row < model.rowCount()
            and model.account_id(row) == account_id
        ):
            self.page.table.selectRow(row)


def industries_read(db_path: Path, _progress: Any) -> list[str]:
    """On a worker thread, with its own connection."""
    from fieldrep.store.accounts_repository import AccountsRepository
    from fieldrep.store.db import connect

    conn = connect(db_path)
    try:
        return AccountsRepository(conn).industries()
    finally:
        conn.close()
