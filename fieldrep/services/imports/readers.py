"""Reading tabular files for import: CSV (encoding and delimiter detected) and XLSX (openpyxl).

A reader turns a file into a header and rows of strings, each row with the line or sheet row it came
from, so every later error can point at the place in the file. Rows are streamed from disk each
time they are iterated, never all held in memory, so a file of any size is read in bounded memory.
Problems with the file as a whole (empty, binary, a damaged workbook, a quote that never closes)
raise :class:`ImportFileError` with one sentence the user can act on.

Kept whole: CSV decoding (encoding, delimiter, line numbers) is reached only through
:func:`read_table`, and its helpers share the decoder's choices.
"""

from __future__ import annotations

import codecs
import csv
import itertools
import logging
import re
import threading
from collections.abc import Generator, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from fieldrep.services.imports.spreadsheet_text import unescaped_row

log = logging.getLogger(__name__)

DECODE_CHUNK = 1024 * 1024
# Python's csv refuses fields over 128 KiB; allow more so an over-long cell becomes a row error
# that names its column rather than a failure of the whole file. Beyond this (more than a 50 MB
# file in one cell) the file is refused: one value held whole would no longer be bounded memory.
# The limit is process-wide state: it is raised only while a CSV file is being read (see
# :func:`_csv_field_limit`), not on import.
CSV_FIELD_LIMIT = 64 * 1024 * 1024
XLSX_MAGIC = b"PK\x03\x04"
SNIFF_BYTES = 64 * 1024
PREVIEW_ROWS = 20  # data rows read once and kept, for a preview and for "has it any rows?"

Formulas = tuple[tuple[int, str], ...]  # (0-based column, formula) of cells with no saved result


class ImportFileError(Exception):
    """The file as a whole cannot be imported; the message says why in one sentence."""


def formula_problem(formula: str) -> str:
    """The row error for a cell that holds a formula Excel saved no result for."""
    return (
        f"holds the formula {formula[:40]} with no saved result; open the file in Excel, save it,"
        " and import again (or paste the values)"
    )


def extra_cells_problem(cells: list[str], width: int) -> str:
    """The row error for a row with text beyond the header's last column: a delimiter inside an
    unquoted value shifts every later cell into the wrong column, so the row is not guessed at."""
    extra = [c for c in cells[width:] if c]
    shown = ", ".join(repr(c[:30]) for c in extra[:3]) + (", ..." if len(extra) > 3 else "")
    return (
        f"has {len(cells)} cells but the header has {width} columns (extra: {shown}); a comma or"
        " other delimiter inside an unquoted value shifts the columns, so put that value in quotes"
    )


class StreamedRows:
    """The data rows of a file as (line, cells), read from disk each time they are iterated.

    Memory stays bounded whatever the file's size. ``done`` and ``total`` (bytes of the file, or of
    the workbook's sheet) say how far the current iteration is, for progress. ``notes`` holds what
    the last full pass found that the user should know (not errors). A problem with the file
    found midway raises ImportFileError when the iteration reaches it.
    """

    def __init__(self, path: Path, total: int) -> None:
        self.path = path
        self.total = max(total, 1)
        self.done = 0
        self.notes: list[str] = []
        self.header_at = 0  # the header's line; 0: the first non-blank row (see find_header)
        self._count: int | None = None
        self._head: list[tuple[int, list[str]]] | None = None

    def all_rows(self, formulas: bool = False) -> Generator[tuple[int, list[str], Formulas]]:
        """Every non-blank row, the header included, with its formula cells if ``formulas``."""
        raise NotImplementedError

    def with_formulas(self) -> Generator[tuple[int, list[str], Formulas]]:
        """The data rows as (line, cells, formulas): the cells whose formula has no saved result."""
        rows = self.all_rows(formulas=True)
        self._skip_header(rows)
        yield from rows

    def __iter__(self) -> Generator[tuple[int, list[str]]]:
        with closing(self.all_rows()) as rows:
            self._skip_header(rows)
            for line, cells, _ in rows:
                yield line, cells

    def _skip_header(self, rows: Iterator[tuple[int, list[str], Formulas]]) -> None:
        """Past the header, and any title rows above it."""
        for line, _, _ in rows:
            if line >= self.header_at:
                return

    def head(self) -> list[tuple[int, list[str]]]:
        """The first PREVIEW_ROWS data rows, read once and kept."""
        if self._head is None:
            with closing(iter(self)) as rows:
                self._head = list(itertools.islice(rows, PREVIEW_ROWS + 1))
            if len(self._head) <= PREVIEW_ROWS:
                self._count = len(self._head)  # a small file: the preview read it all
            del self._head[PREVIEW_ROWS:]
        return self._head

    def __bool__(self) -> bool:
        return bool(self.head())

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
        """The first rows, for a preview: ``rows[:20]`` reads no further than those."""
        if not isinstance(index, slice) or index.start or index.step or index.stop is None:
            raise TypeError(f"{type(self).__name__} only gives the first rows: rows[:n]")
        if index.stop <= PREVIEW_ROWS:
            return self.head()[: index.stop]
        with closing(iter(self)) as rows:
            return list(itertools.islice(rows, index.stop))

    def estimate(self) -> tuple[int, bool]:
        """(number of data rows, exact?) without reading the file through when not yet counted."""
        return (self._count, True) if self._count is not None else (0, False)

    def expected(self, index: int) -> int:
        """The number of rows a pass now at row ``index`` will read: counted, else from the bytes."""
        if self._count is not None:
            return max(self._count, index)
        if not self.done:
            return max(index, 1)
        return max(index, round(index * self.total / self.done))


