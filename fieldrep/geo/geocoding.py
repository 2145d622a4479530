"""Placing an address offline: the address and result types, and the gazetteer's centroids.

Offline first: a postal code gives its centroid (quality ``postal_code``), else the city and region
give the city centre (quality ``city``). That is instant and works on a plane, so imports always use
it. The online side lives beside this module: the user's online geocoder in
:mod:`fieldrep.geo.geocoder_settings`, one provider behind the rate limit and the permanent cache in
:mod:`fieldrep.geo.online_geocoder`, the run that upgrades accounts in
:mod:`fieldrep.geo.online_refine`, and where the accounts stand in :mod:`fieldrep.geo.placement`
(an address that cannot be placed stays without coordinates and is listed there, never dropped).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeGuard

QUALITIES = ("address", "street", "postal_code", "city", "manual")
GAZETTEER_SOURCE = "gazetteer"


@dataclass(frozen=True)
class Address:
    street: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str = "US"

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Address:
        return cls(
            street=row.get("street") or None,
            city=row.get("city") or None,
            region=row.get("region") or None,
            postal_code=row.get("postal_code") or None,
            country=(row.get("country") or "US"),
        )

    def one_line(self) -> str:
        parts = [self.street, self.city, " ".join(p for p in (self.region, self.postal_code) if p)]
        return ", ".join(p for p in parts if p) + f" ({self.country})"


@dataclass(frozen=True)
class GeoResult:
    lat: float
    lon: float
    quality: str
    source: str

    def as_fields(self) -> dict[str, Any]:
        return {
            "lat": self.lat,
            "lon": self.lon,
            "geocode_quality": self.quality,
            "geocode_source": self.source,
        }


class Gazetteer(Protocol):
    def postal_code(self, code: str, country: str = "US") -> Any: ...

    def city(self, name: str, region: str | None = None, country: str = "US") -> Any: ...


def _is_place(place: Any) -> TypeGuard[Any]:
    """A found place that is one: latitude = longitude = 0 is the data's "unknown" (Null Island)."""
    return place is not None and not (place.lat == 0 and place.lon == 0)


class OfflineGeocoder:
    """Postal-code then city centroids from the gazetteer, memoised in a dict (imports hit it 100k
    times with a few thousand distinct keys)."""

    def __init__(self, gazetteer: Gazetteer | None = None) -> None:
        if gazetteer is None:
            from fieldrep.geo.gazetteer import default_gazetteer

            gazetteer = default_gazetteer()
        self._gazetteer = gazetteer
        self._memo: dict[tuple[str, ...], GeoResult | None] = {}

    @property
    def gazetteer(self) -> Gazetteer:
        return self._gazetteer

    def load(self) -> None:
        """Read the whole gazetteer now, for a job that will place many addresses."""
        load = getattr(self._gazetteer, "load", None)  # a gazetteer that loads nothing has none
        if load is not None:
            load()

    def geocode(self, address: Address) -> GeoResult | None:
        country = (address.country or "US").upper()
        if address.postal_code:
            key: tuple[str, ...] = ("p", country, address.postal_code.strip().upper())
            if key not in self._memo:
                place = self._gazetteer.postal_code(address.postal_code, country=country)
                self._memo[key] = (
                    GeoResult(place.lat, place.lon, "postal_code", GAZETTEER_SOURCE)
                    if place is not None and _is_place(place)
                    else None
                )
            if self._memo[key] is not None:
                return self._memo[key]
        if address.city:
            from fieldrep.domain.regions import normalise_region

            region = (normalise_region(address.region, country) or "").upper()
            key = ("c", country, region, address.city.strip().casefold())
            if key not in self._memo:
                place = self._gazetteer.city(address.city, region=region or None, country=country)
                self._memo[key] = (
                    GeoResult(place.lat, place.lon, "city", GAZETTEER_SOURCE)
                    if place is not None and _is_place(place)
                    else None
                )
            return self._memo[key]
        return None
