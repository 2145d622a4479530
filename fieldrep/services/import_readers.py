"""Reading tabular files for import: CSV (encoding and delimiter detected) and XLSX (openpyxl).

A reader turns a file into a header and rows of strings, each row with the line or sheet row it came
from, so every later error can point at the place in the file. Problems with the file as a whole
(empty, binary, an oversized workbook, a quote that never closes) raise :class:`ImportFileError` with one
sentence the user can act on.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import logging
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

# CSV is streamed from disk (rows are never all held in memory), so it has no size limit. An XLSX
# workbook's rows are collected by openpyxl's reader into lists here, so it keeps a limit: a
# 40 MB workbook is roughly 1,000,000 accounts, far beyond any rep's book.
MAX_XLSX_BYTES = 40 * 1024 * 1024
MAX_FILE_BYTES = MAX_XLSX_BYTES  # the old name, kept for callers
DECODE_CHUNK = 1024 * 1024
# Python's csv refuses fields over 128 KiB; allow more so an over-long cell becomes a row error
# that names its column rather than a failure of the whole file.
csv.field_size_limit(8 * 1024 * 1024)
XLSX_MAGIC = b"PK\x03\x04"
SNIFF_BYTES = 64 * 1024


class ImportFileError(Exception):
    """The file as a whole cannot be imported; the message says why in one sentence."""


@dataclass
class TableData:
    """A file's header and rows; ``rows`` pairs each row's cells with its 1-based line in the file."""

    path: Path
    kind: str  # 'csv' or 'xlsx'
    header: list[str]
    rows: Sequence[tuple[int, list[str]]] | CsvRows  # CSV: read from disk on each iteration
    encoding: str = ""
    delimiter: str = ""
    notes: list[str] = field(default_factory=list)  # things the user should know, not errors
    formula_cells: dict[tuple[int, int], str] = field(default_factory=dict)  # (line, col) -> why


def read_table(
    path: str | Path, *, max_bytes: int = MAX_XLSX_BYTES, scan: bool = True
) -> TableData:
    """The file's header and rows. ``max_bytes`` applies to XLSX only; CSV streams.

    With ``scan`` a CSV is parsed through once here (on the caller's worker thread) so a quote that
    never closes is refused before any preview and the row count is known; an import that reads
    the file itself skips it, as its own pass finds the same problems and writes nothing.
    """
    path = Path(path)
    if not path.exists():
        raise ImportFileError(f"{path} does not exist")
    if path.is_dir():
        raise ImportFileError(f"{path} is a folder, not a file")
    size = path.stat().st_size
    if size == 0:
        raise ImportFileError(f"{path.name} is empty")
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if head.startswith(XLSX_MAGIC) or path.suffix.lower() in (".xlsx", ".xlsm"):
        if size > max_bytes:
            raise ImportFileError(
                f"{path.name} is {size / 1024 / 1024:.1f} MB; Excel workbooks are taken up to"
                f" {max_bytes / 1024 / 1024:.0f} MB, so save it as CSV (any size) or split it"
            )
        return _read_xlsx(path, head)
    data = _read_csv(path, head)
    if scan:
        len(data.rows)
    return data


# -- CSV --------------------------------------------------------------------------------------------


def decode(data: bytes, name: str) -> tuple[str, str]:
    """The text and the encoding it was in: UTF-8 (with or without BOM), else Windows-1252."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="strict"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    if b"\x00" in data[:SNIFF_BYTES]:
        raise ImportFileError(
            f"{name} is not a text file (it holds binary data); export it from your spreadsheet"
            " as CSV or XLSX"
        )
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"{name} is neither UTF-8 nor Windows-1252 text (byte {exc.start}); save it as UTF-8"
            " CSV and try again"
        ) from exc


def _looks_binary(text: str) -> bool:
    sample = text[:4096]
    if not sample:
        return False
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\r\n\t")
    return controls / len(sample) > 0.05


