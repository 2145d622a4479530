"""The duplicate check: exact keys through the index, a fuzzy company-name scan, distance as evidence.

Every match carries its reasons in words ("same phone +1 617-555-0142 as Acme Corp, contact Jane
Roe"; "name 93 % like 'Acme Corporation', 120 m away"). Exact phone and e-mail keys are *strong*:
they decide "already a customer" or "already referred" on their own. The same street address (one
building holds many firms), a shared company web domain and a similar name are *weak*: a possible
duplicate the rep may override with a reason. A
match with the referrer's own account or contacts marks a self-referral.

The fuzzy scan compares names normalised once (legal forms stripped, words sorted) with rapidfuzz's
``ratio``, which on sorted words is ``token_sort_ratio`` at ``ratio``'s cost.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz, process

from fieldrep.services.referrals.match_index import NameIndex
from fieldrep.services.referrals.model import OPEN_STAGES

FUZZY_MIN = 88  # percent; below this, names of different firms in one trade start to meet
FUZZY_LIMIT = 8
SHARED_DOMAIN = 5  # a web domain held by more rows than this is a shared one (a group, a host)
_NEAR_M = 500


@dataclass(frozen=True)
class Query:
    """The new referral's normalised details."""

    person: str = ""
    company_key: str = ""
    sorted_name: str = ""
    phone: str | None = None  # E.164
    phone_display: str = ""
    email: str | None = None
    email_domain: str | None = None
    address_key: str | None = None
    postal_code: str | None = None
    lat: float | None = None
    lon: float | None = None
    referrer_account_id: str | None = None
    referrer_contact_id: str | None = None
    exclude_referral_id: str | None = None


@dataclass
class Match:
    table: str  # accounts, contacts, referrals
    row_id: str
    label: str
    account_id: str | None = None  # the account (a contact's, or the account itself)
    reasons: list[str] = field(default_factory=list)
    strong: bool = False
    score: float = 0.0
    self_referral: bool = False
    info: dict[str, Any] = field(default_factory=dict)

    def explain(self) -> str:
        return f"{'; '.join(self.reasons)} as {self.label}"

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "id": self.row_id,
            "label": self.label,
            "account_id": self.account_id,
            "reasons": self.reasons,
            "strong": self.strong,
            "self_referral": self.self_referral,
            "explanation": self.explain(),
        }


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(a))


def _distance_words(metres: float) -> str:
    if metres < 1000:
        return f"{round(metres / 10) * 10:.0f} m away"
    return f"{metres / 1000:.1f} km away"


def _one(conn: sqlite3.Connection, sql: str, params: list[Any]) -> dict[str, Any] | None:
    cur = conn.execute(sql, params)
    row = cur.fetchone()
    return None if row is None else dict(zip([d[0] for d in cur.description], row, strict=True))


_ACCOUNT = (
    "SELECT a.id, a.name, a.status, a.postal_code, a.lat, a.lon, a.owner_id, a.territory_id,"
    " coalesce(nullif(u.display_name, ''), u.username) AS owner_name FROM accounts a"
    " LEFT JOIN users u ON u.id = a.owner_id WHERE a.id = ?"
)
_CONTACT = (
    "SELECT c.id, trim(c.first_name || ' ' || c.last_name) AS person, c.account_id,"
    " a.name AS account_name, a.status FROM contacts c LEFT JOIN accounts a ON a.id = c.account_id"
    " WHERE c.id = ?"
)
_REFERRAL = (
    "SELECT r.id, r.referred_name, r.referred_company, r.referred_postal_code, r.stage,"
    " r.duplicate_of_id, r.created_at, r.owner_id, r.territory_id, r.referrer_account_id,"
    " r.captured_by_id, r.flags, a.name AS referrer_name,"
    " coalesce(nullif(u.display_name, ''), u.username) AS captured_by_name FROM referrals r"
    " LEFT JOIN accounts a ON a.id = r.referrer_account_id LEFT JOIN users u ON u.id ="
    " r.captured_by_id WHERE r.id = ?"
)


