"""The map with 100,000 accounts: repaint, pan, zoom, memory and the 100-stop route.

Baseline, in the same run and interleaved round by round: the raw ``QPainter.drawPixmapFragments``
of the same 100,000 projected points (numpy projection + fragment array + one call) into an image
of the same size, the least any map of every account has to do per frame.

1. Full repaint: FieldRep's scene (basemap, 500 territories with fills, outlines and labels, 100k
   markers, city names) at 1600x1000, zoomed to the accounts' extent. Target <= 2x the baseline.
2. 100 consecutive pan frames of the real canvas (15 px each, the cached scene re-rendered on a
   worker when the view leaves it, as in the app): median and worst GUI-thread frame, and the
   ratio of the median to the baseline (a naive map would redraw every marker every frame).
3. A zoom from the whole US to a street (z4 -> z16 in wheel notches): worst frame and the time
   until the street's scene is drawn.
4. Memory: the process's resident size before and after loading the map page's data and drawing.
5. Route: 100 stops with fast-tsp (time, length) against nearest neighbour + 2-opt.

``--db PATH`` uses a real book (the 100k demo); without it, 100,000 synthetic accounts clustered
around US cities. Prints CPU time beside wall time; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def synthetic_accounts(n: int, seed: int = 1) -> Any:
    from fieldrep.geo.projection import lonlat_to_world
    from fieldrep.services.map.data import MapAccounts

    rng = np.random.default_rng(seed)
    centres = np.array(
        [(-74.0, 40.7), (-118.2, 34.05), (-87.6, 41.9), (-95.4, 29.8), (-112.1, 33.4), (-75.2, 39.95),
         (-98.5, 29.4), (-117.2, 32.7), (-96.8, 32.8), (-122.4, 37.8), (-71.06, 42.36), (-84.4, 33.75),
         (-80.2, 25.8), (-122.3, 47.6), (-104.99, 39.74), (-90.2, 38.6)]
    )  # fmt: skip
    pick = rng.integers(0, len(centres), n)
    lon = centres[pick, 0] + rng.normal(0, 0.6, n)
    lat = centres[pick, 1] + rng.normal(0, 0.45, n)
    wx, wy = lonlat_to_world(lon, lat)
    statuses = np.array(["prospect", "active", "inactive", "lost"])[rng.integers(0, 4, n)]
    return MapAccounts(
        ids=[f"a{i}" for i in range(n)], names=[f"Account {i}" for i in range(n)], lat=lat, lon=lon,
        wx=wx, wy=wy, territory=[None] * n, owner=[None] * n, status=list(statuses),
        quality=["postal_code"] * n, city=[""] * n, last_visit_days=rng.random(n) * 300, unplaced=[],
    )  # fmt: skip


def synthetic_territories(count: int) -> tuple[Any, ...]:
    """``count`` rectangles tiling the contiguous US, 40 vertices each (edges subdivided)."""
    from fieldrep.services.map.data import PALETTE, TerritoryShape
    from fieldrep.ui.map.layers import territory_geoms

    cols = int(np.ceil(np.sqrt(count * 2.2)))
    rows = int(np.ceil(count / cols))
    lons = np.linspace(-124, -67, cols + 1)
    lats = np.linspace(25, 49, rows + 1)
    shapes = []
    for k in range(count):
        i, j = k % cols, k // cols
        x0, x1, y0, y1 = lons[i], lons[i + 1], lats[j], lats[j + 1]
        t = np.linspace(0, 1, 10, endpoint=False)
        ring = (
            [(x0 + (x1 - x0) * s, y0) for s in t] + [(x1, y0 + (y1 - y0) * s) for s in t]
            + [(x1 - (x1 - x0) * s, y1) for s in t] + [(x0, y1 - (y1 - y0) * s) for s in t]
        )  # fmt: skip
        ring.append(ring[0])
        geometry = {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}
        shapes.append(
            TerritoryShape(f"t{k}", f"T{k:03d}", PALETTE[k % len(PALETTE)], geometry, 0, "")
        )
    return territory_geoms(shapes)


def timed(fn: Any) -> tuple[float, float, Any]:
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w0, time.process_time() - c0, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="20,000 accounts, 100 territories")
    parser.add_argument("--db", type=Path, help="an existing database (e.g. the 100k demo)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtWidgets import QApplication

    app = QApplication(["map_render"])
    from fieldrep.geo import basemap as basemap_data
    from fieldrep.geo.projection import fit_zoom, lonlat_to_world
    from fieldrep.geo.routing import distance_matrix, nearest_neighbour_2opt, solve, tour_length
    from fieldrep.geo.spatial import PointIndex
    from fieldrep.ui.map.canvas import MapCanvas
    from fieldrep.ui.map.layers import (
        MarkerData,
        SceneSpec,
        draw_fragments,
        make_sprite,
        render_scene,
    )
    from fieldrep.ui.tasks import TaskRunner

    rss_start = rss_mb()
    n_territories = 100 if args.quick else 500
    if args.db:
        import sqlite3

        from fieldrep.services.map.data import load_accounts

        acc = load_accounts(sqlite3.connect(args.db))
    else:
        acc = synthetic_accounts(20_000 if args.quick else 100_000)
    territories = synthetic_territories(n_territories)
    bm = basemap_data.load()
    coding = acc.coding("status")
    markers = MarkerData(
        acc.wx, acc.wy, coding.codes.astype(np.int64), tuple(c.color for c in coding.categories)
    )
    width, height = 1600, 1000
    cx, cy, zoom = fit_zoom(acc.bounds(), width, height)
    print(
        f"{len(acc):,} accounts, {len(territories)} territories, {width}x{height}, zoom {zoom:.2f}"
    )

    # -- 1. full repaint vs raw fragments, interleaved --------------------------------------------
    sprite, cell = make_sprite(markers.colors, 1.0)

    def baseline() -> None:
        image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(0xFFFFFFFF)
        p = QPainter(image)
        s = 256 * 2**zoom
        sx = (acc.wx - cx) * s + width / 2
        sy = (acc.wy - cy) * s + height / 2
        draw_fragments(p, sx, sy, markers.codes, sprite, cell)
        p.end()

    spec = SceneSpec(cx, cy, zoom, width, height, 1.0, bm, territories, markers, cluster=False)
    base_w, base_c, ours_w, ours_c, cold_w, cold_c = [], [], [], [], [], []
    baseline()
    previous = render_scene(spec)  # warm caches (ring boxes) on both sides
    for _ in range(args.rounds):
        w, c, _o = timed(baseline)
        base_w.append(w)
        base_c.append(c)
        # What the canvas does when the accounts change (a reload, another colouring): the markers
        # are drawn again over the cached basemap + territory layer, then the labels on top.
        w, c, _o = timed(lambda: render_scene(spec, previous))
        ours_w.append(w)
        ours_c.append(c)
        # Every layer from nothing (a view the cache does not cover), on the canvas's worker.
        w, c, _o = timed(lambda: render_scene(spec))
        cold_w.append(w)
        cold_c.append(c)
    base, ours, cold = (statistics.median(v) for v in (base_w, ours_w, cold_w))
    repaint_ratio = ours / base
    cold_ratio = cold / base
    cpu_ratio = statistics.median(ours_c) / statistics.median(base_c)
    print(
        f"full repaint (markers over the cached layers): FieldRep {ours * 1000:.0f} ms "
        f"(cpu {statistics.median(ours_c) * 1000:.0f}) vs raw fragments {base * 1000:.0f} ms "
        f"(cpu {statistics.median(base_c) * 1000:.0f}): {repaint_ratio:.2f}x wall, {cpu_ratio:.2f}x cpu"
    )
    print(
        f"  every layer from nothing (basemap, {len(territories)} territories, labels, markers): "
        f"{cold * 1000:.0f} ms (cpu {statistics.median(cold_c) * 1000:.0f}): {cold_ratio:.2f}x, on a worker"
    )
    clustered = SceneSpec(cx, cy, zoom, width, height, 1.0, bm, territories, markers, cluster=True)
    w, _c, scene = timed(lambda: render_scene(clustered))
    print(
        f"  clustered view (the app's default when zoomed out): {w * 1000:.0f} ms, {len(scene.clusters)} clusters"
    )

    # -- 2. pan frames on the real canvas ---------------------------------------------------------
    runner = TaskRunner(Path(os.devnull))
    canvas = MapCanvas(runner)
    canvas.resize(width, height)
    canvas.show()
    index = PointIndex(acc.wx, acc.wy)
    canvas.set_basemap(bm)
    canvas.set_data(acc, index, territories, markers)
    canvas.set_layers(cluster=False)
    canvas.set_view(cx, cy, 7.0)  # a region: the markers are not clustered
    deadline = time.time() + 60
    while not canvas.scene_ready() and time.time() < deadline:
        app.processEvents()
    frames, frames_cpu = [], []
    base_frames = []
    for i in range(100):
        canvas.pan_by(-15, -4 if i % 2 else 4)
        w, c, _o = timed(canvas.repaint)
        app.processEvents()  # let a finished worker render land, as the event loop would
        frames.append(w)
        frames_cpu.append(c)
        if i % 10 == 0:
            w, _c, _o = timed(baseline)
            base_frames.append(w)
    pan_median, pan_worst = statistics.median(frames), max(frames)
    pan_p95 = sorted(frames)[94]
    pan_worst_cpu = max(frames_cpu)
    pan_ratio = pan_median / statistics.median(base_frames)
    print(
        f"pan, 100 frames: median {pan_median * 1000:.2f} ms (cpu {statistics.median(frames_cpu) * 1000:.2f}), "
        f"p95 {pan_p95 * 1000:.1f} ms, worst {pan_worst * 1000:.1f} ms (cpu {pan_worst_cpu * 1000:.1f}); raw redraw of every marker {statistics.median(base_frames) * 1000:.0f} ms "
        f"-> {pan_ratio:.3f}x"
    )

    # -- 3. zoom from the US to a street ----------------------------------------------------------
    canvas.set_layers(cluster=True)
    canvas.set_view(cx, cy, 4.0)
    while not canvas.scene_ready() and time.time() < deadline + 60:
        app.processEvents()
    target = lonlat_to_world(-73.99, 40.73)
    zoom_frames = []
    t0 = time.perf_counter()
    while canvas.zoom < 16.0:
        sx, sy = canvas.screen_of(*target)
        canvas.zoom_by(0.5, QPointF(sx, sy))
        w, _c, _o = timed(canvas.repaint)
        zoom_frames.append(w)
        app.processEvents()
    while not canvas.scene_ready():
        app.processEvents()
    settle = time.perf_counter() - t0
    print(
        f"zoom z4 -> z16 ({len(zoom_frames)} wheel steps): worst frame {max(zoom_frames) * 1000:.1f} ms, "
        f"median {statistics.median(zoom_frames) * 1000:.1f} ms, street drawn after {settle:.2f} s"
    )
    runner.shutdown()
    rss_end = rss_mb()
    print(
        f"memory: {rss_start:.0f} MB before the map's data, {rss_end:.0f} MB with the page drawn (+{rss_end - rss_start:.0f} MB)"
    )

    # -- 5. route -----------------------------------------------------------------------------------
    rng = np.random.default_rng(3)
    stops = rng.choice(len(acc), 100, replace=False)
    lat = (
        np.concatenate([[40.75], acc.lat[stops]])
        if not args.db
        else np.concatenate([[acc.lat[stops[0]]], acc.lat[stops]])
    )
    lon = (
        np.concatenate([[-73.98], acc.lon[stops]])
        if not args.db
        else np.concatenate([[acc.lon[stops[0]]], acc.lon[stops]])
    )
    # A day's stops are local: take the 100 accounts nearest one account instead of random ones.
    hits, _d = index.within_metres(float(acc.lat[stops[0]]), float(acc.lon[stops[0]]), 60_000)
    if len(hits) >= 100:
        lat = np.concatenate([[acc.lat[hits[0]]], acc.lat[hits[1:101]]])
        lon = np.concatenate([[acc.lon[hits[0]]], acc.lon[hits[1:101]]])
    matrix = distance_matrix(lat, lon)
    tsp_w, tsp_c, order = timed(lambda: solve(matrix, return_to_start=False))
    nn_w, _nn_c, nn = timed(lambda: nearest_neighbour_2opt(matrix, return_to_start=False))
    tsp_len, nn_len = (
        tour_length(matrix, order, closed=False),
        tour_length(matrix, nn, closed=False),
    )
    print(
        f"route, 100 stops: fast-tsp {tsp_w * 1000:.0f} ms (cpu {tsp_c * 1000:.0f}), {tsp_len / 1000:.1f} km; "
        f"nearest neighbour + 2-opt {nn_w * 1000:.0f} ms, {nn_len / 1000:.1f} km ({(1 - tsp_len / nn_len) * 100:.1f} % shorter)"
    )
    app.quit()
    print(
        json.dumps(
            {
                "bench": "map_render",
                "ratio": round(repaint_ratio, 3),
                "target": 2.0,
                "accounts": len(acc),
                "territories": len(territories),
                "repaint_ms": round(ours * 1000, 1),
                "cpu_ratio": round(cpu_ratio, 3),
                "cold_ms": round(cold * 1000, 1),
                "cold_ratio": round(cold_ratio, 3),
                "baseline_ms": round(base * 1000, 1),
                "pan_median_ms": round(pan_median * 1000, 2),
                "pan_worst_ms": round(pan_worst * 1000, 1),
                "pan_p95_ms": round(pan_p95 * 1000, 1),
                "pan_worst_cpu_ms": round(pan_worst_cpu * 1000, 1),
                "pan_ratio": round(pan_ratio, 4),
                "zoom_worst_ms": round(max(zoom_frames) * 1000, 1),
                "zoom_settle_s": round(settle, 2),
                "rss_mb": round(rss_end, 0),
                "rss_added_mb": round(rss_end - rss_start, 0),
                "route_ms": round(tsp_w * 1000, 0),
                "route_km": round(tsp_len / 1000, 1),
                "nn2opt_km": round(nn_len / 1000, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
