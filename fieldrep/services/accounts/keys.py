"""Every account's duplicate keys, filed in the database so an import looks up only its rows' keys.

An account has up to three keys: its name (compared without case, punctuation and legal-form words)
with its postal code, the digits of its phone, and its website's domain (with the page on a host
shared by many businesses, such as facebook.com/name; none for such a host alone). Each is filed in
``account_keys`` (schema v4, local only, never synced) as (hash, account rowid). Deriving a key
takes Python, so SQL cannot file them itself: triggers on ``accounts`` queue in
``account_keys_queue`` every account inserted, and every one changed or deleted with the values it
had, whatever wrote it (the writer, a sync pull, plain SQL). :func:`refresh` drops the keys of the
old values and files the current ones; it runs at the start of each import, inside its
transaction. So an account is always either queued or filed under its current keys, and a lookup
after a refresh misses none.

The hash is CRC-32 of the key's text, stable across processes and platforms (Python's ``hash()`` is
salted per process and must never be stored). It only narrows the search: :func:`holders` derives
the keys of every account it finds again from its current row and keeps only true matches, so a
CRC collision, or a key left filed for a row that is gone (``INSERT OR REPLACE`` runs no delete
trigger), costs one row read and is never reported.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from zlib import crc32

from fieldrep.services.imports import validation as v
from fieldrep.store import settings

# (name key + "\x1f" + postal code, phone digits, website domain); None where the account has none.
# A name key never holds "\x1f" (it is made of \w words or split on whitespace, which "\x1f" is).
Keys = tuple[str | None, str | None, str | None]
KINDS = ("name", "phone", "website")
_BATCH = 5000
# The way keys are derived (keys_of and the hashes). Raise it with any change to name_key,
# phone_digits, website_domain (or what they read, such as SHARED_HOSTS) or the hashing: keys filed
# the old way would no longer be found, so the next refresh files every account again.
# tests/services/test_account_keys.py pins the output.
# 2: the name alone is filed too (kind 3), for the contacts import. 3: names read dotted initialisms
# ("L.L.C."), inner apostrophes, "and" and Unicode forms alike; a site on a shared host is its page.
KEY_FORMAT = "3"


def keys_of(
    name: str | None, postal_code: str | None, phone: str | None, website: str | None
) -> Keys:
    """An account's three duplicate keys."""
    return keys_from(name, postal_code, v.phone_digits(phone), v.website_domain(website))


def keys_from(name: str | None, postal_code: str | None, digits: str, site: str) -> Keys:
    """The three duplicate keys from the name, the postal code, the phone's digits
    (:func:`validation.phone_digits`) and the website's domain (:func:`validation.website_domain`):
    an import passes the digits and domain its validation read, not reading them again."""
    name_key = v.name_key(name)
    return (
        f"{name_key}\x1f{postal_code or ''}" if name_key else None,
        digits or None,
        # a shared host alone (facebook.com) is many businesses' site, so no business's key
        site if site and site not in v.SHARED_HOSTS else None,
    )


NAME_ALONE = 3  # the kind under which the name key alone is filed (no postal code)


def _duplicate_hashes(keys: Keys) -> list[int]:
    return [crc32(key.encode(), kind) for kind, key in enumerate(keys) if key is not None]


def _name_alone(name_and_postal: str) -> str:
    return name_and_postal.split("\x1f", 1)[0]


def filed_hashes(keys: Keys) -> list[int]:
    """The stable hashes a row's keys are filed under: one per duplicate key (the kind is the CRC's
    starting value), plus the name key alone (:data:`NAME_ALONE`). :func:`file_keys` spells the
    same out for speed."""
    hashes = _duplicate_hashes(keys)
    if keys[0] is not None:
        hashes.append(crc32(_name_alone(keys[0]).encode(), NAME_ALONE))
    return hashes


def refresh(conn: Any) -> int:
    """File the keys of every queued account; returns how many queue entries were settled.
    Inside the caller's transaction."""
    if settings.get(conn, settings.ACCOUNT_KEYS_FORMAT) != KEY_FORMAT:
        # Filed another way (or never, right after the v4 migration): start again from the rows.
        conn.execute("DELETE FROM account_keys")
        conn.execute("DELETE FROM account_keys_queue")
        conn.execute("INSERT INTO account_keys_queue (account) SELECT rowid FROM accounts")
        settings.put(conn, settings.ACCOUNT_KEYS_FORMAT, KEY_FORMAT)
    cur = conn.execute(
        "SELECT account, name, postal_code, phone, website FROM account_keys_queue WHERE old = 1"
    )
    settled = 0
    while batch := cur.fetchmany(_BATCH):
        conn.executemany(
            "DELETE FROM account_keys WHERE h = ? AND account = ?",
            [(h, row[0]) for row in batch for h in filed_hashes(keys_of(*row[1:]))],
        )
        settled += len(batch)
    cur = conn.execute(
        "SELECT a.rowid, a.name, a.postal_code, a.phone, a.website FROM accounts a"
        " WHERE a.rowid IN (SELECT account FROM account_keys_queue)"
    )
    while batch := cur.fetchmany(_BATCH):
        file_keys(conn, ((row[0], keys_of(*row[1:])) for row in batch))
    settled += conn.execute("DELETE FROM account_keys_queue").rowcount
    return settled


