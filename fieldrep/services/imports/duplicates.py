"""Duplicate checks for an import, with memory bounded whatever the file's size.

A row has up to three keys (same name and postal code, same phone, same website domain; see
fieldrep.services.accounts.keys) and a digest of its whole content. Accounts already in the database
are looked up by the keys a block of rows has, in the keys every account has filed
(fieldrep.services.accounts.keys), so a 50-row file costs 50 rows' lookups whatever the size of the
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

from fieldrep.services.accounts import keys as account_keys
from fieldrep.services.accounts.keys import KINDS, Keys

# A row's hashed keys: (kind index, hash) for each key it has
Hashes = list[tuple[int, int]]
TEMP_CACHE_KIB = 32 * 1024
_WHY = {"name": "same name and postal code", "phone": "same phone", "website": "same website"}


def _why(kind: int, same_name: bool) -> str:
    what = KINDS[kind]
    if kind == 0:
        return _WHY[what]
    return f"{_WHY[what]} and {'name' if same_name else 'postal code'}"


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
            " holder INTEGER NOT NULL, name INTEGER, postal INTEGER,"
            " PRIMARY KEY (h, own)) WITHOUT ROWID"
        )
        # hash -> (first line, its name-key hash, its postal-code hash): earlier blocks, this one
        self._hits: dict[int, Holder] = {}
        self._block: dict[int, Holder] = {}
        # (kind, key) -> existing accounts' (name, name key, postal code)
        self._held: dict[tuple[int, str], list[tuple[str, str, str]]] = {}
        # rows a phone or website alone would have merged, by kind: reported, not merged
        self.weak: dict[str, int] = {}

    def close(self) -> None:
        self.conn.execute("DROP TABLE IF EXISTS temp.import_keys")

    def start_block(self, rows: Sequence[tuple[Keys, Hashes, int]]) -> None:
        """Fetch, in one query each, every stored key the block's (keys, hashes, digest) could hit."""
        probe = [h for _, hashes, _ in rows for _, h in hashes]
        probe.extend(digest for _, _, digest in rows)
        self._hits = {
            h: (holder, name, postal)
            for h, holder, name, postal in self.conn.execute(
                "SELECT h, holder, name, postal FROM temp.import_keys"
                " WHERE h IN (SELECT value FROM json_each(?))",
                (json.dumps(probe),),
            )
        }
        if self.existing:
            self._held = account_keys.holders(self.conn, (keys for keys, _, _ in rows))
        self._block = {}

    def end_block(self) -> None:
        self.conn.executemany(
            "INSERT OR IGNORE INTO temp.import_keys VALUES (?, 1, ?, ?, ?)",
            [(h, *holder) for h, holder in self._block.items()],
        )
        self._block = {}
        self._hits = {}
        self._held = {}

    def repeated(self, digest: int, line: int) -> int | None:
        """The line this exact row first appeared on, else None (and it is remembered)."""
        held = self._hits.get(digest) or self._block.get(digest)
        if held is None:
            self._block[digest] = (line, None, None)
            return None
        return held[0]

    def match(self, keys: Keys, hashes: Hashes) -> tuple[str, str, str] | None:
        """(column, why, holder) of the first key an earlier line, else an account, already holds.

        The name with its postal code is identity. A phone or website is only with the name or the
        postal code agreeing too; one that matches alone is counted in ``weak`` and let through."""
        hits, block = self._hits, self._block
        name_key, postal = _name_and_postal(keys)
        mine = (hash(name_key), hash(postal) if postal else None)
        weak_kind = None
        for kind, h in hashes:
            held = hits.get(h) or block.get(h)
            if held is None:
                continue
            same_name = held[1] == mine[0]
            if kind == 0 or same_name or (mine[1] is not None and held[2] == mine[1]):
                return KINDS[kind], _why(kind, same_name), f"line {held[0]}"
            weak_kind = weak_kind or KINDS[kind]
        if self._held:
            for kind, key in enumerate(keys):
                holders = self._held.get((kind, key), ()) if key is not None else ()
                for name, other_key, other_postal in holders:
                    same_name = other_key == name_key
                    if kind == 0 or same_name or (postal and other_postal == postal):
                        return KINDS[kind], _why(kind, same_name), f"existing account {name!r}"
                if holders:
                    weak_kind = weak_kind or KINDS[kind]
        if weak_kind is not None:
            self.weak[weak_kind] = self.weak.get(weak_kind, 0) + 1
        return None

    def add(self, hashes: Hashes, line: int, keys: Keys | None = None) -> None:
        block = self._block
        name_key, postal = _name_and_postal(keys) if keys is not None else ("", "")
        holder = (line, hash(name_key), hash(postal) if postal else None)
        for _, h in hashes:
            block.setdefault(h, holder)


Holder = tuple[int, int | None, int | None]


def _name_and_postal(keys: Keys) -> tuple[str, str]:
    name, _, postal = (keys[0] or "").partition("\x1f")
    return name, postal
