"""Territories to and from GeoJSON (and from TopoJSON, KML and KMZ), so they travel to and from GIS tools.

A territory is a Feature whose geometry is its (Multi)Polygon (or null) and whose properties are
``name`` (any case, or the property or template the user chose), ``kind``, ``parent`` (a name),
``priority``, ``postal_codes``, ``regions``, ``rules``, ``color``, ``owner`` and ``members`` (user
names) and ``archived``. Files are read by :mod:`fieldrep.services.territories.file_formats` (formats,
CRS). Import matches existing territories by name (case-insensitive) and updates them, creates the
rest, repairs invalid polygons (said), checks the whole resulting set (overlaps at equal priority,
slivers as warnings, cycles) and writes everything in one transaction: a bad feature anywhere means
nothing is imported, and every problem is listed with the feature and the field.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from fieldrep.domain.ids import uuid7
from fieldrep.domain.territory_rules import (
    DefinitionError,
    Region,
    TerritoryDef,
    geometry_to_geojson,
    parse_geometry,
)
from fieldrep.services.context import Context
from fieldrep.services.territories import region_reading
from fieldrep.services.territories import service as territory_service
from fieldrep.services.territories.file_formats import (
    NotGeoJSONError,
    read_territory_file,
)
from fieldrep.store.errors import ValidationError

KNOWN_PROPERTIES = {
    "name",
    "kind",
    "parent",
    "priority",
    "postal_codes",
    "regions",
    "rules",
    "color",
    "owner",
    "members",
    "archived",
    "id",
    "notes",
}


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    members_added: int = 0
    warnings: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)  # invalid polygons made valid
    region_reading: str = ""  # how bare two-letter regions were read, and why (when there were any)

    def warning_lines(self) -> list[str]:
        """The warnings, with the repaired polygons said once, counted."""
        lines = list(self.warnings)
        if self.repaired:
            shown = ", ".join(self.repaired[:10]) + (
                f" and {len(self.repaired) - 10:,} more" if len(self.repaired) > 10 else ""
            )
            lines.insert(
                0,
                f"{len(self.repaired):,} invalid polygon(s) repaired with shapely.make_valid"
                f" (self-intersections, twisted rings): {shown}",
            )
        return lines


def export_collection(ctx: Context, include_archived: bool = True) -> dict[str, Any]:
    users = {r["id"]: r["username"] for r in ctx.db.query("SELECT id, username FROM users")}
    members: dict[str, list[str]] = {}
    for r in ctx.db.query(
        "SELECT territory_id, user_id FROM territory_members WHERE active = 1 "
        "ORDER BY role = 'owner' DESC, user_id"
    ):
        if r["user_id"] in users:
            members.setdefault(r["territory_id"], []).append(users[r["user_id"]])
    defs = territory_service.load_definitions(ctx)
    names = {t.id: t.name for t in defs}
    features = []
    for t in defs:
        if t.archived and not include_archived:
            continue
        props: dict[str, Any] = {
            "name": t.name,
            "kind": t.kind,
            "priority": t.priority,
            "color": t.color,
        }
        if t.parent_id:
            props["parent"] = names.get(t.parent_id)
        if t.postal_codes:
            props["postal_codes"] = sorted(t.postal_codes)
        if t.regions:
            props["regions"] = [r.label() for r in t.regions]
        if t.rules:
            props["rules"] = [r.to_json() for r in t.rules]
        if t.owner_id in users:
            props["owner"] = users[t.owner_id]
        if members.get(t.id):
            props["members"] = members[t.id]
        if t.archived:
            props["archived"] = True
        geometry = geometry_to_geojson(t.geometry) if t.geometry is not None else None
        features.append({"type": "Feature", "id": t.id, "properties": props, "geometry": geometry})
    return {"type": "FeatureCollection", "features": features}


def export_file(ctx: Context, path: str | Path) -> int:
    collection = export_collection(ctx)
    Path(path).write_text(json.dumps(collection, indent=1), encoding="utf-8")
    return len(collection["features"])


def read_file(path: str | Path) -> dict[str, Any]:
    """A FeatureCollection in WGS84 from a GeoJSON, TopoJSON, KML or KMZ file
    (:mod:`fieldrep.services.territories.file_formats`); NotGeoJSONError if it is none of them."""
    return as_collection(read_territory_file(path), Path(path).name)


def as_collection(data: Any, source: str = "the file") -> dict[str, Any]:
    if isinstance(data, dict) and data.get("type") in ("Polygon", "MultiPolygon"):
        data = {"type": "Feature", "properties": {}, "geometry": data}
    if isinstance(data, dict) and data.get("type") == "Feature":
        data = {"type": "FeatureCollection", "features": [data]}
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        if isinstance(data, dict):
            found = f"type {data['type']!r}" if "type" in data else 'a JSON object without "type"'
        else:
            found = f"a JSON {type(data).__name__}"
        raise NotGeoJSONError(
            f"{source} is not GeoJSON: expected a FeatureCollection, found {found}"
        )
    if not isinstance(data.get("features"), list):
        raise NotGeoJSONError(f"{source} is not GeoJSON: 'features' is not a list")
    return data


def _feature_error(n: int, name: str, exc: Exception) -> DefinitionError:
    where = f"feature {n}" + (f" ({name})" if name else "")
    message = str(exc)
    prefix = f"territory {name!r}: "
    if message.startswith(prefix):
        message = message[len(prefix) :]
    return DefinitionError(f"{where}: {message}", field=getattr(exc, "field", ""))


def _regions(raw: Any, default_country: str | None) -> list[Region]:
    """A feature's regions; a bare two-letter code is a state of ``default_country`` ("CA" is
    California in a US team's file, never Canada) and names are read too ("Kentucky")."""
    if isinstance(raw, str):
        raw = [p for p in raw.replace(";", ",").split(",") if p.strip()]
    if not isinstance(raw, list):
        raise DefinitionError("property 'regions' must be a list", field="regions")
    return [Region.parse(r, default_country) for r in raw]


