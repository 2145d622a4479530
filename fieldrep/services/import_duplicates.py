"""Duplicate checks for an import, with memory bounded whatever the file's size.

A row has up to three keys (same name and postal code, same phone, same website domain) and a
digest of its whole content. Each is stored as a 64-bit hash, with who first held it: an existing
account (its rowid) or a line of this file, in a TEMP table on this connection, so a file of a
million rows costs disk, not memory. The import works in blocks: it looks up all the hashes of a
block in one set-based query, checks the block's rows in order against those hits and the block's
own keys, then stores the block's keys.

The hashes are Python's own (SipHash, salted per process), which is fine because the table lives
only as long as one import; two different keys sharing a 64-bit hash in one import is about as
likely as a cosmic-ray bit flip.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

# A row's keys: ((name key, postal code), phone digits, website domain)
RowKeys = tuple[tuple[str, str], str, str]
# A row's hashed keys: (kind, hash) for each key it has
Hashes = list[tuple[str, int]]
TEMP_CACHE_KIB = 32 * 1024
_WHY = {"name": "same name and postal code", "phone": "same phone", "website": "same website"}


def hashes_of(keys: RowKeys) -> Hashes:
    (name, postal), phone, domain = keys
    out: Hashes = []
    if name:
        out.append(("name", hash(("name", name, postal))))
    if phone:
        out.append(("phone", hash(("phone", phone))))
    if domain:
        out.append(("website", hash(("website", domain))))
    return out


def digest_of(cells: list[str]) -> int:
    """A row's whole content, compared without surrounding spaces."""
    return hash(("exact", *map(str.strip, cells)))


class DuplicateIndex:
    """Who first holds each key: an existing account (own=0, its rowid) or a line (own=1)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        # a bounded page cache for the temp table, so its inserts do not spill to its file each time
        conn.execute(f"PRAGMA temp.cache_size = {-TEMP_CACHE_KIB}")
        conn.execute("DROP TABLE IF EXISTS temp.import_keys")
        conn.execute(
            "CREATE TEMP TABLE import_keys (h INTEGER NOT NULL, own INTEGER NOT NULL,"
            " holder INTEGER NOT NULL, PRIMARY KEY (h, own)) WITHOUT ROWID"
        )
        self._hits: dict[tuple[int, int], int] = {}
        self._block: dict[int, int] = {}  # this block's own hashes -> first line (first wins)

    def close(self) -> None:
        self.conn.execute("DROP TABLE IF EXISTS temp.import_keys")

    def add_existing(self, rows: Iterable[tuple[RowKeys, int]]) -> None:
        """Keys of accounts already in the database, each with the account's rowid."""
        self.conn.executemany(
            "INSERT OR IGNORE INTO temp.import_keys VALUES (?, 0, ?)",
            ((h, rowid) for keys, rowid in rows for _, h in hashes_of(keys)),
        )

    def start_block(self, hashes: Iterable[Hashes], digests: Iterable[int]) -> None:
        """Fetch, in one query, every stored key the block's rows could hit."""
        probe = [h for row in hashes for _, h in row]
        probe.extend(digests)
        self._hits = {
            (h, own): holder
            for h, own, holder in self.conn.execute(
                "SELECT h, own, holder FROM temp.import_keys"
                " WHERE h IN (SELECT value FROM json_each(?))",
                (json.dumps(probe),),
            )
        }
        self._block = {}

    def end_block(self) -> None:
        self.conn.executemany(
            "INSERT OR IGNORE INTO temp.import_keys VALUES (?, 1, ?)", self._block.items()
        )
        self._block = {}
        self._hits = {}

    def repeated(self, digest: int, line: int) -> int | None:
        """The line this exact row first appeared on, else None (and it is remembered)."""
        held = self._hits.get((digest, 1)) or self._block.get(digest)
        if held is None:
            self._block[digest] = line
        return held

    def match(self, hashes: Hashes, *, existing: bool) -> tuple[str, str, str] | None:
        """(column, why, holder) of the first key another row or account already holds."""
        hits, block = self._hits, self._block
        for kind, h in hashes:
            held = hits.get((h, 1)) or block.get(h)
            if held is not None:
                return kind, _WHY[kind], f"line {held}"
        if existing:
            for kind, h in hashes:
                rowid = hits.get((h, 0))
                if rowid is not None:
                    found = self.conn.execute(
                        "SELECT name FROM accounts WHERE rowid = ?", (rowid,)
                    ).fetchone()
                    return kind, _WHY[kind], f"existing account {found[0] if found else '?'!r}"
        return None

    def add(self, hashes: Hashes, line: int) -> None:
        block = self._block
        for _, h in hashes:
            block.setdefault(h, line)
