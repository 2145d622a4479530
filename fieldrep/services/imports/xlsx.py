"""Streaming one sheet of an Excel workbook (.xlsx) for import, in bounded memory: the sheet that
was open when the workbook was saved (the first one if none was).

openpyxl's read-only mode parses a sheet row by row, but it loads the workbook's whole shared-string
table (where Excel keeps every distinct text) into a list first: for a big book that is most of its
text. :class:`~fieldrep.services.imports.xlsx_shared_strings.SharedStrings` replaces that list with
temporary files, parsed only as far as the cells read so far need, so the preview reads the
header's few strings and an import holds one row.

openpyxl's sheet parser also keeps every row it has read, emptied but attached to the XML tree
(~80 bytes a row); :class:`_RowParser` reads the same cells with openpyxl's own cell parsing but
drops each row from the tree once read, and reads nothing but rows.

openpyxl shows a formula cell either as its formula or as the result Excel saved with it, never
both. A cell whose formula has no saved result must be reported, so when the sheet holds any
formula (a fast scan of its XML says) a second parser reads the formulas in step with the values.

Workbooks are refused with a specific message when damaged (bad zip, bad XML, missing parts) or
crafted to exhaust the machine: a part that would expand beyond what deflate can honestly produce,
a metadata part openpyxl must hold whole that is far larger than Excel ever writes, rows past
Excel's last row, a text longer than Excel allows.

Kept whole: the parts of one streaming XLSX reader (archive checks, shared strings, the row parser)
that only work together.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Generator, Iterator
from contextlib import closing
from pathlib import Path
from typing import IO, Any
from xml.etree.ElementTree import ParseError

from openpyxl.reader.excel import ExcelReader
from openpyxl.styles.stylesheet import apply_stylesheet
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet._reader import ROW_TAG, WorkSheetParser
from openpyxl.xml.constants import SHARED_STRINGS
from openpyxl.xml.functions import iterparse

from fieldrep.services.imports.readers import (
    Formulas,
    ImportFileError,
    StreamedRows,
    TableData,
    find_header,
    other_sheets_hint,
)
from fieldrep.services.imports.spreadsheet_text import unescaped_row
from fieldrep.services.imports.xlsx_shared_strings import SharedStrings

EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLUMNS = 16_384
# Deflate cannot expand data more than ~1032-fold; a worksheet of real rows compresses 10-30 fold
# (with its cell references) and at most ~250 fold (identical rows, no references). A big part
# claiming more is a zip bomb or a damaged archive.
MAX_RATIO = 300
RATIO_FLOOR = 64 * 1024 * 1024
# The parts openpyxl parses whole (workbook, styles, theme, relationships) are kilobytes in a
# normal workbook and a few megabytes in a bloated one.
MAX_WHOLE_PART_BYTES = 64 * 1024 * 1024
_WHOLE_PARTS = ("[content_types].xml", "workbook.xml", "styles.xml", "core.xml", "app.xml")
_FORMULA_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s/>]")
_SCAN_CHUNK = 1024 * 1024


def _damaged(path: Path, exc: BaseException) -> ImportFileError:
    reason = "it is damaged or not a workbook" if isinstance(exc, zipfile.BadZipFile) else exc
    return ImportFileError(f"{path.name} is not a readable Excel workbook ({reason})")


class _NoStrings:
    """Stands in for the text table where only formulas are read: every text reads as ''."""

    def __getitem__(self, index: int) -> str:
        return ""


class _Reader(ExcelReader):  # type: ignore[misc]
    """openpyxl's reader, reading only what streaming one sheet needs.

    The shared-string table is supplied instead of loaded whole, and no worksheet object is
    built: openpyxl's read-only sheet parses the whole sheet on opening when the sheet has no
    size header (openpyxl's own write-only files have none), once per opening.
    """

    def __init__(self, fh: IO[bytes], data_only: bool, owner: XlsxRows | None) -> None:
        super().__init__(fh, read_only=True, data_only=data_only)
        self._owner = owner
        self.sheets: list[tuple[str, str]] = []  # (title, part) of each worksheet
        self.active = 0  # the index in ``sheets`` of the sheet to read

    def read_strings(self) -> None:
        found = self.package.find(SHARED_STRINGS)
        if self._owner is None:
            self.shared_strings: _NoStrings | SharedStrings = _NoStrings()
        elif found is not None:
            self.shared_strings = self._owner.strings_for(found.PartName[1:])

    def read(self) -> None:
        self.read_manifest()
        self.read_strings()
        self.read_workbook()
        apply_stylesheet(self.archive, self.wb)  # the number formats that make a number a date
        found = list(self.parser.find_sheets())
        self.sheets = [
            (sheet.name, rel.target)
            for sheet, rel in found
            if rel.target in self.valid_files and "chartsheet" not in rel.Type
        ]
        # The sheet that was open when the workbook was saved: what the user sees on opening it.
        tab = next((v.activeTab for v in self.wb.views or () if v.activeTab is not None), 0)
        name = found[tab][0].name if 0 <= tab < len(found) else None
        self.active = next((i for i, (title, _) in enumerate(self.sheets) if title == name), 0)

    @property
    def part(self) -> str:
        """The zip member of the sheet to read."""
        return self.sheets[self.active][1]

    def close(self) -> None:
        self.archive.close()


class _RowParser(WorkSheetParser):  # type: ignore[misc]
    """openpyxl's worksheet parser reading rows only, each dropped from the XML tree once read,
    like everything else outside a row (merged cells, links: one per row in some exports)."""

    def parse(self) -> Iterator[tuple[int, list[dict[str, Any]]]]:
        open_elements: list[Any] = []
        in_row = 0  # a row's cells stay in the tree until the row is parsed
        for event, element in iterparse(self.source, events=("start", "end")):
            if event == "start":
                open_elements.append(element)
                in_row += element.tag == ROW_TAG
                continue
            open_elements.pop()
            if element.tag == ROW_TAG:
                in_row -= 1
                row = self.parse_row(element)
                self.row_dimensions.clear()  # openpyxl keeps each row's height and style here
                yield row
            if open_elements and not in_row:
                open_elements[-1].remove(element)


def _sheet_rows(reader: _Reader, name: str) -> Generator[tuple[object, ...], None, None]:
    """The sheet's rows as tuples of values from row 1, missing rows as ().

    What openpyxl's ``iter_rows(values_only=True)`` gives on a read-only sheet, except that the
    sheet's size header is not trusted (some writers put A1 there, which would hide every other
    row) and rows wider than Excel allows are refused.
    """
    book = reader.wb
    with reader.archive.open(reader.part) as src:
        parser = _RowParser(
            src,
            reader.shared_strings,
            data_only=reader.data_only,
            epoch=book.epoch,
            date_formats=book._date_formats,
            timedelta_formats=book._timedelta_formats,
        )
        expected = 1
        for index, cells in parser.parse():
            while expected < index:  # rows the file leaves out are blank
                yield ()
                expected += 1
            if index < expected:
                continue  # a row repeated out of order: openpyxl skips it too
            width = max((cell["column"] for cell in cells), default=0)
            if width > EXCEL_MAX_COLUMNS:
                raise ImportFileError(
                    f"{name}: row {index} of the sheet has cells past column"
                    f" {EXCEL_MAX_COLUMNS:,}, the last column Excel allows; the workbook is damaged"
                )
            values: list[object] = [None] * width
            for cell in cells:
                values[cell["column"] - 1] = cell["value"]
            yield tuple(values)
            expected = index + 1


def _sheet_size(reader: _Reader) -> int | None:
    """The last row the sheet's size header (``<dimension ref="A1:H100">``) claims."""
    with reader.archive.open(reader.part) as src:
        for _event, element in iterparse(src, events=("start",)):
            local = element.tag.rpartition("}")[2]
            if local == "dimension":
                last = element.get("ref", "").rpartition(":")[2]
                digits = last.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz$")
                return int(digits) if digits.isdigit() else None
            if local == "sheetData":
                return None
    return None


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()  # type: ignore[no-any-return]
    return str(value)


