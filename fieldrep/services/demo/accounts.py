"""Demo accounts and their contacts, placed at real US ZIP centroids weighted by population."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import accumulate
from typing import Any

from fieldrep.domain.vocabulary import ACCOUNT_STATUSES
from fieldrep.geo.gazetteer import Gazetteer, Place
from fieldrep.services.demo import names as words
from fieldrep.services.demo.common import (
    DemoClock,
    SeededIds,
    iso,
    phone,
    pick,
    pick_weighted,
    slug,
    weighted_index,
)
from fieldrep.services.demo.org import Org

SIZE_BANDS = (
    ("1-9", 1, 9, 34),
    ("10-49", 10, 49, 33),
    ("50-249", 50, 249, 21),
    ("250-999", 250, 999, 9),
    ("1000+", 1000, 8000, 3),
)
STATUSES = ACCOUNT_STATUSES
STATUS_WEIGHTS = (45, 37, 11, 7)
# Cumulative weights, computed once: random.choices would rebuild them on every call.
_BAND_CUM = list(accumulate(b[3] for b in SIZE_BANDS))
_STATUS_CUM = list(accumulate(STATUS_WEIGHTS))
_INDUSTRIES = list(words.INDUSTRIES)
_INDUSTRY_CUM = list(accumulate(words.INDUSTRIES[i][0] for i in _INDUSTRIES))
_SUFFIX_CUM = list(accumulate(words.COMPANY_SUFFIX_WEIGHTS))
_STREET_TYPE_CUM = list(accumulate(words.STREET_TYPE_WEIGHTS))
_CONTACTS_CUM = list(accumulate((55, 33, 12)))  # 1, 2 or 3 contacts per account
_MAILBOXES = ("info", "sales", "office", "contact")
# A ZIP centroid is the middle of an area; businesses sit around it (about 1 km here).
JITTER_DEGREES = 0.008


@dataclass
class Accounts:
    """The generated rows plus the columns later parts of the demo need, kept as plain lists."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    contact_ids: list[str] = field(default_factory=list)
    contacts_of: list[list[int]] = field(default_factory=list)  # account index -> contact indexes
    by_owner: dict[str, list[int]] = field(default_factory=dict)  # user id -> account indexes
    load: dict[tuple[str, str], int] = field(default_factory=dict)  # (territory, owner) -> accounts


def demo_places(gaz: Gazetteer, org: Org) -> tuple[list[Place], list[float]]:
    """Populated ZIPs inside the demo territories, with cumulative population weights."""
    weighted = [
        (p, w)
        for p, w in gaz.populated_places()
        if org.territory_for(p.postal_code, p.region) is not None
    ]
    return [p for p, _ in weighted], list(accumulate(w for _, w in weighted))


def company_name(rng: random.Random, industry: str, place: Place) -> str:
    nouns = words.INDUSTRIES[industry][1]
    noun = pick(rng, nouns)
    suffix = pick_weighted(rng, words.COMPANY_SUFFIXES, _SUFFIX_CUM)
    pattern = rng.random()
    if pattern < 0.38:
        base = f"{pick(rng, words.SURNAMES)} {noun}"
    elif pattern < 0.58:
        base = f"{place.city} {noun}" if place.city else f"{pick(rng, words.SURNAMES)} {noun}"
    elif pattern < 0.83:
        base = f"{pick(rng, words.NAME_ADJECTIVES)} {noun}"
    else:
        first, second = rng.sample(words.SURNAMES, 2)
        base = f"{first} & {second} {noun}"
        suffix = "" if suffix == "& Sons" else suffix
    if suffix == "& Sons" and "&" in base:
        suffix = "LLC"
    return f"{base} {suffix}".strip()


def build_accounts(
    rng: random.Random, ids: SeededIds, clock: DemoClock, gaz: Gazetteer, org: Org, n: int
) -> Accounts:
    out = Accounts()
    places, cum = demo_places(gaz, org)
    for index in range(n):
        place = places[weighted_index(rng, cum)]
        industry = pick_weighted(rng, _INDUSTRIES, _INDUSTRY_CUM)
        band, low, high, _ = pick_weighted(rng, SIZE_BANDS, _BAND_CUM)
        # Log-uniform inside the band: small firms are more common than the band's upper end.
        employees = round(math.exp(rng.uniform(math.log(low), math.log(high + 1)))) or 1
        employees = min(max(employees, low), high)
        scale = words.INDUSTRIES[industry][2]
        potential = round(employees * 1800 * scale * rng.lognormvariate(0, 0.5) + 2000, -2)
        status = pick_weighted(rng, STATUSES, _STATUS_CUM)
        name = company_name(rng, industry, place)
        domain = f"{slug(name)[:40] or 'company'}.example"
        street = (
            f"{1 + int(rng.random() * 9899)} {pick(rng, words.STREET_NAMES)} "
            f"{pick_weighted(rng, words.STREET_TYPES, _STREET_TYPE_CUM)}"
        )
        if rng.random() < 0.12:
            street += f", Suite {rng.randint(1, 9) * 100 + rng.randint(0, 20)}"
        territory_id = org.territory_for(place.postal_code, place.region)
        assert territory_id is not None  # demo_places kept only covered places
        owner_id = org.pick_member(rng, territory_id)
        created = clock.days_ago(rng.uniform(30, 3 * 365))
        updated = created + timedelta(days=rng.uniform(0, (clock.now - created).days))
        lat = min(max(place.lat + rng.gauss(0, JITTER_DEGREES), -90.0), 90.0)
        lon = min(max(place.lon + rng.gauss(0, JITTER_DEGREES * 1.3), -180.0), 180.0)
        out.rows.append(
            {
                "name": name,
                "industry": industry,
                "size": band,
                "employees": employees,
                "potential": potential,
                "status": status,
                "street": street,
                "city": place.city,
                "region": place.region,
                "postal_code": place.postal_code,
                "country": "US",
                "phone": phone(rng),
                "email": f"{pick(rng, _MAILBOXES)}@{domain}",
                "website": f"https://www.{domain}",
                "notes": pick(rng, words.ACCOUNT_NOTES) if rng.random() < 0.25 else None,
                "lat": round(lat, 6),
                "lon": round(lon, 6),
                "geocode_quality": "postal_code",
                "geocode_source": "demo",
                "territory_id": territory_id,
                "owner_id": owner_id,
                "locked": 1 if rng.random() < 0.01 else 0,
                "created_at": iso(created),
                "updated_at": iso(updated),
            }
        )
        out.ids.append(ids.next())
        out.by_owner.setdefault(owner_id, []).append(index)
        key = (territory_id, owner_id)
        out.load[key] = out.load.get(key, 0) + 1
        out.contacts_of.append(_contacts(rng, ids, out, index, domain, created))
    return out


def _contacts(
    rng: random.Random, ids: SeededIds, out: Accounts, index: int, domain: str, created: Any
) -> list[int]:
    mine = []
    added = iso(created + timedelta(hours=int(rng.random() * 240)))
    count = rng.choices((1, 2, 3), cum_weights=_CONTACTS_CUM)[0]
    for _ in range(count):
        first, last = pick(rng, words.FIRST_NAMES), pick(rng, words.SURNAMES)
        mine.append(len(out.contacts))
        out.contacts.append(
            {
                "account_id": out.ids[index],
                "first_name": first,
                "last_name": last,
                "title": pick(rng, words.JOB_TITLES),
                "email": f"{slug(first)}.{slug(last)}@{domain}",
                "phone": phone(rng),
                "notes": None,
                "created_at": added,
            }
        )
        out.contact_ids.append(ids.next())
    return mine
