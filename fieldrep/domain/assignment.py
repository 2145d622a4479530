"""The assignment engine: which territory an account belongs to, and why.

Order of strength (``DESIGN.md``, "Territories and routing"): a polygon containing the account's
coordinates beats a listed postal code, which beats a listed region, which beats an attribute rule.
Among territories matched the same way, the lower ``priority`` number wins, then the name.

Two paths give the same answer: :meth:`AssignmentEngine.explain` for one account (lists every match,
for the "why" panel) and :meth:`AssignmentEngine.assign_table` for many (numpy columns, one shapely
STRtree query for all points; only the accounts no polygon took fall through to dictionary lookups
and rules), which is what ``fieldrep assign`` uses on 100,000 accounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.strtree import STRtree

from fieldrep.domain import regions as regions_iso
from fieldrep.domain.territory_rules import TerritoryDef, normalise_postal_code

KINDS = ("polygon", "postal_code", "region", "rule")
KIND_LABEL = {
    "polygon": "polygon",
    "postal_code": "postal code",
    "region": "region",
    "rule": "attribute rule",
}
NONE = -1


@dataclass(frozen=True)
class AccountFacts:
    """What the engine looks at for one account."""

    id: str
    lat: float | None = None
    lon: float | None = None
    postal_code: str | None = None
    country: str | None = "US"
    region: str | None = None
    industry: str | None = None
    size: str | None = None
    potential: float | None = None
    status: str | None = "prospect"


@dataclass(frozen=True)
class Match:
    territory_id: str
    territory_name: str
    kind: str
    priority: int
    detail: str  # the matched value: postal code, region label, rule text...
    rule_number: int | None = None

    def sentence(self) -> str:
        if self.kind == "polygon":
            return f"location {self.detail} lies inside {self.territory_name}'s boundary"
        if self.kind == "postal_code":
            return f"postal code {self.detail} is listed in {self.territory_name}"
        if self.kind == "region":
            return f"region {self.detail} is listed in {self.territory_name}"
        return f"{self.territory_name} rule {self.rule_number} matches ({self.detail})"


@dataclass(frozen=True)
class Decision:
    account_id: str
    territory_id: str | None
    territory_name: str | None
    kind: str | None
    reason: str
    matches: tuple[Match, ...] = ()


class AccountTable:
    """Accounts as columns (numpy for coordinates and potential, lists for text)."""

    def __init__(self, facts: Sequence[AccountFacts]) -> None:
        self.ids = [f.id for f in facts]
        self.lat = np.array([np.nan if f.lat is None else f.lat for f in facts], dtype=float)
        self.lon = np.array([np.nan if f.lon is None else f.lon for f in facts], dtype=float)
        self.postal_code = [f.postal_code for f in facts]
        self.country = [f.country for f in facts]
        self.region = [f.region for f in facts]
        self.industry = [f.industry for f in facts]
        self.size = [f.size for f in facts]
        self.potential = [f.potential for f in facts]
        self.status = [f.status for f in facts]

    def __len__(self) -> int:
        return len(self.ids)

    def facts(self, i: int) -> AccountFacts:
        return AccountFacts(
            self.ids[i],
            None if np.isnan(self.lat[i]) else float(self.lat[i]),
            None if np.isnan(self.lon[i]) else float(self.lon[i]),
            self.postal_code[i],
            self.country[i],
            self.region[i],
            self.industry[i],
            self.size[i],
            self.potential[i],
            self.status[i],
        )


@dataclass
class BulkResult:
    """Per account: index into ``engine.territories`` (or -1), how it matched, and the matched value."""

    territory: np.ndarray  # int32
    kind: np.ndarray  # int8 index into KINDS, -1 for none
    detail: list[str]
    rule_number: np.ndarray  # int32, 0 when not a rule


class AssignmentEngine:
    """Built once per set of territory definitions; cheap to query many times."""

    def __init__(self, territories: Sequence[TerritoryDef]) -> None:
        active = [t for t in territories if t.assignable]
        # Precedence: priority ascending (lower number wins), then name, then id for determinism.
        self.territories = sorted(active, key=lambda t: (t.priority, t.name.casefold(), t.id))
        self.index = {t.id: i for i, t in enumerate(self.territories)}
        with_geom = [
            (i, t.geometry) for i, t in enumerate(self.territories) if t.geometry is not None
        ]
        self._poly_rank = np.array([i for i, _ in with_geom], dtype=np.int32)
        self._tree = STRtree([g for _, g in with_geom]) if with_geom else None
        if with_geom:
            shapely.prepare([g for _, g in with_geom])
        self._postal: dict[str, int] = {}
        self._regions: dict[tuple[str, str], int] = {}
        self._rules: list[tuple[int, int]] = []  # (territory rank, rule number)
        for rank, t in enumerate(self.territories):
            for code in t.postal_codes:
                self._postal.setdefault(code, rank)  # ranks ascend, so the first is the winner
            for r in t.regions:
                self._regions.setdefault((r.country, r.region), rank)
            self._rules.extend((rank, n) for n in range(1, len(t.rules) + 1))

    # -- one account, with every match listed -----------------------------------------------------

    def matches(self, facts: AccountFacts) -> list[Match]:
        """Every territory that matches, strongest first."""
        found: list[tuple[int, int, Match]] = []
        code = normalise_postal_code(facts.postal_code, facts.country)
        country = (facts.country or "").upper()
        region = (facts.region or "").strip().upper()
        has_point = facts.lat is not None and facts.lon is not None
        for rank, t in enumerate(self.territories):
            if (
                has_point
                and t.geometry is not None
                and shapely.intersects_xy(t.geometry, facts.lon, facts.lat)
            ):
                where = f"({facts.lat:.4f}, {facts.lon:.4f})"
                found.append((0, rank, Match(t.id, t.name, "polygon", t.priority, where)))
            if code and code in t.postal_codes:
                found.append((1, rank, Match(t.id, t.name, "postal_code", t.priority, code)))
            for r in t.regions:
                if r.matches(country, region):
                    label = r.label()
                    if region and r.region and region != r.region:
                        label += f" (the account's region {facts.region!r} read as {r.region})"
                    found.append((2, rank, Match(t.id, t.name, "region", t.priority, label)))
                    break
            for n, rule in enumerate(t.rules, 1):
                if rule.matches(facts.industry, facts.size, facts.potential, facts.status):
                    found.append(
                        (3, rank, Match(t.id, t.name, "rule", t.priority, rule.describe(), n))
                    )
                    break
        found.sort(key=lambda item: (item[0], item[1]))
        return [m for _, _, m in found]

    def explain(self, facts: AccountFacts) -> Decision:
        found = self.matches(facts)
        if not found:
            return Decision(facts.id, None, None, None, self.no_match_reason(facts))
        best = found[0]
        reason = best.sentence() + f" (priority {best.priority})"
        others = [m for m in found[1:] if m.territory_id != best.territory_id]
        if others:
            reason += "; also matched: " + ", ".join(
                f"{m.territory_name} by {KIND_LABEL[m.kind]} (priority {m.priority})"
                for m in others[:3]
            )
        return Decision(
            facts.id, best.territory_id, best.territory_name, best.kind, reason, tuple(found)
        )

    def no_match_reason(self, facts: AccountFacts) -> str:
        parts = []
        if facts.lat is None or facts.lon is None:
            parts.append("no coordinates")
        elif self._tree is not None:
            parts.append("location outside every territory polygon")
        code = normalise_postal_code(facts.postal_code, facts.country)
        parts.append(f"postal code {code} is in no list" if code else "no postal code")
        written = (facts.region or "").strip()
        if written:
            # the value compared, as the territories list it: "Kentucky" is US-KY
            country = (facts.country or "").upper()
            compared = (regions_iso.region_code(written, country) or written).upper()
            label = f"{country}-{compared}" if country else compared
            shown = label if written.upper() == compared else f"{written!r} (compared as {label})"
            parts.append(f"region {shown} is in no list, no attribute rule matches")
        else:
            parts.append("no region or attribute rule matches")
        return "no territory matches: " + ", ".join(parts)

    # -- many accounts ------------------------------------------------------------------------------

    def assign_table(self, table: AccountTable) -> BulkResult:
        n = len(table)
        best = np.full(n, NONE, dtype=np.int32)
        kind = np.full(n, NONE, dtype=np.int8)
        detail = [""] * n
        rule_number = np.zeros(n, dtype=np.int32)
        if self._tree is not None and n:
            has_point = ~(np.isnan(table.lat) | np.isnan(table.lon))
            where = np.flatnonzero(has_point)
            points = shapely.points(table.lon[where], table.lat[where])
            point_i, tree_i = self._tree.query(points, predicate="intersects")
            if point_i.size:
                ranks = self._poly_rank[tree_i]
                big = np.iinfo(np.int32).max
                winner = np.full(len(where), big, dtype=np.int32)
                np.minimum.at(winner, point_i, ranks)
                hit = winner != big
                best[where[hit]] = winner[hit]
                kind[where[hit]] = 0
        rest = np.flatnonzero(best == NONE)
        if rest.size:
            self._assign_rest(table, rest, best, kind, detail, rule_number)
        return BulkResult(best, kind, detail, rule_number)

    def _assign_rest(
        self,
        table: AccountTable,
        rest: np.ndarray,
        best: np.ndarray,
        kind: np.ndarray,
        detail: list[str],
        rule_number: np.ndarray,
    ) -> None:
        postal, regions = self._postal, self._regions
        norm_cache: dict[tuple[object, object], str] = {}
        for i in rest.tolist():
            raw, country = table.postal_code[i], table.country[i]
            if raw:
                key = (raw, country)
                code = norm_cache.get(key)
                if code is None:
                    code = norm_cache[key] = normalise_postal_code(raw, country)
                rank = postal.get(code)
                if rank is not None:
                    best[i], kind[i], detail[i] = rank, 1, code
                    continue
            if regions:
                c = (country or "").upper()
                written = (table.region[i] or "").strip()
                # "Kentucky" compared as its code "KY" (ISO 3166-2), as the territories list it
                r = (regions_iso.region_code(written, c) or written).upper() if written else ""
                ranks = [
                    x
                    for x in (regions.get((c, r)) if r else None, regions.get((c, "")))
                    if x is not None
                ]
                if ranks:
                    rank = min(ranks)
                    matched = next(
                        reg for reg in self.territories[rank].regions if reg.matches(c, r)
                    )
                    best[i], kind[i], detail[i] = rank, 2, matched.label()
                    continue
            for rank, number in self._rules:
                rule = self.territories[rank].rules[number - 1]
                if rule.matches(
                    table.industry[i], table.size[i], table.potential[i], table.status[i]
                ):
                    best[i], kind[i], detail[i] = rank, 3, rule.describe()
                    rule_number[i] = number
                    break

    def reason(self, table: AccountTable, result: BulkResult, i: int) -> str:
        """The sentence for account ``i`` of a bulk result (same wording as :meth:`explain`)."""
        rank = int(result.territory[i])
        if rank == NONE:
            return self.no_match_reason(table.facts(i))
        t = self.territories[rank]
        k = KINDS[int(result.kind[i])]
        value = result.detail[i]
        if k == "polygon":
            value = f"({table.lat[i]:.4f}, {table.lon[i]:.4f})"
        rule = int(result.rule_number[i]) or None
        match = Match(t.id, t.name, k, t.priority, value, rule)
        return match.sentence() + f" (priority {t.priority})"

    def territory_id(self, rank: int) -> str | None:
        return None if rank == NONE else self.territories[rank].id
