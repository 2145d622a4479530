"""The rows an import could not take: each problem (line, column, reason) and the errors CSV.

The errors CSV holds the failing rows as they were, after three columns saying what is wrong with
them, so the user can fix them and import that file again.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fieldrep.services.imports.spreadsheet_text import escaped


@dataclass
class RowError:
    line: int
    column: str
    reason: str


class ErrorsFile:
    """The failing rows, written as they are found to a side file that becomes the errors file
    only when the import finishes (a cancelled import leaves none)."""

    def __init__(self, path: str | Path | None, header: list[str]) -> None:
        self.path = Path(path) if path is not None else None
        self.header = header
        self.partial = self.path.with_name(self.path.name + ".partial") if self.path else None
        self._fh: Any = None
        self._out: Any = None
        self.stale_removed = False

    def problem(self, source: Path) -> str | None:
        """Why the errors file cannot be written beside an import of ``source``, if it cannot:
        asked before the import starts, so a bad path never costs a half-done import."""
        if self.path is None:
            return None
        if _same_file(self.path, source):
            return f"the errors file {self.path} is the file being imported; choose another path"
        folder = self.path.parent
        if not folder.is_dir():
            return f"cannot write the errors file {self.path}: folder {folder} does not exist"
        if not os.access(folder, os.W_OK):
            return f"cannot write the errors file {self.path}: folder {folder} is not writable"
        if self.path.is_dir():
            return f"cannot write the errors file {self.path}: it is a folder"
        return None

    def add(
        self, line: int, cells: list[str], errors: list[RowError], *, imported: bool = False
    ) -> None:
        """A failing row, or with ``imported`` a row that was imported without its bad cells
        (its reasons then start with "imported anyway:" so nobody imports it twice)."""
        if self.partial is None:
            return
        if self._out is None:
            self._fh = self.partial.open("w", newline="", encoding="utf-8-sig")
            self._out = csv.writer(self._fh)
            self._out.writerow(["error_line", "error_column", "error_reason", *self.header])
        # A row as long as the header: readers (and the import itself) then see every column.
        short = len(self.header) - len(cells)
        if imported:
            errors = [RowError(e.line, e.column, f"imported anyway: {e.reason}") for e in errors]
        self._out.writerow(_error_row(line, cells + [""] * short if short > 0 else cells, errors))

    def keep(self) -> str | None:
        """The errors file's path, or None when no row failed. Then an errors file that an
        earlier import left at the same path is removed (``stale_removed``), so what sits beside
        the import always describes the latest one; a file that is not ours is left alone."""
        if self.path is None or self.partial is None:
            return None
        if self._fh is None:
            if _is_errors_file(self.path):
                self.path.unlink()
                self.stale_removed = True
            return None
        self._fh.close()
        self.partial.replace(self.path)
        return str(self.path)

    def discard(self) -> None:
        if self._fh is not None and self.partial is not None:
            self._fh.close()
            self.partial.unlink(missing_ok=True)


_SIGNATURE = "error_line,error_column,error_reason"


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return a.resolve() == b.resolve()


def _is_errors_file(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            return fh.readline().startswith(_SIGNATURE)
    except (OSError, UnicodeDecodeError):
        return False


def _error_row(line: int, cells: list[str], errors: list[RowError]) -> list[Any]:
    # Escaped as an export is: the file is meant to be opened in a spreadsheet, fixed and
    # imported again (which reads the cells back as they were).
    return [
        line,
        "; ".join(dict.fromkeys(e.column for e in errors if e.column)),
        "; ".join(e.reason for e in errors),
        *map(escaped, cells),
    ]


def write_errors_csv(
    path: str | Path, header: list[str], failed: list[tuple[int, list[str], list[RowError]]]
) -> None:
    """The failing rows as they were, after three columns saying what is wrong with them."""
    with Path(path).open("w", newline="", encoding="utf-8-sig") as fh:
        out = csv.writer(fh)
        out.writerow(["error_line", "error_column", "error_reason", *header])
        for line, cells, errors in failed:
            out.writerow(_error_row(line, cells, errors))
