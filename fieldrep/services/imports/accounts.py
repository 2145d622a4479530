"""Importing accounts from CSV or XLSX: validate every row, place it offline, write the good rows at once.

Rows that fail are not imported; each problem is reported with the file's line, the column and the
reason, and the failing rows go to an errors CSV (their original cells plus the reasons) that the
user can fix and import again. Possible duplicates, of an account already in the database (same name
and postal code, same phone, same website domain) or of an earlier row of the same file, are not
created twice, so importing the same file again changes nothing. The good rows are written in ONE
transaction: a cancel, a crash or a full disk imports nothing.

The order of the steps is the shared pipeline's (:mod:`fieldrep.services.imports.pipeline`); this
module holds what is the accounts' own: the row converter (:class:`_Converter`), the rows of our
own export come back, the three duplicate keys, placing, assigning and the writer.

Kept whole: the converter and the accounts' steps of the pipeline share the lookups, the placement
cache and the open transaction, and read as one account import.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from fieldrep.geo.geocoding import Address, OfflineGeocoder
from fieldrep.geo.placing import Placement, place_row
from fieldrep.services.accounts import keys as account_keys
from fieldrep.services.accounts.keys import keys_from
from fieldrep.services.context import Context
from fieldrep.services.imports import validation as v
from fieldrep.services.imports.duplicates import DuplicateIndex, digest_of, hashes_of
from fieldrep.services.imports.errors import RowError, write_errors_csv
from fieldrep.services.imports.mapping import ACCOUNT_FIELDS, ColumnMapping
from fieldrep.services.imports.own_export import accounts_by_id, update_from_row
from fieldrep.services.imports.passes import ImportCancelled, ImportReport, Progress
from fieldrep.services.imports.pipeline import Kind, Row, Steps, run_import
from fieldrep.services.imports.readers import TableData, formula_problem
from fieldrep.services.territories.assign_on_create import BulkAssigner
from fieldrep.services.territories.assignment import kept_as_yours_line
from fieldrep.store.accounts_repository import deferred_indexes

log = logging.getLogger(__name__)

# Above this many rows (guessed from the file's size) and half the accounts already there, the
# accounts' indexes are dropped for the import and built again at its end: much cheaper than
# 100,000 random inserts into each.
BULK_INDEX_ROWS = 20_000
BYTES_PER_ROW_GUESS = 100
# Above this many rows (guessed likewise) the whole gazetteer is read before the first row.
FEW_PLACES = 1000


def _lookups(conn: Any) -> tuple[dict[str, str], dict[str, str], frozenset[str]]:
    users: dict[str, str] = {}
    for uid, username, display, email in conn.execute(
        "SELECT id, username, display_name, email FROM users"
    ):
        for key in (username, display, email):
            if key:
                users.setdefault(key.casefold(), uid)
    territories: dict[str, str] = {}
    groups: set[str] = set()
    for tid, name, kind in conn.execute(
        "SELECT id, name, kind FROM territories WHERE archived = 0"
    ):
        territories[name.casefold()] = tid
        if kind == "region":
            groups.add(tid)
    return users, territories, frozenset(groups)


_TEXT_FIELDS = ("name", "industry", "street", "city", "region", "notes")
# Columns with few distinct values in a real file (a city, a status, a ZIP code): their parsed
# value is remembered, up to MEMO_LIMIT distinct cells each, so 100,000 rows parse each only once.
_MEMO_TEXT = frozenset(("industry", "city", "region"))
MEMO_LIMIT = 50_000
_PLAIN_FIELDS: tuple[tuple[str, Callable[[str], Any], bool], ...] = (
    ("employees", v.parse_employees, True),
    ("potential", lambda raw: v.parse_number("potential", raw), False),
    ("status", v.parse_status, True),
    # these two return (text, duplicate key): see _Converter.convert
    ("phone", v.parse_phone_and_digits, False),
    ("email", v.parse_email, False),
    ("website", v.parse_website_and_domain, False),
    ("lat", lambda raw: v.parse_coordinate("lat", raw), False),
    ("lon", lambda raw: v.parse_coordinate("lon", raw), False),
)
_DECIMAL_COMMA_FIELDS: tuple[tuple[str, Callable[[str], Any], bool], ...] = (
    ("employees", lambda raw: v.parse_employees(raw, decimal_comma=True), True),
    ("potential", lambda raw: v.parse_number("potential", raw, decimal_comma=True), False),
    *[f for f in _PLAIN_FIELDS if f[0] in ("status", "phone", "email", "website")],
    ("lat", lambda raw: v.parse_coordinate("lat", raw, decimal_comma=True), False),
    ("lon", lambda raw: v.parse_coordinate("lon", raw, decimal_comma=True), False),
)
_NUMBER_FIELDS = ("employees", "potential", "lat", "lon")
_MISS = object()
# Only a problem with these rejects a row: an account needs a name, and coordinates the file gives
# must be usable. Any other bad cell is dropped from its row with a warning; the row imports.
REJECTING = frozenset(("name", "lat", "lon"))
NULL_WORDS = frozenset(("null", "(null)", "n/a", "#n/a"))


class _Converter:
    """One row's cells -> account fields, and the (field, reason) problems found.

    Built once per import; straight-line code on purpose, it runs once per imported row (100,000
    times for a big book). Every parse is a pure function of its cell, so remembering the result
    of a low-cardinality column changes nothing but the time.
    """

    def __init__(
        self,
        mapping: ColumnMapping,
        users: dict[str, str],
        territories: dict[str, str],
        region_groups: frozenset[str] = frozenset(),
        gazetteer: Any = None,
        decimal_comma: bool = False,
    ) -> None:
        self.columns = list(mapping.fields.items())
        mapped = set(mapping.fields)
        self.text_fields = [f for f in _TEXT_FIELDS if f in mapped]
        # an unmapped column parses as "": status and country still get their defaults
        fields = _DECIMAL_COMMA_FIELDS if decimal_comma else _PLAIN_FIELDS
        self.plain_fields = [
            (f, parse, memo) for f, parse, memo in fields if f in mapped or f == "status"
        ]
        self.users = users
        self.territories = territories
        self.region_groups = region_groups
        self.gazetteer = gazetteer
        self.decimal_comma = decimal_comma
        self.places: dict[tuple[Any, ...], Placement] = {}
        # (field, name) -> rows: owners and territories the file names that this database lacks
        self.unknown: Counter[tuple[str, str]] = Counter()
        self.memo: dict[str, dict[Any, Any]] = defaultdict(dict)

    @staticmethod
    def _parse_and_keep(
        cache: dict[Any, Any], key: Any, parse: Callable[..., Any], *args: Any
    ) -> Any:
        found = parse(*args)  # a FieldProblem is raised every time, never remembered
        if len(cache) < MEMO_LIMIT:
            cache[key] = found
        return found

    def convert(self, cells: list[str]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """(values, problems): a problem on a required field (the name, the coordinates) rejects
        the row; any other is a warning, its value dropped (see :data:`REJECTING`)."""
        width = len(cells)
        raw = {f: (cells[i] if i < width else "") for f, i in self.columns}
        for f, text in raw.items():
            if text and text.strip().casefold() in NULL_WORDS:
                raw[f] = ""  # a literal NULL (a database dump) is an empty cell
        get = raw.get
        memo, keep = self.memo, self._parse_and_keep
        values: dict[str, Any] = {}
        problems: list[tuple[str, str]] = []
        for name in self.text_fields:
            text = raw[name]
            if text:
                try:
                    if name in _MEMO_TEXT:
                        cache = memo[name]
                        cleaned = cache.get(text, _MISS)
                        if cleaned is _MISS:
                            cleaned = keep(cache, text, v.clean_text, name, text)
                    else:
                        cleaned = v.clean_text(name, text)
                except v.FieldProblem as exc:
                    problems.append((exc.field, exc.reason))
                    continue
                if cleaned is not None:
                    values[name] = cleaned
        if "name" not in values and not any(f == "name" for f, _ in problems):
            problems.append(("name", "is empty; every account needs a name"))
        country: str | None = None
        country_text = get("country", "")
        if country_text.strip():
            cache = memo["country"]
            found = cache.get(country_text, _MISS)
            if found is _MISS:
                try:
                    found = keep(cache, country_text, v.parse_country, country_text)
                except v.FieldProblem as exc:
                    found = exc
                    cache[country_text] = exc
            if isinstance(found, v.FieldProblem):
                problems.append((found.field, found.reason))
            else:
                country = found
        postal_text = " ".join(get("postal_code", "").split())
        for name, parse, memoise in self.plain_fields:
            text = get(name, "")
            try:
                if memoise:
                    cache = memo[name]
                    value = cache.get(text, _MISS)
                    if value is _MISS:
                        value = keep(cache, text, parse, text)
                else:
                    value = parse(text)
            except v.KeptWithWarning as exc:
                problems.append((exc.field, exc.reason))
                value = exc.value
            except v.FieldProblem as exc:
                problems.append((exc.field, exc.reason))
                continue
            if value is not None:
                values[name] = value
        # The phone's digits and the website's domain that validation read are two of the row's
        # duplicate keys: kept for them (``_key_parts``), not read again.
        digits = site = ""
        phone = values.get("phone")
        if phone.__class__ is tuple:
            values["phone"], digits = phone
        elif phone is not None:  # kept with a warning, its digits not read
            digits = v.phone_digits(phone)
        if "website" in values:
            values["website"], site = values["website"]
        values["_key_parts"] = (digits, site)
        try:
            size_text, employees = get("size", ""), values.get("employees")
            cache = memo["size"]
            size = cache.get((size_text, employees), _MISS)
            if size is _MISS:
                size = keep(cache, (size_text, employees), v.size_band, size_text, employees)
            if size is not None:
                values["size"] = size
        except v.FieldProblem as exc:
            problems.append((exc.field, exc.reason))
        if values.get("potential", 0) < 0:
            problems.append(("potential", "cannot be negative"))
            values.pop("potential")
        if ("lat" in values) != ("lon" in values) and not any(
            f in ("lat", "lon") for f, _ in problems
        ):
            problems.append(
                (
                    "lat" if "lon" in values else "lon",
                    "latitude and longitude must be given together",
                )
            )
        if values.get("lat") == 0 and values.get("lon") == 0:
            problems.append(("lat", "latitude and longitude 0, 0 is no place (Null Island)"))
        self._place(values, country, postal_text, problems)
        for name in ("external_id", "fieldrep_id"):
            text = get(name, "").strip()
            if text:
                values["_" + name] = text[:200]
        for name, table in (("owner", self.users), ("territory", self.territories)):
            text = " ".join(get(name, "").split())
            if text:
                found = table.get(text.casefold())
                if found is None:
                    self.unknown[(name, text)] += 1
                elif name == "territory" and found in self.region_groups:
                    self.unknown[("region group", text)] += 1
                else:
                    values["owner_id" if name == "owner" else "territory_id"] = found
        return values, problems

    def _place(
        self,
        values: dict[str, Any],
        country: str | None,
        postal_text: str,
        problems: list[tuple[str, str]],
    ) -> None:
        """Country, region code, postal code and (unless the file gave coordinates) the place."""
        get = values.get
        key = (postal_text, get("city"), get("region"), country)
        found = self.places.get(key)
        if found is None:
            found = place_row(
                self.gazetteer,
                city=get("city"),
                region=get("region"),
                postal_code=postal_text or None,
                country=country,
            )
            if len(self.places) < MEMO_LIMIT:
                self.places[key] = found
        values["country"] = found.country
        if found.region is not None:
            values["region"] = found.region
        if found.postal_code is not None:
            if len(found.postal_code) > v.TEXT_LIMITS["postal_code"]:
                problems.append(("postal_code", f"{postal_text!r} is too long for a postal code"))
            else:
                values["postal_code"] = found.postal_code
        problems.extend(found.warnings)
        values["_placement"] = found


class _AccountSteps(Steps):
    """The accounts' parts of the pipeline: the converter, the rows of our own export come back,
    the three duplicate keys, placing, assigning on save, and the writer that files each new
    account's keys itself."""

    def __init__(
        self,
        ctx: Context,
        data: TableData,
        mapping: ColumnMapping,
        report: ImportReport,
        allow_duplicates: bool,
        geocoder: OfflineGeocoder,
    ) -> None:
        self.ctx = ctx
        self.report = report
        self.source = data.path.name
        conn = self.conn = ctx.db.conn
        if data.path.stat().st_size // BYTES_PER_ROW_GUESS > FEW_PLACES:
            geocoder.load()  # else a small file's codes are looked up one by one (geo.gazetteer)
        self.dupes = DuplicateIndex(conn, existing=not allow_duplicates)
        number_columns = [mapping.fields[f] for f in _NUMBER_FIELDS if f in mapping.fields]
        # A workbook's numbers are numbers; only a text file writes them with a decimal mark.
        decimal_comma = data.kind == "csv" and v.decimal_comma_file(
            cells[i] for _, cells in data.rows.head() for i in number_columns if i < len(cells)
        )
        self.converter = _Converter(
            mapping,
            *_lookups(conn),
            gazetteer=geocoder.gazetteer,
            decimal_comma=decimal_comma,
        )
        if decimal_comma:
            report.notes.append("numbers read with the comma as decimal mark (1.234,5 = 1234.5)")
        self.convert = self.converter.convert
        self.assigner = BulkAssigner(ctx)
        self.history: list[dict[str, Any]] = []
        self.column_name = {
            f: data.header[i] if i < len(data.header) and data.header[i] else f
            for f, i in mapping.fields.items()
        }
        self.mapped_cols = {i: f for f, i in mapping.fields.items()}
        self.ours: dict[str, dict[str, Any]] = {}

    def rows_pass(self) -> AbstractContextManager[None]:
        # the new rows' keys are filed as they are written (account_keys.file_keys), not queued
        return account_keys.deferred(self.conn)

    def validate(self, line: int, cells: list[str], formulas: tuple[tuple[int, str], ...]) -> Row:
        column_name = self.column_name
        values, problems = self.convert(cells)
        # A formula with no saved result is the one thing wrong with its cell (whose text is
        # empty): said once, not also as "is empty".
        unsaved = {
            self.mapped_cols[col]: formula for col, formula in formulas if col in self.mapped_cols
        }
        if not any(f in REJECTING for f, _ in problems) and not any(
            f in REJECTING for f in unsaved
        ):
            # only optional cells are bad: they are dropped, the row imports with a warning
            warned = [
                RowError(line, column_name.get(f, f), why)
                for f, why in problems
                if f not in unsaved
            ] + [
                RowError(line, column_name[f], formula_problem(formula))
                for f, formula in unsaved.items()
            ]
            return Row(line, cells, values, [], warned)
        row_errors = [
            RowError(line, column_name.get(f, f), reason)
            for f, reason in problems
            if f not in unsaved
        ]
        row_errors += [
            RowError(line, column_name[f], formula_problem(formula))
            for f, formula in unsaved.items()
        ]
        return Row(line, cells, values, row_errors)

    def link(self, block: list[Row]) -> None:
        """The accounts the block's rows of our own export name (a "FieldRep id" column)."""
        named = {row.values["_fieldrep_id"] for row in block if "_fieldrep_id" in row.values}
        self.ours = accounts_by_id(self.conn, named) if named else {}

    def settled(self, row: Row) -> bool:
        current = self.ours.get(row.values.get("_fieldrep_id", ""))
        if current is None:
            return False
        # our own export come back: the row updates the account its id names
        row.values.pop("_fieldrep_id")
        update_from_row(self.ctx, current, row.values, self.report)
        return True

    def start_dedupe(self, block: list[Row]) -> None:
        ours = self.ours
        candidates = []
        for row in block:
            values = row.values
            if not row.errors and values.get("_fieldrep_id") not in ours:
                keys = keys_from(values["name"], values.get("postal_code"), *values["_key_parts"])
                row.keys = (keys, hashes_of(keys), digest_of(row.cells))
                candidates.append(row.keys)
        self.dupes.start_block(candidates)

    def duplicate(self, row: Row) -> RowError | None:
        keys, hashes, digest = row.keys
        first = self.dupes.repeated(digest, row.line)
        if first is not None:
            return RowError(row.line, "", f"repeats line {first} exactly")
        hit = self.dupes.match(keys, hashes)
        if hit is not None:
            column, why, holder = hit
            return RowError(
                row.line,
                self.column_name.get(column, column),
                f"possible duplicate of {holder} ({why}); not imported",
            )
        self.dupes.add(hashes, row.line, keys)
        return None

    def end_dedupe(self) -> None:
        self.dupes.end_block()

    def place(self, good: list[Row]) -> None:
        for row in good:
            _place(row.values, self.report, row.line, self.source)

    def assign(self, good: list[Row], ids: list[str]) -> None:
        # Assigned on save like any new account: territory, owner and the history of why.
        self.history = self.assigner.assign([row.values for row in good], ids)

    def write(self, good: list[Row], ids: list[str]) -> int:
        conn, report = self.conn, self.report
        accounts = [row.values for row in good]
        before = conn.execute("SELECT coalesce(max(rowid), 0) FROM accounts").fetchone()[0]
        external = [
            (values.pop("_external_id", None), i) for values, i in zip(accounts, ids, strict=True)
        ]
        for values in accounts:
            values.pop("_fieldrep_id", None)
            values.pop("_key_parts")
        written = len(self.ctx.writer.insert_many("accounts", accounts, row_ids=ids))
        account_keys.file_external_ids(conn, [(e, i) for e, i in external if e])
        account_keys.file_keys(
            conn, zip(_rowids(conn, ids, before), [row.keys[0] for row in good], strict=True)
        )
        report.assigned += sum(1 for values in accounts if values.get("territory_id"))
        if self.history:
            self.ctx.writer.insert_many("assignment_history", self.history)
        return written

    def finish(self) -> None:
        dupes, report = self.dupes, self.report
        dupes.close()
        for kind, count in sorted(dupes.weak.items()):
            report.notes.append(
                f"{count:,} row{'' if count == 1 else 's'} share a {kind} with an earlier row or"
                f" an account of another name and postal code: imported as separate businesses"
                f" (a {kind} shared by a chain, a switchboard or a directory is not identity)"
            )
        report.notes.extend(_unknown_names_notes(self.converter.unknown))
        if self.assigner.kept_as_yours:
            report.notes.append(kept_as_yours_line(self.assigner.kept_as_yours))


