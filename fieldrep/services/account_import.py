"""Importing accounts from CSV or XLSX: validate every row, place it offline, write the good rows at once.

Rows that fail are not imported; each problem is reported with the file's line, the column and the
reason, and the failing rows go to an errors CSV (their original cells plus the reasons) that the
user can fix and import again. Possible duplicates, of an account already in the database (same name
and postal code, same phone, same website domain) or of an earlier row of the same file, are not
created twice, so importing the same file again changes nothing. The good rows are written in ONE
transaction: a cancel, a crash or a full disk imports nothing.
"""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fieldrep.geo.geocoding import Address, OfflineGeocoder
from fieldrep.services import import_validation as v
from fieldrep.services.import_mapping import (
    ACCOUNT_FIELDS,
    ColumnMapping,
    guess_mapping,
    missing_column_message,
    missing_required,
)
from fieldrep.services.import_readers import ImportFileError, TableData, read_table
from fieldrep.store.accounts_repository import deferred_search_index

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]  # (done, total, phase)
CHUNK = 5000


class ImportCancelled(Exception):
    """The user cancelled; nothing was written."""


@dataclass
class RowError:
    line: int
    column: str
    reason: str


@dataclass
class ImportReport:
    file: str
    kind: str
    encoding: str
    delimiter: str
    mapping: dict[str, str]
    rows_read: int = 0
    imported: int = 0
    failed_rows: int = 0
    duplicates: int = 0  # rows skipped as duplicates of existing accounts or earlier rows
    errors: list[RowError] = field(default_factory=list)
    unplaced: list[dict[str, Any]] = field(default_factory=list)
    placed_by: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    errors_file: str | None = None
    seconds: float = 0.0
    ids: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        data = {
            k: getattr(self, k)
            for k in (
                "file",
                "kind",
                "encoding",
                "delimiter",
                "mapping",
                "rows_read",
                "imported",
                "failed_rows",
                "duplicates",
                "placed_by",
                "notes",
                "errors_file",
                "seconds",
            )
        }
        data["errors"] = [e.__dict__ for e in self.errors]
        data["unplaced"] = self.unplaced
        return data


@dataclass
class _Keys:
    """Duplicate keys -> who holds them (an existing account's name, or a line of this file)."""

    name_postal: dict[tuple[str, str], str] = field(default_factory=dict)
    phone: dict[str, str] = field(default_factory=dict)
    domain: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def keys_of(values: dict[str, Any]) -> tuple[tuple[str, str], str, str]:
        """A row's three duplicate keys, computed once per row."""
        return (
            (v.name_key(values["name"]), values.get("postal_code") or ""),
            v.phone_digits(values.get("phone")),
            v.website_domain(values.get("website")),
        )

    def match(self, keys: tuple[tuple[str, str], str, str]) -> tuple[str, str, str] | None:
        name_postal, phone, domain = keys
        if name_postal[0] and name_postal in self.name_postal:
            return "name", "same name and postal code", self.name_postal[name_postal]
        if phone and phone in self.phone:
            return "phone", "same phone", self.phone[phone]
        if domain and domain in self.domain:
            return "website", "same website", self.domain[domain]
        return None

    def add(self, keys: tuple[tuple[str, str], str, str], holder: str) -> None:
        name_postal, phone, domain = keys
        self.name_postal.setdefault(name_postal, holder)
        if phone:
            self.phone.setdefault(phone, holder)
        if domain:
            self.domain.setdefault(domain, holder)


def _existing_keys(conn: Any) -> _Keys:
    keys = _Keys()
    for name, postal, phone, website in conn.execute(
        "SELECT name, postal_code, phone, website FROM accounts"
    ):
        row = {"name": name, "postal_code": postal, "phone": phone, "website": website}
        keys.add(_Keys.keys_of(row), f"existing account {name!r}")
    return keys


def _lookups(conn: Any) -> tuple[dict[str, str], dict[str, str]]:
    users: dict[str, str] = {}
    for uid, username, display, email in conn.execute(
        "SELECT id, username, display_name, email FROM users"
    ):
        for key in (username, display, email):
            if key:
                users.setdefault(key.casefold(), uid)
    territories = {
        name.casefold(): tid
        for tid, name in conn.execute("SELECT id, name FROM territories WHERE archived = 0")
    }
    return users, territories


