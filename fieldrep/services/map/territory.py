"""Territory outlines drawn on the map: check the shape, preview what it moves, then save it.

The preview writes the new or changed territory and runs the territory engine's dry run
(:func:`fieldrep.services.territories.assignment.assign_all`) inside one transaction that is then
rolled back, so the diff is exactly what saving would do, computed by the same code, and nothing
is left behind. Saving writes the territory through :mod:`fieldrep.services.territories.service` and applies
the engine's reassignment.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import mapping

from fieldrep.services.context import Context
from fieldrep.services.territories import assignment as assignment_service
from fieldrep.services.territories import service as territories
from fieldrep.services.territories.assignment import AssignmentDiff


class OutlineError(ValueError):
    """A drawn outline that cannot be a territory; ``repaired`` is the shape we can offer instead."""

    def __init__(self, message: str, repaired: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.repaired = repaired


@dataclass(frozen=True)
class Outline:
    geometry: dict[str, Any]  # GeoJSON MultiPolygon (lon/lat)
    area_km2: float


def check_outline(vertices: Sequence[tuple[float, float]]) -> Outline:
    """The drawn (lon, lat) vertices as a valid MultiPolygon, or :class:`OutlineError` saying why.

    Fewer than three distinct points is refused outright; an outline that crosses itself is
    refused with the repaired shape (its loops as separate parts) offered in the error.
    """
    distinct = list(dict.fromkeys((round(x, 7), round(y, 7)) for x, y in vertices))
    if len(distinct) < 3:
        raise OutlineError(
            f"a territory needs at least three corners; this outline has {len(distinct)}"
        )
    polygon = shapely.Polygon(distinct)
    if polygon.is_valid and polygon.area > 0:
        return _outline(shapely.MultiPolygon([polygon]))
    repaired = shapely.make_valid(polygon)
    parts = [g for g in shapely.get_parts(repaired) if g.geom_type == "Polygon" and g.area > 0]
    if not parts:
        raise OutlineError("the outline encloses no area (all its corners lie on one line)")
    fixed = _outline(shapely.MultiPolygon(parts))
    raise OutlineError(
        f"the outline crosses itself; it can be saved as {len(parts)} separate "
        f"part{'s' if len(parts) != 1 else ''} instead",
        fixed.geometry,
    )


def _outline(geom: shapely.MultiPolygon) -> Outline:
    # Area on a sphere would need pyproj; a local equirectangular estimate is close for a territory.
    import math

    lat = geom.centroid.y
    km_per_deg = 111.32
    area = geom.area * km_per_deg**2 * math.cos(math.radians(lat))
    # Through JSON: mapping() gives tuples, and GeoJSON (and the definition parser) wants lists.
    return Outline(json.loads(json.dumps(mapping(geom))), area)


class _Rollback(Exception):
    pass


@dataclass(frozen=True)
class Change:
    """One territory written by a split or merge: a new one (``territory_id`` None), a new
    outline, or archived (a merged territory whose outline went to its neighbour)."""

    territory_id: str | None
    name: str = ""
    color: str | None = None
    geometry: dict[str, Any] | None = None
    archive: bool = False


def split_outline(
    geometry: dict[str, Any], line: Sequence[tuple[float, float]]
) -> list[dict[str, Any]]:
    """The territory cut along a drawn line into parts, largest first (OutlineError if it does not
    cut it in two)."""
    from shapely.geometry import shape
    from shapely.ops import split

    if len(line) < 2:
        raise OutlineError("draw a cutting line of at least two points across the territory")
    polygon = shape(geometry)
    cut = shapely.LineString(line)
    if not cut.intersects(polygon):
        raise OutlineError(
            "the line does not cross the territory; draw it from one side to the other"
        )
    parts = [g for g in shapely.get_parts(split(polygon, cut)) if g.area > 0]
    if len(parts) < 2:
        raise OutlineError(
            "the line does not cut the territory in two; draw it all the way across its outline"
        )
    parts.sort(key=lambda g: -g.area)
    # The largest part keeps the territory; every other piece goes to the new one.
    rest = shapely.union_all(parts[1:])
    return [_outline(_multi(parts[0])).geometry, _outline(_multi(rest)).geometry]


def merge_outlines(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """One outline covering both (a MultiPolygon when they do not touch)."""
    from shapely.geometry import shape

    merged = shapely.make_valid(shapely.union_all([shape(first), shape(second)]))
    polygons = [g for g in shapely.get_parts(merged) if g.geom_type == "Polygon"]
    return _outline(shapely.MultiPolygon(polygons)).geometry


def _multi(geom: Any) -> shapely.MultiPolygon:
    parts = [g for g in shapely.get_parts(geom) if g.geom_type == "Polygon"]
    return shapely.MultiPolygon(parts)


def _write_changes(ctx: Context, changes: Sequence[Change]) -> list[str]:
    """Write in an order the overlap check accepts at every step: archive what is merged away,
    shrink what is split, then create the new parts. Ids come back in the order given."""
    ids: dict[int, str] = {}
    order = sorted(
        range(len(changes)),
        key=lambda i: (not changes[i].archive, changes[i].territory_id is None),
    )
    for i in order:
        change = changes[i]
        if change.archive and change.territory_id is not None:
            territories.archive_territory(ctx, change.territory_id)
            ids[i] = change.territory_id
        else:
            ids[i] = _write(
                ctx, change.geometry or {}, change.territory_id, change.name, change.color
            )
    return [ids[i] for i in range(len(changes))]


def preview_changes(ctx: Context, changes: Sequence[Change]) -> AssignmentDiff:
    """What a split or merge would move, computed by the engine and rolled back."""
    result: list[AssignmentDiff] = []
    try:
        with ctx.writer.transaction():
            _write_changes(ctx, changes)
            result.append(assignment_service.assign_all(ctx, dry_run=True))
            raise _Rollback
    except _Rollback:
        pass
    return result[0]


def save_changes(ctx: Context, changes: Sequence[Change]) -> tuple[list[str], AssignmentDiff]:
    """Write a split or merge and apply the reassignment it causes, in one transaction."""
    with ctx.writer.transaction():
        ids = _write_changes(ctx, changes)
        diff = assignment_service.assign_all(ctx, dry_run=False)
    return ids, diff


def preview(
    ctx: Context,
    geometry: dict[str, Any],
    *,
    territory_id: str | None = None,
    name: str = "",
    color: str | None = None,
) -> AssignmentDiff:
    """What saving this outline would move (new territory when ``territory_id`` is None)."""
    result: list[AssignmentDiff] = []
    try:
        with ctx.writer.transaction():
            _write(ctx, geometry, territory_id, name, color)
            result.append(assignment_service.assign_all(ctx, dry_run=True))
            raise _Rollback
    except _Rollback:
        pass
    return result[0]


def _write(
    ctx: Context, geometry: dict[str, Any], territory_id: str | None, name: str, color: str | None
) -> str:
    changes: dict[str, Any] = {"geometry": geometry}
    if color:
        changes["color"] = color
    if territory_id is None:
        return territories.create_territory(ctx, name, **changes)
    territories.update_territory(ctx, territory_id, **changes)
    return territory_id


def save(
    ctx: Context,
    geometry: dict[str, Any],
    *,
    territory_id: str | None = None,
    name: str = "",
    color: str | None = None,
) -> tuple[str, AssignmentDiff]:
    """Write the outline and apply the reassignment it causes, in one transaction."""
    with ctx.writer.transaction():
        saved_id = _write(ctx, geometry, territory_id, name, color)
        diff = assignment_service.assign_all(ctx, dry_run=False)
    return saved_id, diff