_FIELD = re.compile(r"\{([^{}]+)\}")


def feature_name(props: dict[str, Any], name_property: str | None) -> str:
    """The name of a feature: the ``name_property`` (a property's name, any case) or a template of
    properties ("{NAME} {LSAD}, {STATE}"); by default its name/Name/NAME property."""
    folded = {str(k).casefold(): v for k, v in props.items()}

    def value(key: str) -> str:
        found = props.get(key, folded.get(key.casefold()))
        if found is None or found == "":
            raise DefinitionError(f"property {key!r} is missing", field="name")
        return str(found).strip()

    if name_property and "{" in name_property:
        return " ".join(_FIELD.sub(lambda m: value(m.group(1)), name_property).split())
    return " ".join(value(name_property or "name").split())


def properties_found(collection: dict[str, Any], samples: int = 3) -> dict[str, list[str]]:
    """Every property of the file's features with a few sample values: what a user picks the
    name from (the import window lists them)."""
    found: dict[str, list[str]] = {}
    for feature in as_collection(collection).get("features", []):
        props = (feature or {}).get("properties") or {}
        for key, raw in props.items():
            values = found.setdefault(str(key), [])
            text = "" if raw is None else str(raw)
            if text and len(values) < samples and text not in values:
                values.append(text[:60])
    return found


def _geometry(raw: Any, name: str, result: ImportResult) -> Any:
    """The feature's MultiPolygon, an invalid one repaired with ``shapely.make_valid`` (said)."""
    if raw in (None, ""):
        return None
    try:
        return parse_geometry(raw, name)
    except DefinitionError as exc:
        if "polygon is not valid" not in str(exc):
            raise
    import shapely
    from shapely.geometry import MultiPolygon, Polygon, shape

    fixed = shapely.make_valid(shape(raw))
    parts = [
        g
        for g in getattr(fixed, "geoms", [fixed])
        for g in (getattr(g, "geoms", None) or [g])
        if isinstance(g, Polygon) and not g.is_empty
    ]
    if not parts:
        raise DefinitionError(
            "polygon is not valid and has no area once repaired", field="geometry"
        )
    result.repaired.append(name)
    return MultiPolygon(parts)


