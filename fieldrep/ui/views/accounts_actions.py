"""The Accounts page's actions that open dialogs or run in the background: import, export, Locate
online, Log visit and Today, with the line the page says their outcome on.

:class:`AccountsActions` is an object the page owns (``page.account_actions``): it is built with the page
and reads the page's widgets and model through the page's own attributes; the page wires its
buttons and shortcuts to it. Keeping the page current when others write is
:mod:`~fieldrep.ui.views.accounts_changes`'s job.
"""

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
    from fieldrep.ui.views.accounts_view import AccountsView


class AccountsActions:
    """Import, export, Locate online, Log visit and Today for one Accounts page."""

    def __init__(self, page: AccountsView) -> None:
        self.page = page
        self.context = page.context
        self.runner = page.runner
        # Dialogs kept alive while open (a dialog with no other owner would be collected).
        self.dialogs: list[Any] = []
        self._export_folder: Path | None = None  # where this session's last export went

    def keep(self, dialog: Any) -> None:
        self.dialogs = [d for d in self.dialogs if d.isVisible()]
        self.dialogs.append(dialog)

    def say(self, text: str, *, error: bool = False) -> None:
        """The page's notice line: what an action did, or why it failed (in red)."""
        notice = self.page.notice
        notice.setText(text)
        notice.setStyleSheet(f"color: {theme.DANGER};" if error else "")
        notice.setVisible(bool(text))

    # -- import and export -------------------------------------------------------------------------

    def open_import(self, path: Path | None = None) -> Any:
        from fieldrep.ui.dialogs.import_dialog import ImportDialog

        dialog = ImportDialog(self.runner, path, self.page)
        dialog.imported.connect(lambda _report: self.page.changes.after_bulk_change())
        self.keep(dialog)
        dialog.open()
        return dialog

    def ask_and_export(self) -> None:
        """Export…: ask where, then export the list as it is shown."""
        folder = self._export_folder or _documents_folder()
        path, chosen_filter = QFileDialog.getSaveFileName(
            self.page,
            "Export accounts",
            str(folder / "accounts.xlsx"),
            "Excel (*.xlsx);;CSV (*.csv)",
        )
        if path:
            target = _with_export_suffix(Path(path), chosen_filter)
            self._export_folder = target.parent
            self.export_to(target)

    def export_to(self, path: Path) -> Task:
        """Export the list as it is filtered and sorted now, in the background."""
        page = self.page
        task = self.runner.run(
            partial(export_operation, path, page.current_filter(), page.model.sort_order),
            kind=TaskKind.READ,
            label=f"Exporting {path.name}",
            on_success=lambda n: self.say(f"Exported {n:,} accounts to {path.name}."),
            on_failure=lambda exc: self.say(f"Export failed: {exc}", error=True),
            on_cancelled=lambda: self.say("Export cancelled; no file was written."),
        )
        page.task_line.track(task)
        return task

    # -- online geocoding --------------------------------------------------------------------------

    def update_locate_button(self) -> None:
        from fieldrep.geo.geocoder_settings import load_settings

        settings = load_settings(self.context.conn)
        button = self.page.locate_button
        # Only offered where an online geocoder is set up: a button that can never work is noise.
        button.setVisible(settings.enabled)
        button.setEnabled(settings.enabled)
        button.setToolTip(
            f"Place accounts by street address through {settings.provider} ({settings.domain});"
            " unplaced accounts too"
            if settings.enabled
            else "No online geocoder is set up: turn one on in Sync > Geocoding settings"
        )

    def locate_online(self) -> Task | None:
        from fieldrep.geo.geocoder_settings import load_settings

        settings = load_settings(self.context.conn)
        if not settings.enabled:
            self.update_locate_button()
            return None
        self.page.locate_button.setEnabled(False)
        task = self.runner.write_with_progress(
            partial(locate_online_operation, settings),
            lane=TaskKind.NETWORK,
            label="Locating accounts online",
            on_success=self._on_locate_succeeded,
            on_failure=lambda exc: self._after_locate(f"Locating failed: {exc}", error=True),
            on_cancelled=lambda: self._after_locate("Locating stopped; what was found is kept."),
        )
        self.page.task_line.track(task)
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
        self.say(text, error=error)
        self.update_locate_button()
        self.page.refresh_rows()

    # -- visits and today's tasks ----------------------------------------------------------------

    def open_log_visit(self, account_id: str) -> Any:
        from fieldrep.ui.dialogs.log_visit_dialog import LogVisitDialog

        panel = self.page.panel
        name = panel.title.text() if panel.account_id == account_id else ""
        dialog = LogVisitDialog(self.context, self.runner, account_id, name, self.page)
        dialog.logged.connect(lambda _v: self._after_visit(account_id))
        dialog.logged.connect(lambda _v: self.say(dialog.confirmation()))
        self.keep(dialog)
        dialog.open()
        return dialog

    def _after_visit(self, account_id: str) -> None:
        page = self.page
        page.model.refresh()
        page.select_account(account_id)  # the refresh dropped the selection with the pages
        if page.panel.account_id == account_id:
            page.panel.show_account(account_id)
        self.update_today()

    def open_today(self) -> Any:
        from fieldrep.ui.views.accounts_today_panel import TodayDialog

        dialog = TodayDialog(self.context, self.runner, self.page)

        def refresh_today(_changes: Changes) -> None:
            dialog.refresh()

        refresh_on_change(self.runner.changes, dialog, ("tasks", "accounts"), refresh_today)
        dialog.account_requested.connect(self.page.open_account)
        dialog.task_completed.connect(lambda _t: self.update_today())
        self.keep(dialog)
        # Not modal: Enter opens the task's account beside it, in the page, not behind a dialog.
        dialog.setModal(False)
        dialog.show()
        return dialog

    def update_today(self) -> None:
        from fieldrep.services.accounts.visits import due_tasks

        n = len(due_tasks(self.context.conn, self.context.user_id))
        self.page.today_button.setText(f"Today ({n})" if n else "Today")


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