def _formula_text(value: object) -> str | None:
    """The formula a cell read with ``data_only=False`` holds, or None for a plain value."""
    if isinstance(value, str):
        return value if value.startswith("=") else None
    text = getattr(value, "text", None)  # an array formula
    return text if isinstance(text, str) and text.startswith("=") else None


def check_archive(path: Path) -> None:
    """Refuse a zip that is not a workbook, or whose parts would expand to absurd sizes."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _damaged(path, exc) from exc
    for info in infos:
        name = info.filename.lower()
        expands = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR and expands > MAX_RATIO:
            raise ImportFileError(
                f"{path.name} is not a readable Excel workbook ({info.filename} would expand"
                f" {expands:,.0f}-fold to {info.file_size / 2**20:,.0f} MB, which no real"
                " spreadsheet does: it is damaged or a zip bomb)"
            )
        whole = name.endswith(".rels") or "/theme/" in name or name.rsplit("/")[-1] in _WHOLE_PARTS
        if whole and info.file_size > MAX_WHOLE_PART_BYTES:
            raise ImportFileError(
                f"{path.name} is not a readable Excel workbook ({info.filename} would take"
                f" {info.file_size / 2**20:,.0f} MB where Excel writes a few; it is damaged or"
                " built to exhaust memory)"
            )


class XlsxRows(StreamedRows):
    """The data rows of a workbook's sheet (the one open when it was saved), streamed with openpyxl's read-only reader."""

    _strings: SharedStrings | None = None  # so __del__ works whatever __init__ reached

    def __init__(self, path: Path) -> None:
        super().__init__(path, path.stat().st_size)
        self._strings: SharedStrings | None = None
        self._has_formulas: bool | None = None
        self.sheet_title = ""
        self.sheet_count = 0
        self.dimension_rows: int | None = None  # the last row the sheet's size header claims
        self.header_line = 0

    def strings_for(self, part: str) -> SharedStrings:
        if self._strings is None:
            self._strings = SharedStrings(self.path, part)
        return self._strings

    @property
    def strings_read(self) -> int:
        """How many entries of the shared-string table have been parsed so far."""
        return 0 if self._strings is None else self._strings.parsed

    def close(self) -> None:
        """Close the temporary files of the shared strings (a later pass reopens them)."""
        if self._strings is not None:
            self._strings.close()
            self._strings = None

    def __del__(self) -> None:
        self.close()

    def _open(self, *, data_only: bool) -> tuple[_Reader, IO[bytes]]:
        fh = self.path.open("rb")
        try:
            reader = _Reader(fh, data_only, self if data_only else None)
            reader.read()
            if not reader.sheets:
                raise ImportFileError(f"{self.path.name} has no worksheet")
        except ImportFileError:
            fh.close()
            raise
        except (
            zipfile.BadZipFile,
            InvalidFileException,
            KeyError,
            OSError,
            ValueError,
            ParseError,
        ) as exc:
            fh.close()
            raise _damaged(self.path, exc) from exc
        return reader, fh

    def has_formulas(self) -> bool:
        """Whether the sheet holds any formula: a scan of its XML, no parsing."""
        if self._has_formulas is None:
            reader, fh = self._open(data_only=False)
            found = False
            try:
                with reader.archive.open(reader.part) as src:
                    tail = b""
                    while chunk := src.read(_SCAN_CHUNK):
                        if _FORMULA_TAG.search(tail + chunk):
                            found = True
                            break
                        tail = chunk[-64:]
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                raise _damaged(self.path, exc) from exc
            finally:
                reader.close()
                fh.close()
            self._has_formulas = found
        return self._has_formulas

    def all_rows(self, formulas: bool = False) -> Generator[tuple[int, list[str], Formulas]]:
        """Every non-blank row of the sheet, the header included.

        With ``formulas`` each row comes with its cells whose formula has no saved result, and a
        full pass leaves in ``notes`` how many formulas had their saved result taken.
        """
        formulas = formulas and self.has_formulas()
        reader, fh = self._open(data_only=True)
        formula_reader: _Reader | None = None
        formula_fh: IO[bytes] | None = None
        try:
            self.sheet_title, part = reader.sheets[reader.active]
            self.sheet_count = len(reader.sheets)
            self.dimension_rows = _sheet_size(reader)
            # Progress: how far into the sheet's compressed bytes the reader's file handle is.
            info = reader.archive.getinfo(part)
            self.total = max(info.compress_size, 1)
            values = _sheet_rows(reader, self.path.name)
            formula_rows: Generator[tuple[object, ...], None, None] = (_ for _ in ())
            if formulas:
                formula_reader, formula_fh = self._open(data_only=False)
                formula_rows = _sheet_rows(formula_reader, self.path.name)
            with closing(values), closing(formula_rows):
                yield from self._pairs(values, formula_rows, fh, info.header_offset, formulas)
            if self._strings is not None:  # a full pass: the zip checks each part at its end
                self._strings.read_to_end()
        finally:
            reader.close()
            fh.close()
            if formula_reader is not None:
                formula_reader.close()
            if formula_fh is not None:
                formula_fh.close()

    def _pairs(
        self,
        values: Iterator[tuple[object, ...]],
        formula_rows: Iterator[tuple[object, ...]],
        fh: IO[bytes],
        offset: int,
        formulas: bool,
    ) -> Iterator[tuple[int, list[str], Formulas]]:
        line = 0
        used = 0
        header_seen = False
        self.done = 0
        while True:
            line += 1
            try:
                row = next(values, None)
                formula_row = next(formula_rows, ())
            except ImportFileError:
                raise
            except (
                ParseError,
                zipfile.BadZipFile,
                zlib.error,
                EOFError,
                ValueError,
                IndexError,  # a text index when the workbook has no text table
            ) as exc:
                raise ImportFileError(
                    f"{self.path.name}: the sheet is damaged at row {line} ({exc}); open"
                    " it in Excel, save it again and import"
                ) from exc
            if row is None:
                break
            if line > EXCEL_MAX_ROWS:
                raise ImportFileError(
                    f"{self.path.name}: the sheet goes past row {EXCEL_MAX_ROWS:,}, the"
                    " last row Excel allows; the workbook is damaged or was built to exhaust"
                    " memory"
                )
            cells = [_cell_text(v) for v in row]
            missing: list[tuple[int, str]] = []
            for col, cell in enumerate(formula_row):
                formula = _formula_text(cell)
                if formula is not None:
                    if col < len(row) and row[col] is not None:
                        used += 1  # the saved result is what the user saw: take it
                    else:
                        missing.append((col, formula))
            if not line & 1023:
                self.done = min(max(fh.tell() - offset, 0), self.total)
            joined = "".join(cells)
            if not joined.strip():
                continue
            if not header_seen and line >= self.header_at:
                header_seen = True
                self.header_line = line
            # A text cell starting "'=" is how a CSV marks text, pasted into a workbook as it is.
            yield line, unescaped_row(cells, joined), tuple(missing)
        self.done = self.total
        if formulas:
            self.notes = (
                [f"{used} cells hold formulas; the results Excel saved with them were imported"]
                if used
                else []
            )

    def estimate(self) -> tuple[int, bool]:
        """Counted rows, else the rows below the header that the sheet's size header claims."""
        if self._count is not None or not self.dimension_rows:
            return super().estimate()
        return max(self.dimension_rows - self.header_line, 0), False


def read_xlsx(path: Path) -> TableData:
    """The header (see :func:`find_header`) of the sheet that was open when the workbook was
    saved, and a stream of the rows below it."""
    check_archive(path)
    rows = XlsxRows(path)
    header, notes = find_header(rows, path.name)
    others = rows.sheet_count - 1
    if not header:
        raise ImportFileError(
            f"{path.name}: the sheet {rows.sheet_title!r} is empty"
            + other_sheets_hint(rows.sheet_count)
        )
    if others:
        notes.append(
            f"read the sheet {rows.sheet_title!r}, the one open when the workbook was saved; the"
            f" other {others} {'sheet was' if others == 1 else 'sheets were'} not read"
        )
    return TableData(
        path, "xlsx", header, rows, notes=notes, sheet=rows.sheet_title, sheets=rows.sheet_count
    )
