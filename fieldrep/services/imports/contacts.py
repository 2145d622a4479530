"""Importing contacts from CSV or XLSX, each matched to an existing account by id or by name.

Same rules as the account import, and the same pipeline (:mod:`fieldrep.services.imports.pipeline`):
every failing row is reported with line, column and reason and written to the errors file; a
contact already on the account (same name, or same email) is not created twice. One pass over the
rows, streamed from the file: each block of good rows is written as soon as it is checked, all
inside ONE transaction that commits only at the end, so memory stays bounded for a file of any
size and a cancel, a crash or a bad file imports nothing. What is the contacts' own: the row
converter (:meth:`_ContactSteps.validate`), the account each row names (:class:`_Accounts`), the
duplicate keys on that account (:class:`_ContactKeys`) and the writer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from fieldrep.services.accounts import keys as account_keys
from fieldrep.services.context import Context
from fieldrep.services.imports import validation as v
from fieldrep.services.imports.duplicates import TEMP_CACHE_KIB
from fieldrep.services.imports.errors import RowError
from fieldrep.services.imports.mapping import CONTACT_FIELDS, ColumnMapping
from fieldrep.services.imports.passes import CHUNK, ImportReport, Progress
from fieldrep.services.imports.pipeline import Kind, Row, Steps, run_import
from fieldrep.services.imports.readers import TableData, formula_problem

log = logging.getLogger(__name__)

_TEXT_FIELDS = ("first_name", "last_name", "full_name", "title", "notes", "account")
_PARSED_FIELDS = (("email", v.parse_email), ("phone", v.parse_phone))


def _json(values: Iterable[Any]) -> str:
    return json.dumps(list(values))


def _plain(name: str) -> str:
    """A name as typed, without case or extra spaces: what an exact match compares."""
    return " ".join(name.casefold().split())


class _Accounts:
    """Which account a cell names: the account with that id, else the one with exactly that name
    (without case or extra spaces), else the one whose name key matches ("Acme Inc." for "acme").

    Names are looked up through the accounts' filed name keys (:mod:`account_keys`), so each
    block of rows reads only the accounts its cells can name, in two queries, whatever the size
    of the book.
    """

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        account_keys.refresh(conn)
        self._ids: set[str] = set()
        self._by_name: dict[str, list[tuple[str, str]]] = {}
        self._external: dict[str, str] = {}

    def start_block(self, cells: Iterable[str]) -> None:
        """Fetch what the block's account cells can match."""
        distinct = set(cells)
        self._ids = {
            aid
            for (aid,) in self.conn.execute(
                "SELECT id FROM accounts WHERE id IN (SELECT value FROM json_each(?))",
                (_json(distinct),),
            )
        }
        self._by_name = account_keys.named(self.conn, {v.name_key(c) for c in distinct})
        # a CRM's own account id (Salesforce AccountId), filed when its accounts were imported
        self._external = account_keys.by_external_id(self.conn, distinct - self._ids)

    def resolve(self, account: str) -> tuple[str | None, str | None]:
        """(account id, None), or (None, why not)."""
        if account in self._ids:
            return account, None
        if account in self._external:
            return self._external[account], None
        alike = self._by_name.get(v.name_key(account), [])
        plain = _plain(account)
        exact = [aid for aid, name in alike if _plain(name) == plain]
        matches = exact or [aid for aid, _ in alike]
        if len(matches) == 1:
            return matches[0], None
        if not matches:
            return None, f"no account is named {account!r}"
        if exact:
            return None, f"{len(exact)} accounts are named {account!r}; use the account id"
        return None, f"{len(matches)} accounts have names like {account!r}; use the account id"


def _keys_of(account_id: str | None, first: str, last: str, email: str | None) -> list[int]:
    """A contact's duplicate keys on its account, hashed: its name, and its email if it has one."""
    keys = [hash((account_id, f"n:{first} {last}".casefold()))]
    if email:
        keys.append(hash((account_id, f"e:{email}".casefold())))
    return keys


