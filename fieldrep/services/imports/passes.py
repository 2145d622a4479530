"""What every import shares: the report, the block sizes, and the pass itself.

An import reads its file once, streamed: :func:`streamed_rows` yields the rows with a cancel check
and a progress report every 1,000; the caller checks them block by block and writes each block of
good rows as soon as it is checked. :func:`run_in_one_transaction` wraps that in ONE transaction
that commits only at the end, with the search index filled once, so memory stays bounded for a
file of any size and a cancel, a crash or a bad file imports nothing (and leaves no errors file).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, closing, nullcontext
from dataclasses import dataclass, field
from typing import Any

from fieldrep.domain.errors import Cancelled
from fieldrep.domain.progress import Progress
from fieldrep.services.context import Context
from fieldrep.services.gc_pause import collector_paused
from fieldrep.services.imports.errors import ErrorsFile, RowError
from fieldrep.services.imports.readers import ImportFileError, TableData
from fieldrep.store.accounts_repository import deferred_search_index

log = logging.getLogger(__name__)

CHUNK = 5000  # good rows are written in blocks of this many rows or CHUNK_CHARS of text
CHUNK_CHARS = 1_000_000
# Problems (and accounts placed nowhere) the report keeps to show; it counts every one, and the
# errors file holds every failing row. A file of any size then costs bounded memory, even when
# every row fails (a re-import of a big file: every row a duplicate).
KEPT_IN_REPORT = 1_000


# The user cancelled; nothing was written. The one cancellation type, under the name the import's
# callers know.
ImportCancelled = Cancelled


@dataclass
class ImportReport:
    file: str
    kind: str
    encoding: str
    delimiter: str
    mapping: dict[str, str]
    rows_read: int = 0
    imported: int = 0
    # rows of our own export (a "FieldRep id" column) that changed the account they name
    updated: int = 0
    unchanged: int = 0
    updated_fields: dict[str, int] = field(default_factory=dict)
    failed_rows: int = 0
    duplicates: int = 0  # rows skipped as duplicates of existing accounts or earlier rows
    assigned: int = 0  # imported accounts that have a territory (from the file or the rules)
    errors: list[RowError] = field(default_factory=list)  # the first KEPT_IN_REPORT problems
    errors_total: int = 0  # every problem found (a failing row has one or more)
    # bad optional cells dropped from rows that were imported (the first KEPT_IN_REPORT)
    warnings: list[RowError] = field(default_factory=list)
    warnings_total: int = 0
    warned_rows: int = 0
    unplaced: list[dict[str, Any]] = field(default_factory=list)  # the first KEPT_IN_REPORT
    unplaced_total: int = 0  # every imported account the offline geocoder could not place
    placed_by: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    errors_file: str | None = None
    seconds: float = 0.0

    def add_errors(self, errors: list[RowError]) -> None:
        """A failing row's problems: counted, and kept while there is room."""
        self.errors_total += len(errors)
        room = KEPT_IN_REPORT - len(self.errors)
        if room > 0:
            self.errors.extend(errors[:room])

    def add_warnings(self, warnings: list[RowError]) -> None:
        """An imported row's dropped cells: counted, and kept while there is room."""
        self.warned_rows += 1
        self.warnings_total += len(warnings)
        room = KEPT_IN_REPORT - len(self.warnings)
        if room > 0:
            self.warnings.extend(warnings[:room])

    def add_unplaced(self, line: int, name: str, address: str) -> None:
        self.unplaced_total += 1
        if len(self.unplaced) < KEPT_IN_REPORT:
            self.unplaced.append({"line": line, "name": name, "address": address})

    @property
    def errors_not_kept(self) -> int:
        return self.errors_total - len(self.errors)

    def summary(self) -> dict[str, Any]:
        data = {
            k: getattr(self, k)
            for k in (
                "file",
                "kind",
                "encoding",
                "delimiter",
                "mapping",
                "rows_read",
                "imported",
                "updated",
                "unchanged",
                "updated_fields",
                "failed_rows",
                "duplicates",
                "assigned",
                "placed_by",
                "notes",
                "errors_file",
                "errors_total",
                "warnings_total",
                "warned_rows",
                "unplaced_total",
                "seconds",
            )
        }
        data["errors"] = [e.__dict__ for e in self.errors]
        data["warnings"] = [w.__dict__ for w in self.warnings]
        data["unplaced"] = self.unplaced
        return data


def streamed_rows(
    data: TableData,
    report: ImportReport,
    progress: Progress | None,
    cancelled: Callable[[], bool] | None,
) -> Iterator[tuple[int, list[str], tuple[tuple[int, str], ...]]]:
    """(line, cells, formula cells) of each row, counted in ``report.rows_read``."""
    rows = data.rows
    with closing(rows.with_formulas()) as stream:
        for index, row in enumerate(stream):
            if not index % 1000:
                if cancelled is not None and cancelled():
                    raise ImportCancelled(
                        f"import of {data.path.name} cancelled; nothing was imported"
                    )
                if progress is not None:
                    progress(index, rows.expected(index), "importing")
            report.rows_read += 1
            yield row


def run_in_one_transaction(
    ctx: Context,
    data: TableData,
    report: ImportReport,
    errors_out: ErrorsFile,
    check_and_write: Callable[[Any], None],
    *,
    started: float,
    what: str,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
    bulk: Callable[[Any], AbstractContextManager[None]] | None = None,
) -> ImportReport:
    """Run ``check_and_write(conn)`` in one transaction and finish the report; ``bulk(conn)`` may
    add a context of its own around it (the accounts' indexes built once, say)."""
    name = data.path.name
    try:
        why = errors_out.problem(data.path)
        if why is not None:
            raise ImportFileError(why)
        with (
            collector_paused(),
            ctx.writer.transaction() as conn,
            deferred_search_index(conn),
            bulk(conn) if bulk is not None else nullcontext(),
        ):
            check_and_write(conn)
            if cancelled is not None and cancelled():
                raise ImportCancelled(f"import of {name} cancelled; nothing was imported")
            if progress is not None:
                progress(report.rows_read, report.rows_read, "indexing")
    except BaseException:
        errors_out.discard()
        raise
    finally:
        close = getattr(data.rows, "close", None)  # a workbook's text table in temporary files
        if close is not None:
            close()
    report.errors_file = errors_out.keep()
    if errors_out.stale_removed and errors_out.path is not None:
        report.notes.append(
            f"no row failed, so {errors_out.path.name}, left by an earlier import, was removed"
        )
    report.seconds = round(time.perf_counter() - started, 3)
    if progress is not None:
        progress(report.rows_read, report.rows_read, "done")
    log.info("imported %d %s of %d rows from %s", report.imported, what, report.rows_read, name)
    return report
