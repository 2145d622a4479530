"""The offline vector basemap: country, US state and county outlines and city points, per zoom band.

Read from ``resources/basemap.npz`` (built by ``resources/build_basemap.py``; the credits travel in
the file). Vertices are Web Mercator world coordinates (float32); each layer band is a flat vertex
array and the offsets where its rings start, which the canvas turns into one path per layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "resources" / "basemap.npz"
LAYERS = ("countries", "states", "counties")
# The zoom from which a layer is drawn at all (counties would be a grey smear over the whole US).
MIN_ZOOM = {"countries": 0.0, "states": 3.0, "counties": 6.5}


@dataclass(frozen=True)
class Rings:
    xy: np.ndarray[Any, Any]  # (n, 2) float32 world coordinates
    offsets: np.ndarray[Any, Any]  # ring i is xy[offsets[i]:offsets[i + 1]]

    def __len__(self) -> int:
        return max(len(self.offsets) - 1, 0)


@dataclass
class Basemap:
    bands: dict[str, list[tuple[float, Rings]]] = field(
        default_factory=dict
    )  # layer -> (max zoom, rings)
    city_xy: np.ndarray[Any, Any] = field(default_factory=lambda: np.empty((0, 2), np.float32))
    city_pop: np.ndarray[Any, Any] = field(default_factory=lambda: np.empty(0, np.int64))
    city_names: list[str] = field(default_factory=list)
    credits: str = ""

    def rings(self, layer: str, zoom: float) -> Rings | None:
        """The band of ``layer`` to draw at ``zoom``, or None when the layer is not shown there."""
        if zoom < MIN_ZOOM[layer]:
            return None
        for max_zoom, rings in self.bands.get(layer, []):
            if zoom <= max_zoom:
                return rings
        bands = self.bands.get(layer)
        return bands[-1][1] if bands else None

    def cities_to_show(self, zoom: float) -> int:
        """How many of the largest cities to label at ``zoom`` (they are sorted by population)."""
        if zoom < 3:
            return 0
        min_pop = (
            3_000_000
            if zoom < 4
            else 1_000_000
            if zoom < 5
            else 250_000
            if zoom < 6
            else 100_000
            if zoom < 7
            else 0
        )
        return int(np.searchsorted(-self.city_pop, -min_pop, side="right"))


@cache
def load(path: Path = DEFAULT_PATH) -> Basemap:
    """The basemap in ``path``; an empty one (the canvas still works) if the file is missing."""
    if not path.exists():
        return Basemap()
    with np.load(path) as data:
        bands: dict[str, list[tuple[float, Rings]]] = {}
        for key in data.files:
            if not key.endswith("_xy") or key.startswith("cities"):
                continue
            layer, band, _ = key.split("_")
            max_zoom = 99.0 if band == "full" else float(band[1:])
            rings = Rings(data[key], data[f"{layer}_{band}_rings"])
            bands.setdefault(layer, []).append((max_zoom, rings))
        for layer in bands:
            bands[layer].sort(key=lambda item: item[0])
        return Basemap(
            bands=bands,
            city_xy=data["cities_xy"],
            city_pop=data["cities_pop"],
            city_names=str(data["cities_names"]).split("\n"),
            credits=str(data["credits"]),
        )
