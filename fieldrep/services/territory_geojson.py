"""Territories to and from GeoJSON (and polygons from KML), so they travel to and from GIS tools.

A territory is a Feature whose geometry is its (Multi)Polygon (or null) and whose properties are
``name`` (required), ``kind``, ``parent`` (a name), ``priority``, ``postal_codes``, ``regions``,
``rules``, ``color``, ``owner`` and ``members`` (user names) and ``archived``. Import matches
existing territories by name (case-insensitive) and updates them, creates the rest, checks the whole
resulting set (overlaps at equal priority, cycles) and writes everything in one transaction: a bad
feature anywhere means nothing is imported, and the error names the feature and the field.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fieldrep.domain.ids import uuid7
from fieldrep.domain.territory_rules import (
    DefinitionError,
    Region,
    TerritoryDef,
    geometry_to_geojson,
)
from fieldrep.services import territories as svc
from fieldrep.services.context import Context
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


class NotGeoJSONError(ValidationError):
    """The file is not a GeoJSON FeatureCollection of territories."""


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    members_added: int = 0
    warnings: list[str] = field(default_factory=list)


def export_collection(ctx: Context, include_archived: bool = True) -> dict[str, Any]:
    users = {r["id"]: r["username"] for r in ctx.db.query("SELECT id, username FROM users")}
    members: dict[str, list[str]] = {}
    for r in ctx.db.query(
        "SELECT territory_id, user_id FROM territory_members WHERE active = 1 "
        "ORDER BY role = 'owner' DESC, user_id"
    ):
        if r["user_id"] in users:
            members.setdefault(r["territory_id"], []).append(users[r["user_id"]])
    defs = svc.load_definitions(ctx)
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
    """A FeatureCollection from a .geojson/.json or .kml file; NotGeoJSONError if it is neither."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise NotGeoJSONError(f"{path.name} is not GeoJSON: it is not a text file") from None
    if path.suffix.lower() == ".kml" or text.lstrip().startswith("<"):
        return read_kml(text, path.name)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotGeoJSONError(
            f"{path.name} is not GeoJSON: invalid JSON at line {exc.lineno} ({exc.msg})"
        ) from None
    return as_collection(data, path.name)


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


_KML = "{http://www.opengis.net/kml/2.2}"


def read_kml(text: str, source: str = "the file") -> dict[str, Any]:
    """Placemark polygons (with holes; MultiGeometry too) and names from KML 2.2."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise NotGeoJSONError(f"{source} is neither GeoJSON nor KML ({exc})") from None
    ns = _KML if root.tag.startswith(_KML) else ""

    def ring(el: ET.Element | None) -> list[list[float]]:
        coords = el.findtext(f".//{ns}coordinates", default="") if el is not None else ""
        out = []
        for token in coords.split():
            parts = token.split(",")
            try:
                out.append([float(parts[0]), float(parts[1])])
            except (ValueError, IndexError):
                raise NotGeoJSONError(
                    f"{source}: KML coordinate {token!r} is not 'longitude,latitude'"
                ) from None
        return out

    features = []
    for n, mark in enumerate(root.iter(f"{ns}Placemark"), 1):
        polygons = []
        for poly in mark.iter(f"{ns}Polygon"):
            rings = [ring(poly.find(f"{ns}outerBoundaryIs"))]
            rings += [ring(inner) for inner in poly.findall(f"{ns}innerBoundaryIs")]
            polygons.append(rings)
        if not polygons:
            continue
        name = (mark.findtext(f"{ns}name") or f"Placemark {n}").strip()
        features.append(
            {
                "type": "Feature",
                "properties": {"name": name},
                "geometry": {"type": "MultiPolygon", "coordinates": polygons},
            }
        )
    if not features:
        raise NotGeoJSONError(f"{source} has no KML Placemark with a Polygon")
    return {"type": "FeatureCollection", "features": features}


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


def import_collection(
    ctx: Context, collection: dict[str, Any], *, default_country: str | None = "US"
) -> ImportResult:
    """Create or update the territories of ``collection``; all or nothing."""
    collection = as_collection(collection)
    existing = {t.name.casefold(): t for t in svc.load_definitions(ctx)}
    users = {
        r["username"].casefold(): r["id"] for r in ctx.db.query("SELECT id, username FROM users")
    }
    result = ImportResult()
    parsed: list[tuple[TerritoryDef, str | None, list[str], bool]] = []
    seen: set[str] = set()
    for n, feature in enumerate(collection["features"], 1):
        if not isinstance(feature, dict) or not isinstance(feature.get("properties") or {}, dict):
            raise NotGeoJSONError(f"feature {n} is not a GeoJSON Feature with properties")
        props = feature.get("properties") or {}
        name = str(props.get("name") or "").strip()
        try:
            if not name:
                raise DefinitionError("property 'name' is missing", field="name")
            if name.casefold() in seen:
                raise DefinitionError("the file names this territory twice", field="name")
            seen.add(name.casefold())
            unknown = set(props) - KNOWN_PROPERTIES
            if unknown:
                result.warnings.append(
                    f"feature {n} ({name}): ignored properties {', '.join(sorted(unknown))}"
                )
            changes: dict[str, Any] = {"name": name, "geometry": feature.get("geometry")}
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
            new = svc.build_definition(base, changes)
        except (DefinitionError, ValidationError) as exc:
            raise _feature_error(n, name, exc) from None
        parsed.append(
            (
                new,
                props.get("parent"),
                [users[str(m).casefold()] for m in member_names],
                old is None,
            )
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
    with ctx.writer.transaction():
        svc.write_definitions(
            ctx, [t for t, _, new in resolved if new], [t for t, _, new in resolved if not new]
        )
        for t, member_ids, is_new in resolved:
            (result.created if is_new else result.updated).append(t.name)
            current = {m["user_id"] for m in svc.members(ctx, t.id)}
            for uid in member_ids:
                if uid not in current:
                    svc.ensure_member(ctx, t.id, uid, "owner" if uid == t.owner_id else "member")
                    result.members_added += 1
            if t.owner_id and t.owner_id not in current and t.owner_id not in member_ids:
                svc.ensure_member(ctx, t.id, t.owner_id, "owner")
    return result


def import_file(ctx: Context, path: str | Path) -> ImportResult:
    return import_collection(ctx, read_file(path))
