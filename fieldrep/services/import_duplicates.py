"""Duplicate checks for an import, with memory bounded whatever the file's size.

A row has up to three keys (same name and postal code, same phone, same website domain; see
fieldrep.services.account_keys) and a digest of its whole content. Accounts already in the database
are looked up by the keys a block of rows has, in the keys every account has filed
(fieldrep.services.account_keys), so a 50-row file costs 50 rows' lookups whatever the size of the
book. The file's own rows are remembered as 64-bit hashes, with the line that first held each key,
in a TEMP table on this connection, so a file of a million rows costs disk, not memory. The import
works in blocks: it looks up all the keys of a block in one set-based query each, checks the block's
rows in order against those hits and the block's own keys, then stores the block's keys.

The TEMP hashes are Python's own (SipHash, salted per process), which is fine because the table
lives only as long as one import; two different keys sharing a 64-bit hash in one import is about as
likely as a cosmic-ray bit flip. Nothing persistent is hashed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fieldrep.services import account_keys
from fieldrep.services.account_keys import KINDS, Keys

# A row's hashed keys: (kind index, hash) for each key it has
Hashes = list[tuple[int, int]]
TEMP_CACHE_KIB = 32 * 1024
_WHY = {"name": "same name and postal code", "phone": "same phone", "website": "same website"}


def hashes_of(keys: Keys) -> Hashes:
    return [(kind, hash((kind, key))) for kind, key in enumerate(keys) if key is not None]


def digest_of(cells: list[str]) -> int:
    """A row's whole content, compared without surrounding spaces."""
    return hash(("exact", *map(str.strip, cells)))


class DuplicateIndex:
    """Who first holds each key: a line of this file (TEMP table, own=1) or, when ``existing``, an
    account already in the database (looked up block by block in the filed keys)."""

    def __init__(self, conn: Any, *, existing: bool) -> None:
        self.conn = conn
        # Settled first even when not looked up: the import files its new rows' keys directly,
        # and a queued delete settled after that could drop a key a reused rowid now holds.
        account_keys.refresh(conn)
        # a book with no account yet has none to look up (the first import into a new database)
        self.existing = existing and bool(conn.execute("SELECT 1 FROM accounts LIMIT 1").fetchone())
        # a bounded page cache for the temp table, so its inserts do not spill to its file each time
        conn.execute(f"PRAGMA temp.cache_size = {-TEMP_CACHE_KIB}")
        conn.execute("DROP TABLE IF EXISTS temp.import_keys")
        conn.execute(
            "CREATE TEMP TABLE import_keys (h INTEGER NOT NULL, own INTEGER NOT NULL,"
            " holder INTEGER NOT NULL, PRIMARY KEY (h, own)) WITHOUT ROWID"
        )
        self._hits: dict[tuple[int, int], int] = {}
        self._held: dict[tuple[int, str], str] = {}  # (kind, key) -> an existing account's name
        self._block: dict[int, int] = {}  # this block's own hashes -> first line (first wins)

    def close(self) -> None:
        self.conn.execute("DROP TABLE IF EXISTS temp.import_keys")

    def start_block(self, rows: Sequence[tuple[Keys, Hashes, int]]) -> None:
        """Fetch, in one query each, every stored key the block's (keys, hashes, digest) could hit."""
        probe = [h for _, hashes, _ in rows for _, h in hashes]
        probe.extend(digest for _, _, digest in rows)
        self._hits = {
            (h, own): holder
            for h, own, holder in self.conn.execute(
                "SELECT h, own, holder FROM temp.import_keys"
                " WHERE h IN (SELECT value FROM json_each(?))",
                (json.dumps(probe),),
            )
        }
        if self.existing:
            self._held = account_keys.holders(self.conn, (keys for keys, _, _ in rows))
        self._block = {}

    def end_block(self) -> None:
        self.conn.executemany(
            "INSERT OR IGNORE INTO temp.import_keys VALUES (?, 1, ?)", self._block.items()
        )
        self._block = {}
        self._hits = {}
        self._held = {}

    def repeated(self, digest: int, line: int) -> int | None:
        """The line this exact row first appeared on, else None (and it is remembered)."""
        held = self._hits.get((digest, 1)) or self._block.get(digest)
        if held is None:
            self._block[digest] = line
        return held

    def match(self, keys: Keys, hashes: Hashes) -> tuple[str, str, str] | None:
        """(column, why, holder) of the first key an earlier line, else an account, already holds."""
        hits, block = self._hits, self._block
        for kind, h in hashes:
            held = hits.get((h, 1)) or block.get(h)
            if held is not None:
                return KINDS[kind], _WHY[KINDS[kind]], f"line {held}"
        if self._held:
            for kind, key in enumerate(keys):
                name = self._held.get((kind, key)) if key is not None else None
                if name is not None:
                    return KINDS[kind], _WHY[KINDS[kind]], f"existing account {name!r}"
        return None

    def add(self, hashes: Hashes, line: int) -> None:
        block = self._block
        for _, h in hashes:
            block.setdefault(h, line)