def _bulk_indexes(conn: Any, data: TableData) -> AbstractContextManager[None]:
    """Build the accounts' indexes once at the end when the file is big next to the table."""
    rows_guess = data.path.stat().st_size // BYTES_PER_ROW_GUESS
    existing = conn.execute("SELECT count(*) FROM accounts").fetchone()[0]
    if rows_guess >= BULK_INDEX_ROWS and rows_guess * 2 >= existing:
        return deferred_indexes(conn, "accounts")
    return nullcontext()


def import_accounts(
    ctx: Context,
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
    cannot be imported and ImportCancelled when ``cancelled()`` turned true (nothing written).

    One pass over the rows, streamed from the file: each block of good rows is written as soon as
    it is checked, all inside ONE transaction that commits only at the end, so memory stays bounded
    for a file of any size and a cancel, a crash or a bad file imports nothing.
    """
    kind = Kind(
        table="accounts",
        fields=ACCOUNT_FIELDS,
        start=lambda ctx, data, mapping, report: _AccountSteps(
            ctx, data, mapping, report, allow_duplicates, geocoder or OfflineGeocoder()
        ),
        bulk=_bulk_indexes,
    )
    return run_import(
        ctx,
        kind,
        path,
        mapping=mapping,
        data=data,
        errors_path=errors_path,
        progress=progress,
        cancelled=cancelled,
    )


def _rowids(conn: Any, ids: list[str], before: int) -> list[int]:
    """The rowids of the accounts ``ids`` just inserted, the max rowid being ``before``."""
    # New rows take rowids above the largest, read in one range; only a table whose largest
    # rowid is 2**63-1 gets random ones, looked up by id.
    rowid_of = dict(conn.execute("SELECT id, rowid FROM accounts WHERE rowid > ?", (before,)))
    if len(rowid_of) != len(ids) or not all(i in rowid_of for i in ids):
        rowid_of = dict(
            conn.execute(
                "SELECT id, rowid FROM accounts WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps(ids),),
            )
        )
    return [rowid_of[i] for i in ids]


def _place(
    values: dict[str, Any],
    report: ImportReport,
    line: int,
    name: str,
) -> None:
    placement: Placement = values.pop("_placement")
    if "lat" in values:
        values["geocode_quality"] = "manual"
        values["geocode_source"] = f"import:{name}"[:100]
        report.placed_by["file"] = report.placed_by.get("file", 0) + 1
        return
    if placement.lat is None:
        address = Address.from_row(values).one_line()
        why = f" - {placement.unplaced_reason}" if placement.unplaced_reason else ""
        report.add_unplaced(line, values["name"], address + why)
    else:
        values.update(placement.as_fields())
        quality = placement.quality or "city"
        report.placed_by[quality] = report.placed_by.get(quality, 0) + 1


def _unknown_names_notes(unknown: Counter[tuple[str, str]]) -> list[str]:
    """One line per owner or territory name of the source that this database does not have."""
    notes = []
    for (what, text), rows in sorted(unknown.items()):
        accounts = f"{rows:,} account{'' if rows == 1 else 's'}"
        if what == "owner":
            notes.append(
                f"owner {text!r} is not a user here: {accounts} imported without that owner"
                " (assigned by the territory rules)"
            )
        elif what == "territory":
            notes.append(
                f"territory {text!r} does not exist here: {accounts} assigned by the"
                " territory rules instead"
            )
        else:
            notes.append(
                f"{text!r} is a region (a group of territories), which holds no accounts:"
                f" {accounts} assigned by the territory rules instead"
            )
    return notes


__all__ = ["ImportCancelled", "ImportReport", "RowError", "import_accounts", "write_errors_csv"]
