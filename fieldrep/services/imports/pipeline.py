"""The one import pipeline, shared by the accounts and the contacts importers.

:func:`run_import` reads top to bottom in the order an import runs::

    read -> map -> validate -> (block by block) link -> dedupe -> place -> assign -> write

What differs between the entities plugs in as a :class:`Kind` (the table, its import fields, a
check of the mapping, what the whole pass runs inside) whose ``start`` builds the :class:`Steps` of
one import: the row converter (``validate``), what the rows refer to (``link``: a contact's
account, an account's own export come back), the duplicate keys (``start_dedupe``,
``duplicate``), where an account is (``place``), whose it is (``assign``) and the writer
(``write``). The pipeline owns the rest: the rows streamed from the file with cancel checks and
progress (:func:`passes.streamed_rows`), the extra-cells check, the blocks, the report and the
errors file, all in ONE transaction (:func:`passes.run_in_one_transaction`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fieldrep.domain.ids import uuid7_many
from fieldrep.services.context import Context
from fieldrep.services.imports.errors import ErrorsFile, RowError
from fieldrep.services.imports.mapping import (
    ColumnMapping,
    ImportField,
    guess_mapping,
    missing_column_message,
    missing_required,
    unmapped_note,
)
from fieldrep.services.imports.passes import (
    CHUNK,
    CHUNK_CHARS,
    ImportReport,
    Progress,
    run_in_one_transaction,
    streamed_rows,
)
from fieldrep.services.imports.readers import (
    ImportFileError,
    TableData,
    extra_cells_problem,
    read_table,
)


@dataclass(slots=True)
class Row:
    """One row of the file as the pipeline carries it from the converter to the writer."""

    line: int
    cells: list[str]
    # the entity's fields (and, under names starting with "_", what its later steps read)
    values: dict[str, Any]
    # problems that keep the row out (it goes to the errors file)
    errors: list[RowError]
    # bad optional cells dropped from a row that is imported all the same
    warnings: list[RowError] = field(default_factory=list)
    # cells past the header's last column: the row's one problem, its other checks skipped
    shifted: bool = False
    # the row's duplicate keys, set by ``Steps.start_dedupe`` for the rows it checks
    keys: Any = None


class Steps:
    """The per-entity parts of one import, built inside its transaction.

    ``validate``, ``start_dedupe``, ``duplicate`` and ``write`` are each entity's own; the other
    steps do nothing unless the entity has that step (contacts are neither placed nor assigned).
    """

    def rows_pass(self) -> AbstractContextManager[None]:
        """What the pass over the rows runs inside (the accounts file their keys themselves)."""
        return nullcontext()

    def validate(self, line: int, cells: list[str], formulas: tuple[tuple[int, str], ...]) -> Row:
        """The row converter: one row's cells -> the entity's values and the problems found,
        without the database."""
        raise NotImplementedError

    def link(self, block: list[Row]) -> None:
        """Resolve what the block's rows refer to (a contact's account), in a few queries."""

    def settled(self, row: Row) -> bool:
        """Whether a good row was handled without creating anything (an account's own export come
        back updates that account); its warnings are reported as an imported row's."""
        return False

    def start_dedupe(self, block: list[Row]) -> None:
        """Set ``row.keys`` of the rows to check and look the block's keys up at once."""
        raise NotImplementedError

    def duplicate(self, row: Row) -> RowError | None:
        """Why ``row`` is a duplicate (of a stored row or an earlier one), else None: from now on
        its keys are held."""
        raise NotImplementedError

    def end_dedupe(self) -> None:
        """The block's keys are held for the blocks after it."""

    def place(self, good: list[Row]) -> None:
        """Where each good row is (accounts: the file's coordinates or the offline geocoder)."""

    def assign(self, good: list[Row], ids: list[str]) -> None:
        """Whose each good row is (accounts: territory and owner, on save like any new one)."""

    def write(self, good: list[Row], ids: list[str]) -> int:
        """Write the good rows under ``ids``; returns how many were created."""
        raise NotImplementedError

    def finish(self) -> None:
        """After the last block: notes for the report, temporary tables dropped."""


@dataclass(frozen=True)
class Kind:
    """What an importer of one entity plugs into the pipeline."""

    table: str
    fields: tuple[ImportField, ...]
    # (ctx, data, mapping, report) -> the import's steps, built inside its transaction
    start: Callable[[Context, TableData, ColumnMapping, ImportReport], Steps]
    # a mapping problem of the entity's own, beyond missing required columns (else None)
    mapping_problem: Callable[[ColumnMapping], str | None] = lambda _mapping: None
    # a context of the entity's own around the whole transaction's work (indexes built once)
    bulk: Callable[[Any, TableData], AbstractContextManager[None]] | None = None


