"""The Accounts page's actions that open dialogs or run in the background: import, export, Locate
online, Log visit and Today. A mixin of :class:`~fieldrep.ui.views.accounts_view.AccountsView`,
kept apart so the page's layout and its actions each stay readable."""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QFileDialog

from fieldrep.store.changes import Changes
from fieldrep.ui import theme
from fieldrep.ui.change_relay import refresh_on_change
from fieldrep.ui.tasks import Task, TaskKind
from fieldrep.ui.views.accounts_operations import export_operation, locate_online_operation

if TYPE_CHECKING:
    from PySide6.QtWidgets import QComboBox, QLabel, QPushButton, QTableView
    from PySide6.QtWidgets import QWidget as _MixedInto  # the mixin's self is an AccountsView

    from fieldrep.services.context import Context
    from fieldrep.store.accounts_repository import AccountFilter
    from fieldrep.ui.models.accounts_table_model import AccountsTableModel
    from fieldrep.ui.tasks import TaskRunner
    from fieldrep.ui.views.account_detail_panel import AccountDetailPanel
    from fieldrep.ui.widgets.task_progress import TaskProgressWidget
else:
    _MixedInto = object


class AccountsActionsMixin(_MixedInto):
    """Needs the attributes below, which :class:`AccountsView` creates."""

    context: Context
    runner: TaskRunner
    model: AccountsTableModel
    filters: dict[str, QComboBox]
    locate_button: QPushButton
    today_button: QPushButton
    task_line: TaskProgressWidget
    table: QTableView
    notice: QLabel
    _dialogs: list[Any]
    _industries_loaded: bool

    @property
    def panel(self) -> AccountDetailPanel:
        raise NotImplementedError

    def _filter_choices(self) -> list[tuple[str, str, list[tuple[str, Any]]]]:
        raise NotImplementedError

    def apply_filters(self) -> None:
        raise NotImplementedError

    def current_filter(self) -> AccountFilter:
        raise NotImplementedError

    def _panel_open(self) -> bool:
        raise NotImplementedError

    def selected_account_id(self) -> str | None:
        raise NotImplementedError

    def select_account(self, account_id: str) -> bool:
        raise NotImplementedError

    # -- what other writers changed ------------------------------------------------------------

    def _watch_changes(self) -> None:
        """Refresh what the page shows when a write anywhere in the app (a sync page applied, an
        import, another page's edit) changes the tables it reads."""
        refresh_on_change(self.runner.changes, self, WATCHED_TABLES, self._on_data_changed)  # type: ignore[arg-type]

    def _on_data_changed(self, changes: Changes) -> None:
        if changes.touches("territories", "users"):
            self._refill_filters(("territory_id", "owner_id"))
        if changes.touches("accounts") and self._industries_loaded:
            # DISTINCT over the whole book: read on a worker, never on the GUI thread.
            self.runner.run(
                _industries_read,
                label="Reading industries",
                on_success=self._refill_industries,
                quiet=True,
            )
        if changes.touches(*LIST_TABLES):
            self._refresh_keeping_selection()
        if changes.touches(*LIST_TABLES, "contacts", "deals", "referrals") and self._panel_open():
            self.panel.reload()
        if changes.touches("tasks", "accounts"):
            self._update_today()

    def _refresh_keeping_selection(self) -> None:
        """Re-read the list (on a worker: the model's reload); the selected account stays
        selected if it kept its row (looking for it elsewhere would cost a query over the whole
        book on this thread)."""
        row = self.table.currentIndex().row()
        selected = self.selected_account_id()
        self.model.reload(on_done=partial(self._select_if_still_at, row, selected))

    def _select_if_still_at(self, row: int, account_id: str | None) -> None:
        if (
            account_id is not None
            and 0 <= row < self.model.rowCount()
            and self.model.account_id(row) == account_id
        ):
            self.table.selectRow(row)

    def _refill_filters(self, keys: tuple[str, ...]) -> None:
        choices = {key: values for key, _label, values in self._filter_choices() if key in keys}
        for key, values in choices.items():
            self._refill(self.filters[key], values)

    def _refill_industries(self, industries: list[str]) -> None:
        self._refill(self.filters["industry"], [(i, i) for i in industries])

    def _refill(self, combo: QComboBox, values: list[tuple[str, Any]]) -> None:
        """New choices, the chosen one kept (or none, if it is gone: then the list re-filters)."""
        current = combo.currentData()
        combo.blockSignals(True)
        while combo.count() > 1:
            combo.removeItem(1)
        for text, value in values:
            combo.addItem(text, value)
        combo.setCurrentIndex(max(0, combo.findData(current)))
        combo.blockSignals(False)
        if combo.currentData() != current:
            self.apply_filters()

    def open_account(self, account_id: str) -> None:
        raise NotImplementedError

    def open_import(self, path: Path | None = None) -> Any:
        from fieldrep.ui.dialogs.import_dialog import ImportDialog

        dialog = ImportDialog(self.runner, path, self)
        dialog.imported.connect(lambda _report: self._after_bulk_change())
        self._keep(dialog)
        dialog.open()
        return dialog

    def _after_bulk_change(self) -> None:
        # New owners or territories may have arrived with the import; industries too, read on a
        # worker (a DISTINCT over the whole book cost the GUI thread 50 ms after each import).
        self._refill_filters(("territory_id", "owner_id"))
        if self._industries_loaded:
            self.runner.run(
                _industries_read,
                label="Reading industries",
                on_success=self._refill_industries,
                quiet=True,
            )
        self.apply_filters()

    _export_folder: Path | None = None  # where this session's last export went

    def _on_export_clicked(self) -> None:
        folder = self._export_folder or _documents_folder()
        path, chosen_filter = QFileDialog.getSaveFileName(
            self, "Export accounts", str(folder / "accounts.xlsx"), "Excel (*.xlsx);;CSV (*.csv)"
        )
        if path:
            target = _with_export_suffix(Path(path), chosen_filter)
            self._export_folder = target.parent
            self.export_to(target)

    def export_to(self, path: Path) -> Task:
        """Export the list as it is filtered and sorted now, in the background."""
        task = self.runner.run(
            partial(export_operation, path, self.current_filter(), self.model.sort_order),
            kind=TaskKind.READ,
            label=f"Exporting {path.name}",
            on_success=lambda n: self._say(f"Exported {n:,} accounts to {path.name}."),
            on_failure=lambda exc: self._say(f"Export failed: {exc}", error=True),
            on_cancelled=lambda: self._say("Export cancelled; no file was written."),
        )
        self.task_line.track(task)
        return task

    # -- online geocoding --------------------------------------------------------------------------

    def _update_locate_button(self) -> None:
        from fieldrep.geo.geocoder_settings import load_settings

        settings = load_settings(self.context.conn)
        # Only offered where an online geocoder is set up: a button that can never work is noise.
        self.locate_button.setVisible(settings.enabled)
        self.locate_button.setEnabled(settings.enabled)
        self.locate_button.setToolTip(
            f"Place accounts by street address through {settings.provider} ({settings.domain});"
            " unplaced accounts too"
            if settings.enabled
            else "No online geocoder is set up: turn one on in Sync > Geocoding settings"
        )

    def locate_online(self) -> Task | None:
        from fieldrep.geo.geocoder_settings import load_settings

        settings = load_settings(self.context.conn)
        if not settings.enabled:
            self._update_locate_button()
            return None
        self.locate_button.setEnabled(False)
        task = self.runner.run(
            partial(locate_online_operation, settings),
            kind=TaskKind.NETWORK,
            label="Locating accounts online",
            on_success=self._on_locate_succeeded,
            on_failure=lambda exc: self._after_locate(f"Locating failed: {exc}", error=True),
            on_cancelled=lambda: self._after_locate("Locating stopped; what was found is kept."),
        )
        self.task_line.track(task)
        return task

    def _on_locate_succeeded(self, report: Any) -> None:
        text = (
            f"Located {report.improved:,} of {report.checked:,} accounts online"
            f" ({report.not_found:,} not found)."
        )
        if report.stopped_reason:
            text += f" Stopped: {report.stopped_reason}; what was found is kept."
        # a cancel is the user's own choice, not a failure to show in red
        self._after_locate(text, error=report.stopped_reason not in (None, "", "cancelled"))

    def _after_locate(self, text: str, *, error: bool = False) -> None:
        self._say(text, error=error)
        self._update_locate_button()
        self.refresh_rows()

    def refresh_geocoder(self) -> None:
        """The online geocoder's settings changed elsewhere (the Geocoding dialog)."""
        self._update_locate_button()

    def refresh_rows(self) -> None:
        """Re-read the rows and the open account after a change made elsewhere."""
        self.model.refresh()
        if self._panel_open() and self.panel.account_id is not None:
            self.panel.show_account(self.panel.account_id)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.notice.setText(text)
        self.notice.setStyleSheet(f"color: {theme.DANGER};" if error else "")
        self.notice.setVisible(bool(text))

    def open_log_visit(self, account_id: str) -> Any:
        from fieldrep.ui.dialogs.log_visit_dialog import LogVisitDialog

        name = self.panel.title.text() if self.panel.account_id == account_id else ""
        dialog = LogVisitDialog(self.context, account_id, name, self)
        dialog.logged.connect(lambda _v: self._after_visit(account_id))
        dialog.logged.connect(lambda _v: self._say(dialog.confirmation()))
        self._keep(dialog)
        dialog.open()
        return dialog

    def _after_visit(self, account_id: str) -> None:
        self.model.refresh()
        self.select_account(account_id)  # the refresh dropped the selection with the pages
        if self.panel.account_id == account_id:
            self.panel.show_account(account_id)
        self._update_today()

    def open_today(self) -> Any:
        from fieldrep.ui.views.accounts_today_panel import TodayDialog

        dialog = TodayDialog(self.context, self)

        def refresh_today(_changes: Changes) -> None:
            dialog.refresh()

        refresh_on_change(self.runner.changes, dialog, ("tasks", "accounts"), refresh_today)
        dialog.account_requested.connect(self.open_account)
        dialog.task_completed.connect(lambda _t: self._update_today())
        self._keep(dialog)
        # Not modal: Enter opens the task's account beside it, in the page, not behind a dialog.
        dialog.setModal(False)
        dialog.show()
        return dialog

    def _update_today(self) -> None:
        from fieldrep.services.accounts.visits import due_tasks

        n = len(due_tasks(self.context.conn, self.context.user_id))
        self.today_button.setText(f"Today ({n})" if n else "Today")

    def _keep(self, dialog: Any) -> None:
        self._dialogs = [d for d in self._dialogs if d.isVisible()]
        self._dialogs.append(dialog)


# What the list, its filters, the open account and the Today count are read from.
LIST_TABLES = ("accounts", "territories", "users", "visits")
WATCHED_TABLES = (*LIST_TABLES, "tasks", "contacts", "deals", "referrals")


def _industries_read(db_path: Path, _progress: Any) -> list[str]:
    """On a worker thread, with its own connection."""
    from fieldrep.store.accounts_repository import AccountsRepository
    from fieldrep.store.db import connect

    conn = connect(db_path)
    try:
        return AccountsRepository(conn).industries()
    finally:
        conn.close()


def _documents_folder() -> Path:
    """Where the first export is suggested: the user's documents folder, else their home."""
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return Path(location) if location and Path(location).is_dir() else Path.home()


def _with_export_suffix(path: Path, name_filter: str) -> Path:
    """``path`` ending in the extension of the file type chosen in the save dialog (its name
    filter, e.g. ``CSV (*.csv)``) unless it already ends in one the export writes: the dialog
    returns the name as typed."""
    from fieldrep.services.accounts.export import FORMATS

    chosen = re.search(r"\(\*(\.\w+)\)", name_filter)
    if path.suffix.lower() in FORMATS or chosen is None:
        return path
    return path.with_name(path.name + chosen.group(1))
