"""The import dialog with Excel workbooks: a preview from the first rows, a count it can give
without reading the sheet through, the import, and damaged workbooks refused with their reason."""

from __future__ import annotations

from pathlib import Path

import openpyxl
from pytestqt.qtbot import QtBot

from fieldrep.services.context import Context
from fieldrep.ui.dialogs.import_dialog import ImportDialog
from fieldrep.ui.tasks import TaskRunner


def _book(path: Path, count: int, *, write_only: bool) -> Path:
    book = openpyxl.Workbook(write_only=write_only)
    sheet = book.create_sheet("Accounts") if write_only else book.active
    sheet.append(["Company", "Zip Code", "Notes"])
    for i in range(count):
        sheet.append([f"Shop {i}", "02139", f"note {i}"])
    book.save(path)
    return path


def _open(runner: TaskRunner, qtbot: QtBot, path: Path) -> tuple[ImportDialog, bool]:
    dialog = ImportDialog(runner, path)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.loaded, timeout=20_000) as read:
        pass
    return dialog, bool(read.args[0])


def test_a_workbook_previews_its_first_rows_and_imports(
    ctx: Context, runner: TaskRunner, qtbot: QtBot, tmp_path: Path
) -> None:
    dialog, ok = _open(runner, qtbot, _book(tmp_path / "shops.xlsx", 60, write_only=False))
    assert ok
    # openpyxl's normal mode writes a size header: the count is from it, not from a full pass.
    assert "about 60 rows" in dialog.file_label.text()
    assert dialog.table.item(0, 1).text() == "Shop 0 · Shop 1 · Shop 2"
    assert [c.currentData() for c in dialog.combos] == ["name", "postal_code", "notes"]
    assert "Ready to import about 60 rows" in dialog.message.text()
    with qtbot.waitSignal(dialog.imported, timeout=20_000):
        dialog.import_button.click()
    assert dialog.report is not None
    assert dialog.report.imported == 60
    assert ctx.db.execute("SELECT count(*) FROM accounts").fetchone()[0] == 60


def test_counts_it_cannot_know_are_not_guessed(
    ctx: Context, runner: TaskRunner, qtbot: QtBot, tmp_path: Path
) -> None:
    small, ok = _open(runner, qtbot, _book(tmp_path / "small.xlsx", 3, write_only=True))
    assert ok
    assert "3 rows" in small.file_label.text()  # the preview read them all
    assert "about" not in small.file_label.text()
    unsized, ok = _open(runner, qtbot, _book(tmp_path / "unsized.xlsx", 40, write_only=True))
    assert ok
    assert "Ready to import the rows of the sheet 'Accounts'" in unsized.message.text()


def test_a_damaged_workbook_is_refused_with_its_reason(
    ctx: Context, runner: TaskRunner, qtbot: QtBot, tmp_path: Path
) -> None:
    path = _book(tmp_path / "cut.xlsx", 200, write_only=False)
    path.write_bytes(path.read_bytes()[:2000])
    dialog, ok = _open(runner, qtbot, path)
    assert not ok
    assert "cut.xlsx is not a readable Excel workbook" in dialog.message.text()
    assert not dialog.import_button.isEnabled()
