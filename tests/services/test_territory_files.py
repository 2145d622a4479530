"""Territory files as GIS tools publish them (issue 15): names, broken geometry, formats, CRS."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from fieldrep.domain.territory_rules import DefinitionError, Region
from fieldrep.services.context import Context
from fieldrep.services.territories import geojson as territory_geojson
from fieldrep.services.territories import service as territory_service

DATA = Path(__file__).parent / "data"


def square(x: float, y: float, size: float = 1.0) -> dict[str, Any]:
    ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


def feature(props: dict[str, Any], geometry: dict[str, Any] | None) -> dict[str, Any]:
    return {"type": "Feature", "properties": props, "geometry": geometry}


def collection(*features: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features), **extra}


def _names(ctx: Context) -> list[str]:
    return sorted(r["name"] for r in territory_service.territory_rows(ctx))


def test_a_name_comes_from_the_chosen_property_or_a_template(ctx: Context) -> None:
    counties = collection(
        feature({"NAME": "Kings", "LSAD": "County", "STATE": "NY"}, square(0, 0)),
        feature({"NAME": "Kings", "LSAD": "County", "STATE": "CA"}, square(2, 0)),
    )
    with pytest.raises(DefinitionError, match="features 1, 2 are all named 'Kings'"):
        territory_geojson.import_collection(
            ctx, counties
        )  # NAME matched case-insensitively by default
    result = territory_geojson.import_collection(
        ctx, counties, name_property="{NAME} {LSAD}, {STATE}"
    )
    assert sorted(result.created) == ["Kings County, CA", "Kings County, NY"]
    assert not any("NAME" in w for w in result.warnings)  # the name's properties are used
    assert any("LSAD" not in w and "ignored" in w for w in result.warnings) is False
    found = territory_geojson.properties_found(counties)
    assert found["STATE"] == ["NY", "CA"]
    with pytest.raises(DefinitionError, match="property 'GEOID' is missing"):
        territory_geojson.import_collection(ctx, counties, name_property="GEOID")


def test_invalid_polygons_are_repaired_and_slivers_are_warnings_not_errors(ctx: Context) -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    # B overlaps A by a strip 0.001 wide: 0.1 % of A, a sliver; C overlaps A by half
    sliver_b = square(0.999, 0, 1.0)
    files = collection(
        feature({"name": "Bowtie"}, bowtie),
        feature({"name": "A"}, square(10, 0)),
        feature(
            {"name": "B"},
            {
                "type": "Polygon",
                "coordinates": [[[10 + x, y] for x, y in sliver_b["coordinates"][0]]],
            },
        ),
    )
    result = territory_geojson.import_collection(ctx, files)
    assert result.repaired == ["Bowtie"]
    assert any("repaired with shapely.make_valid" in w for w in result.warning_lines())
    assert any("overlap by a sliver" in w for w in result.warnings)
    # a real overlap is an error, and every one is listed, not the first plus "N more"
    overlapping = collection(
        feature({"name": "C"}, square(10.5, 0)),
        feature({"name": "D"}, square(20, 0)),
        feature({"name": "E"}, square(20.5, 0)),
    )
    with pytest.raises(DefinitionError) as refused:
        territory_geojson.import_collection(ctx, overlapping)
    lines = str(refused.value).splitlines()
    assert len(lines) == 3  # C-A, C-B and E-D
    assert all("polygons overlap" in line for line in lines)


def test_kml_from_arcgis_and_google_earth_and_kmz(ctx: Context, tmp_path: Path) -> None:
    # Google Earth's 2.1 namespace, a prefix never declared, names in ExtendedData
    kml = DATA / "counties_arcgis.kml"
    result = territory_geojson.import_file(ctx, kml, name_property="{NAME} County, {STATE}")
    assert sorted(result.created) == ["Kings County, NY", "Queens County, NY"]
    kmz = tmp_path / "more.kmz"
    with zipfile.ZipFile(kmz, "w") as zf:
        zf.writestr(
            "doc.kml",
            kml.read_text(encoding="utf-8")
            .replace("Kings", "Bronx")
            .replace("Queens", "Richmond")
            .replace(",40.", ",41."),  # elsewhere: no overlap with the first two
        )
    result = territory_geojson.import_file(ctx, kmz)  # NAME found case-insensitively
    assert sorted(result.created) == ["Bronx", "Richmond"]


def test_geojson_with_a_bom_and_topojson(ctx: Context, tmp_path: Path) -> None:
    bom = tmp_path / "bom.geojson"
    bom.write_bytes(
        b"\xef\xbb\xbf" + json.dumps(collection(feature({"name": "B"}, square(0, 0)))).encode()
    )
    assert territory_geojson.import_file(ctx, bom).created == ["B"]
    topo = {
        "type": "Topology",
        "transform": {"scale": [0.001, 0.001], "translate": [5, 5]},
        "arcs": [[[0, 0], [1000, 0], [0, 1000], [-1000, 0], [0, -1000]]],
        "objects": {
            "zips": {
                "type": "GeometryCollection",
                "geometries": [{"type": "Polygon", "arcs": [[0]], "properties": {"ZCTA": "T1"}}],
            }
        },
    }
    path = tmp_path / "zips.topojson"
    path.write_text(json.dumps(topo), encoding="utf-8")
    assert territory_geojson.import_file(ctx, path, name_property="ZCTA").created == ["T1"]
    bounds = territory_service.load_definitions(ctx)
    t1 = next(t for t in bounds if t.name == "T1")
    assert t1.geometry is not None
    assert t1.geometry.bounds == pytest.approx((5, 5, 6, 6))


def test_projected_files_are_reprojected_or_refused(ctx: Context, tmp_path: Path) -> None:
    # a square in British National Grid around Westminster
    x, y = 529_000, 179_000
    ring = [[x, y], [x + 1000, y], [x + 1000, y + 1000], [x, y + 1000], [x, y]]
    bng = collection(
        feature({"name": "Westminster"}, {"type": "Polygon", "coordinates": [ring]}),
        crs={"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::27700"}},
    )
    path = tmp_path / "bng.geojson"
    path.write_text(json.dumps(bng), encoding="utf-8")
    territory_geojson.import_file(ctx, path)
    (west,) = territory_service.load_definitions(ctx)
    minx, miny, _, _ = west.geometry.bounds  # type: ignore[union-attr]
    assert minx == pytest.approx(-0.15, abs=0.05)
    assert miny == pytest.approx(51.5, abs=0.05)
    del bng["crs"]
    bng["features"][0]["properties"]["name"] = "Nowhere"
    path.write_text(json.dumps(bng), encoding="utf-8")
    with pytest.raises(
        territory_geojson.NotGeoJSONError, match=r"look projected \(metres.*declares no CRS"
    ):
        territory_geojson.import_file(ctx, path)


def test_two_letter_regions_in_a_territory_file_are_us_states(ctx: Context) -> None:
    territory_geojson.import_collection(
        ctx, collection(feature({"name": "West", "regions": ["CA", "ID", "Oregon"]}, None))
    )
    (west,) = territory_service.load_definitions(ctx)
    assert west.regions == (Region("US", "CA"), Region("US", "ID"), Region("US", "OR"))