@dataclass
class TableData:
    """A file's header and its data rows (streamed from disk), each with its 1-based line."""

    path: Path
    kind: str  # 'csv' or 'xlsx'
    header: list[str]
    rows: StreamedRows
    encoding: str = ""
    delimiter: str = ""
    notes: list[str] = field(default_factory=list)  # things the user should know, not errors
    sheet: str = ""  # a workbook's sheet that was read
    sheets: int = 0  # how many sheets the workbook has

    @property
    def source(self) -> str:
        """The file's name, and the sheet for a workbook: what messages about the file name."""
        return f"{self.path.name}, sheet {self.sheet!r}," if self.sheet else self.path.name

    @property
    def other_sheets_hint(self) -> str:
        """For a message about the sheet that was read, when the workbook has others."""
        return other_sheets_hint(self.sheets)


def other_sheets_hint(sheets: int) -> str:
    if sheets < 2:
        return ""
    return (
        f"; the workbook has {sheets} sheets and the one open when it was saved is read: open the"
        " sheet to import, save the workbook, and import it again"
    )


def read_table(path: str | Path, *, scan: bool = True) -> TableData:
    """The file's header and a stream of its rows.

    With ``scan`` a CSV is parsed through once here (on the caller's worker thread) so a quote that
    never closes is refused before any preview and the row count is known; an import that reads
    the file itself skips it, as its own pass finds the same problems and writes nothing. A
    workbook is never read through here: its header and first rows are enough for a preview.
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
        if not head.startswith(XLSX_MAGIC):
            raise ImportFileError(f"{path.name} is not an Excel workbook (.xlsx) despite its name")
        from fieldrep.services.imports.xlsx import read_xlsx  # openpyxl loads on first use

        data = read_xlsx(path)
    else:
        data = _read_csv(path, head)
        if scan:
            len(data.rows)
    data.rows.head()  # the preview, read here on the caller's worker thread
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


# A UTF-8 file with a few lines in Windows-1252 (rows pasted in from another file): those lines'
# bytes that are not UTF-8 are read as Windows-1252, the rest as UTF-8.
MIXED_ERRORS = "fieldrep-cp1252"
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


def _as_cp1252(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return exc.object[exc.start : exc.end].decode("cp1252", errors="replace"), exc.end


def _register_mixed_errors() -> None:
    """Register :data:`MIXED_ERRORS` with :mod:`codecs` (a process-wide registry), when first
    needed rather than on import."""
    try:
        codecs.lookup_error(MIXED_ERRORS)
    except LookupError:
        codecs.register_error(MIXED_ERRORS, _as_cp1252)


_limit_lock = threading.Lock()
_limit_users = 0
_limit_before = 0


@contextmanager
def _csv_field_limit() -> Iterator[None]:
    """``csv.field_size_limit`` raised to :data:`CSV_FIELD_LIMIT` while any CSV file is read (two
    imports at once share it), and put back when the last one finishes."""
    global _limit_users, _limit_before
    with _limit_lock:
        if _limit_users == 0:
            _limit_before = csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
        _limit_users += 1
    try:
        yield
    finally:
        with _limit_lock:
            _limit_users -= 1
            if _limit_users == 0:
                csv.field_size_limit(_limit_before)


@dataclass
class Encoding:
    name: str
    errors: str = "strict"
    mixed_lines: list[int] = field(default_factory=list)  # the first few lines not in UTF-8
    mixed_count: int = 0

    def __post_init__(self) -> None:
        if self.errors == MIXED_ERRORS:
            _register_mixed_errors()

    def note(self) -> str | None:
        if not self.mixed_count:
            return None
        lines = ", ".join(f"{n:,}" for n in self.mixed_lines)
        more = self.mixed_count - len(self.mixed_lines)
        return (
            f"the file is UTF-8 except line{'s' if self.mixed_count > 1 else ''} {lines}"
            + (f" and {more:,} more" if more > 0 else "")
            + ", whose accents were read as Windows-1252: check those rows"
        )


def _stream_encoding(path: Path, head: bytes) -> Encoding:
    """The file's encoding, checked over the whole file in chunks (never the whole file at once).

    Not UTF-8 anywhere it has accents: Windows-1252. UTF-8 except a few lines: UTF-8, with those
    lines' stray bytes read as Windows-1252 and named in a note (reading all of it as Windows-1252
    would garble every accent in the UTF-8 lines).
    """
    _, encoding = decode(_whole_lines(head), path.name)
    if encoding in ("utf-8-sig", "utf-16"):
        return Encoding(encoding)
    bad: list[int] = []
    bad_count = 0
    line = 1
    with path.open("rb") as fh:
        rest = b""
        while chunk := fh.read(DECODE_CHUNK):
            chunk = rest + chunk
            cut = chunk.rfind(b"\n") + 1  # whole lines only: no character is split
            if cut == 0:
                rest = chunk
                continue
            block, rest = chunk[:cut], chunk[cut:]
            line, bad_count = _check_utf8(block, line, bad, bad_count)
        if rest:
            line, bad_count = _check_utf8(rest, line, bad, bad_count)
    if not bad_count:
        return Encoding("utf-8")
    if _holds_utf8_text(path):  # Windows-1252 text almost never holds one by chance
        return Encoding("utf-8", MIXED_ERRORS, bad, bad_count)
    _check_cp1252(path)
    return Encoding("cp1252")


def _holds_utf8_text(path: Path) -> bool:
    """Whether the file holds a multi-byte UTF-8 character anywhere (read until the first)."""
    with path.open("rb") as fh:
        rest = b""
        while chunk := fh.read(DECODE_CHUNK):
            if _UTF8_MULTIBYTE.search(rest + chunk):
                return True
            rest = chunk[-3:]  # a character split between two reads
    return False


def _check_utf8(block: bytes, line: int, bad: list[int], count: int) -> tuple[int, int]:
    """Lines of ``block`` (starting at ``line``) that are not UTF-8: the first few kept in ``bad``,
    all counted; returns the next line number and the count."""
    try:
        block.decode("utf-8")
    except UnicodeDecodeError:
        for number, text in enumerate(block.split(b"\n"), start=line):
            try:
                text.decode("utf-8")
            except UnicodeDecodeError:
                count += 1
                if len(bad) < 5:
                    bad.append(number)
    return line + block.count(b"\n"), count


def _check_cp1252(path: Path) -> None:
    decoder = codecs.getincrementaldecoder("cp1252")()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(DECODE_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"{path.name} is neither UTF-8 nor Windows-1252 text (byte {exc.start}); save"
            " it as UTF-8 CSV and try again"
        ) from exc


# Bytes decoded at a time by decoded_lines.
READ_CHUNK = 256 * 1024
# A line and its end (LF, CR or CRLF), or the last line of a file that has no end.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def decoded_lines(raw: BinaryIO, encoding: str, errors: str = "strict") -> Iterator[str]:
    """The lines of a binary file as ``open(..., newline="")`` would give them (ends kept, split at
    LF, CR and CRLF), decoded a quarter megabyte at a time.

    Not a TextIOWrapper: iterated line by line on a worker thread, it kept the GUI thread from the
    GIL for 25-85 ms at a time (measured with a Qt timer on the GUI thread: a 60 ms pause per
    5,000 imported rows; the same lines read this way, or from memory, gave none). A line longer
    than a chunk is gathered in parts, so a huge quoted value is copied once, not once per chunk.
    """
    if errors == MIXED_ERRORS:
        _register_mixed_errors()
    decoder = codecs.getincrementaldecoder(encoding)(errors)
    pending: list[str] = []
    while True:
        chunk = raw.read(READ_CHUNK)
        text = decoder.decode(chunk, final=not chunk)
        if chunk:
            # a final \r may be the first half of \r\n: it waits for the next chunk
            end = len(text) - 1 if text.endswith("\r") else len(text)
            cut = max(text.rfind("\n", 0, end), text.rfind("\r", 0, end)) + 1
            if not cut:
                pending.append(text)
                continue
            body = "".join((*pending, text[:cut]))
            pending = [text[cut:]]
        else:
            body = "".join((*pending, text))
        for line in _LINE.finditer(body):
            yield line.group()
        if not chunk:
            return


class CsvRows(StreamedRows):
    """The data rows of a CSV file; a quote that never closes raises ImportFileError when the
    iteration reaches it."""

    def __init__(self, path: Path, encoding: str, delimiter: str, errors: str = "strict") -> None:
        super().__init__(path, path.stat().st_size)
        self.encoding = encoding
        self.errors = errors
        self.delimiter = delimiter

    def all_rows(self, formulas: bool = False) -> Generator[tuple[int, list[str], Formulas]]:
        """Every non-blank row, the header included (a CSV has no formulas)."""
        with self.path.open("rb") as raw, _csv_field_limit():
            text = decoded_lines(raw, self.encoding, self.errors)
            reader = csv.reader(text, delimiter=self.delimiter, strict=True)
            start = 1
            try:
                for cells in reader:
                    line = start
                    start = reader.line_num + 1
                    joined = "".join(cells)
                    if not joined.strip():
                        continue
                    if not line & 1023:
                        self.done = raw.tell()
                    yield line, unescaped_row(cells, joined), ()
            except csv.Error as exc:
                if "end of data" in str(exc) or "EOF" in str(exc):
                    raise ImportFileError(
                        f"{self.path.name}: a quote opened on line {start} never closes, so the"
                        " rest of the file would be read as one value; fix that line and import"
                        " again"
                    ) from exc
                if "field limit" in str(exc):
                    raise ImportFileError(
                        f"{self.path.name}: a value that starts on line {start} is longer than"
                        f" {CSV_FIELD_LIMIT // 1024 // 1024} MB, so the file cannot be read past"
                        " it (a quote that never closes turns the rest of a file into one value)"
                    ) from exc
                raise ImportFileError(f"{self.path.name}, line {reader.line_num}: {exc}") from exc
        self.done = self.total


HEADER_SEARCH_ROWS = 10


def find_header(rows: StreamedRows, name: str) -> tuple[list[str], list[str]]:
    """The header, and a note when title rows sit above it.

    The header is the first of the first few rows that is at least half as wide (in filled cells)
    as the widest of them: a title or "exported on" line above the column names is skipped."""
    with closing(rows.all_rows()) as all_rows:
        first = list(itertools.islice(all_rows, HEADER_SEARCH_ROWS))
    if not first:
        return [], []
    widths = [sum(1 for c in cells if c.strip()) for _, cells, _ in first]
    wanted = max(2, (max(widths) + 1) // 2)
    at = next((i for i, width in enumerate(widths) if width >= wanted), 0)
    line, cells, _ = first[at]
    rows.header_at = line
    notes = []
    if at:
        notes.append(
            f"the column names are on line {line} of {name}; what is above them (a title) was"
            " not imported"
        )
    return [c.strip() for c in cells], notes


def _read_csv(path: Path, head: bytes) -> TableData:
    text, _ = decode(_whole_lines(head), path.name)
    if _looks_binary(text):
        raise ImportFileError(
            f"{path.name} is not a text file (it holds binary data); export it from your"
            " spreadsheet as CSV or XLSX"
        )
    found = _stream_encoding(path, head)
    encoding = found.name
    delimiter = sniff_delimiter(text)
    rows = CsvRows(path, encoding, delimiter, found.errors)
    header, notes = find_header(rows, path.name)
    if not header:
        raise ImportFileError(f"{path.name} holds only blank lines")
    notes += [note] if (note := found.note()) else []
    return TableData(path, "csv", header, rows, encoding=encoding, delimiter=delimiter, notes=notes)
