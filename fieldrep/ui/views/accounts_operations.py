"""The Accounts page's background operations: each runs on a TaskRunner worker with its own
connection, reports progress and notices a cancel; none touches a widget."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fieldrep.store.accounts_repository import AccountFilter, Sort
from fieldrep.ui.tasks import Cancelled, Progress

if TYPE_CHECKING:
    from fieldrep.services.context import Context


def export_operation(
    path: Path, flt: AccountFilter, sort: Sort, db_path: Path, progress: Progress
) -> int:
    """Export the filtered, sorted list, written by a child process (openpyxl on a thread of this
    process kept the window from the GIL); a cancel leaves no file."""
    from fieldrep.services.accounts.export import ExportCancelled
    from fieldrep.services.accounts.export_child import export_in_child

    try:
        return export_in_child(
            db_path,
            path,
            flt,
            sort,
            progress=progress.report,
            cancelled=lambda: progress.cancelled,
        )
    except ExportCancelled:
        raise Cancelled from None


def locate_online_operation(settings: Any, ctx: Context, progress: Progress) -> Any:
    """Place accounts through the configured online geocoder, as a long user write; what was
    found before a cancel or a lost connection is kept (each answer is its own small write)."""
    from fieldrep.geo.online_refine import refine_online

    return refine_online(
        ctx,
        settings,
        progress=lambda done, total, _text: progress.report(
            done, total, "Locating accounts online"
        ),
        cancelled=lambda: progress.cancelled,
    )
