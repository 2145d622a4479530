"""Territory files as GIS tools publish them, read into one GeoJSON FeatureCollection in WGS84.

- GeoJSON, with or without a UTF-8 byte-order mark; a ``crs`` member (EPSG:27700, US Albers...) is
  reprojected to longitude/latitude with ``pyproj``; coordinates that look projected (metres) in a
  file that declares no CRS are refused, naming what was found.
- TopoJSON (``"type": "Topology"``): every object's polygons, arcs decoded (quantised or not).
- KML in any of its namespaces (OGC 2.2, Google Earth's ``earth.google.com/kml/2.x``, none), with
  prefixes used but never declared as ArcGIS writes them, and KMZ (zipped KML). A placemark's
  ``ExtendedData`` (``Data`` and ``SchemaData``) become its properties, so a name can come from
  there. KML is parsed with ``defusedxml`` (no entity expansion, no external entities).
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any

from fieldrep.store.errors import ValidationError


class NotGeoJSONError(ValidationError):
    """The file is not a territory file we can read; the message says what it is instead."""


# -- the file ---------------------------------------------------------------------------------------


def read_territory_file(path: str | Path) -> dict[str, Any]:
    """A FeatureCollection in WGS84 from a .geojson/.json, .topojson, .kml or .kmz file."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:4] == b"PK\x03\x04":
        return read_kmz(raw, path.name)
    try:
        text = raw.decode("utf-8-sig")
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
    if isinstance(data, dict) and data.get("type") == "Topology":
        data = topojson_to_geojson(data, path.name)
    return to_wgs84(data, path.name)


# -- CRS ----------------------------------------------------------------------------------------------

_EPSG = re.compile(r"EPSG:{1,2}(?:[\d.]*:)?(\d+)", re.IGNORECASE)
_WGS84_NAMES = ("CRS84", "EPSG::4326", "EPSG:4326", "urn:ogc:def:crs:OGC:1.3:CRS84")


def _declared_crs(data: Any) -> str | None:
    crs = data.get("crs") if isinstance(data, dict) else None
    if not isinstance(crs, dict):
        return None
    props = crs.get("properties") or {}
    name = props.get("name") if isinstance(props, dict) else None
    if not name and isinstance(props, dict) and props.get("code"):
        name = f"EPSG:{props['code']}"
    return str(name) if name else None


def _positions(coords: Any) -> Any:
    """Every [x, y, ...] position in nested coordinate lists."""
    if isinstance(coords, list) and coords and isinstance(coords[0], (int, float)):
        yield coords
    elif isinstance(coords, list):
        for item in coords:
            yield from _positions(item)


def _geometries(data: Any) -> Any:
    if not isinstance(data, dict):
        return
    if data.get("type") == "FeatureCollection":
        for feature in data.get("features") or []:
            yield from _geometries(feature)
    elif data.get("type") == "Feature":
        if isinstance(data.get("geometry"), dict):
            yield data["geometry"]
    elif "coordinates" in data:
        yield data


def to_wgs84(data: Any, source: str) -> Any:
    """The GeoJSON with its coordinates in longitude/latitude (reprojected if a CRS says so)."""
    declared = _declared_crs(data)
    if declared and not any(declared.upper().endswith(n.upper()) for n in _WGS84_NAMES):
        return _reproject(data, declared, source)
    for geometry in _geometries(data):
        for pos in _positions(geometry.get("coordinates")):
            if len(pos) >= 2 and abs(pos[0]) <= 90 < abs(pos[1]) <= 180:
                # Degrees, but a latitude past the pole: written as [latitude, longitude].
                raise NotGeoJSONError(
                    f"{source}: longitude and latitude look swapped (e.g. [{pos[0]:g},"
                    f" {pos[1]:g}] has a latitude beyond 90°); GeoJSON writes each position as"
                    " [longitude, latitude]"
                )
            if len(pos) >= 2 and (abs(pos[0]) > 180 or abs(pos[1]) > 90):
                raise NotGeoJSONError(
                    f"{source}: coordinates look projected (metres, e.g. [{pos[0]:.0f},"
                    f" {pos[1]:.0f}]); the file declares no CRS. Export it as WGS84"
                    ' (EPSG:4326) or add its "crs" member'
                )
            break
    if isinstance(data, dict):
        data.pop("crs", None)
    return data


def _reproject(data: Any, declared: str, source: str) -> Any:
    from pyproj import CRS, Transformer
    from pyproj.exceptions import CRSError

    match = _EPSG.search(declared)
    try:
        crs = CRS.from_epsg(int(match.group(1))) if match else CRS.from_user_input(declared)
    except CRSError:
        raise NotGeoJSONError(f"{source}: its CRS {declared!r} is not one pyproj knows") from None
    transform = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform
    for geometry in _geometries(data):
        for pos in _positions(geometry.get("coordinates")):
            pos[0], pos[1] = (round(v, 7) for v in transform(pos[0], pos[1]))
    data.pop("crs", None)
    return data


# -- TopoJSON ------------------------------------------------------------------------------------------


