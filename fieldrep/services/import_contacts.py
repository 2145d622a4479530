"""Importing contacts from CSV or XLSX, each matched to an existing account by id or by name.

Same rules as the account import: every failing row is reported with line, column and reason and
written to the errors file; a contact already on the account (same name, or same email) is not
created twice; the good rows go in one transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fieldrep.services import import_validation as v
from fieldrep.services.account_import import (
    ImportCancelled,
    ImportReport,
    Progress,
    RowError,
    write_errors_csv,
)
from fieldrep.services.import_mapping import (
    CONTACT_FIELDS,
    ColumnMapping,
    guess_mapping,
    missing_column_message,
    missing_required,
)
from fieldrep.services.import_readers import (
    ImportFileError,
    TableData,
    formula_problem,
    read_table,
)
from fieldrep.store.accounts_repository import deferred_search_index


def _account_index(conn: Any) -> tuple[set[str], dict[str, list[str]]]:
    ids: set[str] = set()
    by_name: dict[str, list[str]] = {}
    for account_id, name in conn.execute("SELECT id, name FROM accounts"):
        ids.add(account_id)
        by_name.setdefault(v.name_key(name), []).append(account_id)
    return ids, by_name


def _contact_keys(conn: Any) -> set[tuple[str, str]]:
    keys: set[tuple[str, str]] = set()
    for account_id, first, last, email in conn.execute(
        "SELECT account_id, first_name, last_name, email FROM contacts"
    ):
        keys.add((account_id, f"n:{first} {last}".casefold()))
        if email:
            keys.add((account_id, f"e:{email}".casefold()))
    return keys


def import_contacts(
    ctx: Any,
    path: str | Path,
    *,
    mapping: ColumnMapping | None = None,
    data: TableData | None = None,
    errors_path: str | Path | None = None,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ImportReport:
    started = time.perf_counter()
    data = data or read_table(path)
    name = data.path.name
    if not data.rows:
        raise ImportFileError(f"{name} has a header row but no data rows")
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
        notes=list(data.notes),
    )
    account_ids, by_name = _account_index(ctx.db.conn)
    known = _contact_keys(ctx.db.conn)
    header = {f: data.header[i] if i < len(data.header) else f for f, i in mapping.fields.items()}
    good: list[dict[str, Any]] = []
    failed: list[tuple[int, list[str], list[RowError]]] = []
    mapped_cols = {i: f for f, i in mapping.fields.items()}
    for index, (line, cells, formulas) in enumerate(data.rows.with_formulas()):
        if index % 1000 == 0:
            if cancelled is not None and cancelled():
                raise ImportCancelled(f"import of {name} cancelled; nothing was imported")
            if progress is not None:
                progress(index, data.rows.expected(index), "checking")
        report.rows_read += 1
        raw = {f: (cells[i] if i < len(cells) else "") for f, i in mapping.fields.items()}
        values: dict[str, Any] = {}
        errors: list[RowError] = []
        for fld in ("first_name", "last_name", "full_name", "title", "notes", "account"):
            try:
                values[fld] = v.clean_text(fld, raw.get(fld, ""))
            except v.FieldProblem as exc:
                errors.append(RowError(line, header[fld], exc.reason))
        for fld, parse in (("email", v.parse_email), ("phone", v.parse_phone)):
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
        account_id = None
        if account is None:
            errors.append(RowError(line, header["account"], "is empty; say which account"))
        elif account in account_ids:
            account_id = account
        else:
            matches = by_name.get(v.name_key(account), [])
            if len(matches) == 1:
                account_id = matches[0]
            elif not matches:
                errors.append(RowError(line, header["account"], f"no account is named {account!r}"))
            else:
                errors.append(
                    RowError(
                        line,
                        header["account"],
                        (f"{len(matches)} accounts are named {account!r}; use the account id"),
                    )
                )
        if account_id is not None and not errors:
            keys = {
                (
                    account_id,
                    f"n:{values.get('first_name') or ''} "
                    f"{values.get('last_name') or ''}".casefold(),
                )
            }
            if values.get("email"):
                keys.add((account_id, f"e:{values['email']}".casefold()))
            if keys & known:
                report.duplicates += 1
                errors.append(RowError(line, "", "this contact is already on the account"))
            known |= keys
        if errors:
            failed.append((line, cells, errors))
            report.errors.extend(errors)
            continue
        values["account_id"] = account_id
        values["first_name"] = values.get("first_name") or ""
        values["last_name"] = values.get("last_name") or ""
        good.append({k: val for k, val in values.items() if val is not None})
    report.failed_rows = len(failed)
    report.notes.extend(data.rows.notes)  # what the pass found, e.g. formulas with saved results
    if cancelled is not None and cancelled():
        raise ImportCancelled(f"import of {name} cancelled; nothing was imported")
    if good:
        with ctx.writer.transaction() as conn, deferred_search_index(conn):
            report.imported = len(ctx.writer.insert_many("contacts", good))
    if failed and errors_path is not None:
        write_errors_csv(errors_path, data.header, failed)
        report.errors_file = str(errors_path)
    report.seconds = round(time.perf_counter() - started, 3)
    return report
