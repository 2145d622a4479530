"""A workbook's shared-string table kept on disk, for streaming a sheet in bounded memory.

Excel stores each distinct text of a workbook once, in ``xl/sharedStrings.xml``, and cells refer to
it by number. openpyxl loads the whole table into a list before reading a row; this keeps it in
temporary files instead, parsed with expat only as far as the cells read so far need.
"""

from __future__ import annotations

import tempfile
import zipfile
import zlib
from array import array
from pathlib import Path
from typing import IO
from xml.parsers import expat

from fieldrep.services.imports.readers import ImportFileError

# Excel keeps at most 32,767 characters in a cell; other writers allow more, so allow plenty, but
# refuse a text that could only be an attempt to fill memory.
MAX_TEXT_CHARS = 1_000_000
STRINGS_CHUNK = 64 * 1024
_HOT_STRINGS = 4096
_HOT_CHARS = 100


class SharedStrings:
    """A workbook's shared-string table in temporary files, parsed as far as lookups need.

    Indexable like the list openpyxl builds (``strings[i]``), with the text of each entry the same
    as openpyxl's (phonetic runs left out, ``_x005F_`` escapes dropped). Memory stays bounded: the
    texts and the offsets of their ends are on disk; a small cache keeps recent short ones.
    """

    def __init__(self, path: Path, part: str) -> None:
        self.path = path
        self._fh = path.open("rb")
        try:
            self._zip = zipfile.ZipFile(self._fh)
            self._src: IO[bytes] = self._zip.open(part)
        except BaseException:
            self._fh.close()
            raise
        # Kept open for lookups while rows are read; close() closes them (and the OS deletes them).
        self._texts = tempfile.TemporaryFile()  # noqa: SIM115
        self._ends = tempfile.TemporaryFile()  # noqa: SIM115  int64 end of each text in _texts
        self._count = 0
        self._size = 0
        self._finished = False
        self._hot: dict[int, str] = {}
        self._new: list[str] = []
        self._in_si = False
        self._in_t = False
        self._phonetic = 0
        self._buf: list[str] = []
        self._buf_len = 0
        parser = expat.ParserCreate(namespace_separator="}")
        parser.buffer_text = True
        parser.StartElementHandler = self._on_start
        parser.EndElementHandler = self._on_end
        parser.CharacterDataHandler = self._on_text
        parser.StartDoctypeDeclHandler = self._on_doctype
        self._parser = parser

    # -- parsing ---------------------------------------------------------------------------------

    def _on_doctype(self, *_: object) -> None:
        raise ImportFileError(
            f"{self.path.name} is not a readable Excel workbook (its text table declares a DTD,"
            " which Excel never writes)"
        )

    def _on_start(self, name: str, _attrs: dict[str, str]) -> None:
        local = name.rpartition("}")[2]
        if local == "si":
            self._in_si = True
            self._buf = []
            self._buf_len = 0
        elif local == "rPh":
            self._phonetic += 1
        elif local == "t" and self._in_si and not self._phonetic:
            self._in_t = True

    def _on_end(self, name: str) -> None:
        local = name.rpartition("}")[2]
        if local == "t":
            self._in_t = False
        elif local == "rPh":
            self._phonetic -= 1
        elif local == "si":
            self._in_si = False
            self._new.append("".join(self._buf).replace("x005F_", ""))
            self._buf = []

    def _on_text(self, data: str) -> None:
        if self._in_t:
            self._buf.append(data)
            self._buf_len += len(data)
            if self._buf_len > MAX_TEXT_CHARS:
                raise ImportFileError(
                    f"{self.path.name} holds a text of more than {MAX_TEXT_CHARS:,} characters"
                    " (Excel allows 32,767 in a cell); the workbook is damaged or was built to"
                    " exhaust memory"
                )

    def _parse_more(self) -> None:
        try:
            chunk = self._src.read(STRINGS_CHUNK)
            self._parser.Parse(chunk, not chunk)
        except (expat.ExpatError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise ImportFileError(
                f"{self.path.name} is not a readable Excel workbook (its shared text table is"
                f" damaged: {exc})"
            ) from exc
        if not chunk:
            self._finished = True
        if self._new:
            data = [text.encode() for text in self._new]
            ends = array("q")
            for item in data:
                self._size += len(item)
                ends.append(self._size)
            self._texts.seek(0, 2)
            self._texts.write(b"".join(data))
            self._ends.seek(0, 2)
            ends.tofile(self._ends)
            self._count += len(data)
            self._new = []

    def read_to_end(self) -> None:
        """Parse the rest of the table, so a damaged end (bad XML, a checksum that does not match)
        is found as reading it whole would: texts the sheet used may be damaged too."""
        while not self._finished:
            self._parse_more()

    @property
    def parsed(self) -> int:
        """How many entries have been parsed so far."""
        return self._count

    # -- lookup ----------------------------------------------------------------------------------

    def __getitem__(self, index: int) -> str:
        hot = self._hot.get(index)
        if hot is not None:
            return hot
        while index >= self._count and not self._finished:
            self._parse_more()
        if not 0 <= index < self._count:
            raise ImportFileError(
                f"{self.path.name} is not a readable Excel workbook (a cell refers to text"
                f" #{index}, but the workbook holds {self._count:,})"
            )
        bounds = array("q")
        if index:
            self._ends.seek((index - 1) * 8)
            bounds.frombytes(self._ends.read(16))
        else:
            self._ends.seek(0)
            bounds.frombytes(b"\0" * 8 + self._ends.read(8))
        self._texts.seek(bounds[0])
        text = self._texts.read(bounds[1] - bounds[0]).decode()
        if len(text) <= _HOT_CHARS:  # repeated texts are short: a city, a state, a status
            if len(self._hot) >= _HOT_STRINGS:
                self._hot.clear()
            self._hot[index] = text
        return text

    def close(self) -> None:
        for handle in (self._src, self._zip, self._fh, self._texts, self._ends):
            handle.close()
