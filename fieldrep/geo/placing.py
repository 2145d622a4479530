"""Placing an imported row offline, only where its fields agree, and saying why when they do not.

A file without a country column is mostly American, but not always: a German register's "50667
Köln, Nordrhein-Westfalen" looked up as a US ZIP lands in Iowa. So the row's country is read from the
row when the file does not give it (a region that is a US state or another country's region, a
postcode shaped like no ZIP, a city the ZIP's state does not have but another country does), the
region is stored as its code ("Kentucky" -> "KY"), and the row is placed by what agrees:

- a ZIP whose state is the row's state: the ZIP's centroid;
- a ZIP that contradicts the row's state (Flagstaff AZ 08601; 08601 is Trenton NJ): the fields that
  agree win (the city in the row's state, or the ZIP whose state has the row's city), and the
  contradiction is reported; when nothing agrees the row stays unplaced, with the reason;
- a ZIP the data holds at latitude = longitude = 0 (its "unknown"): the city instead, never (0, 0);
- an address abroad: its city from the world's cities of 15,000 people or more (GeoNames).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from fieldrep.domain import regions
from fieldrep.geo.gazetteer import normalise_postal_code

GAZETTEER_SOURCE = "gazetteer"
_HAS_LETTER = re.compile(r"[A-Za-z]")
_CUT_ZIP4 = re.compile(r"(\d{5})-\d{1,3}")
# Postcodes whose shape names their country (letters in them: no US ZIP has any).
_POSTCODE_SHAPES = (
    (re.compile(r"[A-Z]\d[A-Z] ?\d[A-Z]\d"), "CA"),
    (re.compile(r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}"), "GB"),
    (re.compile(r"\d{4} ?[A-Z]{2}"), "NL"),
)


@dataclass
class Placement:
    """What placing one row decided: where (or None), in which country, and what it noticed."""

    lat: float | None = None
    lon: float | None = None
    quality: str | None = None
    country: str = "US"
    region: str | None = None
    postal_code: str | None = None
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (field, reason)
    unplaced_reason: str = ""

    def as_fields(self) -> dict[str, Any]:
        if self.lat is None or self.lon is None:
            return {}
        return {
            "lat": self.lat,
            "lon": self.lon,
            "geocode_quality": self.quality,
            "geocode_source": GAZETTEER_SOURCE,
        }


def _real(place: Any) -> TypeGuard[Any]:
    return place is not None and not (place.lat == 0 and place.lon == 0)


def _postcode_country(code: str) -> str | None:
    text = " ".join(code.upper().split())
    for shape, country in _POSTCODE_SHAPES:
        if shape.fullmatch(text):
            return country
    return None


def _abroad_only(gaz: Any, city: str | None) -> str | None:
    """The one country outside the US that has a city of that name when the US has none."""
    if not city or not hasattr(gaz, "world_city_countries"):
        return None
    found = gaz.world_city_countries(city)
    if not found or "US" in found:
        return None
    return max(found, key=lambda c: found[c])


def detect_country(gaz: Any, city: str | None, region: str | None, postal_code: str | None) -> str:
    """The row's country when the file does not say: US unless the row shows otherwise."""
    if region:
        if regions.us_state(region) is not None:
            return "US"
        named = regions.countries_with_region(region)
        if len(named) == 1:
            return next(iter(named))
    if postal_code and _HAS_LETTER.search(postal_code):
        return _postcode_country(postal_code) or _abroad_only(gaz, city) or "??"
    return "US"


def place_row(
    gaz: Any,
    *,
    city: str | None,
    region: str | None,
    postal_code: str | None,
    country: str | None,
) -> Placement:
    """Decide a row's country, region code and place; ``country`` is the file's (None: not given)."""
    given = country is not None
    if country is None:
        country = detect_country(gaz, city, region, postal_code)
    if country == "??":  # letters in a "ZIP", and nothing says which country: a bad ZIP
        out = Placement(country="US")
        out.region = regions.normalise_region(region, "US")
        out.warnings.append(
            ("postal_code", f"{postal_code!r} is not a US ZIP code (5 digits or ZIP+4)")
        )
        return _place_us(gaz, out, city, None, False)
    out = Placement(country=country)
    out.region = regions.normalise_region(region, country)
    if country != "US":
        out.postal_code = normalise_postal_code(postal_code, country) if postal_code else None
        _place_abroad(gaz, out, city, region)
        return out
    return _place_us(gaz, out, city, postal_code, given)


