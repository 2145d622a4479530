"""Importing accounts from the GUI: pick a file, check and change the column mapping, watch it run.

The file's header and first rows are read in the background for the preview (a CSV is also
counted, which takes seconds for a big one; a workbook is never read through); the import itself
runs on the task runner's write lane with its own connection, reports progress and can be
cancelled (a cancel imports nothing: the service writes all good rows in one transaction).

Kept whole: one dialog's steps (file, mapping preview, run) share its widgets and its task.
"""

from __future__ import annotations

from functools import partial
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fieldrep.services.imports.accounts import ImportReport
from fieldrep.services.imports.mapping import (
    ACCOUNT_FIELDS,
    CONTACT_FIELDS,
    ColumnMapping,
    guess_mapping,
    missing_required,
)
from fieldrep.services.imports.readers import ImportFileError, TableData, read_table
from fieldrep.ui import theme
from fieldrep.ui.tasks import Cancelled, Progress, Task, TaskKind, TaskRunner
from fieldrep.ui.widgets.screen_fit import fit_on_show

if TYPE_CHECKING:
    from fieldrep.services.context import Context

IGNORE = "(do not import)"
SAMPLES = 3


def read_operation(path: Path, _db_path: Path, _progress: Progress) -> TableData:
    """Read and detect the file on a worker thread (no database needed)."""
    return read_table(path)


def run_import(
    data: TableData,
    mapping: ColumnMapping,
    errors_path: Path | None,
    ctx: Context,
    progress: Progress,
    *,
    kind: str = "accounts",
) -> ImportReport:
    """The import as a long user write (:meth:`TaskRunner.write_with_progress`)."""
    from fieldrep.services.imports.accounts import ImportCancelled, import_accounts
    from fieldrep.services.imports.contacts import import_contacts

    service = import_contacts if kind == "contacts" else import_accounts
    try:
        return service(
            ctx,
            data.path,
            data=data,
            mapping=mapping,
            errors_path=errors_path,
            progress=lambda done, total, phase: progress.report(done, total, phase.capitalize()),
            cancelled=lambda: progress.cancelled,
        )
    except ImportCancelled:
        raise Cancelled from None  # the runner reports it as cancelled, not as a failure


def _row_count(data: TableData) -> str:
    """'1,234 rows', or 'about 1,234 rows' from a workbook's size header, without a full pass."""
    rows, exact = data.rows.estimate()
    if exact:
        return f"{rows:,} rows"
    if rows:
        return f"about {rows:,} rows"
    return f"the rows of the sheet {data.sheet!r}" if data.sheet else "the rows of the sheet"


def _territory_line(assigned: int, imported: int) -> str:
    if assigned == imported:
        return (
            f"In a territory: all {imported:,}, each with an owner where the territory has members."
        )
    return (
        f"In a territory: {assigned:,}; {imported - assigned:,} match no territory's rules"
        " (Accounts: filter by territory, No territory)."
    )