def import_collection(
    ctx: Context,
    collection: dict[str, Any],
    *,
    name_property: str | None = None,
    region_country: str | Literal["book"] | None = "book",
) -> ImportResult:
    """Create or update the territories of ``collection``; all or nothing. ``name_property``: see
    :func:`feature_name`; ``region_country``: whose states bare two-letter regions are (``None``:
    such codes are countries), a choice remembered with the import; by default the book's reading
    (:func:`fieldrep.services.territories.region_reading.region_reading`)."""
    collection = as_collection(collection)
    if region_country == "book":
        reading = region_reading.region_reading(ctx.conn)
    else:
        reading = region_reading.RegionReading(region_country, "as chosen for this book", True)
    default_country = reading.country
    existing = {t.name.casefold(): t for t in territory_service.load_definitions(ctx)}
    users = {
        r["username"].casefold(): r["id"] for r in ctx.db.query("SELECT id, username FROM users")
    }
    result = ImportResult()
    codes = region_reading.two_letter_codes(collection)
    if codes:
        result.region_reading = reading.sentence(codes)
    parsed: list[tuple[TerritoryDef, str | None, list[str], bool]] = []
    named: dict[str, list[int]] = defaultdict(list)
    ignored: dict[str, int] = defaultdict(int)
    problems: list[str] = []
    used_for_name = {
        k.casefold() for k in (_FIELD.findall(name_property or "") or [name_property or "name"])
    }
    for n, feature in enumerate(collection["features"], 1):
        if not isinstance(feature, dict) or not isinstance(feature.get("properties") or {}, dict):
            raise NotGeoJSONError(f"feature {n} is not a GeoJSON Feature with properties")
        props = feature.get("properties") or {}
        name = ""
        try:
            name = feature_name(props, name_property)
            named[name.casefold()].append(n)
            if len(named[name.casefold()]) > 1:
                continue  # reported once below, listing every feature of that name
            for key in set(props) - KNOWN_PROPERTIES:
                if str(key).casefold() not in used_for_name:
                    ignored[str(key)] += 1
            changes: dict[str, Any] = {
                "name": name,
                "geometry": _geometry(feature.get("geometry"), name, result),
            }
            for key in ("kind", "priority", "color", "rules", "archived"):
                if key in props:
                    changes[key] = props[key]
            if "regions" in props:
                changes["regions"] = _regions(props["regions"], default_country)
            if "postal_codes" in props:
                codes = props["postal_codes"]
                changes["postal_codes"] = codes if isinstance(codes, str) else list(codes or [])
            owner = props.get("owner")
            if owner:
                if str(owner).casefold() not in users:
                    raise DefinitionError(
                        f"owner {owner!r} is not a known user name", field="owner"
                    )
                changes["owner_id"] = users[str(owner).casefold()]
            member_names = props.get("members") or []
            if isinstance(member_names, str):
                member_names = [member_names]
            missing = [m for m in member_names if str(m).casefold() not in users]
            if missing:
                raise DefinitionError(
                    f"member(s) {', '.join(map(repr, missing))} are not known user names",
                    field="members",
                )
            old = existing.get(name.casefold())
            base = old or TerritoryDef(id=uuid7(), name=name)
            new = territory_service.build_definition(base, changes)
        except (DefinitionError, ValidationError) as exc:
            problems.append(str(_feature_error(n, name, exc)))
            continue
        parsed.append(
            (
                new,
                props.get("parent"),
                [users[str(m).casefold()] for m in member_names],
                old is None,
            )
        )
    for features in named.values():
        if len(features) > 1:
            first = collection["features"][features[0] - 1].get("properties") or {}
            shown = ", ".join(map(str, features[:20])) + (" ..." if len(features) > 20 else "")
            problems.append(
                f"features {shown} are all named {feature_name(first, name_property)!r}: choose"
                ' a property (or a template such as "{NAME}, {STATE}") that tells them apart'
            )
    if problems:
        raise DefinitionError("\n".join(problems))
    if ignored:
        result.warnings.append(
            "ignored properties (no territory field): "
            + ", ".join(f"{k} ({v:,} features)" for k, v in sorted(ignored.items()))
        )
    ids = {t.name.casefold(): t.id for t in existing.values()}
    ids.update({t.name.casefold(): t.id for t, _, _, _ in parsed})
    resolved = []
    for n, (t, parent, member_ids, is_new) in enumerate(parsed, 1):
        parent_id = t.parent_id
        if parent:
            parent_id = ids.get(str(parent).casefold())
            if parent_id is None:
                raise DefinitionError(
                    f"feature {n} ({t.name}): parent {parent!r} is neither in "
                    "the file nor in the database",
                    field="parent",
                )
        resolved.append((replace(t, parent_id=parent_id), member_ids, is_new))
    with ctx.writer.transaction() as conn:
        if region_country != "book":
            region_reading.remember(conn, region_country)
        checked = territory_service.write_definitions(
            ctx, [t for t, _, new in resolved if new], [t for t, _, new in resolved if not new]
        )
        mine = {t.id for t, _, _ in resolved}
        result.warnings.extend(p.message for p in checked if p.territory_id in mine)
        for t, member_ids, is_new in resolved:
            (result.created if is_new else result.updated).append(t.name)
            current = {m["user_id"] for m in territory_service.members(ctx, t.id)}
            for uid in member_ids:
                if uid not in current:
                    territory_service.ensure_member(
                        ctx, t.id, uid, "owner" if uid == t.owner_id else "member"
                    )
                    result.members_added += 1
            if t.owner_id and t.owner_id not in current and t.owner_id not in member_ids:
                territory_service.ensure_member(ctx, t.id, t.owner_id, "owner")
    return result


def import_file(
    ctx: Context,
    path: str | Path,
    *,
    name_property: str | None = None,
    region_country: str | Literal["book"] | None = "book",
) -> ImportResult:
    return import_collection(
        ctx, read_file(path), name_property=name_property, region_country=region_country
    )
