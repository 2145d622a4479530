"""Checks over a whole set of territories: hierarchy cycles and ambiguous overlaps.

Two territories may overlap when their priorities differ (the lower number wins, visibly). At equal
priority an overlap would make the winner depend on names, so it is refused with a message naming
both territories and what they share.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import shapely
from shapely.strtree import STRtree

from fieldrep.domain.territory_rules import DefinitionError, TerritoryDef

# Shared boundaries between neighbouring polygons have zero area; only real overlaps count.
_MIN_OVERLAP_DEG2 = 1e-10
# An overlap under this share of the smaller polygon is a sliver between neighbours that a
# simplified boundary file left (Florida's counties: 121 pairs, median 0.28 km²): a warning.
SLIVER_SHARE = 0.005


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


def _same_priority_pairs(
    active: Sequence[TerritoryDef], key: Any
) -> dict[tuple[int, int], set[Any]]:
    """(i, j) -> the values both list, for territories of equal priority: through an index of
    value -> territories, so the work grows with the data, not with the square of territories."""
    holders: dict[tuple[int, Any], list[int]] = defaultdict(list)
    for i, t in enumerate(active):
        for value in key(t):
            holders[(t.priority, value)].append(i)
    shared: dict[tuple[int, int], set[Any]] = defaultdict(set)
    for (_, value), group in holders.items():
        for i, j in combinations(group, 2):
            shared[(i, j)].add(value)
    return shared


def _overlaps(active: Sequence[TerritoryDef]) -> list[Problem]:
    out: list[Problem] = []
    for (i, j), shared in sorted(_same_priority_pairs(active, lambda t: t.postal_codes).items()):
        a, b = active[i], active[j]
        out.append(
            Problem(
                "error",
                b.id,
                f"territories {a.name!r} and {b.name!r} have the same "
                f"priority {a.priority} and both list postal code(s) "
                f"{_sample(shared)}; change one priority or remove the codes",
            )
        )
    for (i, j), shared in sorted(_same_priority_pairs(active, lambda t: t.regions).items()):
        a, b = active[i], active[j]
        out.append(
            Problem(
                "error",
                b.id,
                f"territories {a.name!r} and {b.name!r} have the same "
                f"priority {a.priority} and both list region(s) "
                f"{', '.join(sorted(r.label() for r in shared))}",
            )
        )
    with_rules = [t for t in active if t.rules]  # few: rules are written by hand
    for a, b in combinations(with_rules, 2):
        if a.priority != b.priority:
            continue
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
        pairs = [
            (i, j)
            for i, j in zip(left.tolist(), right.tolist(), strict=True)
            if i < j and with_geom[i].priority == with_geom[j].priority
        ]
        if pairs:
            lefts = np.array([geoms[i] for i, _ in pairs], dtype=object)
            rights = np.array([geoms[j] for _, j in pairs], dtype=object)
            # Neighbours that only share a boundary are most pairs (a county map: ~3 each);
            # whether interiors meet costs a third of computing the intersection.
            inside = shapely.relate_pattern(lefts, rights, "T********")
            pairs = [pair for pair, meet in zip(pairs, inside.tolist(), strict=True) if meet]
            lefts, rights = lefts[inside], rights[inside]
        if pairs:
            shared_areas = shapely.area(shapely.intersection(lefts, rights))
            smaller = np.minimum(shapely.area(lefts), shapely.area(rights))
            for (i, j), area, least in zip(pairs, shared_areas, smaller, strict=True):
                if area <= _MIN_OVERLAP_DEG2:
                    continue
                a, b = with_geom[i], with_geom[j]
                share = area / least if least > 0 else 1.0
                if share < SLIVER_SHARE:
                    out.append(
                        Problem(
                            "warning",
                            b.id,
                            f"territories {a.name!r} and {b.name!r} overlap by a sliver"
                            f" ({share:.2%} of the smaller, as simplified boundary files leave"
                            " between neighbours); accepted",
                        )
                    )
                    continue
                out.append(
                    Problem(
                        "error",
                        b.id,
                        f"territories {a.name!r} and {b.name!r} have the "
                        f"same priority {a.priority} and their polygons overlap"
                        f" ({share:.1%} of the smaller); change one priority or the boundary",
                    )
                )
    return out


def raise_errors(territories: Sequence[TerritoryDef]) -> list[Problem]:
    """Raise the first error as a DefinitionError; return the warnings."""
    problems = check(territories)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        # every problem, one a line: a boundary file with 121 of them is fixed in one go
        raise DefinitionError("\n".join(p.message for p in errors))
    return [p for p in problems if p.severity == "warning"]
