"""Text that a spreadsheet would run as a formula: how files we write keep it text, and how an
import reads such a cell back.

Excel and LibreOffice read a CSV cell starting with "=", "+", "-" or "@" as a formula (a CSV
injection when the text came from someone else). Written with a leading apostrophe it stays text,
and the apostrophe itself is not shown. An XLSX cell says its type, so text there needs no mark.
"""

from __future__ import annotations

from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_MARKED = tuple("'" + start for start in FORMULA_START)


def escaped(value: Any) -> Any:
    """``value`` for a CSV cell: text a spreadsheet would run as a formula gets an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def unescaped(text: str) -> str:
    """A cell's text as written before :func:`escaped` (another cell is returned as it is)."""
    return text[1:] if text.startswith(_MARKED) else text


def unescaped_row(cells: list[str], joined: str) -> list[str]:
    """A row's cells unescaped; ``joined`` (the cells run together) makes the usual row, with no
    apostrophe anywhere, cost one search."""
    if "'" not in joined:
        return cells
    return [unescaped(cell) for cell in cells]
