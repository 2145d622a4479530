"""What a territory is: its definition (polygons, postal codes, regions, attribute rules) and parsing.

A territory is matched by, in this order of strength: a polygon containing the account's coordinates,
its postal code in the territory's list, its (country, region) in the territory's regions, then an
account-attribute rule. Between territories matched the same way the explicit ``priority`` decides:
**a lower number wins** (priority 10 beats priority 100), the name breaks remaining ties.

Everything here is pure (no database, no Qt). Parsers raise :class:`DefinitionError` with a message a
manager can act on ("ring 1 of polygon 2 is not closed", "latitude 121.3 is out of range: longitude
and latitude look swapped").

Kept whole: :class:`TerritoryDef` and the parsers of each of its parts (postal codes, regions,
attribute rules, geometry, priority, colour) are one vocabulary, and the definition validates with
all of them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.validation import explain_validity

from fieldrep.domain import regions
from fieldrep.domain.errors import ValidationError
from fieldrep.domain.vocabulary import ACCOUNT_STATUSES, SIZE_BANDS

STATUSES = ACCOUNT_STATUSES
KINDS = ("region", "territory")
DEFAULT_PRIORITY = 100


class DefinitionError(ValidationError):
    """A territory definition is unusable; the message says which part and why."""

    def __init__(self, message: str, *, field: str = "", territory: str = "") -> None:
        prefix = f"territory {territory!r}: " if territory else ""
        super().__init__(prefix + message, table="territories", field=field)
        self.territory = territory


# -- postal codes ---------------------------------------------------------------------------------

_US_ZIP4 = re.compile(r"^(\d{5})-?\d{4}$")
_SPLIT = re.compile(r"[,;\n\r\t|]+")


def normalise_postal_code(value: object, country: str | None = "US") -> str:
    """One canonical text form per code, so '02139', ' 02139 ', '02139-4307' and 2139 all match.

    Codes are text: a US code that lost its leading zeros in a spreadsheet (the integer 2139) gets
    them back; other countries keep their letters and digits, upper-cased, without spaces.
    """
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = re.sub(r"\s+", "", str(value)).upper()
    if not text:
        return ""
    if (country or "US").upper() == "US":
        zip4 = _US_ZIP4.match(text)
        if zip4:
            return zip4.group(1)
        if text.isdigit() and len(text) < 5:
            return text.zfill(5)
    return text


def parse_postal_codes(
    text_or_items: str | Iterable[object], country: str | None = "US"
) -> list[str]:
    """Codes from a paste (one per line, or separated by commas, semicolons, tabs) or a list.

    Whitespace separates codes only when every piece is numeric, so 'SW1A 1AA' stays one code while
    '02139 02140' is two. Duplicates are dropped, order is kept. An empty result is an error: a
    territory listed by postal codes with no codes would silently match nothing.
    """
    if isinstance(text_or_items, str):
        pieces: list[object] = []
        for chunk in _SPLIT.split(text_or_items):
            words = chunk.split()
            if len(words) > 1 and all(w.replace("-", "").isdigit() for w in words):
                pieces.extend(words)
            else:
                pieces.append(chunk)
    else:
        pieces = list(text_or_items)
    seen: dict[str, None] = {}
    for piece in pieces:
        code = normalise_postal_code(piece, country)
        if code:
            seen.setdefault(code, None)
    if not seen:
        raise DefinitionError("the postal-code list is empty", field="postal_codes")
    return list(seen)


# -- regions --------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Region:
    """A country, optionally narrowed to a state/province code (``region=''`` is the whole country)."""

    country: str
    region: str = ""

    @classmethod
    def parse(cls, value: object, default_country: str | None = None) -> Region:
        """A region from "US-MA", {country, region}, a country ("Canada", "CA") or a US state's
        name ("Kentucky"). With ``default_country`` "US" a bare two-letter code is a state ("CA"
        is California, as a US team's file means it), else a country."""
        if isinstance(value, Region):
            return value
        if isinstance(value, str):
            text = " ".join(value.split())
            state = regions.us_state(text) if len(text) > 2 else None
            if state is not None and regions.country_code(text) is None:
                return cls("US", state)  # "Kentucky", "US-KY"
            if len(text) == 2 and default_country:
                code = regions.region_code(text, default_country)
                if code is not None:
                    return cls(default_country.upper(), code)
            whole = regions.country_code(text) if len(text) != 2 else None
            if whole is not None:
                return cls(whole, "")
            if len(text) == 2 and regions.country_code(text) is None:
                states = f" nor a state of {default_country.upper()}" if default_country else ""
                raise DefinitionError(
                    f"region {text!r} is not a country code{states}", field="regions"
                )
            country, _, region = text.replace("/", "-").partition("-")
        elif isinstance(value, Mapping):
            country, region = str(value.get("country") or ""), str(value.get("region") or "")
        else:
            raise DefinitionError(
                f"a region must be 'US-MA' or {{country, region}}, not {value!r}", field="regions"
            )
        country, region = country.strip().upper(), region.strip()
        if not re.fullmatch(r"[A-Z]{2}", country):
            raise DefinitionError(
                f"region {value!r} needs a two-letter country code", field="regions"
            )
        return cls(country, (regions.region_code(region, country) or region).upper())

    def matches(self, country: str | None, region: str | None) -> bool:
        if (country or "").upper() != self.country:
            return False
        if not self.region:
            return True
        text = (region or "").strip()
        # an account's region as written ("Kentucky") compared as its code ("KY")
        return text.upper() == self.region or regions.region_code(text, self.country) == self.region

    def label(self) -> str:
        return f"{self.country}-{self.region}" if self.region else self.country

    def to_json(self) -> dict[str, str]:
        return {"country": self.country, "region": self.region}


# -- attribute rules ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttributeRule:
    """Matches accounts whose attributes satisfy every given condition (an empty condition is 'any')."""

    industries: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    potential_min: float | None = None
    potential_max: float | None = None

    @classmethod
    def from_json(cls, data: object, where: str = "rule") -> AttributeRule:
        if not isinstance(data, Mapping):
            raise DefinitionError(f"{where} must be an object, not {data!r}", field="rules")
        unknown = set(data) - {"industry", "size", "status", "potential_min", "potential_max"}
        if unknown:
            raise DefinitionError(
                f"{where} has unknown condition(s) {sorted(unknown)}", field="rules"
            )

        def strings(key: str) -> tuple[str, ...]:
            raw = data.get(key) or []
            items = [raw] if isinstance(raw, str) else list(raw)
            return tuple(str(i).strip() for i in items if str(i).strip())

        sizes, statuses = strings("size"), tuple(s.lower() for s in strings("status"))
        for size in sizes:
            if size not in SIZE_BANDS:
                raise DefinitionError(
                    f"{where}: size {size!r} is not one of {', '.join(SIZE_BANDS)}", field="rules"
                )
        for status in statuses:
            if status not in STATUSES:
                raise DefinitionError(
                    f"{where}: status {status!r} is not one of {', '.join(STATUSES)}", field="rules"
                )
        lo, hi = (_number(data.get(k), where, k) for k in ("potential_min", "potential_max"))
        if lo is not None and hi is not None and lo > hi:
            raise DefinitionError(
                f"{where}: potential_min {lo:g} is above potential_max {hi:g}", field="rules"
            )
        rule = cls(strings("industry"), sizes, statuses, lo, hi)
        if rule.is_empty():
            raise DefinitionError(
                f"{where} has no condition and would match every account", field="rules"
            )
        return rule

    def is_empty(self) -> bool:
        return not (
            self.industries
            or self.sizes
            or self.statuses
            or self.potential_min is not None
            or self.potential_max is not None
        )

    def matches(
        self, industry: str | None, size: str | None, potential: float | None, status: str | None
    ) -> bool:
        if self.industries and (industry or "").casefold() not in {
            i.casefold() for i in self.industries
        }:
            return False
        if self.sizes and size not in self.sizes:
            return False
        if self.statuses and (status or "") not in self.statuses:
            return False
        if self.potential_min is not None and (potential is None or potential < self.potential_min):
            return False
        return not (
            self.potential_max is not None and (potential is None or potential > self.potential_max)
        )

    def overlaps(self, other: AttributeRule) -> bool:
        """Whether some account could satisfy both rules (an empty condition allows anything)."""

        def meet(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
            return not a or not b or bool({x.casefold() for x in a} & {x.casefold() for x in b})

        lo = max(
            (v for v in (self.potential_min, other.potential_min) if v is not None),
            default=None,
        )
        hi = min(
            (v for v in (self.potential_max, other.potential_max) if v is not None),
            default=None,
        )
        return (
            meet(self.industries, other.industries)
            and meet(self.sizes, other.sizes)
            and meet(self.statuses, other.statuses)
            and (lo is None or hi is None or lo <= hi)
        )

    def describe(self) -> str:
        parts = []
        if self.industries:
            parts.append("industry " + "/".join(self.industries))
        if self.sizes:
            parts.append("size " + "/".join(self.sizes))
        if self.statuses:
            parts.append("status " + "/".join(self.statuses))
        if self.potential_min is not None or self.potential_max is not None:
            lo = f"{self.potential_min:,.0f}" if self.potential_min is not None else "0"
            hi = f"{self.potential_max:,.0f}" if self.potential_max is not None else "∞"
            parts.append(f"potential {lo}–{hi}")
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.industries:
            out["industry"] = list(self.industries)
        if self.sizes:
            out["size"] = list(self.sizes)
        if self.statuses:
            out["status"] = list(self.statuses)
        if self.potential_min is not None:
            out["potential_min"] = self.potential_min
        if self.potential_max is not None:
            out["potential_max"] = self.potential_max
        return out


def _number(value: object, where: str, key: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DefinitionError(
            f"{where}: {key} must be a number, not {value!r}", field="rules"
        ) from None
    if not math.isfinite(number):
        raise DefinitionError(f"{where}: {key} must be a finite number", field="rules")
    return number


# -- geometry -------------------------------------------------------------------------------------


def _check_position(pos: object, where: str) -> tuple[float, float]:
    if not isinstance(pos, Sequence) or isinstance(pos, str) or len(pos) < 2:
        raise DefinitionError(
            f"{where}: a position must be [longitude, latitude], not {pos!r}", field="geometry"
        )
    try:
        lon, lat = float(pos[0]), float(pos[1])
    except (TypeError, ValueError):
        raise DefinitionError(
            f"{where}: position {pos!r} is not numeric", field="geometry"
        ) from None
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise DefinitionError(f"{where}: position {pos!r} is not finite", field="geometry")
    if abs(lat) > 90 or abs(lon) > 180:
        hint = ""
        if abs(lon) <= 90 < abs(lat) <= 180:
            hint = ": longitude and latitude look swapped (GeoJSON is [longitude, latitude])"
        raise DefinitionError(
            f"{where}: position [{lon:g}, {lat:g}] is outside longitude -180..180 / latitude "
            f"-90..90{hint}",
            field="geometry",
        )
    return lon, lat


def _ring(coords: object, where: str) -> Any:
    """The ring's positions as an (n, 2) array; checked at once with numpy (a county file has a
    million positions), position by position only to say exactly which one is wrong."""
    if not isinstance(coords, Sequence) or isinstance(coords, str):
        raise DefinitionError(f"{where} is not a list of positions", field="geometry")
    try:
        array = np.asarray(coords, dtype=float)
    except (TypeError, ValueError):
        array = None
    sound = (
        array is not None
        and array.ndim == 2
        and array.shape[1] >= 2
        and bool(np.isfinite(array[:, :2]).all())
        and bool((np.abs(array[:, 0]) <= 180).all())
        and bool((np.abs(array[:, 1]) <= 90).all())
    )
    if sound:
        assert array is not None
        points = array[:, :2]
    else:
        points = np.asarray(
            [_check_position(p, f"{where}, point {i + 1}") for i, p in enumerate(coords)],
            dtype=float,
        ).reshape(-1, 2)
    if len(points) < 4:
        raise DefinitionError(
            f"{where} has {len(points)} positions; a closed ring needs at least 4", field="geometry"
        )
    if not np.array_equal(points[0], points[-1]):
        raise DefinitionError(
            f"{where} is not closed: it starts at {points[0].tolist()} but ends at"
            f" {points[-1].tolist()}",
            field="geometry",
        )
    return points


def parse_geometry(value: object, territory: str = "") -> MultiPolygon:
    """A validated MultiPolygon from GeoJSON (text or mapping; Polygon, MultiPolygon or a Feature).

    Checks, in order: the GeoJSON shape, every position in range (catching swapped lon/lat), every
    ring closed, then shapely's validity (self-intersections, holes outside shells...).
    """
    try:
        if isinstance(value, str):
            value = json.loads(value)
        if not isinstance(value, Mapping):
            raise DefinitionError(
                "geometry must be a GeoJSON object", field="geometry", territory=territory
            )
        if value.get("type") == "Feature":
            value = value.get("geometry") or {}
        kind = value.get("type")
        coords = value.get("coordinates")
        polygons_raw: list[Any] | None
        if kind == "Polygon":
            polygons_raw = [coords]
        elif kind == "MultiPolygon":
            polygons_raw = coords if isinstance(coords, list) else None
        else:
            raise DefinitionError(
                f"geometry type {kind!r} is not Polygon or MultiPolygon",
                field="geometry",
                territory=territory,
            )
        if not polygons_raw or not all(isinstance(p, list) and p for p in polygons_raw):
            raise DefinitionError(
                "geometry has no polygon rings", field="geometry", territory=territory
            )
        polygons = []
        for pi, rings in enumerate(polygons_raw, start=1):
            shell = _ring(rings[0], f"outer ring of polygon {pi}")
            holes = [_ring(r, f"hole {hi} of polygon {pi}") for hi, r in enumerate(rings[1:], 1)]
            polygons.append(Polygon(shell, holes))
    except json.JSONDecodeError as exc:
        raise DefinitionError(
            f"geometry is not valid JSON ({exc.msg})", field="geometry", territory=territory
        ) from None
    except DefinitionError as exc:
        if territory and not exc.territory:
            raise DefinitionError(str(exc), field="geometry", territory=territory) from None
        raise
    multi = MultiPolygon(polygons)
    if not multi.is_valid:
        why = explain_validity(multi)
        match = re.match(r"(.*?)\[\s*([-\d.eE]+)\s+([-\d.eE]+)\s*\]", why)
        if match:
            why = (
                f"{match.group(1).strip().lower()} near ({float(match.group(2)):.5f}, "
                f"{float(match.group(3)):.5f})"
            )
        raise DefinitionError(f"polygon is not valid: {why}", field="geometry", territory=territory)
    return multi


def geometry_to_geojson(geom: MultiPolygon) -> dict[str, Any]:
    geojson: dict[str, Any] = json.loads(shapely.to_geojson(geom))
    return geojson


# -- the definition ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TerritoryDef:
    """One territory as the engine sees it (parsed, validated)."""

    id: str
    name: str
    priority: int = DEFAULT_PRIORITY
    kind: str = "territory"
    parent_id: str | None = None
    owner_id: str | None = None
    color: str = "#4e79a7"
    geometry: MultiPolygon | None = None
    postal_codes: frozenset[str] = frozenset()
    regions: tuple[Region, ...] = ()
    rules: tuple[AttributeRule, ...] = ()
    archived: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def assignable(self) -> bool:
        """Accounts go to active territories; regions only group them."""
        return self.kind == "territory" and not self.archived

    def has_criteria(self) -> bool:
        return bool(self.geometry is not None or self.postal_codes or self.regions or self.rules)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> TerritoryDef:
        """From a ``territories`` row (already validated on write; geometry parsed fast)."""
        geom = None
        if row.get("geometry"):
            parsed = shapely.from_geojson(row["geometry"])
            geom = parsed if isinstance(parsed, MultiPolygon) else MultiPolygon([parsed])
        return cls(
            id=row["id"],
            name=row["name"],
            priority=int(row.get("priority") or DEFAULT_PRIORITY),
            kind=row.get("kind") or "territory",
            parent_id=row.get("parent_id"),
            owner_id=row.get("owner_id"),
            color=row.get("color") or "#4e79a7",
            geometry=geom,
            postal_codes=frozenset(json.loads(row.get("postal_codes") or "[]")),
            regions=tuple(Region.parse(r) for r in json.loads(row.get("regions") or "[]")),
            rules=tuple(
                AttributeRule.from_json(r, f"rule {i}")
                for i, r in enumerate(json.loads(row.get("rules") or "[]"), 1)
            ),
            archived=bool(row.get("archived")),
        )

    def row_fields(self) -> dict[str, Any]:
        """The ``territories`` columns this definition writes."""
        return {
            "name": self.name,
            "priority": self.priority,
            "kind": self.kind,
            "parent_id": self.parent_id,
            "owner_id": self.owner_id,
            "color": self.color,
            "geometry": shapely.to_geojson(self.geometry) if self.geometry is not None else None,
            "postal_codes": json.dumps(sorted(self.postal_codes)),
            "regions": json.dumps([r.to_json() for r in self.regions]),
            "rules": json.dumps([r.to_json() for r in self.rules]),
            "archived": int(self.archived),
        }


def parse_priority(value: object, territory: str = "") -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise DefinitionError(
            f"priority must be a whole number, not {value!r}", field="priority", territory=territory
        ) from None
    if not 0 <= number <= 1_000_000:
        raise DefinitionError(
            "priority must be between 0 and 1000000", field="priority", territory=territory
        )
    return number


def parse_color(value: object, territory: str = "") -> str:
    text = str(value or "").strip()
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", text):
        raise DefinitionError(
            f"color must look like #4e79a7, not {value!r}", field="color", territory=territory
        )
    return text.lower()
