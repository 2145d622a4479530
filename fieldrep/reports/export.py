"""Writing a report to a file: the format from the name (or given), written beside the final name
and renamed at the end, so a failed or cancelled export never leaves a half file under that name
(and an older file of that name stays as it was)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from fieldrep.reports.model import Report
from fieldrep.services.gc_pause import collector_paused

FORMATS = ("csv", "xlsx", "pdf")
# (done, total or None, text); it may raise to cancel: the partial file is then removed.
Step = Callable[[int, int | None, str], None]


class ReportExportError(Exception):
    """The report could not be written; the message says why in one sentence."""


def format_of(path: Path, fmt: str | None = None) -> str:
    chosen = (fmt or path.suffix.lstrip(".")).lower()
    if chosen not in FORMATS:
        raise ReportExportError(
            f"cannot tell the format of {path.name}: use --format csv, xlsx or pdf "
            "(or a file name ending .csv, .xlsx or .pdf)"
        )
    return chosen


def partial_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial")


def write_report(
    report: Report,
    path: str | os.PathLike[str],
    fmt: str | None = None,
    *,
    excel: bool = False,
    step: Step | None = None,
) -> Path:
    """Write ``report`` to ``path`` as csv/xlsx/pdf; ``excel`` gives a CSV the BOM Excel wants."""
    target = Path(path)
    chosen = format_of(target, fmt)
    if not target.parent.is_dir():
        raise ReportExportError(f"the folder {target.parent} does not exist")
    if target.is_dir():
        raise ReportExportError(f"{target} is a folder; give a file name")
    partial = partial_path(target)
    try:
        with collector_paused():  # the rows die young and form no cycles: no full collections
            _write(report, partial, chosen, excel, step)
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ReportExportError(f"cannot write {target}: {exc.strerror or exc}") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target


def _write(report: Report, partial: Path, chosen: str, excel: bool, step: Step | None) -> None:
    if chosen == "csv":
        from fieldrep.reports.csv_writer import write_csv

        write_csv(report, partial, bom=excel, step=step)
    elif chosen == "xlsx":
        from fieldrep.reports.xlsx_writer import write_xlsx

        write_xlsx(report, partial, step=step)
    else:
        from fieldrep.reports.pdf_writer import write_pdf

        write_pdf(report, partial, step=step)