def _place_abroad(gaz: Any, out: Placement, city: str | None, region: str | None) -> None:
    place = (
        gaz.world_city(city, out.country, region) if city and hasattr(gaz, "world_city") else None
    )
    if place is not None and _real(place):
        out.lat, out.lon, out.quality = place.lat, place.lon, "city"
        return
    name = regions.country_name(out.country)
    out.unplaced_reason = (
        f"{city!r} is not among the cities of 15,000 people or more in {name}"
        if city
        else f"no city given, and postcodes in {name} are not in the offline data"
    )


def _has_city(gaz: Any, city: str, state: str) -> bool:
    has = getattr(gaz, "has_city", None)
    return bool(has(city, state)) if has is not None else _city(gaz, city, state) is not None


def _city(gaz: Any, city: str | None, state: str | None) -> Any:
    if not city:
        return None
    place = gaz.city(city, region=state, country="US")
    return place if _real(place) else None


def _place_us(
    gaz: Any, out: Placement, city: str | None, postal_text: str | None, given_country: bool
) -> Placement:
    state = out.region if out.region and len(out.region) == 2 else None
    if out.region and state is None:
        out.warnings.append(("region", f"{out.region!r} is not a US state; kept as written"))
    zip_code = None
    if postal_text:
        zip_code = normalise_postal_code(postal_text, "US")
        cut = _CUT_ZIP4.fullmatch(postal_text.strip())
        if zip_code is None and cut is not None:
            zip_code = cut.group(1)
            out.postal_code = postal_text.strip()
            out.warnings.append(
                (
                    "postal_code",
                    f"{postal_text.strip()!r} is a cut-off ZIP+4 (kept as written);"
                    f" placed by ZIP {zip_code}",
                )
            )
        elif zip_code is None:
            out.warnings.append(
                ("postal_code", f"{postal_text!r} is not a US ZIP code (5 digits or ZIP+4)")
            )
        else:
            out.postal_code = zip_code
    known = gaz.zip_state(zip_code) if zip_code and hasattr(gaz, "zip_state") else None
    if zip_code and known is None and hasattr(gaz, "zip_state"):
        out.warnings.append(("postal_code", f"ZIP {zip_code} does not exist in the ZIP data"))
    if known is not None and state is not None and known[1] != state:
        zip_city, zip_state = known
        if city and _has_city(gaz, city, state):
            place = _city(gaz, city, state)
            out.warnings.append(
                (
                    "postal_code",
                    f"ZIP {zip_code} is in {zip_city.title()}, {zip_state}, not {state}:"
                    f" placed by the city {city}, {state}; check the ZIP",
                )
            )
            return _set(out, place, "city")
        if city and _has_city(gaz, city, zip_state):
            out.warnings.append(
                (
                    "region",
                    f"the row says {state}, but ZIP {zip_code} and {city} are in {zip_state}:"
                    " placed by the ZIP; check the state",
                )
            )
            return _set(out, gaz.postal_code(zip_code, "US"), "postal_code", city, zip_state)
        out.unplaced_reason = (
            f"ZIP {zip_code} is in {zip_city.title()}, {zip_state} but the row says"
            f" {city + ', ' if city else ''}{state}; not placed until one is fixed"
        )
        return out
    if known is not None and state is None and city and not _has_city(gaz, city, known[1]):
        abroad = _abroad_only(gaz, city) if not given_country else None
        if abroad is not None:
            out.country = abroad
            out.postal_code = normalise_postal_code(postal_text, abroad)
            out.warnings.append(
                (
                    "country",
                    f"the row names no country; {postal_text} is a US ZIP in {known[1]}, which"
                    f" has no {city}, but {regions.country_name(abroad)} has: taken as there",
                )
            )
            _place_abroad(gaz, out, city, out.region)
            return out
        out.warnings.append(
            (
                "city",
                f"{city!r} is not in {known[1]}, where ZIP {zip_code} ({known[0].title()}) is:"
                " placed by the ZIP; check the city",
            )
        )
    if zip_code and known is not None:
        place = gaz.postal_code(zip_code, "US")
        if _real(place):
            return _set(out, place, "postal_code")
    return _set(out, _city(gaz, city, state), "city", city, state)


def _set(
    out: Placement, place: Any, quality: str, city: str | None = None, state: str | None = None
) -> Placement:
    if _real(place):
        out.lat, out.lon, out.quality = place.lat, place.lon, quality
    elif not out.unplaced_reason:
        out.unplaced_reason = "neither the postal code nor the city is in the offline data"
    return out