_TEXT_FIELDS = ("name", "industry", "street", "city", "region", "notes")
_PLAIN_FIELDS: tuple[tuple[str, Callable[[str], Any]], ...] = (
    ("employees", v.parse_employees),
    ("potential", lambda raw: v.parse_number("potential", raw)),
    ("status", v.parse_status),
    ("phone", v.parse_phone),
    ("email", v.parse_email),
    ("website", v.parse_website),
    ("lat", lambda raw: v.parse_coordinate("lat", raw)),
    ("lon", lambda raw: v.parse_coordinate("lon", raw)),
)


def _convert(
    cells: list[str], mapping: ColumnMapping, users: dict[str, str], territories: dict[str, str]
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """One row's cells -> account fields, and the (field, reason) problems found.

    Straight-line code on purpose: it runs once per imported row (100,000 times for a big book).
    """
    width = len(cells)
    raw = {f: (cells[i] if i < width else "") for f, i in mapping.fields.items()}
    get = raw.get
    values: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for name in _TEXT_FIELDS:
        text = get(name)
        if text:
            try:
                cleaned = v.clean_text(name, text)
            except v.FieldProblem as exc:
                problems.append((exc.field, exc.reason))
                continue
            if cleaned is not None:
                values[name] = cleaned
    if "name" not in values and not any(f == "name" for f, _ in problems):
        problems.append(("name", "is empty; every account needs a name"))
    country = "US"
    try:
        country = values["country"] = v.parse_country(get("country", ""))
        postal = v.parse_postal_code(get("postal_code", ""), country)
        if postal is not None:
            values["postal_code"] = postal
    except v.FieldProblem as exc:
        problems.append((exc.field, exc.reason))
    for name, parse in _PLAIN_FIELDS:
        text = get(name, "")
        try:
            value = parse(text)
        except v.FieldProblem as exc:
            problems.append((exc.field, exc.reason))
            continue
        if value is not None:
            values[name] = value
    try:
        size = v.size_band(get("size", ""), values.get("employees"))
        if size is not None:
            values["size"] = size
    except v.FieldProblem as exc:
        problems.append((exc.field, exc.reason))
    if values.get("potential", 0) < 0:
        problems.append(("potential", "cannot be negative"))
    if ("lat" in values) != ("lon" in values) and not any(f in ("lat", "lon") for f, _ in problems):
        problems.append(
            ("lat" if "lon" in values else "lon", "latitude and longitude must be given together")
        )
    for name, table, target in (
        ("owner", users, "owner_id"),
        ("territory", territories, "territory_id"),
    ):
        text = get(name, "").strip()
        if text:
            found = table.get(text.casefold())
            if found is None:
                what = "user" if name == "owner" else "territory"
                problems.append((name, f"{text!r} is not a {what} of this database"))
            else:
                values[target] = found
    return values, problems


def import_accounts(
    ctx: Any,
    path: str | Path,
    *,
    mapping: ColumnMapping | None = None,
    data: TableData | None = None,
    errors_path: str | Path | None = None,
    allow_duplicates: bool = False,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
    geocoder: OfflineGeocoder | None = None,
) -> ImportReport:
    """Import ``path`` into ``ctx``'s database. Raises ImportFileError when the file as a whole
    cannot be imported and ImportCancelled when ``cancelled()`` turned true (nothing written)."""
    started = time.perf_counter()
    data = data or read_table(path)
    name = data.path.name
    if not data.rows:
        raise ImportFileError(f"{name} has a header row but no data rows")
    mapping = mapping or guess_mapping(data.header, ACCOUNT_FIELDS)
    for spec in missing_required(mapping, ACCOUNT_FIELDS):
        raise ImportFileError(f"{name}: {missing_column_message(spec, data.header)}")
    report = ImportReport(
        str(data.path),
        data.kind,
        data.encoding,
        data.delimiter,
        mapping.describe(data.header),
        notes=list(data.notes),
    )
    conn = ctx.db.conn
    existing = _existing_keys(conn)
    in_file = _Keys()
    seen_rows: dict[tuple[str, ...], int] = {}
    users, territories = _lookups(conn)
    geocoder = geocoder or OfflineGeocoder()
    column_name = {
        f: data.header[i] if i < len(data.header) and data.header[i] else f
        for f, i in mapping.fields.items()
    }
    mapped_cols = {i: f for f, i in mapping.fields.items()}
    formulas: dict[int, list[tuple[int, str]]] = {}
    for (fline, col), formula in data.formula_cells.items():
        formulas.setdefault(fline, []).append((col, formula))
    good: list[dict[str, Any]] = []
    failed: list[tuple[int, list[str], list[RowError]]] = []
    total = len(data.rows)
    for index, (line, cells) in enumerate(data.rows):
        if index % 1000 == 0:
            if cancelled is not None and cancelled():
                raise ImportCancelled(f"import of {name} cancelled; nothing was imported")
            if progress is not None:
                progress(index, total, "checking")
        report.rows_read += 1
        values, problems = _convert(cells, mapping, users, territories)
        row_errors = [RowError(line, column_name.get(f, f), reason) for f, reason in problems]
        for col, formula in formulas.get(line, ()):
            if col in mapped_cols:
                row_errors.append(
                    RowError(
                        line,
                        column_name[mapped_cols[col]],
                        (
                            f"holds the formula {formula[:40]} with no saved result; open the file in"
                            " Excel, save it, and import again (or paste the values)"
                        ),
                    )
                )
        row_keys = _Keys.keys_of(values) if not row_errors else None
        if row_keys is not None:
            exact = tuple(c.strip() for c in cells)
            if exact in seen_rows:
                row_errors.append(RowError(line, "", f"repeats line {seen_rows[exact]} exactly"))
            else:
                seen_rows[exact] = line
                for keys, own in ((in_file, True), (existing, False)):
                    if own or not allow_duplicates:
                        hit = keys.match(row_keys)
                        if hit is not None:
                            column, why, holder = hit
                            row_errors.append(
                                RowError(
                                    line,
                                    column_name.get(column, column),
                                    f"possible duplicate of {holder} ({why}); not imported",
                                )
                            )
                            break
            if row_errors:
                report.duplicates += 1
        if row_errors:
            failed.append((line, cells, row_errors))
            report.errors.extend(row_errors)
            continue
        assert row_keys is not None
        in_file.add(row_keys, f"line {line}")
        if "lat" in values:
            values["geocode_quality"] = "manual"
            values["geocode_source"] = f"import:{name}"[:100]
            report.placed_by["file"] = report.placed_by.get("file", 0) + 1
        else:
            result = geocoder.geocode(Address.from_row(values))
            if result is None:
                report.unplaced.append(
                    {
                        "line": line,
                        "name": values["name"],
                        "address": Address.from_row(values).one_line(),
                    }
                )
            else:
                values.update(result.as_fields())
                report.placed_by[result.quality] = report.placed_by.get(result.quality, 0) + 1
        good.append(values)
    report.failed_rows = len(failed)
    if cancelled is not None and cancelled():
        raise ImportCancelled(f"import of {name} cancelled; nothing was imported")
    if good:
        report.ids = _write(ctx, good, progress, cancelled, name)
    report.imported = len(report.ids)
    if failed and errors_path is not None:
        write_errors_csv(errors_path, data.header, failed)
        report.errors_file = str(errors_path)
    report.seconds = round(time.perf_counter() - started, 3)
    if progress is not None:
        progress(total, total, "done")
    log.info("imported %d of %d rows from %s", report.imported, report.rows_read, name)
    return report


def _write(
    ctx: Any,
    rows: list[dict[str, Any]],
    progress: Progress | None,
    cancelled: Callable[[], bool] | None,
    name: str,
) -> list[str]:
    ids: list[str] = []
    with ctx.writer.transaction() as conn, deferred_search_index(conn):
        for start in range(0, len(rows), CHUNK):
            if cancelled is not None and cancelled():
                raise ImportCancelled(f"import of {name} cancelled; nothing was imported")
            if progress is not None:
                progress(start, len(rows), "saving")
            ids.extend(ctx.writer.insert_many("accounts", rows[start : start + CHUNK]))
    return ids


def write_errors_csv(
    path: str | Path, header: list[str], failed: list[tuple[int, list[str], list[RowError]]]
) -> None:
    """The failing rows as they were, after three columns saying what is wrong with them."""
    with Path(path).open("w", newline="", encoding="utf-8-sig") as fh:
        out = csv.writer(fh)
        out.writerow(["error_line", "error_column", "error_reason", *header])
        for line, cells, errors in failed:
            out.writerow(
                [
                    line,
                    "; ".join(dict.fromkeys(e.column for e in errors if e.column)),
                    "; ".join(e.reason for e in errors),
                    *cells,
                ]
            )
