"""Duplicate checks for an import, with memory bounded whatever the file's size.

The keys of existing accounts and of the file's earlier rows (same name and postal code, same phone,
same website domain, and a digest of each whole row) live in a TEMP table on this connection. The
import works in blocks: it looks up all the keys of a block in one set-based query, checks the
block's rows in order against those hits and the block's own keys, then stores the block's keys.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

# A row's keys: ((name key, postal code), phone digits, website domain)
RowKeys = tuple[tuple[str, str], str, str]
TEMP_CACHE_KIB = 32 * 1024


def _pairs(keys: RowKeys) -> list[tuple[str, str]]:
    (name, postal), phone, domain = keys
    pairs = []
    if name:
        pairs.append(("name", f"{name}\x1f{postal}"))
    if phone:
        pairs.append(("phone", phone))
    if domain:
        pairs.append(("website", domain))
    return pairs


class DuplicateIndex:
    """Who first holds each key: an existing account (own=0) or a line of this file (own=1)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        # a bounded page cache for the temp table, so its inserts do not spill to its file each time
        conn.execute(f"PRAGMA temp.cache_size = {-TEMP_CACHE_KIB}")
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS import_keys (kind TEXT NOT NULL, key TEXT NOT NULL,"
            " own INTEGER NOT NULL, holder TEXT NOT NULL, PRIMARY KEY (kind, key, own))"
            " WITHOUT ROWID"
        )
        conn.execute("DELETE FROM temp.import_keys")
        self._hits: dict[tuple[str, str, int], str] = {}
        self._block: dict[tuple[str, str], str] = {}  # this block's own keys (first wins)

    def close(self) -> None:
        self.conn.execute("DROP TABLE IF EXISTS temp.import_keys")

    def add_existing(self, rows: Iterable[tuple[RowKeys, str]]) -> None:
        self.conn.executemany(
            "INSERT OR IGNORE INTO temp.import_keys VALUES (?, ?, 0, ?)",
            ((kind, key, holder) for keys, holder in rows for kind, key in _pairs(keys)),
        )

    def start_block(self, keys: Iterable[RowKeys], digests: Iterable[str]) -> None:
        """Fetch, in one query, every stored key the block's rows could hit."""
        probe = [pair for k in keys for pair in _pairs(k)]
        probe.extend(("exact", d) for d in digests)
        self._hits = {
            (kind, key, own): holder
            for kind, key, own, holder in self.conn.execute(
                "SELECT k.kind, k.key, k.own, k.holder FROM json_each(?) p"
                " JOIN temp.import_keys k ON k.kind = p.value ->> 0 AND k.key = p.value ->> 1",
                (json.dumps(probe),),
            )
        }
        self._block = {}

    def end_block(self) -> None:
        self.conn.executemany(
            "INSERT OR IGNORE INTO temp.import_keys VALUES (?, ?, 1, ?)",
            ((kind, key, holder) for (kind, key), holder in self._block.items()),
        )
        self._block = {}
        self._hits = {}

    def repeated(self, digest: str, line: int) -> str | None:
        """The line this exact row first appeared on, else None (and it is remembered)."""
        held = self._hits.get(("exact", digest, 1)) or self._block.get(("exact", digest))
        if held is None:
            self._block[("exact", digest)] = str(line)
        return held

    def match(self, keys: RowKeys, *, existing: bool) -> tuple[str, str, str] | None:
        """(column, why, holder) of the first key another row or account already holds."""
        why = {
            "name": "same name and postal code",
            "phone": "same phone",
            "website": "same website",
        }
        for own in (1, 0) if existing else (1,):
            for kind, key in _pairs(keys):
                held = self._hits.get((kind, key, own))
                if held is None and own:
                    held = self._block.get((kind, key))
                if held is not None:
                    return kind, why[kind], f"line {held}" if own else held
        return None

    def add(self, keys: RowKeys, line: int) -> None:
        for pair in _pairs(keys):
            self._block.setdefault(pair, str(line))