def run_import(
    ctx: Context,
    kind: Kind,
    path: str | Path,
    *,
    mapping: ColumnMapping | None = None,
    data: TableData | None = None,
    errors_path: str | Path | None = None,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ImportReport:
    """Import ``path`` (or the table already read, ``data``) as ``kind``'s rows. Raises
    ImportFileError when the file as a whole cannot be imported and ImportCancelled when
    ``cancelled()`` turned true (nothing written in either case)."""
    started = time.perf_counter()
    # read
    data = data or read_table(path, scan=False)
    name = data.path.name
    if not data.rows:
        raise ImportFileError(
            f"{data.source} has a header row but no data rows{data.other_sheets_hint}"
        )
    # map
    mapping = mapping or guess_mapping(data.header, kind.fields)
    for spec in missing_required(mapping, kind.fields):
        raise ImportFileError(f"{name}: {missing_column_message(spec, data.header)}")
    why = kind.mapping_problem(mapping)
    if why is not None:
        raise ImportFileError(f"{name}: {why}")
    report = ImportReport(
        str(data.path),
        data.kind,
        data.encoding,
        data.delimiter,
        mapping.describe(data.header),
        notes=[*data.notes, *filter(None, [unmapped_note(mapping, data.header)])],
    )
    errors_out = ErrorsFile(errors_path, data.header)
    table = data

    def check_and_write(_conn: Any) -> None:
        steps = kind.start(ctx, table, mapping, report)
        width = len(table.header)
        block: list[Row] = []
        block_chars = 0
        with steps.rows_pass():
            for line, cells, formulas in streamed_rows(table, report, progress, cancelled):
                # validate
                row = steps.validate(line, cells, formulas)
                if len(cells) > width and any(cells[width:]):
                    # Shifted cells make every other complaint about the row an echo of this one.
                    row.errors = [RowError(line, "", extra_cells_problem(cells, width))]
                    row.shifted = True
                block.append(row)
                block_chars += sum(map(len, cells))
                if len(block) >= CHUNK or block_chars >= CHUNK_CHARS:
                    _check_and_write_block(steps, block, report, errors_out)
                    block = []
                    block_chars = 0
            if block:
                _check_and_write_block(steps, block, report, errors_out)
        report.notes.extend(table.rows.notes)  # what the pass found, e.g. formulas' saved results
        steps.finish()

    return run_in_one_transaction(
        ctx,
        data,
        report,
        errors_out,
        check_and_write,
        started=started,
        what=kind.table,
        progress=progress,
        cancelled=cancelled,
        bulk=None if kind.bulk is None else _bound(kind.bulk, table),
    )


def _bound(
    bulk: Callable[[Any, TableData], AbstractContextManager[None]], data: TableData
) -> Callable[[Any], AbstractContextManager[None]]:
    return lambda conn: bulk(conn, data)


def _check_and_write_block(
    steps: Steps, block: list[Row], report: ImportReport, errors_out: ErrorsFile
) -> None:
    """One block of validated rows: linked, checked for duplicates, then placed, assigned and
    written together; every failing row reported in the order of the file."""
    # link
    steps.link(block)
    # dedupe
    steps.start_dedupe(block)
    good: list[Row] = []
    for row in block:
        if not row.errors:
            if steps.settled(row):
                _report_warnings(row, report, errors_out)
                continue
            duplicate = steps.duplicate(row)
            if duplicate is not None:
                row.errors.append(duplicate)
                report.duplicates += 1
        if row.errors:
            report.failed_rows += 1
            report.add_errors(row.errors)
            errors_out.add(row.line, row.cells, row.errors)
            continue
        _report_warnings(row, report, errors_out)
        good.append(row)
    steps.end_dedupe()
    if not good:
        return
    # place, assign, write
    steps.place(good)
    ids = uuid7_many(len(good))
    steps.assign(good, ids)
    report.imported += steps.write(good, ids)


def _report_warnings(row: Row, report: ImportReport, errors_out: ErrorsFile) -> None:
    if row.warnings:
        report.add_warnings(row.warnings)
        errors_out.add(row.line, row.cells, row.warnings, imported=True)


__all__ = ["Kind", "Row", "Steps", "run_import"]