def topojson_to_geojson(topology: dict[str, Any], source: str) -> dict[str, Any]:
    """Every polygon object of a Topology as Features (properties and ids kept)."""
    transform = topology.get("transform")
    scale = transform.get("scale", [1, 1]) if transform else [1, 1]
    translate = transform.get("translate", [0, 0]) if transform else [0, 0]
    arcs: list[list[list[float]]] = []
    for arc in topology.get("arcs") or []:
        x = y = 0.0
        points = []
        for pos in arc:
            if transform:
                x, y = x + pos[0], y + pos[1]
                points.append([x * scale[0] + translate[0], y * scale[1] + translate[1]])
            else:
                points.append([float(pos[0]), float(pos[1])])
        arcs.append(points)

    def ring(indexes: list[int]) -> list[list[float]]:
        out: list[list[float]] = []
        for index in indexes:
            points = arcs[index] if index >= 0 else arcs[~index][::-1]
            out.extend(points if not out else points[1:])
        return out

    features: list[dict[str, Any]] = []

    def add(obj: dict[str, Any]) -> None:
        kind = obj.get("type")
        if kind == "GeometryCollection":
            for child in obj.get("geometries") or []:
                add(child)
            return
        if kind == "Polygon":
            geometry = {"type": "Polygon", "coordinates": [ring(r) for r in obj["arcs"]]}
        elif kind == "MultiPolygon":
            geometry = {
                "type": "MultiPolygon",
                "coordinates": [[ring(r) for r in polygon] for polygon in obj["arcs"]],
            }
        else:
            return
        feature: dict[str, Any] = {
            "type": "Feature",
            "properties": dict(obj.get("properties") or {}),
            "geometry": geometry,
        }
        if "id" in obj:
            feature["id"] = obj["id"]
        features.append(feature)

    for obj in (topology.get("objects") or {}).values():
        add(obj)
    if not features:
        raise NotGeoJSONError(f"{source} is a TopoJSON file without polygons")
    collection: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if "crs" in topology:
        collection["crs"] = topology["crs"]
    return collection


# -- KML / KMZ -----------------------------------------------------------------------------------------

_PREFIXED_TAG = re.compile(r"</?([A-Za-z_][\w.-]*):[A-Za-z_]")
_ROOT_TAG = re.compile(r"<(?![?!])([^\s>/]+)")


def read_kmz(raw: bytes, source: str) -> dict[str, Any]:
    import io

    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as kmz:
            names = [n for n in kmz.namelist() if n.lower().endswith(".kml")]
            if not names:
                raise NotGeoJSONError(f"{source} is a zip file without a .kml inside")
            # doc.kml is the main document by convention; else the first KML
            main = next((n for n in names if n.lower().endswith("doc.kml")), names[0])
            text = kmz.read(main).decode("utf-8-sig")
    except zipfile.BadZipFile:
        raise NotGeoJSONError(f"{source} is not a readable KMZ (zip) file") from None
    return read_kml(text, source)


def _declare_prefixes(text: str) -> str:
    """Declare on the root element every tag prefix the file uses without declaring it."""
    used = set(_PREFIXED_TAG.findall(text)) - {"xml"}
    missing = [p for p in sorted(used) if f"xmlns:{p}=" not in text]
    if not missing:
        return text
    root = _ROOT_TAG.search(text)
    if root is None:
        return text
    declarations = "".join(f' xmlns:{p}="urn:undeclared:{p}"' for p in missing)
    return text[: root.end()] + declarations + text[root.end() :]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def read_kml(text: str, source: str = "the file") -> dict[str, Any]:
    """Placemark polygons (with holes; MultiGeometry too), names and ExtendedData from KML."""
    from xml.etree.ElementTree import Element, ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        root = fromstring(_declare_prefixes(text.lstrip("\ufeff")))
    except (ParseError, DefusedXmlException) as exc:
        raise NotGeoJSONError(f"{source} is neither GeoJSON nor KML ({exc})") from None

    def children(el: Element, name: str) -> list[Element]:
        return [c for c in el if _local(c.tag) == name]

    def descendants(el: Element, name: str) -> list[Element]:
        return [c for c in el.iter() if _local(c.tag) == name]

    def ring(el: Element) -> list[list[float]]:
        found = descendants(el, "coordinates")
        out = []
        for token in (found[0].text or "").split() if found else []:
            parts = token.split(",")
            try:
                out.append([float(parts[0]), float(parts[1])])
            except (ValueError, IndexError):
                raise NotGeoJSONError(
                    f"{source}: KML coordinate {token!r} is not 'longitude,latitude'"
                ) from None
        return out

    features = []
    for n, mark in enumerate(descendants(root, "Placemark"), 1):
        polygons = []
        for poly in descendants(mark, "Polygon"):
            outer = children(poly, "outerBoundaryIs")
            if not outer:
                continue
            rings = [ring(outer[0])] + [ring(inner) for inner in children(poly, "innerBoundaryIs")]
            polygons.append(rings)
        if not polygons:
            continue
        props: dict[str, Any] = {}
        for data in descendants(mark, "Data"):
            value = children(data, "value")
            if data.get("name") and value:
                props[data.get("name", "")] = (value[0].text or "").strip()
        for simple in descendants(mark, "SimpleData"):
            if simple.get("name"):
                props[simple.get("name", "")] = (simple.text or "").strip()
        name_el = children(mark, "name")
        name = (name_el[0].text or "").strip() if name_el else ""
        if name:
            props["name"] = name
        elif not any(k.casefold() == "name" for k in props):
            props["name"] = f"Placemark {n}"
        features.append(
            {
                "type": "Feature",
                "properties": props,
                "geometry": {"type": "MultiPolygon", "coordinates": polygons},
            }
        )
    if not features:
        raise NotGeoJSONError(f"{source} has no KML Placemark with a Polygon")
    return {"type": "FeatureCollection", "features": features}