def file_keys(conn: Any, rows: Iterable[tuple[int, Keys]]) -> None:
    """File the keys of accounts (rowid, keys) just inserted under :func:`deferred`, after a
    :func:`refresh` in the same transaction (a queued delete settled later could otherwise drop
    the key of a new account that reuses the deleted one's rowid)."""
    # One statement per account: a missing key's NULL hash is skipped by OR IGNORE (NOT NULL).
    conn.executemany(
        "INSERT OR IGNORE INTO account_keys (h, account)"
        " VALUES (?1, ?4), (?2, ?4), (?3, ?4), (?5, ?4)",
        [
            (
                None if name is None else crc32(name.encode()),
                None if phone is None else crc32(phone.encode(), 1),
                None if website is None else crc32(website.encode(), 2),
                rowid,
                None if name is None else crc32(_name_alone(name).encode(), NAME_ALONE),
            )
            for rowid, (name, phone, website) in rows
        ],
    )


@contextmanager
def deferred(conn: Any) -> Iterator[None]:
    """Inside the caller's transaction: accounts inserted in the block are not queued; the caller
    files each of them with :func:`file_keys` instead (cheaper than queuing and deriving again)."""
    if not conn.in_transaction:
        raise RuntimeError("account_keys.deferred needs an open transaction")
    settings.put(conn, settings.ACCOUNT_KEYS_DEFERRED, True)
    try:
        yield
    finally:
        settings.clear(conn, settings.ACCOUNT_KEYS_DEFERRED)


def holders(conn: Any, wanted: Iterable[Keys]) -> dict[tuple[int, str], list[tuple[str, str, str]]]:
    """For each (kind index, key) of ``wanted`` that accounts hold, those accounts' (name, name
    key, postal code), by rowid: a phone or website shared by many (a switchboard, a directory
    host) is judged with the name and address of each holder. Call :func:`refresh` first in the
    same transaction."""
    probes: tuple[set[str], set[str], set[str]] = (set(), set(), set())
    hashes: list[int] = []
    for keys in wanted:
        hashes.extend(_duplicate_hashes(keys))
        for kind, key in enumerate(keys):
            if key is not None:
                probes[kind].add(key)
    if not hashes:
        return {}
    found: dict[tuple[int, str], list[tuple[str, str, str]]] = {}
    for name, postal_code, phone, website in conn.execute(
        "SELECT name, postal_code, phone, website FROM accounts WHERE rowid IN"
        " (SELECT account FROM account_keys WHERE h IN (SELECT value FROM json_each(?)))"
        " ORDER BY rowid",
        (json.dumps(hashes),),
    ):
        keys = keys_of(name, postal_code, phone, website)
        for kind, key in enumerate(keys):
            if key is not None and key in probes[kind]:
                found.setdefault((kind, key), []).append(
                    (name, v.name_key(name), postal_code or "")
                )
    return found


def named(conn: Any, name_keys: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    """For each name key (:func:`~fieldrep.services.imports.validation.name_key`), the (id, name)
    of the accounts whose name has it, by rowid. Call :func:`refresh` first in the same
    transaction."""
    wanted = {key for key in name_keys if key}
    if not wanted:
        return {}
    found: dict[str, list[tuple[str, str]]] = {}
    for account_id, name in conn.execute(
        "SELECT id, name FROM accounts WHERE rowid IN"
        " (SELECT account FROM account_keys WHERE h IN (SELECT value FROM json_each(?)))"
        " ORDER BY rowid",
        (json.dumps([crc32(key.encode(), NAME_ALONE) for key in wanted]),),
    ):
        key = v.name_key(name)
        if key in wanted:  # the CRC only narrows the search
            found.setdefault(key, []).append((account_id, name))
    return found


# -- ids in the source CRM ----------------------------------------------------------------------

# Local only, like the keys: an imported account's id in the CRM it came from (a Salesforce Id, a
# Dynamics account number, any "External ID"), so a contacts export that points at it links. Made
# on first use by the import, so a database that never imported from a CRM has no such table.
_EXTERNAL_IDS = (
    "CREATE TABLE IF NOT EXISTS account_external_ids ("
    " external_id TEXT PRIMARY KEY, account_id TEXT NOT NULL) WITHOUT ROWID"
)


def file_external_ids(conn: Any, pairs: Iterable[tuple[str, str]]) -> None:
    """File (external id, account id) pairs; an id filed before now names the newer account."""
    rows = list(pairs)
    if not rows:
        return
    conn.execute(_EXTERNAL_IDS)
    conn.executemany(
        "INSERT INTO account_external_ids (external_id, account_id) VALUES (?, ?)"
        " ON CONFLICT (external_id) DO UPDATE SET account_id = excluded.account_id",
        rows,
    )


def by_external_id(conn: Any, external_ids: Iterable[str]) -> dict[str, str]:
    """External id -> account id, for those of ``external_ids`` filed (and still an account)."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'account_external_ids'"
    ).fetchone()
    if exists is None:
        return {}
    return dict(
        conn.execute(
            "SELECT e.external_id, e.account_id FROM account_external_ids e"
            " JOIN accounts a ON a.id = e.account_id"
            " WHERE e.external_id IN (SELECT value FROM json_each(?))",
            (json.dumps(sorted(set(external_ids))),),
        )
    )
