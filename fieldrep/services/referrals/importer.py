"""Referrals collected on paper or at an event, from a CSV or XLSX file, row by row through the same
automation as a capture (normalise, duplicate check, routing, SLA), in one transaction.

Columns are matched by name and common synonyms: referrer account, referred name, company, phone,
email, address, city, state, ZIP, notes, captured by, date (and optionally country, consent,
override reason). A referrer account is found by its name, then by its name without legal form; an
unknown one is reported with the closest account name as a suggestion. A row that fails (bad phone,
unknown referrer or rep, possible duplicate without an override reason) goes to the errors file with
its line, column and reason; the good ones are imported. Consent: rows are taken as collected with
consent (a paper form asks for it) unless a consent column says no.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from fieldrep.services.context import Context
from fieldrep.services.referrals import normalise as norm
from fieldrep.services.referrals.capture import CaptureRefused, Draft, ReferralService
from fieldrep.services.referrals.model import Outcome
from fieldrep.services.territories.lead_routing import Routers

Progress = Callable[[int, int, str], None]
SHOWN = 1000
COLUMNS: dict[str, tuple[str, ...]] = {
    "referrer": ("referrer account", "referrer", "referred by", "account", "customer", "partner"),
    "name": ("referred name", "name", "contact", "full name", "person", "referral name"),
    "company": ("company", "referred company", "business", "organisation", "organization"),
    "phone": ("phone", "telephone", "tel", "mobile", "cell", "phone number"),
    "email": ("email", "e-mail", "email address", "mail"),
    "street": ("address", "street", "street address", "address line 1"),
    "city": ("city", "town"),
    "region": ("state", "region", "province", "county"),
    "postal_code": ("zip", "zip code", "postal code", "postcode", "zipcode"),
    "country": ("country",),
    "notes": ("notes", "note", "comments", "comment"),
    "captured_by": ("captured by", "rep", "sales rep", "collected by", "owner"),
    "date": ("date", "captured on", "captured at", "referral date", "when"),
    "consent": ("consent", "agreed to contact", "may contact"),
    "override": ("override reason", "override", "duplicate reason"),
}
_NO = frozenset(("no", "n", "false", "0", "non", "nein"))


def _key(text: str) -> str:
    return " ".join(text.replace("_", " ").replace("-", " ").lower().split())


def map_columns(header: list[str]) -> dict[str, int]:
    wanted = {_key(s): what for what, synonyms in COLUMNS.items() for s in synonyms}
    wanted.update({"e mail": "email"})
    out: dict[str, int] = {}
    for index, name in enumerate(header):
        what = wanted.get(_key(name))
        if what and what not in out:
            out[what] = index
    return out


@dataclass
class RowError:
    line: int
    column: str
    reason: str
    cells: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    file: str
    rows_read: int = 0
    imported: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    results: list[dict[str, Any]] = field(default_factory=list)  # the first SHOWN rows
    errors: list[RowError] = field(default_factory=list)
    errors_total: int = 0
    errors_file: str | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "rows_read": self.rows_read,
            "imported": self.imported,
            "outcomes": dict(self.outcomes),
            "errors_total": self.errors_total,
            "errors_file": self.errors_file,
            "rows": self.results,
            "errors": [e.__dict__ for e in self.errors[:SHOWN]],
        }


def _parse_date(text: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%m/%d/%Y", "%d.%m.%Y"):
        try:
            return datetime.strptime(text[:19], fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not a date (use YYYY-MM-DD)")


class _Referrers:
    """Referrer accounts by name: exact, then without legal form, else a suggestion."""

    def __init__(self, ctx: Context) -> None:
        self.by_name: dict[str, str] = {}
        self.by_key: dict[str, str] = {}
        self.names: list[str] = []
        self.keys: list[str] = []
        for row_id, name in ctx.conn.execute("SELECT id, name FROM accounts ORDER BY created_at"):
            self.by_name.setdefault(name.casefold(), row_id)
            self.by_key.setdefault(norm.company_key(name), row_id)
            self.names.append(name)
            self.keys.append(norm.company_key(name))

    def find(self, text: str) -> str:
        hit = self.by_name.get(text.casefold()) or self.by_key.get(norm.company_key(text))
        if hit:
            return hit
        best = process.extractOne(
            norm.company_key(text), self.keys, scorer=fuzz.ratio, processor=None, score_cutoff=80
        )
        hint = f"; did you mean {self.names[best[2]]!r}?" if best else ""
        raise LookupError(f"no account is called {text!r}{hint}")


def _users(ctx: Context) -> dict[str, str]:
    out: dict[str, str] = {}
    for row_id, username, display in ctx.conn.execute(
        "SELECT id, username, display_name FROM users WHERE active = 1"
    ):
        out[username.casefold()] = row_id
        if display:
            out.setdefault(display.casefold(), row_id)
    return out


def import_referrals(
    ctx: Context,
    path: str | Path,
    *,
    errors_path: str | Path | None = None,
    progress: Progress | None = None,
    service: ReferralService | None = None,
) -> ImportReport:
    from fieldrep.services.imports.readers import read_table

    path = Path(path)
    data = read_table(path, scan=False)
    cols = map_columns(data.header)
    if "name" not in cols and "company" not in cols:
        from fieldrep.services.imports.readers import ImportFileError

        raise ImportFileError(
            f"{data.source} has no column for the referred name or company (found: "
            f"{', '.join(h for h in data.header if h) or 'no column names'})"
        )
    service = service or ReferralService(ctx)
    service.routers = Routers(ctx)  # one router per territory for the whole file: fair spread
    referrers, users = _Referrers(ctx), _users(ctx)
    report = ImportReport(str(path))
    total = len(data.rows) if progress else 0

    def cell(cells: list[str], what: str) -> str:
        at = cols.get(what)
        return cells[at].strip() if at is not None and at < len(cells) else ""

    with ctx.writer.transaction():
        for n, (line, cells) in enumerate(data.rows):
            report.rows_read += 1
            if progress and n % 200 == 0:
                progress(n, total, "Importing referrals")
            if not any(c.strip() for c in cells):
                report.rows_read -= 1
                continue
            try:
                referrer = cell(cells, "referrer")
                try:
                    referrer_id = referrers.find(referrer) if referrer else None
                except LookupError as exc:
                    raise CaptureRefused(str(exc), "referrer", referrer) from None
                rep = cell(cells, "captured_by")
                rep_id = users.get(rep.casefold()) if rep else None
                if rep and rep_id is None:
                    raise CaptureRefused(f"no active user is called {rep!r}", "captured_by", rep)
                try:
                    when = _parse_date(cell(cells, "date"))
                except ValueError as exc:
                    raise CaptureRefused(str(exc), "date") from None
                result = service.capture(
                    Draft(
                        referred_name=cell(cells, "name"),
                        referred_company=cell(cells, "company"),
                        phone=cell(cells, "phone"),
                        email=cell(cells, "email"),
                        street=cell(cells, "street"),
                        city=cell(cells, "city"),
                        region=cell(cells, "region"),
                        postal_code=cell(cells, "postal_code"),
                        country=cell(cells, "country"),
                        notes=cell(cells, "notes"),
                        consent=cell(cells, "consent").casefold() not in _NO,
                        referrer_account_id=referrer_id,
                        channel="event" if referrer_id is None else "other",
                        captured_by_id=rep_id,
                        captured_at=when,
                        override_reason=cell(cells, "override"),
                    )
                )
            except CaptureRefused as exc:
                _fail(report, RowError(line, exc.field, str(exc), cells))
                continue
            if result.outcome is Outcome.POSSIBLE_DUPLICATE:
                reason = result.message.replace(
                    "Save it anyway with a reason, or cancel.",
                    "To import it anyway, say why in an 'Override reason' column.",
                )
                _fail(report, RowError(line, "company", reason, cells))
                continue
            report.imported += 1
            report.outcomes[result.outcome.value] += 1
            if len(report.results) < SHOWN:
                report.results.append(
                    {
                        "line": line,
                        "outcome": result.outcome.value,
                        "referral_id": result.referral_id,
                        "message": result.message,
                        "duplicates": [m.explain() for m in result.matches],
                        "routed_to": result.route.owner_name if result.route else None,
                        "territory": result.route.territory_name if result.route else None,
                    }
                )
    if report.errors_total:
        target = Path(errors_path) if errors_path else path.with_name(f"{path.stem}.errors.csv")
        with target.open("w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(["line", "column", "reason", *data.header])
            for error in report.errors:
                out.writerow([error.line, error.column, error.reason, *error.cells])
        report.errors_file = str(target)
    return report


def _fail(report: ImportReport, error: RowError) -> None:
    report.errors_total += 1
    report.errors.append(error)
