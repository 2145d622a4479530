"""Checks over a whole set of territories: hierarchy cycles and ambiguous overlaps.

Two territories may overlap when their priorities differ (the lower number wins, visibly). At equal
priority an overlap would make the winner depend on names, so it is refused with a message naming
both territories and what they share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import shapely
from shapely.strtree import STRtree

from fieldrep.domain.territory_rules import DefinitionError, TerritoryDef

# Shared boundaries between neighbouring polygons have zero area; only real overlaps count.
_MIN_OVERLAP_DEG2 = 1e-10


@dataclass(frozen=True)
class Problem:
    severity: str  # "error" blocks a save; "warning" is shown
    territory_id: str
    message: str


def find_cycle(territories: Sequence[TerritoryDef]) -> list[str] | None:
    """Names along a parent cycle (``[a, b, a]``), or None."""
    by_id = {t.id: t for t in territories}
    for start in territories:
        seen: list[str] = []
        node: TerritoryDef | None = start
        while node is not None and node.parent_id:
            if node.id in seen:
                loop = [*seen[seen.index(node.id) :], node.id]
                return [by_id[i].name for i in loop]
            seen.append(node.id)
            node = by_id.get(node.parent_id)
    return None


def _sample(codes: set[str], n: int = 3) -> str:
    items = sorted(codes)
    more = f" and {len(items) - n} more" if len(items) > n else ""
    return ", ".join(items[:n]) + more


def check(territories: Sequence[TerritoryDef]) -> list[Problem]:
    """Every problem in the set; active territories only for overlaps."""
    problems: list[Problem] = []
    by_id = {t.id: t for t in territories}
    cycle = find_cycle(territories)
    if cycle:
        problems.append(Problem("error", "", "the hierarchy has a cycle: " + " -> ".join(cycle)))
    for t in territories:
        if t.parent_id and t.parent_id not in by_id:
            problems.append(Problem("error", t.id, f"territory {t.name!r}: parent does not exist"))
        if t.parent_id == t.id:
            problems.append(Problem("error", t.id, f"territory {t.name!r} is its own parent"))
        if t.assignable and not t.has_criteria():
            problems.append(
                Problem(
                    "warning",
                    t.id,
                    f"territory {t.name!r} has no polygon, postal "
                    "code, region or rule, so no account is assigned to it",
                )
            )
    active = [t for t in territories if t.assignable]
    problems.extend(_overlaps(active))
    return problems


def _overlaps(active: Sequence[TerritoryDef]) -> list[Problem]:
    out: list[Problem] = []
    for a, b in combinations(active, 2):
        if a.priority != b.priority:
            continue
        shared = set(a.postal_codes & b.postal_codes)
        if shared:
            out.append(
                Problem(
                    "error",
                    b.id,
                    f"territories {a.name!r} and {b.name!r} have the same "
                    f"priority {a.priority} and both list postal code(s) "
                    f"{_sample(shared)}; change one priority or remove the codes",
                )
            )
        regions = set(a.regions) & set(b.regions)
        if regions:
            out.append(
                Problem(
                    "error",
                    b.id,
                    f"territories {a.name!r} and {b.name!r} have the same "
                    f"priority {a.priority} and both list region(s) "
                    f"{', '.join(sorted(r.label() for r in regions))}",
                )
            )
        both = next(
            ((ra, rb) for ra in a.rules for rb in b.rules if ra.overlaps(rb)),
            None,
        )
        if both:
            out.append(
                Problem(
                    "error",
                    b.id,
                    f"territories {a.name!r} and {b.name!r} have the same priority "
                    f"{a.priority} and their rules ({both[0].describe()}) and "
                    f"({both[1].describe()}) can match the same account; change one priority "
                    "or narrow a rule",
                )
            )
    with_geom = [t for t in active if t.geometry is not None]
    if len(with_geom) > 1:
        geoms = [t.geometry for t in with_geom]
        tree = STRtree(geoms)
        left, right = tree.query(geoms, predicate="intersects")
        for i, j in zip(left.tolist(), right.tolist(), strict=True):
            a, b = with_geom[i], with_geom[j]
            if i >= j or a.priority != b.priority:
                continue
            area = shapely.intersection(a.geometry, b.geometry).area
            if area > _MIN_OVERLAP_DEG2:
                out.append(
                    Problem(
                        "error",
                        b.id,
                        f"territories {a.name!r} and {b.name!r} have the "
                        f"same priority {a.priority} and their polygons overlap; change "
                        "one priority or the boundary",
                    )
                )
    return out


def raise_errors(territories: Sequence[TerritoryDef]) -> list[Problem]:
    """Raise the first error as a DefinitionError; return the warnings."""
    problems = check(territories)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise DefinitionError(errors[0].message + more)
    return [p for p in problems if p.severity == "warning"]