class _ContactKeys:
    """The duplicate keys of the contacts already on the accounts a block names, and of the rows
    checked so far, as 64-bit hashes in a TEMP table (as in import_duplicates): memory stays
    bounded. A key includes its account, so only the contacts of the block's accounts are read (by
    the contacts' account index), never the whole contacts table."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        conn.execute(f"PRAGMA temp.cache_size = {-TEMP_CACHE_KIB}")
        conn.execute("DROP TABLE IF EXISTS temp.import_contact_keys")
        conn.execute("CREATE TEMP TABLE import_contact_keys (h INTEGER PRIMARY KEY)")
        conn.execute("DROP TABLE IF EXISTS temp.import_contact_accounts")
        conn.execute("CREATE TEMP TABLE import_contact_accounts (id TEXT PRIMARY KEY)")
        self._hits: set[int] = set()
        self._block: set[int] = set()

    def add_accounts(self, account_ids: Iterable[str]) -> None:
        """Hold the keys of the contacts already on these accounts (each account read once)."""
        new = [
            aid
            for (aid,) in self.conn.execute(
                "SELECT value FROM json_each(?)"
                " WHERE value NOT IN (SELECT id FROM temp.import_contact_accounts)",
                (_json(account_ids),),
            )
        ]
        if not new:
            return
        self.conn.executemany(
            "INSERT INTO temp.import_contact_accounts VALUES (?)", ((aid,) for aid in new)
        )
        self.conn.executemany(
            "INSERT OR IGNORE INTO temp.import_contact_keys VALUES (?)",
            (
                (h,)
                for row in self.conn.execute(
                    "SELECT account_id, first_name, last_name, email FROM contacts"
                    " WHERE account_id IN (SELECT value FROM json_each(?))",
                    (_json(new),),
                )
                for h in _keys_of(*row)
            ),
        )

    def close(self) -> None:
        self.conn.execute("DROP TABLE IF EXISTS temp.import_contact_keys")
        self.conn.execute("DROP TABLE IF EXISTS temp.import_contact_accounts")

    def start_block(self, keys: Iterable[int]) -> None:
        """Fetch, in one query, which of the block's keys are already held."""
        self._hits = {
            h
            for (h,) in self.conn.execute(
                "SELECT h FROM temp.import_contact_keys WHERE h IN (SELECT value FROM json_each(?))",
                (_json(keys),),
            )
        }
        self._block = set()

    def seen(self, keys: list[int]) -> bool:
        """Whether a contact or an earlier row holds one of ``keys``; they are held from now on."""
        held = any(h in self._hits or h in self._block for h in keys)
        self._block.update(keys)
        return held

    def end_block(self) -> None:
        self.conn.executemany(
            "INSERT OR IGNORE INTO temp.import_contact_keys VALUES (?)",
            ((h,) for h in self._block),
        )
        self._hits, self._block = set(), set()


