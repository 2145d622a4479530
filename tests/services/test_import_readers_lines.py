"""decoded_lines splits and decodes a file exactly as Python's own text reader does."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest

from fieldrep.services.imports import readers as import_readers
from fieldrep.services.imports.readers import decoded_lines

PIECES = [
    "a",
    "b,c",
    '"x\ny"',
    "é",
    "€",
    "日本",
    "\n",
    "\r",
    "\r\n",
    "\r\r\n",
    "\n\n",
    ",",
    '"',
    "",
]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16"])
@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64])
def test_the_lines_are_those_of_a_text_file_at_every_chunk_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encoding: str, chunk: int
) -> None:
    monkeypatch.setattr(import_readers, "READ_CHUNK", chunk)
    rng = random.Random(f"{encoding}{chunk}")
    for case in range(40):
        pieces = [p for p in PIECES if encoding != "cp1252" or p != "日本"]
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 30)))
        path = tmp_path / f"{case}.csv"
        path.write_bytes(text.encode(encoding))
        with path.open(encoding=encoding, newline="") as f:
            expected = list(f)
        with path.open("rb") as raw:
            assert list(decoded_lines(raw, encoding)) == expected, repr(text)


def test_a_line_longer_than_a_chunk_comes_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(import_readers, "READ_CHUNK", 10)
    text = "x" * 1000 + "\r\n" + "y" * 95 + "\rz"
    assert list(decoded_lines(io.BytesIO(text.encode()), "utf-8")) == [
        "x" * 1000 + "\r\n",
        "y" * 95 + "\r",
        "z",
    ]


def test_undecodable_bytes_follow_the_error_handler() -> None:
    raw = io.BytesIO(b"caf\xe9\nok\n")
    with pytest.raises(UnicodeDecodeError):
        list(decoded_lines(raw, "utf-8"))
    raw.seek(0)
    assert list(decoded_lines(raw, "utf-8", "replace")) == ["caf\ufffd\n", "ok\n"]
