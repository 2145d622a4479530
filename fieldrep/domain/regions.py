"""Country and region names as files spell them, read as ISO 3166 codes.

Countries come from ``pycountry`` (ISO 3166-1: codes, names, official and common names, in English)
plus the few spellings real files use that ISO does not ("USA", "UK", "Deutschland"). Regions are
ISO 3166-2 subdivisions: a US state is its two-letter code ("KY") whether the file says "KY",
"Kentucky" or "US-KY"; a German Land is "NW" for "Nordrhein-Westfalen". Everything is read lazily
on first use (~0.3 s for the subdivisions) and kept for the process.
"""

from __future__ import annotations

import threading
import unicodedata
from collections import defaultdict
from functools import lru_cache

# Spellings that ISO's English names miss, seen in CRM exports and registers.
_COUNTRY_ALIASES = {
    "usa": "US",
    "us": "US",
    "u s": "US",
    "u s a": "US",
    "united states": "US",
    "united states of america": "US",
    "america": "US",
    "uk": "GB",
    "u k": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "deutschland": "DE",
    "osterreich": "AT",
    "schweiz": "CH",
    "suisse": "CH",
    "espana": "ES",
    "italia": "IT",
    "nederland": "NL",
    "holland": "NL",
    "the netherlands": "NL",
    "brasil": "BR",
    "sverige": "SE",
    "polska": "PL",
    "россия": "RU",
    "russia": "RU",
    "south korea": "KR",
    "korea": "KR",
    "north korea": "KP",
    "vietnam": "VN",
    "iran": "IR",
    "syria": "SY",
    "venezuela": "VE",
    "bolivia": "BO",
    "tanzania": "TZ",
    "czech republic": "CZ",
    "ivory coast": "CI",
    "macedonia": "MK",
    "taiwan": "TW",
    "laos": "LA",
    "moldova": "MD",
    "palestine": "PS",
    "vatican": "VA",
    "burma": "MM",
}
# Regions that are not ISO subdivisions of the US but are written as states.
_US_EXTRA = {
    "AA": "Armed Forces Americas",
    "AE": "Armed Forces Europe",
    "AP": "Armed Forces Pacific",
}


def fold(text: str) -> str:
    """Case, accents, punctuation and spacing removed: "Baden-Württemberg" -> "baden wurttemberg"."""
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in plain if not unicodedata.combining(c)).casefold()
    plain = "".join(c if c.isalnum() else " " for c in plain)
    return " ".join(plain.split())


class _Tables:
    def __init__(self) -> None:
        import pycountry

        self.countries: dict[str, str] = {}
        self.country_names: dict[str, str] = {}
        for country in pycountry.countries:
            code = country.alpha_2
            self.country_names[code] = getattr(country, "common_name", None) or country.name
            for attr in ("alpha_2", "alpha_3", "name", "official_name", "common_name"):
                value = getattr(country, attr, None)
                if value:
                    self.countries.setdefault(fold(value), code)
        for alias, code in _COUNTRY_ALIASES.items():
            self.countries[fold(alias)] = code
        # (country, folded name or code) -> region code; folded name -> countries that have it
        self.regions: dict[tuple[str, str], str] = {}
        self.region_names: dict[tuple[str, str], str] = {}
        self.countries_of_region: dict[str, set[str]] = defaultdict(set)
        for sub in pycountry.subdivisions:
            country, _, short = sub.code.partition("-")
            if sub.parent_code and country != "US":
                continue  # districts under a region: too fine, and their names repeat
            self.regions[(country, fold(short))] = short
            self.regions[(country, fold(sub.code))] = short
            self.regions.setdefault((country, fold(sub.name)), short)
            self.region_names[(country, short)] = sub.name
            self.countries_of_region[fold(sub.name)].add(country)
        for short, name in _US_EXTRA.items():
            self.regions[("US", fold(short))] = short
            self.regions[("US", fold(name))] = short
            self.region_names[("US", short)] = name
        self.regions[("US", "washington dc")] = "DC"
        self.regions[("US", "d c")] = "DC"


_lock = threading.Lock()
_tables: _Tables | None = None


def load() -> None:
    """Read the tables now (~0.3 s of Python), for a worker to call while nobody waits."""
    _data()


def _data() -> _Tables:
    global _tables
    if _tables is None:
        with _lock:
            if _tables is None:
                _tables = _Tables()
    return _tables


@lru_cache(maxsize=4096)
def country_code(text: str | None) -> str | None:
    """The ISO 3166-1 alpha-2 code of a country name or code ("Brazil", "BRA", "br"), or None."""
    key = fold(text or "")
    if not key:
        return None
    return _data().countries.get(key)


def country_name(code: str) -> str:
    return _data().country_names.get(code.upper(), code)


@lru_cache(maxsize=4096)
def region_code(text: str | None, country: str = "US") -> str | None:
    """The subdivision code within ``country`` of a region name or code ("Kentucky" -> "KY",
    "US-KY" -> "KY", "Nordrhein-Westfalen" -> "NW" for DE), or None when it is none of them."""
    key = fold(text or "")
    if not key:
        return None
    return _data().regions.get((country.upper(), key))


def us_state(text: str | None) -> str | None:
    """A US state's (or DC's, a territory's, a military region's) two-letter code, or None."""
    return region_code(text, "US")


def region_name(country: str, code: str) -> str | None:
    return _data().region_names.get((country.upper(), code.upper()))


@lru_cache(maxsize=256)
def has_two_letter_regions(country: str) -> bool:
    """Whether some region of ``country`` has a two-letter code (US "KY", DE "BY"; not GB "ENG")."""
    country = country.upper()
    return any(c == country and len(code) == 2 for c, code in _data().region_names)


@lru_cache(maxsize=4096)
def countries_with_region(text: str | None) -> frozenset[str]:
    """Countries that have a region of that name (not code): "Nordrhein-Westfalen" -> {"DE"}."""
    key = fold(text or "")
    if len(key) <= 3:
        return frozenset()  # codes are ambiguous across countries (CA is a US state and a country)
    return frozenset(_data().countries_of_region.get(key, ()))


def normalise_region(text: str | None, country: str) -> str | None:
    """The region as it is stored: the subdivision code when the name is known, else the text as
    given (a region we cannot read is kept, never dropped)."""
    if not text or not text.strip():
        return None
    code = region_code(text, country)
    return code if code is not None else " ".join(text.split())
