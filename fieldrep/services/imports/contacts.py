"""Importing contacts from CSV or XLSX, each matched to an existing account by id or by name.

Same rules as the account import: every failing row is reported with line, column and reason and
written to the errors file; a contact already on the account (same name, or same email) is not
created twice. One pass over the rows, streamed from the file: each block of good rows is written
as soon as it is checked, all inside ONE transaction that commits only at the end, so memory stays
bounded for a file of any size and a cancel, a crash or a bad file imports nothing.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from fieldrep.domain.ids import uuid7_many
from fieldrep.services.accounts import keys as account_keys
from fieldrep.services.context import Context
from fieldrep.services.imports import validation as v
from fieldrep.services.imports.duplicates import TEMP_CACHE_KIB
from fieldrep.services.imports.errors import ErrorsFile, RowError
from fieldrep.services.imports.mapping import (
    CONTACT_FIELDS,
    ColumnMapping,
    guess_mapping,
    missing_column_message,
    missing_required,
    unmapped_note,
)
from fieldrep.services.imports.passes import (
    CHUNK,
    CHUNK_CHARS,
    ImportReport,
    Progress,
    run_in_one_transaction,
    streamed_rows,
)
from fieldrep.services.imports.readers import (
    ImportFileError,
    TableData,
    extra_cells_problem,
    formula_problem,
    read_table,
)

log = logging.getLogger(__name__)

_TEXT_FIELDS = ("first_name", "last_name", "full_name", "title", "notes", "account")
_PARSED_FIELDS = (("email", v.parse_email), ("phone", v.parse_phone))
# A row checked but not yet written: (line, cells, values, account cell, errors so far)
_Pending = tuple[int, list[str], dict[str, Any], str | None, list[RowError]]


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
    started = time.perf_counter()
    data = data or read_table(path, scan=False)
    name = data.path.name
    if not data.rows:
        raise ImportFileError(
            f"{data.source} has a header row but no data rows{data.other_sheets_hint}"
        )
    mapping = mapping or guess_mapping(data.header, CONTACT_FIELDS)
    for spec in missing_required(mapping, CONTACT_FIELDS):
        raise ImportFileError(f"{name}: {missing_column_message(spec, data.header)}")
    if not {"full_name", "first_name", "last_name"} & set(mapping.fields):
        raise ImportFileError(
            f"{name}: no column for the contact's name (Name, First Name or Last Name)"
        )
    report = ImportReport(
        str(data.path),
        data.kind,
        data.encoding,
        data.delimiter,
        mapping.describe(data.header),
        notes=[*data.notes, *filter(None, [unmapped_note(mapping, data.header)])],
    )
    errors_out = ErrorsFile(errors_path, data.header)
    return run_in_one_transaction(
        ctx,
        data,
        report,
        errors_out,
        lambda _conn: _check_and_write(ctx, data, mapping, report, errors_out, progress, cancelled),
        started=started,
        what="contacts",
        progress=progress,
        cancelled=cancelled,
    )


def _check_row(
    cells: list[str],
    line: int,
    formulas: Iterable[tuple[int, str]],
    fields: list[tuple[str, int]],
    header: dict[str, str],
    mapped_cols: dict[int, str],
) -> tuple[dict[str, Any], str | None, list[RowError]]:
    """One row's contact fields, its account cell, and the problems found without the database."""
    width = len(cells)
    raw = {f: (cells[i] if i < width else "") for f, i in fields}
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
        if col in mapped_cols:
            errors.append(RowError(line, header[mapped_cols[col]], formula_problem(formula)))
    full = values.pop("full_name", None)
    if full and not (values.get("first_name") or values.get("last_name")):
        first, _, last = full.rpartition(" ") if " " in full else ("", "", full)
        values["first_name"], values["last_name"] = first, last
    account = values.pop("account", None)
    if not (values.get("first_name") or values.get("last_name")) and not errors:
        errors.append(RowError(line, "", "has no name; every contact needs one"))
    values["first_name"] = values.get("first_name") or ""
    values["last_name"] = values.get("last_name") or ""
    return values, account, errors


def _check_and_write(
    ctx: Context,
    data: TableData,
    mapping: ColumnMapping,
    report: ImportReport,
    errors_out: ErrorsFile,
    progress: Progress | None,
    cancelled: Callable[[], bool] | None,
) -> None:
    """The streaming pass, inside the caller's transaction."""
    conn = ctx.conn
    accounts = _Accounts(conn)
    known = _ContactKeys(conn)
    header = {f: data.header[i] if i < len(data.header) else f for f, i in mapping.fields.items()}
    fields = list(mapping.fields.items())
    mapped_cols = {i: f for f, i in mapping.fields.items()}
    rows = data.rows
    block: list[_Pending] = []
    block_chars = 0
    shifted: set[int] = set()  # lines of the block with cells past the header's last column

    def check_block() -> None:
        accounts.start_block(account for _, _, _, account, _ in block if account is not None)
        resolved: list[tuple[str | None, list[int]]] = []
        for line, _, values, account, errors in block:
            account_id = None
            if line in shifted:
                resolved.append((None, []))
                continue
            if account is None:
                errors.append(RowError(line, header["account"], "is empty; say which account"))
            else:
                account_id, why = accounts.resolve(account)
                if why is not None:
                    errors.append(RowError(line, header["account"], why))
            keys: list[int] = []
            if account_id is not None and not errors:
                keys = _keys_of(
                    account_id, values["first_name"], values["last_name"], values.get("email")
                )
            resolved.append((account_id, keys))
        known.add_accounts({account_id for account_id, keys in resolved if keys and account_id})
        known.start_block(h for _, keys in resolved for h in keys)
        good: list[dict[str, Any]] = []
        for (line, cells, values, _, errors), (account_id, keys) in zip(
            block, resolved, strict=True
        ):
            if keys and known.seen(keys):
                report.duplicates += 1
                errors.append(RowError(line, "", "this contact is already on the account"))
            if errors:
                report.failed_rows += 1
                report.add_errors(errors)
                errors_out.add(line, cells, errors)
                continue
            values["account_id"] = account_id
            good.append({k: val for k, val in values.items() if val is not None})
        known.end_block()
        shifted.clear()
        if good:
            ids = uuid7_many(len(good))
            report.imported += len(ctx.writer.insert_many("contacts", good, row_ids=ids))

    width = len(data.header)
    for line, cells, formulas in streamed_rows(data, report, progress, cancelled):
        values, account, errors = _check_row(cells, line, formulas, fields, header, mapped_cols)
        if len(cells) > width and any(cells[width:]):
            # Shifted cells make every other complaint about the row an echo of this one.
            errors = [RowError(line, "", extra_cells_problem(cells, width))]
            shifted.add(line)
        block.append((line, cells, values, account, errors))
        block_chars += sum(map(len, cells))
        if len(block) >= CHUNK or block_chars >= CHUNK_CHARS:
            check_block()
            block = []
            block_chars = 0
    if block:
        check_block()
    known.close()
    report.notes.extend(rows.notes)  # what the pass found, e.g. formulas with saved results


__all__ = ["import_contacts"]