class DuplicateChecker:
    """Checks one new referral against accounts, contacts and open referrals."""

    def __init__(self, conn: sqlite3.Connection, names: NameIndex) -> None:
        self.conn, self.names = conn, names
        self._contacts_of_referrer: set[str] = set()

    def check(self, q: Query) -> list[Match]:
        found: dict[tuple[str, str], Match] = {}
        self._contacts_of_referrer = (
            {
                r[0]
                for r in self.conn.execute(
                    "SELECT id FROM contacts WHERE account_id = ?", (q.referrer_account_id,)
                )
            }
            if q.referrer_account_id
            else set()
        )
        keys: list[tuple[str, str, bool]] = []  # key, words, strong
        if q.phone:
            keys.append(("p:" + q.phone, f"same phone {q.phone_display or q.phone}", True))
        if q.email:
            keys.append(("e:" + q.email, f"same e-mail {q.email}", True))
        if q.address_key:
            # weak: one building holds many firms (suites are not part of the key)
            keys.append(("a:" + q.address_key, "same address", False))
        if q.email_domain:
            holders = self.conn.execute(
                "SELECT count(*) FROM (SELECT 1 FROM match_keys WHERE key = ? LIMIT ?)",
                ("d:" + q.email_domain, SHARED_DOMAIN + 1),
            ).fetchone()[0]
            if holders <= SHARED_DOMAIN:
                keys.append(("d:" + q.email_domain, f"same web domain {q.email_domain}", False))
        for key, words, strong in keys:
            for tbl, row_id in self.conn.execute(
                "SELECT tbl, row_id FROM match_keys WHERE key = ?", (key,)
            ):
                match = self._match(found, tbl, row_id, q)
                if match is not None:
                    # A later capture folds into its first: its keys must not say it twice.
                    if words not in match.reasons:
                        match.reasons.append(words)
                    match.strong = match.strong or strong
                    match.score = max(match.score, 100.0 if strong else 80.0)
        if q.sorted_name and len(q.sorted_name) >= 3:
            for _, score, at in process.extract(
                q.sorted_name,
                self.names.names,
                scorer=fuzz.ratio,
                processor=None,
                score_cutoff=FUZZY_MIN,
                limit=FUZZY_LIMIT,
            ):
                tbl, row_id = self.names.rows[at]
                match = self._match(found, tbl, row_id, q)
                if match is None:
                    continue
                shown = match.info.get("name") or match.label
                words = f"name {score:.0f} % like {shown!r}"
                near = self._nearness(match, q)
                if not any(r.startswith("name ") for r in match.reasons):
                    match.reasons.append(f"{words}, {near}" if near else words)
                match.score = max(match.score, float(score))
        matches = [m for m in found.values() if m.reasons]
        matches.sort(key=lambda m: (not m.self_referral, not m.strong, -m.score, m.label))
        return matches

    def _nearness(self, match: Match, q: Query) -> str:
        lat, lon = match.info.get("lat"), match.info.get("lon")
        if lat is not None and lon is not None and q.lat is not None and q.lon is not None:
            metres = _metres(q.lat, q.lon, float(lat), float(lon))
            if metres <= 50_000:
                return _distance_words(metres)
        postal = match.info.get("postal_code")
        if postal and q.postal_code and postal == q.postal_code:
            return f"same ZIP {postal}"
        return ""

    def _match(
        self, found: dict[tuple[str, str], Match], tbl: str, row_id: str, q: Query
    ) -> Match | None:
        key = (tbl, row_id)
        if key in found:
            return found[key]
        match: Match | None = None
        if tbl == "accounts":
            row = _one(self.conn, _ACCOUNT, [row_id])
            if row is not None:
                status = "customer" if row["status"] == "active" else str(row["status"])
                owner = f", owned by {row['owner_name']}" if row["owner_name"] else ""
                match = Match(tbl, row_id, f"{row['name']} ({status}{owner})", row_id, info=row)
                match.info["name"] = row["name"]
                match.self_referral = row_id == q.referrer_account_id
        elif tbl == "contacts":
            row = _one(self.conn, _CONTACT, [row_id])
            if row is not None:
                label = f"{row['account_name'] or 'no account'}, contact {row['person']}"
                match = Match(tbl, row_id, label, row["account_id"], info=row)
                match.self_referral = (
                    row_id == q.referrer_contact_id or row_id in self._contacts_of_referrer
                )
        else:
            row = _one(self.conn, _REFERRAL, [row_id])
            if (
                row is not None
                and row_id != q.exclude_referral_id
                and row["stage"] in OPEN_STAGES
                and "already_customer" not in (row["flags"] or "")
            ):
                first = row
                if row["duplicate_of_id"]:  # the first capture keeps attribution
                    first = _one(self.conn, _REFERRAL, [row["duplicate_of_id"]]) or row
                if first["id"] == q.exclude_referral_id:
                    return None
                key = ("referrals", str(first["id"]))
                if key in found:
                    return found[key]
                by = first["referrer_name"] or "an unknown referrer"
                label = (
                    f"the referral of {first['referred_name']}"
                    + (f" ({first['referred_company']})" if first["referred_company"] else "")
                    + f" by {by} on {str(first['created_at'])[:10]}"
                )
                match = Match(tbl, str(first["id"]), label, info=first)
                match.info["name"] = first["referred_company"] or first["referred_name"]
                match.info["postal_code"] = first["referred_postal_code"]
        if match is not None:
            found[key] = match
        return match
