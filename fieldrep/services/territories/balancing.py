"""Balance analysis and rebalancing proposals over the database (see ``domain/balancing.py``).

A proposal is a diff (account moves with reasons) plus before/after workload per territory and new
boundaries: each territory's accounts' Voronoi cells dissolved into one MultiPolygon. Accepting it,
in one transaction, moves the accounts (with assignment history) and writes the new boundaries as
the territories' polygons, so the next ``fieldrep assign`` agrees with the accepted proposal instead
of undoing it (polygons are the strongest match). Accounts without coordinates are not moved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon

from fieldrep.domain.balancing import BalanceResult, WorkloadModel, balance, proposal_boundaries
from fieldrep.domain.balancing import workload as workload_of
from fieldrep.domain.progress import Progress
from fieldrep.services.context import Context
from fieldrep.services.territories import assignment as assign
from fieldrep.services.territories.lead_routing import Routers, owner_for
from fieldrep.services.territories.service import load_definitions


@dataclass
class TerritoryBalance:
    territory_id: str
    name: str
    accounts_before: int
    accounts_after: int
    potential_before: float
    potential_after: float
    hours_before: float
    hours_after: float


@dataclass
class Proposal:
    measure: str
    result: BalanceResult
    rows: list[TerritoryBalance]
    moves: list[assign.Move]
    boundaries: dict[str, MultiPolygon] = field(default_factory=dict)
    skipped_without_coordinates: int = 0

    @property
    def ratio_before(self) -> float:
        return self.result.ratio_before

    @property
    def ratio_after(self) -> float:
        return self.result.ratio_after

    @property
    def share_moved(self) -> float:
        return self.result.share_moved

    def summary(self) -> dict[str, Any]:
        return {
            "measure": self.measure,
            "max_min_before": self.ratio_before,
            "max_min_after": self.ratio_after,
            "share_moved": self.share_moved,
            "moves": len(self.moves),
            "iterations": self.result.iterations,
            "skipped_without_coordinates": self.skipped_without_coordinates,
            "notes": self.result.notes,
        }


def _scope(ctx: Context, territory_ids: list[str] | None) -> tuple[list[Any], list[dict[str, Any]]]:
    defs = [t for t in load_definitions(ctx) if t.assignable]
    if territory_ids:
        wanted = set(territory_ids)
        defs = [t for t in defs if t.id in wanted]
    if not defs:
        return defs, []
    marks = ",".join("?" * len(defs))
    rows = [
        dict(r)
        for r in ctx.db.query(
            f"SELECT id, name, lat, lon, potential, territory_id, owner_id, locked FROM accounts "
            f"WHERE territory_id IN ({marks}) ORDER BY id",
            [t.id for t in defs],
        )
    ]
    return defs, rows


def propose(
    ctx: Context,
    measure: str = "hours",
    *,
    tolerance: float = 0.10,
    territory_ids: list[str] | None = None,
    model: WorkloadModel | None = None,
    progress: Progress | None = None,
) -> Proposal:
    """A balanced proposal; ``progress(done, total, text)`` follows the rounds (and may cancel)."""
    model = model or WorkloadModel()
    defs, rows = _scope(ctx, territory_ids)
    located = [r for r in rows if r["lat"] is not None and r["lon"] is not None]
    k = len(defs)
    index = {t.id: i for i, t in enumerate(defs)}
    lat = np.array([r["lat"] for r in located], dtype=float)
    lon = np.array([r["lon"] for r in located], dtype=float)
    potential = np.array([r["potential"] or 0.0 for r in located], dtype=float)
    current = np.array([index[r["territory_id"]] for r in located], dtype=np.int64)
    locked = np.array([bool(r["locked"]) for r in located], dtype=bool)
    result = balance(
        lat,
        lon,
        potential,
        current,
        max(k, 1),
        locked=locked,
        measure=measure,
        tolerance=tolerance,
        model=model,
        on_round=(lambda d, t: progress(d, t, "Balancing territories")) if progress else None,
    )
    before, after = result.before, result.after
    table = [
        TerritoryBalance(
            t.id,
            t.name,
            int(before.accounts[j]),
            int(after.accounts[j]),
            float(before.potential[j]),
            float(after.potential[j]),
            float(before.hours[j]),
            float(after.hours[j]),
        )
        for j, t in enumerate(defs)
    ]
    why = (
        f"balancing proposal ({measure}): max/min workload {result.ratio_before:.2f} -> "
        f"{result.ratio_after:.2f}"
    )
    moves = []
    routers = Routers(ctx)
    for i, r in enumerate(located):
        j = int(result.labels[i])
        if j != current[i]:
            owner, owner_why = owner_for(routers, defs[j].id, r["owner_id"], True)
            moves.append(
                assign.Move(
                    r["id"],
                    r["name"],
                    r["territory_id"],
                    defs[j].id,
                    defs[current[i]].name,
                    defs[j].name,
                    r["owner_id"],
                    owner,
                    why + owner_why,
                )
            )
    clip = None
    if defs and all(t.geometry is not None for t in defs):
        clip = shapely.union_all([t.geometry for t in defs])
    shapes = proposal_boundaries(lat, lon, result.labels, k, clip) if len(located) else []
    boundaries = {defs[j].id: s for j, s in enumerate(shapes) if s is not None}
    return Proposal(measure, result, table, moves, boundaries, len(rows) - len(located))


def accept(ctx: Context, proposal: Proposal) -> int:
    """Apply the moves and write the new boundaries, all in one transaction; returns moves."""
    diff = assign.AssignmentDiff(moves=proposal.moves, total=len(proposal.result.labels))
    with ctx.writer.transaction():
        assign.apply(ctx, diff)
        for territory_id, shape in proposal.boundaries.items():
            geom = shape if shape.is_valid else shapely.make_valid(shape)
            parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon"]
            ctx.writer.update(
                "territories", territory_id, {"geometry": shapely.to_geojson(MultiPolygon(parts))}
            )
    return len(proposal.moves)


def current_balance(ctx: Context, model: WorkloadModel | None = None) -> list[TerritoryBalance]:
    """Today's workload per active territory (accounts with coordinates count for hours)."""
    defs, rows = _scope(ctx, None)
    located = [r for r in rows if r["lat"] is not None and r["lon"] is not None]
    index = {t.id: i for i, t in enumerate(defs)}
    if not defs:
        return []
    w = workload_of(
        np.array([r["lat"] for r in located], dtype=float),
        np.array([r["lon"] for r in located], dtype=float),
        np.array([r["potential"] or 0.0 for r in located], dtype=float),
        np.array([index[r["territory_id"]] for r in located], dtype=np.int64),
        len(defs),
        model,
    )
    return [
        TerritoryBalance(
            t.id,
            t.name,
            int(w.accounts[j]),
            int(w.accounts[j]),
            float(w.potential[j]),
            float(w.potential[j]),
            float(w.hours[j]),
            float(w.hours[j]),
        )
        for j, t in enumerate(defs)
    ]
