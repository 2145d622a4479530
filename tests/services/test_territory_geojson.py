"""GeoJSON/KML import and export of territories: round trip, bad files, all-or-nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fieldrep.domain.territory_rules import DefinitionError
from fieldrep.services.context import Context
from fieldrep.services.territories import geojson as territory_geojson
from fieldrep.services.territories import service as territory_service
from tests.services.helpers_territories import square, user


def feature(name: str, geometry: object = None, **props: object) -> dict[str, object]:
    return {"type": "Feature", "geometry": geometry, "properties": {"name": name, **props}}


def test_import_creates_hierarchy_members_then_export_round_trips(
    ctx: Context, tmp_path: Path
) -> None:
    ann, bob = user(ctx, "ann"), user(ctx, "bob")
    collection = {
        "type": "FeatureCollection",
        "features": [
            feature(
                "North-East",
                square(-75, 40, -70, 45),
                parent="East",
                priority=20,
                postal_codes=["02139", 2140],
                color="#FF0000",
                owner="ann",
                members=["bob"],
            ),
            feature("East", kind="region"),
        ],
    }
    path = tmp_path / "t.geojson"
    path.write_text(json.dumps(collection))
    result = territory_geojson.import_file(ctx, path)
    assert sorted(result.created) == ["East", "North-East"]
    rows = {r["name"]: r for r in territory_service.territory_rows(ctx)}
    assert rows["North-East"]["parent_name"] == "East"
    assert rows["North-East"]["color"] == "#ff0000"
    ne = rows["North-East"]["id"]
    assert {m["user_id"] for m in territory_service.members(ctx, ne)} == {ann, bob}
    out = tmp_path / "out.geojson"
    assert territory_geojson.export_file(ctx, out) == 2
    exported = {f["properties"]["name"]: f for f in json.loads(out.read_text())["features"]}
    props = exported["North-East"]["properties"]
    assert props["postal_codes"] == ["02139", "02140"]
    assert props["owner"] == "ann"
    assert sorted(props["members"]) == ["ann", "bob"]
    assert exported["North-East"]["geometry"]["type"] == "MultiPolygon"
    # Re-importing the export updates in place: nothing new, nothing duplicated.
    again = territory_geojson.import_file(ctx, out)
    assert again.created == []
    assert sorted(again.updated) == ["East", "North-East"]
    assert len(territory_service.territory_rows(ctx)) == 2


def test_not_geojson_files_are_named(tmp_path: Path, ctx: Context) -> None:
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json")
    with pytest.raises(
        territory_geojson.NotGeoJSONError, match=r"bad\.geojson is not GeoJSON: invalid JSON"
    ):
        territory_geojson.import_file(ctx, bad)
    bad.write_text(json.dumps({"type": "Point", "coordinates": [1, 2]}))
    with pytest.raises(
        territory_geojson.NotGeoJSONError, match="expected a FeatureCollection, found type 'Point'"
    ):
        territory_geojson.import_file(ctx, bad)
    bad.write_text(json.dumps({"hello": "world"}))
    with pytest.raises(
        territory_geojson.NotGeoJSONError, match='found a JSON object without "type"'
    ):
        territory_geojson.import_file(ctx, bad)
    binary = tmp_path / "x.geojson"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(territory_geojson.NotGeoJSONError, match="not a text file"):
        territory_geojson.import_file(ctx, binary)


def test_one_bad_feature_imports_nothing(ctx: Context) -> None:
    user(ctx, "ann")
    before = ctx.writer.pending_count()
    swapped = {"type": "Polygon", "coordinates": [[[42, -120], [43, -120], [43, -119], [42, -120]]]}
    cases = [
        (
            [feature("A", square(0, 0, 1, 1)), feature("B", swapped)],
            "feature 2 .B.: outer ring of polygon 1, point 1: .* look swapped",
        ),
        ([feature("A", postal_codes=[])], "feature 1 .A.: the postal-code list is empty"),
        ([feature("A", owner="zed")], "feature 1 .A.: owner 'zed' is not a known user name"),
        ([feature("A", parent="Nowhere")], "parent 'Nowhere' is neither in the file"),
        (
            [feature("A", square(0, 0, 2, 2)), feature("B", square(1, 1, 3, 3))],
            "same priority 100 and their polygons overlap",
        ),
        (
            [feature("A", parent="B", kind="region"), feature("B", parent="A", kind="region")],
            "hierarchy has a cycle",
        ),
        ([feature("A"), feature("a")], "features 1, 2 are all named .A."),
    ]
    for features, message in cases:
        with pytest.raises(DefinitionError, match=message):
            territory_geojson.import_collection(
                ctx, {"type": "FeatureCollection", "features": features}
            )
    assert ctx.writer.pending_count() == before
    assert territory_service.territory_rows(ctx) == []


def test_kml_polygons_with_holes(ctx: Context, tmp_path: Path) -> None:
    kml = tmp_path / "t.kml"
    kml.write_text("""<?xml version="1.0"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>Donut</name>
<Polygon><outerBoundaryIs><LinearRing><coordinates>0,0,0 10,0,0 10,10,0 0,10,0 0,0,0
</coordinates></LinearRing></outerBoundaryIs><innerBoundaryIs><LinearRing><coordinates>
4,4 6,4 6,6 4,6 4,4</coordinates></LinearRing></innerBoundaryIs></Polygon></Placemark>
</Document></kml>""")
    assert territory_geojson.import_file(ctx, kml).created == ["Donut"]
    (t,) = territory_service.load_definitions(ctx)
    assert t.geometry.area == pytest.approx(96)
    kml.write_text("<kml><Document/></kml>")
    with pytest.raises(territory_geojson.NotGeoJSONError, match="no KML Placemark with a Polygon"):
        territory_geojson.import_file(ctx, kml)