class _ContactSteps(Steps):
    """The contacts' parts of the pipeline: convert, link to the account, dedupe on it, write."""

    def __init__(self, ctx: Context, data: TableData, mapping: ColumnMapping) -> None:
        self.ctx = ctx
        self.accounts = _Accounts(ctx.conn)
        self.known = _ContactKeys(ctx.conn)
        self.header = {
            f: data.header[i] if i < len(data.header) else f for f, i in mapping.fields.items()
        }
        self.fields = list(mapping.fields.items())
        self.mapped_cols = {i: f for f, i in mapping.fields.items()}

    def validate(self, line: int, cells: list[str], formulas: tuple[tuple[int, str], ...]) -> Row:
        """One row's contact fields, its account cell (``_account``), and the problems found
        without the database."""
        header = self.header
        width = len(cells)
        raw = {f: (cells[i] if i < width else "") for f, i in self.fields}
        values: dict[str, Any] = {}
        errors: list[RowError] = []
        for fld in _TEXT_FIELDS:
            try:
                values[fld] = v.clean_text(fld, raw.get(fld, ""))
            except v.FieldProblem as exc:
                errors.append(RowError(line, header[fld], exc.reason))
        for fld, parse in _PARSED_FIELDS:
            try:
                values[fld] = parse(raw.get(fld, ""))
            except v.FieldProblem as exc:
                errors.append(RowError(line, header[fld], exc.reason))
        for col, formula in formulas:
            if col in self.mapped_cols:
                errors.append(
                    RowError(line, header[self.mapped_cols[col]], formula_problem(formula))
                )
        full = values.pop("full_name", None)
        if full and not (values.get("first_name") or values.get("last_name")):
            first, _, last = full.rpartition(" ") if " " in full else ("", "", full)
            values["first_name"], values["last_name"] = first, last
        values["_account"] = values.pop("account", None)
        if not (values.get("first_name") or values.get("last_name")) and not errors:
            errors.append(RowError(line, "", "has no name; every contact needs one"))
        values["first_name"] = values.get("first_name") or ""
        values["last_name"] = values.get("last_name") or ""
        return Row(line, cells, values, errors)

    def link(self, block: list[Row]) -> None:
        """Each row's account (``account_id``), or why it has none."""
        self.accounts.start_block(
            row.values["_account"] for row in block if row.values["_account"] is not None
        )
        for row in block:
            if row.shifted:
                continue
            account = row.values.pop("_account")
            if account is None:
                row.errors.append(
                    RowError(row.line, self.header["account"], "is empty; say which account")
                )
                continue
            account_id, why = self.accounts.resolve(account)
            if why is not None:
                row.errors.append(RowError(row.line, self.header["account"], why))
            row.values["account_id"] = account_id

    def start_dedupe(self, block: list[Row]) -> None:
        checked = [row for row in block if not row.errors and row.values["account_id"]]
        for row in checked:
            values = row.values
            row.keys = _keys_of(
                values["account_id"], values["first_name"], values["last_name"], values.get("email")
            )
        self.known.add_accounts({row.values["account_id"] for row in checked})
        self.known.start_block(h for row in checked for h in row.keys)

    def duplicate(self, row: Row) -> RowError | None:
        if row.keys and self.known.seen(row.keys):
            return RowError(row.line, "", "this contact is already on the account")
        return None

    def end_dedupe(self) -> None:
        self.known.end_block()

    def write(self, good: list[Row], ids: list[str]) -> int:
        rows = [{k: val for k, val in row.values.items() if val is not None} for row in good]
        return len(self.ctx.writer.insert_many("contacts", rows, row_ids=ids))

    def finish(self) -> None:
        self.known.close()


def _mapping_problem(mapping: ColumnMapping) -> str | None:
    if {"full_name", "first_name", "last_name"} & set(mapping.fields):
        return None
    return "no column for the contact's name (Name, First Name or Last Name)"


CONTACTS = Kind(
    table="contacts",
    fields=CONTACT_FIELDS,
    start=lambda ctx, data, mapping, _report: _ContactSteps(ctx, data, mapping),
    mapping_problem=_mapping_problem,
)


def import_contacts(
    ctx: Context,
    path: str | Path,
    *,
    mapping: ColumnMapping | None = None,
    data: TableData | None = None,
    errors_path: str | Path | None = None,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ImportReport:
    """Import the contacts in ``path`` into ``ctx``'s database. Raises ImportFileError when the
    file as a whole cannot be imported and ImportCancelled when ``cancelled()`` turned true
    (nothing written in either case)."""
    return run_import(
        ctx,
        CONTACTS,
        path,
        mapping=mapping,
        data=data,
        errors_path=errors_path,
        progress=progress,
        cancelled=cancelled,
    )


__all__ = ["CHUNK", "import_contacts"]
