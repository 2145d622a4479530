"""The assignment engine: strength order, precedence, explanations, bulk == one-by-one."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, box

from fieldrep.domain.assignment import AccountFacts, AccountTable, AssignmentEngine
from fieldrep.domain.territory_rules import AttributeRule, Region, TerritoryDef


def square(x0: float, y0: float, x1: float, y1: float) -> MultiPolygon:
    return MultiPolygon([box(x0, y0, x1, y1)])


NORTH_EAST = TerritoryDef(
    "ne",
    "North-East",
    priority=50,
    geometry=square(-75, 40, -70, 45),
    postal_codes=frozenset({"02139"}),
)
BOSTON = TerritoryDef(
    "bos", "Boston Metro", priority=10, postal_codes=frozenset({"02139", "02140"})
)
MA = TerritoryDef("ma", "Massachusetts", priority=20, regions=(Region("US", "MA"),))
RETAIL = TerritoryDef(
    "ret",
    "Retail Key Accounts",
    priority=5,
    rules=(
        AttributeRule(sizes=("1000+",)),
        AttributeRule(industries=("Retail",), potential_min=100_000),
    ),
)
ARCHIVED = TerritoryDef("old", "Old", priority=1, postal_codes=frozenset({"02139"}), archived=True)
ALL = [NORTH_EAST, BOSTON, MA, RETAIL, ARCHIVED]


def test_polygon_beats_postal_code_even_at_lower_precedence() -> None:
    engine = AssignmentEngine(ALL)
    d = engine.explain(AccountFacts("a1", lat=42.36, lon=-71.09, postal_code="02139", region="MA"))
    assert d.territory_id == "ne"
    assert d.kind == "polygon"
    assert d.reason.startswith("location (42.3600, -71.0900) lies inside North-East's boundary")
    assert "Boston Metro by postal code (priority 10)" in d.reason


def test_postal_code_without_coordinates_uses_explicit_precedence() -> None:
    d = AssignmentEngine(ALL).explain(AccountFacts("a2", postal_code=2139, region="MA"))
    # Both North-East and Boston Metro list 02139: priority 10 beats 50; archived is ignored.
    assert d.territory_id == "bos"
    assert d.reason.startswith("postal code 02139 is listed in Boston Metro (priority 10)")


def test_region_then_rule_then_nothing() -> None:
    engine = AssignmentEngine(ALL)
    assert engine.explain(AccountFacts("a3", postal_code="01002", region="ma")).territory_id == "ma"
    d = engine.explain(AccountFacts("a4", region="NY", industry="Retail", potential=250_000))
    assert d.territory_id == "ret"
    assert d.reason.startswith("Retail Key Accounts rule 2 matches (industry Retail, potential")
    d = engine.explain(AccountFacts("a5", postal_code="99999", region="NY"))
    assert d.territory_id is None
    assert d.reason == (
        "no territory matches: no coordinates, postal code 99999 is in no list, "
        "region US-NY is in no list, no attribute rule matches"
    )
    d = engine.explain(AccountFacts("a6", region="Kentucky"))
    assert d.reason.endswith(
        "region 'Kentucky' (compared as US-KY) is in no list, no attribute rule matches"
    )


def test_hole_is_not_inside() -> None:
    donut = MultiPolygon([box(0, 0, 10, 10).difference(box(4, 4, 6, 6))])
    engine = AssignmentEngine([TerritoryDef("d", "Donut", geometry=donut)])
    assert engine.explain(AccountFacts("in", lat=1, lon=1)).territory_id == "d"
    assert engine.explain(AccountFacts("hole", lat=5, lon=5)).territory_id is None


def test_bulk_reasons_match_single_reasons() -> None:
    engine = AssignmentEngine(ALL)
    facts = [
        AccountFacts("a1", lat=42.36, lon=-71.09, postal_code="02139"),
        AccountFacts("a2", postal_code="02140"),
        AccountFacts("a3", region="MA"),
        AccountFacts("a4", size="1000+"),
        AccountFacts("a5"),
    ]
    table = AccountTable(facts)
    result = engine.assign_table(table)
    for i, f in enumerate(facts):
        single = engine.explain(f)
        assert engine.territory_id(int(result.territory[i])) == single.territory_id
        assert single.reason.startswith(engine.reason(table, result, i))


# Territories on a 4x4 grid of unit cells, with random priorities, codes, regions and rules.
cells = st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(1, 2), st.integers(1, 2))
territory = st.builds(
    lambda i, cell, prio, codes, regions, size: TerritoryDef(
        f"t{i}",
        f"T{i}",
        priority=prio,
        geometry=square(cell[0], cell[1], cell[0] + cell[2], cell[1] + cell[3]) if cell else None,
        postal_codes=frozenset(codes),
        regions=tuple(Region("US", r) for r in regions),
        rules=(AttributeRule(sizes=(size,)),) if size else (),
    ),
    st.integers(0, 10_000),
    st.none() | cells,
    st.integers(0, 5),
    st.sets(st.sampled_from(["00501", "02139", "10001"]), max_size=2),
    st.sets(st.sampled_from(["MA", "NY", ""]), max_size=1),
    st.none() | st.sampled_from(["1-9", "1000+"]),
)
account = st.builds(
    AccountFacts,
    id=st.just("x"),
    lat=st.none() | st.floats(-1, 6),
    lon=st.none() | st.floats(-1, 6),
    postal_code=st.none() | st.sampled_from(["501", "02139", "10001-1234", "99999"]),
    region=st.none() | st.sampled_from(["MA", "ny", "CA"]),
    size=st.none() | st.sampled_from(["1-9", "1000+", "10-49"]),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(territory, min_size=1, max_size=6, unique_by=lambda t: t.id),
    st.lists(account, min_size=1, max_size=20),
)
def test_bulk_path_agrees_with_explain(
    territories: list[TerritoryDef], accounts: list[AccountFacts]
) -> None:
    engine = AssignmentEngine(territories)
    result = engine.assign_table(AccountTable(accounts))
    for i, facts in enumerate(accounts):
        assert engine.territory_id(int(result.territory[i])) == engine.explain(facts).territory_id
