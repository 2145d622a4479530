"""The demo sales organisation: users (admin, manager, reps) and the territory hierarchy.

Four regions group eleven territories. Nine territories are defined by US states (the ``regions``
JSON); two metro territories, Boston Metro and Bay Area, by postal-code lists. Postal-code lists are a
stronger match than regions (see ``fieldrep.domain.territory_rules``), so an account in ZIP 02139 goes
to Boston Metro although Massachusetts belongs to New England; :meth:`Org.territory_for` applies the
same order so every demo account sits where the territory engine would put it.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fieldrep.geo.gazetteer import Gazetteer
from fieldrep.services.demo.common import DemoClock, SeededIds, iso, phone, weighted_index

# (username, display name, home city, home state)
ADMIN = ("admin", "Alex Admin", "Boston", "MA")
MANAGER = ("morgan", "Morgan Blake", "Chicago", "IL")
REPS = (
    ("jordan", "Jordan Reyes", "Cambridge", "MA"),
    ("priya", "Priya Patel", "Hartford", "CT"),
    ("sam", "Sam O'Connor", "Jersey City", "NJ"),
    ("diego", "Diego Alvarez", "Philadelphia", "PA"),
    ("aisha", "Aisha Johnson", "Atlanta", "GA"),
    ("tom", "Tom Becker", "Dallas", "TX"),
    ("mei", "Mei Chen", "Chicago", "IL"),
    ("noah", "Noah Williams", "Denver", "CO"),
    ("lucas", "Lucas Silva", "San Jose", "CA"),
)


@dataclass(frozen=True)
class TerritorySpec:
    name: str
    color: str
    states: tuple[str, ...] = ()
    zip_prefixes: tuple[str, ...] = ()  # for postal-code territories: the ZIP prefixes listed
    state_of_zips: str = ""
    members: tuple[tuple[str, float], ...] = ()  # (username, routing weight); the first owns it


REGIONS: tuple[tuple[str, str, tuple[TerritorySpec, ...]], ...] = (
    (
        "Northeast",
        "#4e79a7",
        (
            TerritorySpec(
                "Boston Metro",
                "#1f77b4",
                zip_prefixes=("021", "022"),
                state_of_zips="MA",
                members=(("jordan", 1.0),),
            ),
            TerritorySpec(
                "New England",
                "#aec7e8",
                states=("ME", "NH", "VT", "MA", "RI", "CT"),
                members=(("priya", 1.0), ("jordan", 0.5)),
            ),
            TerritorySpec(
                "New York Metro",
                "#ff7f0e",
                states=("NY", "NJ"),
                members=(("sam", 1.0), ("diego", 0.3)),
            ),
            TerritorySpec(
                "Mid-Atlantic",
                "#ffbb78",
                states=("PA", "DE", "MD", "DC", "VA", "WV"),
                members=(("diego", 1.0), ("sam", 0.5)),
            ),
        ),
    ),
    (
        "South",
        "#e15759",
        (
            TerritorySpec(
                "Southeast",
                "#d62728",
                states=("NC", "SC", "GA", "FL", "AL", "MS", "TN", "KY"),
                members=(("aisha", 1.0), ("tom", 0.2)),
            ),
            TerritorySpec(
                "South Central", "#ff9896", states=("TX", "OK", "LA", "AR"), members=(("tom", 1.0),)
            ),
        ),
    ),
    (
        "Midwest",
        "#59a14f",
        (
            TerritorySpec(
                "Great Lakes",
                "#2ca02c",
                states=("OH", "MI", "IN", "IL", "WI"),
                members=(("mei", 1.0),),
            ),
            TerritorySpec(
                "Plains",
                "#98df8a",
                states=("MN", "IA", "MO", "KS", "NE", "SD", "ND"),
                members=(("mei", 0.6), ("noah", 0.4)),
            ),
        ),
    ),
    (
        "West",
        "#b07aa1",
        (
            TerritorySpec(
                "Mountain",
                "#9467bd",
                states=("CO", "UT", "NM", "AZ", "NV", "ID", "MT", "WY"),
                members=(("noah", 1.0),),
            ),
            TerritorySpec(
                "Pacific",
                "#c5b0d5",
                states=("CA", "OR", "WA", "AK", "HI"),
                members=(("lucas", 1.0), ("noah", 0.3)),
            ),
            TerritorySpec(
                "Bay Area",
                "#8c564b",
                zip_prefixes=("940", "941", "943", "944", "945", "946", "947", "948", "950", "951"),
                state_of_zips="CA",
                members=(("lucas", 1.0),),
            ),
        ),
    ),
)


@dataclass
class Org:
    users: list[dict[str, Any]] = field(default_factory=list)
    user_ids: list[str] = field(default_factory=list)
    territories: list[dict[str, Any]] = field(default_factory=list)
    territory_ids: list[str] = field(default_factory=list)
    by_username: dict[str, str] = field(default_factory=dict)
    rep_ids: list[str] = field(default_factory=list)
    manager_id: str = ""
    admin_id: str = ""
    # territory id -> [(user id, routing weight)], owner first
    members: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    state_territory: dict[str, str] = field(default_factory=dict)
    zip_territory: dict[str, str] = field(default_factory=dict)
    leaf_ids: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    _cum: dict[str, list[float]] = field(default_factory=dict)

    def territory_for(self, postal_code: str | None, state: str | None) -> str | None:
        """The territory the rules engine would pick: postal-code list first, then the state."""
        if postal_code and postal_code in self.zip_territory:
            return self.zip_territory[postal_code]
        return self.state_territory.get(state or "")

    def pick_member(self, rng: random.Random, territory_id: str) -> str:
        """A member of the territory, drawn by routing weight (what weighted round robin converges to)."""
        members = self.members[territory_id]
        if territory_id not in self._cum:
            total, cum = 0.0, []
            for _, weight in members:
                total += weight
                cum.append(total)
            self._cum[territory_id] = cum
        return members[weighted_index(rng, self._cum[territory_id])][0]


def build_org(gaz: Gazetteer, ids: SeededIds, clock: DemoClock, rng: random.Random) -> Org:
    org = Org()
    created = iso(clock.days_ago(3 * 365))
    for role, spec in [("admin", ADMIN), ("manager", MANAGER)] + [("rep", r) for r in REPS]:
        username, display, city, state = spec
        home = gaz.city(city, state)
        uid = ids.next()
        org.users.append(
            {
                "username": username,
                "display_name": display,
                "email": f"{username}@fieldrep.example",
                "phone": phone(rng),
                "role": role,
                "manager_id": None,
                "active": 1,
                "home_lat": home.lat if home else None,
                "home_lon": home.lon if home else None,
                "created_at": created,
            }
        )
        org.user_ids.append(uid)
        org.by_username[username] = uid
    org.admin_id, org.manager_id = org.by_username["admin"], org.by_username["morgan"]
    org.rep_ids = [org.by_username[r[0]] for r in REPS]
    for row in org.users:
        if row["role"] == "rep":
            row["manager_id"] = org.manager_id

    all_codes = [p.postal_code for p in gaz.places() if p.postal_code]
    for priority_base, (region_name, region_color, specs) in enumerate(REGIONS):
        region_id = ids.next()
        org.territories.append(
            _territory_row(
                region_name,
                "region",
                region_color,
                None,
                org.manager_id,
                1000 + priority_base,
                [],
                [],
                clock,
                rng,
            )
        )
        org.territory_ids.append(region_id)
        org.members[region_id] = [(org.manager_id, 1.0)]
        org.names[region_id] = region_name
        for leaf in specs:
            tid = ids.next()
            org.names[tid] = leaf.name
            org.leaf_ids.append(tid)
            org.members[tid] = [(org.by_username[u], w) for u, w in leaf.members]
            codes: list[str] = []
            if leaf.zip_prefixes:
                codes = sorted(c for c in all_codes if c.startswith(leaf.zip_prefixes))
                for code in codes:
                    org.zip_territory[code] = tid
            for state in leaf.states:
                org.state_territory[state] = tid
            regions = [{"country": "US", "region": s} for s in leaf.states]
            org.territories.append(
                _territory_row(
                    leaf.name,
                    "territory",
                    leaf.color,
                    region_id,
                    org.members[tid][0][0],
                    10 if codes else 100,
                    codes,
                    regions,
                    clock,
                    rng,
                )
            )
            org.territory_ids.append(tid)
    return org


def _territory_row(
    name: str,
    kind: str,
    color: str,
    parent_id: str | None,
    owner_id: str,
    priority: int,
    codes: list[str],
    regions: list[dict[str, str]],
    clock: DemoClock,
    rng: random.Random,
) -> dict[str, Any]:
    created = clock.days_ago(3 * 365) + timedelta(minutes=rng.randint(0, 600))
    return {
        "name": name,
        "parent_id": parent_id,
        "kind": kind,
        "color": color,
        "geometry": None,
        "postal_codes": json.dumps(codes),
        "regions": json.dumps(regions),
        "rules": "[]",
        "priority": priority,
        "owner_id": owner_id,
        "archived": 0,
        "notes": f"{name}: defined by {'postal codes' if codes else 'states' if regions else 'its territories'}.",
        "created_at": iso(created),
    }


def member_rows(
    org: Org, ids: SeededIds, load: dict[tuple[str, str], int]
) -> tuple[list[dict[str, Any]], list[str]]:
    """``territory_members`` rows; capacity leaves a quarter of head-room over today's load."""
    rows, row_ids = [], []
    for tid in org.territory_ids:
        for index, (uid, weight) in enumerate(org.members[tid]):
            assigned = load.get((tid, uid), 0)
            capacity = (
                None if tid not in org.leaf_ids else max(50, -(-assigned * 5 // 4 // 50) * 50)
            )
            rows.append(
                {
                    "territory_id": tid,
                    "user_id": uid,
                    "role": "owner" if index == 0 else "member",
                    "routing_weight": weight,
                    "capacity": capacity,
                    "active": 1,
                }
            )
            row_ids.append(ids.next())
    return rows, row_ids