class ImportDialog(QDialog):
    imported = Signal(object)  # ImportReport
    loaded = Signal(bool)  # the file was read (True) or refused (False)

    def __init__(
        self, runner: TaskRunner, path: Path | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        fit_on_show(self)  # at least its size hint, within the screen
        self.setWindowTitle("Import accounts or contacts")
        self.resize(760, 560)
        self.runner = runner
        self.data: TableData | None = None
        self.task: Task | None = None
        self.read_task: Task | None = None
        self.report: ImportReport | None = None
        self.combos: list[QComboBox] = []

        self.kind_combo = QComboBox()
        self.kind_combo.addItem("Accounts", "accounts")
        self.kind_combo.addItem("Contacts", "contacts")
        self.kind_combo.setToolTip("What each row of the file is (contacts join existing accounts)")
        self.kind_combo.currentIndexChanged.connect(self._on_kind_combo_changed)
        self.file_label = QLabel("Choose a CSV or Excel file with one account or contact per row.")
        self.file_label.setTextFormat(Qt.TextFormat.RichText)  # the bold file name, escaped
        self.file_label.setWordWrap(True)
        choose = QPushButton("Choose file…")
        choose.clicked.connect(self._on_choose_clicked)
        top = QHBoxLayout()
        top.addWidget(QLabel("Import"))
        top.addWidget(self.kind_combo)
        top.addWidget(self.file_label, 1)
        top.addWidget(choose)

        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Column in the file", "Sample values", "Imports as"])
        # The outer columns fit their header and cells whatever the file (or no file) shows; a
        # fixed width kept the default 100 px, too narrow for "Column in the file".
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)

        self.message = QLabel()
        self.message.setTextFormat(Qt.TextFormat.PlainText)  # quotes the file's names and values
        self.message.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.result_text = QPlainTextEdit()
        self.result_text.setReadOnly(True)
        self.result_text.setVisible(False)

        self.import_button = QPushButton("Import")
        self.import_button.setDefault(True)
        self.import_button.setEnabled(False)
        self.import_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.import_button)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.progress)
        layout.addWidget(self.result_text)
        layout.addLayout(buttons)
        if path is not None:
            self.load(path)

    # -- preview and mapping -----------------------------------------------------------------------

    def _on_choose_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import accounts", "", "Spreadsheets (*.csv *.txt *.xlsx);;All files (*)"
        )
        if path:
            self.load(Path(path))

    def load(self, path: Path) -> Task:
        """Read ``path`` in the background; :attr:`loaded` tells when the preview is ready."""
        if self.read_task is not None:
            self.read_task.cancel()
        self.data = None
        self.import_button.setEnabled(False)
        self.table.setRowCount(0)
        self.file_label.setText(f"<b>{escape(path.name)}</b>")
        self._say(f"Reading {path.name}…")
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        task = self.runner.run(
            partial(read_operation, path),
            kind=TaskKind.READ,
            label=f"Reading {path.name}",
            on_success=partial(self._on_file_read, path),
            on_failure=partial(self._on_file_refused, path),
        )
        self.read_task = task
        return task

    def _on_file_refused(self, path: Path, error: BaseException) -> None:
        self.read_task = None
        self.progress.setVisible(False)
        if isinstance(error, ImportFileError):
            self._say(str(error), error=True)
        else:
            self._say(f"{path.name} cannot be read: {error}", error=True)
        self.loaded.emit(False)

    def _on_file_read(self, path: Path, data: TableData) -> None:
        self.read_task = None
        self.progress.setVisible(False)
        self.show_preview(path, data)
        self.loaded.emit(True)

    def show_preview(self, path: Path, data: TableData) -> None:
        self.data = data
        what = _row_count(data)
        if data.kind == "csv":
            what += f", {data.encoding}, separated by {data.delimiter!r}"
        self.file_label.setText(f"<b>{escape(path.name)}</b> — {escape(what)}")
        guess = guess_mapping(data.header, self.fields)
        by_column = {i: f for f, i in guess.fields.items()}
        self.table.setRowCount(len(data.header))
        self.combos = []
        for col, header in enumerate(data.header):
            samples = [
                cells[col] for _, cells in data.rows[:20] if col < len(cells) and cells[col].strip()
            ][:SAMPLES]
            self.table.setItem(col, 0, QTableWidgetItem(header or f"(column {col + 1})"))
            self.table.setItem(col, 1, QTableWidgetItem(" · ".join(s[:40] for s in samples)))
            combo = QComboBox()
            combo.addItem(IGNORE, None)
            for spec in self.fields:
                combo.addItem(spec.label + (" *" if spec.required else ""), spec.name)
            if col in by_column:
                combo.setCurrentIndex(combo.findData(by_column[col]))
            combo.currentIndexChanged.connect(partial(self._on_mapping_changed, col))
            self.combos.append(combo)
            self.table.setCellWidget(col, 2, combo)
        self._check_mapping()

    @property
    def kind(self) -> str:
        return str(self.kind_combo.currentData())

    @property
    def fields(self) -> tuple[Any, ...]:
        return CONTACT_FIELDS if self.kind == "contacts" else ACCOUNT_FIELDS

    def set_kind(self, kind: str) -> None:
        self.kind_combo.setCurrentIndex(self.kind_combo.findData(kind))

    def _on_kind_combo_changed(self, _index: int) -> None:
        self.setWindowTitle(f"Import {self.kind}")
        if self.data is not None:  # same file, other meaning: guess the mapping again
            self.show_preview(self.data.path, self.data)

    def mapping(self) -> ColumnMapping:
        return ColumnMapping(
            {
                combo.currentData(): col
                for col, combo in enumerate(self.combos)
                if combo.currentData() is not None
            }
        )

    def set_field(self, column: int, field: str | None) -> None:
        combo = self.combos[column]
        combo.setCurrentIndex(combo.findData(field))

    def _on_mapping_changed(self, column: int, _index: int) -> None:
        field = self.combos[column].currentData()
        if field is not None:  # one column per field: the previous holder lets go
            for other, combo in enumerate(self.combos):
                if other != column and combo.currentData() == field:
                    combo.blockSignals(True)
                    combo.setCurrentIndex(0)
                    combo.blockSignals(False)
        self._check_mapping()

    def _check_mapping(self) -> None:
        missing = [spec.label.lower() for spec in missing_required(self.mapping(), self.fields)]
        if self.kind == "contacts" and not {"full_name", "first_name", "last_name"} & set(
            self.mapping().fields
        ):
            missing.append("contact's name (full, first or last)")
        if self.data is not None and not self.data.rows:
            self._say(f"{self.data.path.name} has a header row but no data rows.", error=True)
            self.import_button.setEnabled(False)
            return
        if missing:
            self._say(f"Choose the column that holds the {missing[0]}.", error=True)
        elif self.data is not None:
            self._say(
                f"Ready to import {_row_count(self.data)}. Rows with problems are "
                "skipped and listed; possible duplicates are not created twice."
            )
        self.import_button.setEnabled(not missing and self.data is not None)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {theme.DANGER if error else theme.TEXT_MUTED};")

    # -- running ---------------------------------------------------------------------------------

    def start(self) -> Task | None:
        if self.data is None or self.task is not None:
            return None
        errors = self.data.path.with_name(f"{self.data.path.stem}.errors.csv")
        self.import_button.setEnabled(False)
        self.table.setEnabled(False)
        self.kind_combo.setEnabled(False)
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self._say("Importing…")
        self.task = self.runner.write_with_progress(
            partial(run_import, self.data, self.mapping(), errors, kind=self.kind),
            label=f"Import {self.data.path.name}",
            on_success=self._on_task_succeeded,
            on_failure=self._on_task_failed,
            on_progress=self._on_task_progressed,
            on_cancelled=self._on_task_cancelled,
        )
        return self.task

    def _on_task_progressed(self, done: int, total: int, text: str) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self._say(f"{text}: {done:,} of {total:,}")

    def _on_task_succeeded(self, report: ImportReport) -> None:
        self.task = None
        self.report = report
        self.progress.setVisible(False)
        lines = [
            f"Imported {report.imported:,} of {report.rows_read:,} rows in {report.seconds:.1f} s."
        ]
        if report.placed_by:
            lines.append(
                "Placed on the map: "
                + ", ".join(
                    f"{n:,} by {q.replace('_', ' ')}" for q, n in sorted(report.placed_by.items())
                )
            )
        if report.imported and self.kind_combo.currentData() == "accounts":
            lines.append(_territory_line(report.assigned, report.imported))
        if report.unplaced_total:
            lines.append(f"{report.unplaced_total:,} imported without a location:")
            lines += [
                f"  line {u['line']}: {u['name']} — {u['address']}" for u in report.unplaced[:50]
            ]
            if report.unplaced_total > 50:
                lines.append(
                    f"  … and {report.unplaced_total - 50:,} more"
                    " (Sync ▸ Geocoding settings lists them all)"
                )
        if report.failed_rows:
            lines.append(
                f"{report.failed_rows:,} rows not imported ({report.duplicates:,}"
                f" possible duplicates), written to {report.errors_file}:"
            )
            lines += [
                f"  line {e.line}{', ' + e.column if e.column else ''}: {e.reason}"
                for e in report.errors[:200]
            ]
            if report.errors_total > 200:
                lines.append(f"  … and {report.errors_total - 200:,} more in the errors file")
        if report.updated or report.unchanged:
            lines.append(
                f"{report.updated:,} accounts updated from their FieldRep id"
                f" ({report.unchanged:,} unchanged)"
            )
        if report.warned_rows:
            lines.append(
                f"{report.warned_rows:,} rows imported with a warning (a bad value dropped,"
                f" a doubtful one kept), also in {report.errors_file}:"
            )
            lines += [
                f"  line {w.line}{', ' + w.column if w.column else ''}: {w.reason}"
                for w in report.warnings[:200]
            ]
        lines += [f"Note: {n}" for n in report.notes]
        self.result_text.setPlainText("\n".join(lines))
        self.result_text.setVisible(True)
        self._say("Done.")
        self.cancel_button.setText("Close")
        self.imported.emit(report)

    def _on_task_failed(self, error: BaseException) -> None:
        self.task = None
        self.progress.setVisible(False)
        self._say(f"Nothing was imported: {error}", error=True)
        self.table.setEnabled(True)
        self.kind_combo.setEnabled(True)
        self.import_button.setEnabled(True)

    def _on_task_cancelled(self) -> None:
        self.task = None
        self.progress.setVisible(False)
        self._say("Cancelled; nothing was imported.", error=True)
        self.table.setEnabled(True)
        self.kind_combo.setEnabled(True)
        self.import_button.setEnabled(True)

    def _on_cancel_clicked(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self._say("Cancelling…")
        else:
            self.reject()

    def done(self, result: int) -> None:  # Esc or close while running: cancel, never abandon
        if self.read_task is not None:
            self.read_task.cancel()
        if self.task is not None:
            self.task.cancel()
            return
        super().done(result)

    def summary(self) -> dict[str, Any]:
        return {} if self.report is None else self.report.summary()
