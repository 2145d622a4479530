"""An import that stops early (a cancel, a bad row deep in the file) leaves no handle open on the
file it read, though the caller still holds the file's rows (the import dialog keeps them for
another try)."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest

from fieldrep.services.context import Context
from fieldrep.services.imports.accounts import ImportCancelled, import_accounts
from fieldrep.services.imports.contacts import import_contacts
from fieldrep.services.imports.readers import ImportFileError, read_table
from tests.services.test_xlsx_streaming import _excel_like_book

FD_DIR = Path("/proc/self/fd")
pytestmark = pytest.mark.skipif(not FD_DIR.is_dir(), reason="needs /proc/self/fd to see open files")
ROWS = 3000
SERVICES: dict[str, tuple[Callable[..., Any], list[str]]] = {
    "accounts": (import_accounts, ["Company", "ZIP", "Notes"]),
    "contacts": (import_contacts, ["Name", "Company", "Notes"]),
}


def _handles_on(path: Path) -> int:
    target = str(path.resolve())
    count = 0
    for fd in FD_DIR.iterdir():
        with suppress(OSError):  # the directory's own handle, closed by now
            count += os.readlink(fd) == target
    return count


def _rows(kind: str, count: int) -> list[list[str]]:
    if kind == "accounts":
        return [[f"Shop {i}", "02139", f"note {i % 7}"] for i in range(count)]
    return [[f"Person {i}", "Bayside Bakery", f"note {i % 7}"] for i in range(count)]


def _write(path: Path, rows: list[list[str]]) -> Path:
    if path.suffix == ".xlsx":  # laid out as Excel saves one, text in a shared-string table
        return _excel_like_book(path, rows)
    else:
        with path.open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(rows)
    return path


@pytest.fixture
def bakery(ctx: Context) -> Context:
    ctx.writer.insert("accounts", {"name": "Bayside Bakery"})
    return ctx


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
@pytest.mark.parametrize("kind", ["accounts", "contacts"])
def test_a_cancelled_import_closes_the_file(
    bakery: Context, tmp_path: Path, kind: str, suffix: str
) -> None:
    service, header = SERVICES[kind]
    path = _write(tmp_path / f"{kind}{suffix}", [header, *_rows(kind, ROWS)])
    data = read_table(path)
    assert (
        _handles_on(path) > 0 or suffix == ".csv"
    )  # a workbook's text table is open for the preview
    done: list[int] = []
    with pytest.raises(ImportCancelled) as caught:
        service(
            bakery,
            path,
            data=data,
            progress=lambda d, t, p: done.append(d),
            cancelled=lambda: bool(done) and done[-1] >= 1000,
        )
    assert caught.value.__traceback__ is not None  # the stopped frames are still alive here
    assert _handles_on(path) == 0
    # The rows can be read again, for another try.
    assert sum(1 for _ in data.rows) == ROWS


@pytest.mark.parametrize("kind", ["accounts", "contacts"])
def test_an_import_stopped_by_a_bad_file_closes_it(
    bakery: Context, tmp_path: Path, kind: str
) -> None:
    service, header = SERVICES[kind]
    path = _write(tmp_path / f"{kind}.csv", [header, *_rows(kind, ROWS)])
    with path.open("a", encoding="utf-8") as fh:
        fh.write('Broken,"02139,x\n')
    data = read_table(path, scan=False)
    with pytest.raises(ImportFileError, match="never closes") as caught:
        service(bakery, path, data=data)
    assert caught.value.__traceback__ is not None
    assert _handles_on(path) == 0
