"""The duplicate check's index: exact keys in ``match_keys``, normalised names for the fuzzy scan.

Schema v6 (local only) queues every account, contact and referral written, whatever wrote it;
:func:`refresh` files the queued rows' keys (inside the caller's write transaction) and returns the
names it changed, so a :class:`NameIndex` kept in memory follows with no reload. A name index built
by another connection notices the change by the ``match_index.generation`` counter and reloads.

Keys: ``p:`` E.164 phone, ``e:`` e-mail, ``d:`` company web domain (website host or the domain of a
company e-mail; free-mail hosts never), ``a:`` address key. Names: account names and referred
companies, legal forms stripped, words sorted (fieldrep.services.referrals.normalise).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field

from fieldrep.domain.progress import Progress
from fieldrep.services.referrals import normalise as norm
from fieldrep.store import settings
from fieldrep.store.writer import Writer

_BATCH = 500
TABLES = ("accounts", "contacts", "referrals")


def keys_for_account(row: dict[str, object]) -> tuple[set[str], str | None]:
    region = str(row.get("country") or "US")
    keys: set[str] = set()
    ph = norm.phone(_s(row.get("phone")), region, strict=False)
    if ph:
        keys.add("p:" + ph.e164)
    mail = norm.email(_s(row.get("email")), strict=False)
    if mail:
        keys.add("e:" + mail)
        domain = norm.email_domain(mail)
        if domain:
            keys.add("d:" + domain)
    site = norm.web_domain(_s(row.get("website")))
    if site:
        keys.add("d:" + site)
    addr = norm.address_key(_s(row.get("street")), _s(row.get("postal_code")))
    if addr:
        keys.add("a:" + addr)
    name = norm.company_key(_s(row.get("name")))
    return keys, (norm.sorted_name(name) if name else None)


def keys_for_contact(row: dict[str, object], region: str = "US") -> set[str]:
    keys: set[str] = set()
    ph = norm.phone(_s(row.get("phone")), region, strict=False)
    if ph:
        keys.add("p:" + ph.e164)
    mail = norm.email(_s(row.get("email")), strict=False)
    if mail:
        keys.add("e:" + mail)
    return keys


def keys_for_referral(row: dict[str, object]) -> tuple[set[str], str | None]:
    """A referral's keys from the values normalised at save (match_*), recomputed only for rows
    saved without them (an older laptop's, an import from elsewhere)."""
    keys: set[str] = set()
    region = str(row.get("referred_country") or "US")
    phone = _s(row.get("match_phone"))
    if not phone.startswith("+"):
        ph = norm.phone(_s(row.get("referred_phone")), region, strict=False)
        phone = ph.e164 if ph else ""
    if phone:
        keys.add("p:" + phone)
    mail = _s(row.get("match_email")) or norm.email(_s(row.get("referred_email")), strict=False)
    if mail:
        keys.add("e:" + mail)
        domain = norm.email_domain(mail)
        if domain:
            keys.add("d:" + domain)
    addr = norm.address_key(_s(row.get("referred_street")), _s(row.get("referred_postal_code")))
    if addr:
        keys.add("a:" + addr)
    name = _s(row.get("match_name")) or norm.company_key(_s(row.get("referred_company")))
    return keys, (norm.sorted_name(name) if name else None)


def _s(value: object) -> str:
    return "" if value is None else str(value)


def generation(conn: sqlite3.Connection) -> int:
    return settings.get(conn, settings.MATCH_INDEX_GENERATION)


def pending(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM match_queue").fetchone()[0])


def refresh(
    conn: sqlite3.Connection, limit: int | None = None
) -> dict[tuple[str, str], str | None]:
    """File queued rows' keys and names (all, or the first ``limit``); call inside a write
    transaction. Returns the names that changed ((table, id) -> sorted name, None when the row has
    none or is gone)."""
    if limit is None:
        queued = conn.execute("SELECT tbl, row_id FROM match_queue").fetchall()
    else:
        queued = conn.execute("SELECT tbl, row_id FROM match_queue LIMIT ?", (limit,)).fetchall()
    if not queued:
        return {}
    names: dict[tuple[str, str], str | None] = {}
    by_table: dict[str, list[str]] = {}
    for tbl, row_id in queued:
        by_table.setdefault(tbl, []).append(row_id)
    for tbl, ids in by_table.items():
        for start in range(0, len(ids), _BATCH):
            chunk = ids[start : start + _BATCH]
            names.update(_file(conn, tbl, chunk))
            if limit is not None:
                marks = ", ".join("?" * len(chunk))
                conn.execute(
                    f"DELETE FROM match_queue WHERE tbl = ? AND row_id IN ({marks})", [tbl, *chunk]
                )
    if limit is None:
        conn.execute("DELETE FROM match_queue")
    settings.put(conn, settings.MATCH_INDEX_GENERATION, generation(conn) + 1)
    return names


def file_all(writer: Writer, progress: Progress | None = None) -> int:
    """File the whole queue in steps of 5,000 rows, each its own transaction (a first filing of a
    100,000-account book takes a while: run it off the GUI thread). Returns the rows filed."""
    total = pending(writer.conn)
    done = 0
    while True:
        with writer.transaction() as conn:
            step = len(refresh(conn, 5000))
        if not step:
            return done
        done += step
        if progress is not None:
            progress(min(done, total), total, "Preparing duplicate checks")


def _rows(conn: sqlite3.Connection, sql: str, ids: list[str]) -> list[dict[str, object]]:
    marks = ", ".join("?" * len(ids))
    cur = conn.execute(sql.format(marks=marks), ids)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _file(conn: sqlite3.Connection, tbl: str, ids: list[str]) -> dict[tuple[str, str], str | None]:
    marks = ", ".join("?" * len(ids))
    conn.execute(f"DELETE FROM match_keys WHERE tbl = ? AND row_id IN ({marks})", [tbl, *ids])
    conn.execute(f"DELETE FROM match_names WHERE tbl = ? AND row_id IN ({marks})", [tbl, *ids])
    keys: list[tuple[str, str, str]] = []
    names: dict[tuple[str, str], str | None] = dict.fromkeys(((tbl, i) for i in ids), None)
    if tbl == "accounts":
        for row in _rows(
            conn,
            "SELECT id, name, phone, email, website, street, postal_code, country"
            " FROM accounts WHERE id IN ({marks})",
            ids,
        ):
            found, name = keys_for_account(row)
            keys += [(k, tbl, str(row["id"])) for k in found]
            names[(tbl, str(row["id"]))] = name
    elif tbl == "contacts":
        for row in _rows(
            conn,
            "SELECT c.id, c.phone, c.email, a.country FROM contacts c"
            " LEFT JOIN accounts a ON a.id = c.account_id WHERE c.id IN ({marks})",
            ids,
        ):
            found = keys_for_contact(row, str(row.get("country") or "US"))
            keys += [(k, tbl, str(row["id"])) for k in found]
    else:
        for row in _rows(
            conn,
            "SELECT id, referred_company, referred_email, referred_phone, referred_street,"
            " referred_postal_code, referred_country, match_name, match_email, match_phone"
            " FROM referrals WHERE id IN ({marks})",
            ids,
        ):
            found, name = keys_for_referral(row)
            keys += [(k, tbl, str(row["id"])) for k in found]
            names[(tbl, str(row["id"]))] = name
    conn.executemany("INSERT OR IGNORE INTO match_keys (key, tbl, row_id) VALUES (?, ?, ?)", keys)
    conn.executemany(
        "INSERT OR REPLACE INTO match_names (tbl, row_id, name) VALUES (?, ?, ?)",
        [(t, i, n) for (t, i), n in names.items() if n],
    )
    return names


@dataclass
class NameIndex:
    """Every filed name in memory, in one list for rapidfuzz (None where a row went away)."""

    generation: int = -1
    names: list[str | None] = field(default_factory=list)
    rows: list[tuple[str, str]] = field(default_factory=list)
    position: dict[tuple[str, str], int] = field(default_factory=dict)

    def load(self, conn: sqlite3.Connection) -> None:
        self.names, self.rows, self.position = [], [], {}
        for tbl, row_id, name in conn.execute("SELECT tbl, row_id, name FROM match_names"):
            self.position[(tbl, row_id)] = len(self.names)
            self.rows.append((tbl, row_id))
            self.names.append(name)
        self.generation = generation(conn)

    def apply(self, changed: Iterable[tuple[tuple[str, str], str | None]]) -> None:
        for key, name in changed:
            at = self.position.get(key)
            if at is None:
                if name:
                    self.position[key] = len(self.names)
                    self.rows.append(key)
                    self.names.append(name)
            else:
                self.names[at] = name

    def bring_up_to_date(self, conn: sqlite3.Connection) -> None:
        """File the queue (inside the caller's write transaction) and follow it."""
        before = generation(conn)
        changed = refresh(conn)
        if self.generation == before:
            self.apply(changed.items())
            self.generation = generation(conn)
        elif self.generation != generation(conn):
            self.load(conn)