def sniff_delimiter(sample: str) -> str:
    first_line = sample.split("\n", 1)[0]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        if dialect.delimiter in first_line or "\n" not in sample.strip():
            return dialect.delimiter
    except csv.Error:
        pass
    # The sniffer gives up on ragged or one-column files: the most frequent candidate in the header
    # wins, and a comma when there is none (a single column).
    counts = {d: first_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _whole_lines(head: bytes) -> bytes:
    """The first bytes of a file cut after its last complete line, so no character is split."""
    if len(head) < SNIFF_BYTES:
        return head
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head[: len(head) // 2 * 2 - 2]
    cut = head.rfind(b"\n")
    return head[: cut + 1] if cut > 0 else head


def _stream_encoding(path: Path, head: bytes) -> str:
    """The file's encoding, checked over the whole file in chunks (never the whole file at once)."""
    _, encoding = decode(_whole_lines(head), path.name)
    if encoding in ("utf-8-sig", "utf-16"):
        return encoding
    for candidate in ("utf-8", "cp1252"):
        decoder = codecs.getincrementaldecoder(candidate)()
        try:
            with path.open("rb") as fh:
                while chunk := fh.read(DECODE_CHUNK):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            if candidate == "cp1252":
                raise ImportFileError(
                    f"{path.name} is neither UTF-8 nor Windows-1252 text (byte {exc.start}); save"
                    " it as UTF-8 CSV and try again"
                ) from exc
            continue
        return candidate
    raise AssertionError("unreachable")


class CsvRows:
    """The data rows of a CSV file as (line, cells), read from disk each time they are iterated.

    Memory stays bounded whatever the file's size. ``done`` and ``total`` (bytes) say how far the
    current iteration is, for progress. A quote that never closes raises ImportFileError when the
    iteration reaches it.
    """

    def __init__(self, path: Path, encoding: str, delimiter: str) -> None:
        self.path = path
        self.encoding = encoding
        self.delimiter = delimiter
        self.total = path.stat().st_size
        self.done = 0
        self._count: int | None = None

    def all_rows(self) -> Iterator[tuple[int, list[str]]]:
        """Every non-blank row, the header included."""
        with self.path.open("rb") as raw:
            text = io.TextIOWrapper(raw, encoding=self.encoding, newline="")
            reader = csv.reader(text, delimiter=self.delimiter, strict=True)
            start = 1
            try:
                for cells in reader:
                    line = start
                    start = reader.line_num + 1
                    if not "".join(cells).strip():
                        continue
                    if not line & 1023:
                        self.done = raw.tell()
                    yield line, cells
            except csv.Error as exc:
                if "end of data" in str(exc) or "EOF" in str(exc):
                    raise ImportFileError(
                        f"{self.path.name}: a quote opened on line {start} never closes, so the"
                        " rest of the file would be read as one value; fix that line and import"
                        " again"
                    ) from exc
                raise ImportFileError(f"{self.path.name}, line {reader.line_num}: {exc}") from exc
        self.done = self.total

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        rows = self.all_rows()
        next(rows, None)  # the header
        yield from rows

    def __bool__(self) -> bool:
        return next(iter(self), None) is not None

    @property
    def count(self) -> int | None:
        """The number of data rows if a pass has counted them, else None."""
        return self._count

    def __len__(self) -> int:
        """The number of data rows (one pass over the file, remembered)."""
        if self._count is None:
            self._count = sum(1 for _ in self)
        return self._count

    def __getitem__(self, index: slice) -> list[tuple[int, list[str]]]:
        """The first rows, for a preview: ``rows[:20]``."""
        if not isinstance(index, slice) or index.start or index.step or index.stop is None:
            raise TypeError("CsvRows only gives the first rows: rows[:n]")
        return list(itertools.islice(self, index.stop))


def _read_csv(path: Path, head: bytes) -> TableData:
    text, _ = decode(_whole_lines(head), path.name)
    if _looks_binary(text):
        raise ImportFileError(
            f"{path.name} is not a text file (it holds binary data); export it from your"
            " spreadsheet as CSV or XLSX"
        )
    encoding = _stream_encoding(path, head)
    delimiter = sniff_delimiter(text)
    rows = CsvRows(path, encoding, delimiter)
    first = next(rows.all_rows(), None)
    if first is None:
        raise ImportFileError(f"{path.name} holds only blank lines")
    header = [c.strip() for c in first[1]]
    return TableData(path, "csv", header, rows, encoding=encoding, delimiter=delimiter)


# -- XLSX -------------------------------------------------------------------------------------------


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()  # type: ignore[no-any-return]
    return str(value)


def _read_xlsx(path: Path, head: bytes) -> TableData:
    import openpyxl

    if not head.startswith(XLSX_MAGIC):
        raise ImportFileError(f"{path.name} is not an Excel workbook (.xlsx) despite its name")
    from openpyxl.utils.exceptions import InvalidFileException

    # Two read-only passes: one for the values Excel saved, one to know which cells are formulas
    # (openpyxl shows either the formula or its saved result, never both). File objects, because
    # openpyxl judges a path by its extension and the content is what counts here.
    handles = [path.open("rb"), path.open("rb")]
    try:
        values_book = openpyxl.load_workbook(handles[0], read_only=True, data_only=True)
        formula_book = openpyxl.load_workbook(handles[1], read_only=True, data_only=False)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        for handle in handles:
            handle.close()
        reason = "it is damaged or not a workbook" if isinstance(exc, zipfile.BadZipFile) else exc
        raise ImportFileError(f"{path.name} is not a readable Excel workbook ({reason})") from exc
    try:
        values_sheet = values_book.worksheets[0]
        formula_sheet = formula_book.worksheets[0]
        header: list[str] | None = None
        rows: list[tuple[int, list[str]]] = []
        formula_cells: dict[tuple[int, int], str] = {}
        used = 0
        pairs = zip(
            values_sheet.iter_rows(values_only=True),
            formula_sheet.iter_rows(values_only=True),
            strict=False,
        )
        for line, (values, formulas) in enumerate(pairs, start=1):
            cells = [_cell_text(v) for v in values]
            for col, formula in enumerate(formulas):
                if isinstance(formula, str) and formula.startswith("="):
                    if col < len(values) and values[col] is not None:
                        used += 1  # the saved result is what the user saw: take it
                    else:
                        formula_cells[(line, col)] = formula
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header = [c.strip() for c in cells]
            else:
                rows.append((line, cells))
    finally:
        values_book.close()
        formula_book.close()
        for handle in handles:
            handle.close()
    if header is None:
        raise ImportFileError(f"{path.name} has an empty first sheet")
    notes = []
    if used:
        notes.append(f"{used} cells hold formulas; the results Excel saved with them were imported")
    if len(values_book.worksheets) > 1:
        notes.append(f"only the first sheet ({values_sheet.title!r}) was read")
    return TableData(path, "xlsx", header, rows, notes=notes, formula_cells=formula_cells)
