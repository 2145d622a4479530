"""Import 3,221 county-like boundaries from GeoJSON, against shapely parsing, validating and
overlap-querying the same features.

The file: a synthetic county map of the lower 48's size, 3,221 polygons in a jittered grid whose
neighbours share their (wiggled) edges exactly, ~40 vertices per edge as in a simplified Census
cartographic file, with the Census properties (NAME, LSAD, STATEFP, COUNTYFP, GEOID, ALAND,
AWATER) and a few self-intersecting polygons (as the common us-states.json has). Baseline, in the
same run: ``json.load``, ``shapely.geometry.shape`` for every feature, ``make_valid`` where not
valid, an STRtree over them and its ``intersects`` query with the intersection areas of the pairs:
the least any import that checks overlaps must do. FieldRep: ``territories import`` end to end
(names from a template, geometry checks and repair, validation of the whole set, writes with the
sync outbox, the dry-run assignment is left out). Sides are interleaved; each gets a fresh
database. ``--zips`` also times 33,000 ZIP-sized polygons (target: under a minute).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import shapely
from shapely.geometry import shape
from shapely.strtree import STRtree

from fieldrep.services.context import Context
from fieldrep.services.territories import geojson as territory_geojson

COUNTIES = 3221
EDGE_POINTS = 40
BROKEN = 5  # self-intersecting polygons in the file


def _edge(
    a: tuple[float, float], b: tuple[float, float], rng: random.Random, wiggle: float
) -> list[tuple[float, float]]:
    points = [a]
    for k in range(1, EDGE_POINTS):
        t = k / EDGE_POINTS
        x = a[0] + (b[0] - a[0]) * t
        y = a[1] + (b[1] - a[1]) * t
        # across the edge only, and less near its corners: no edge crosses another
        amplitude = wiggle * math.sin(math.pi * t)
        if a[0] == b[0]:
            x += rng.uniform(-amplitude, amplitude)
        else:
            y += rng.uniform(-amplitude, amplitude)
        points.append((round(x, 6), round(y, 6)))
    return points


def make_file(path: Path, n: int, seed: int = 15) -> None:
    rng = random.Random(seed)
    cols = int(n**0.5) + 1
    rows = -(-n // cols)
    width, height = 58.0 / cols, 25.0 / rows  # -125..-67 by 24..49
    corners = {
        (i, j): (round(-125 + i * width, 6), round(24 + j * height, 6))
        for i in range(cols + 1)
        for j in range(rows + 1)
    }
    wiggle = min(width, height) * 0.08
    edges: dict[tuple[Any, Any], list[tuple[float, float]]] = {}

    def edge(p: tuple[int, int], q: tuple[int, int]) -> list[tuple[float, float]]:
        if (q, p) in edges:
            return edges[(q, p)][::-1]
        if (p, q) not in edges:
            edges[(p, q)] = _edge(corners[p], corners[q], rng, wiggle)
        return edges[(p, q)]

    features = []
    for k in range(n):
        i, j = k % cols, k // cols
        ring: list[tuple[float, float]] = []
        for p, q in (((i, j), (i + 1, j)), ((i + 1, j), (i + 1, j + 1))):
            ring += edge(p, q)
        for p, q in (((i + 1, j + 1), (i, j + 1)), ((i, j + 1), (i, j))):
            ring += edge(p, q)
        ring.append(ring[0])
        coords = [list(pt) for pt in ring]
        if k < BROKEN:  # a bow-tie: two vertices swapped
            coords[3], coords[EDGE_POINTS + 3] = coords[EDGE_POINTS + 3], coords[3]
        state = f"{k % 56 + 1:02d}"
        county = f"{k // 56 * 2 + 1:03d}"
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "STATEFP": state,
                    "COUNTYFP": county,
                    "GEOID": state + county,
                    "NAME": f"County {k}",
                    "LSAD": "County",
                    "ALAND": rng.randrange(10**8, 10**10),
                    "AWATER": rng.randrange(10**6, 10**8),
                },
                "geometry": {"type": "Polygon", "coordinates": [coords]},
            }
        )
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))


def baseline(path: Path) -> float:
    started = time.process_time()
    wall = time.perf_counter()
    data = json.loads(path.read_text())
    geoms = [shape(f["geometry"]) for f in data["features"]]
    geoms = [g if g.is_valid else shapely.make_valid(g) for g in geoms]
    tree = STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    shapely.area(
        shapely.intersection([geoms[i] for i in left[keep]], [geoms[j] for j in right[keep]])
    )
    baseline.cpu = time.process_time() - started  # type: ignore[attr-defined]
    return time.perf_counter() - wall


def ours(path: Path, folder: Path, k: int) -> float:
    ctx = Context.open(folder / f"t{k}.db")
    try:
        started = time.process_time()
        wall = time.perf_counter()
        result = territory_geojson.import_file(ctx, path, name_property="{NAME} {LSAD}, {GEOID}")
        ours.cpu = time.process_time() - started  # type: ignore[attr-defined]
        took = time.perf_counter() - wall
        assert len(result.created) == path_count(path), len(result.created)
        assert len(result.repaired) == BROKEN, result.repaired
        return took
    finally:
        ctx.close()


def path_count(path: Path) -> int:
    return len(json.loads(path.read_text())["features"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="400 polygons, one round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--zips", action="store_true", help="also 33,000 ZIP-sized polygons")
    args = parser.parse_args()
    n = 400 if args.quick else COUNTIES
    rounds = 1 if args.quick else args.rounds
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "counties.geojson"
        make_file(path, n)
        raw_s, ours_s, raw_cpu, ours_cpu = [], [], [], []
        for k in range(rounds):
            raw_s.append(baseline(path))
            raw_cpu.append(baseline.cpu)  # type: ignore[attr-defined]
            ours_s.append(ours(path, folder, k))
            ours_cpu.append(ours.cpu)  # type: ignore[attr-defined]
        raw, mine = min(raw_s), min(ours_s)
        print(
            f"{n:,} polygons ({path.stat().st_size / 1e6:.1f} MB): FieldRep {mine:.2f} s"
            f" (cpu {min(ours_cpu):.2f} s) vs shapely parse+validate+overlap {raw:.2f} s"
            f" (cpu {min(raw_cpu):.2f} s): {mine / raw:.2f}x"
        )
        zips_s = zips_cpu = None
        if args.zips:
            zpath = folder / "zips.geojson"
            make_file(zpath, 33_000)
            zips_s = ours(zpath, folder, 99)
            zips_cpu = ours.cpu  # type: ignore[attr-defined]
            print(f"33,000 ZIP-sized polygons: {zips_s:.1f} s, cpu {zips_cpu:.1f} s (target 60 s)")
    print(
        json.dumps(
            {
                "bench": "territory_import",
                "polygons": n,
                "raw_s": round(raw, 3),
                "fieldrep_s": round(mine, 3),
                "raw_cpu_s": round(min(raw_cpu), 3),
                "fieldrep_cpu_s": round(min(ours_cpu), 3),
                "ratio": round(mine / raw, 2),
                "target": 5.0,
                "zips_33000_s": None if zips_s is None else round(zips_s, 1),
                "zips_33000_cpu_s": None if zips_s is None else round(zips_cpu, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
