"""Territory definitions: parsing, normalisation and the bad-input messages."""

from __future__ import annotations

import json

import pytest

from fieldrep.domain.territory_rules import (
    AttributeRule,
    DefinitionError,
    Region,
    TerritoryDef,
    normalise_postal_code,
    parse_geometry,
    parse_postal_codes,
)
from fieldrep.domain.territory_validation import check, find_cycle, raise_errors

SQUARE = [[-72.0, 42.0], [-71.0, 42.0], [-71.0, 43.0], [-72.0, 43.0], [-72.0, 42.0]]


def polygon(*rings: list[list[float]]) -> dict[str, object]:
    return {"type": "Polygon", "coordinates": list(rings)}


def test_postal_codes_keep_leading_zeros_and_normalise() -> None:
    assert normalise_postal_code(2139) == "02139"
    assert normalise_postal_code("02139-4307") == "02139"
    assert normalise_postal_code(" sw1a 1aa ", "GB") == "SW1A1AA"
    assert parse_postal_codes("02139\n02140, 02141;02139\t00501") == [
        "02139",
        "02140",
        "02141",
        "00501",
    ]
    assert parse_postal_codes("02139 02140") == ["02139", "02140"]
    assert parse_postal_codes("SW1A 1AA\nEC1A 1BB", "GB") == ["SW1A1AA", "EC1A1BB"]


def test_empty_postal_code_list_is_refused() -> None:
    with pytest.raises(DefinitionError, match="postal-code list is empty"):
        parse_postal_codes(" \n , ")


def test_polygon_with_hole_parses_and_round_trips() -> None:
    hole = [[-71.8, 42.2], [-71.2, 42.2], [-71.2, 42.8], [-71.8, 42.8], [-71.8, 42.2]]
    geom = parse_geometry(json.dumps(polygon(SQUARE, hole)))
    assert geom.geom_type == "MultiPolygon"
    assert len(geom.geoms[0].interiors) == 1


def test_open_ring_is_refused() -> None:
    with pytest.raises(DefinitionError, match="outer ring of polygon 1 is not closed"):
        parse_geometry(polygon([*SQUARE[:-1], [-72.0, 42.5]]))


def test_self_intersecting_polygon_is_refused_with_location() -> None:
    bowtie = [[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]
    with pytest.raises(DefinitionError, match=r"not valid: self-intersection near \(0\.5"):
        parse_geometry(polygon(bowtie), territory="Bow")


def test_swapped_coordinates_are_named() -> None:
    swapped = [[42.0, -120.0], [43.0, -120.0], [43.0, -119.0], [42.0, -120.0]]
    with pytest.raises(DefinitionError, match="look swapped"):
        parse_geometry(polygon(swapped))


def test_not_a_polygon_is_refused() -> None:
    with pytest.raises(DefinitionError, match="'Point' is not Polygon"):
        parse_geometry({"type": "Point", "coordinates": [1, 2]})
    with pytest.raises(DefinitionError, match="not valid JSON"):
        parse_geometry("{nope")


def test_attribute_rules_validate_and_match() -> None:
    rule = AttributeRule.from_json(
        {"industry": ["Retail"], "potential_min": 1000, "status": "active"}
    )
    assert rule.matches("retail", None, 5000, "active")
    assert not rule.matches("Retail", None, 500, "active")
    assert not rule.matches("Retail", None, None, "active")
    assert "industry Retail" in rule.describe()
    with pytest.raises(DefinitionError, match="would match every account"):
        AttributeRule.from_json({})
    with pytest.raises(DefinitionError, match="size 'huge'"):
        AttributeRule.from_json({"size": "huge"})
    with pytest.raises(DefinitionError, match="above potential_max"):
        AttributeRule.from_json({"potential_min": 5, "potential_max": 1})


def test_regions_parse_both_forms() -> None:
    assert Region.parse("us-ma") == Region("US", "MA")
    assert Region.parse({"country": "ca"}) == Region("CA", "")
    assert Region("US", "").matches("us", "NY")
    # names are read (issue 15): a US state's name is the state, a country's name the country
    assert Region.parse("Massachusetts") == Region("US", "MA")
    assert Region.parse("Brazil") == Region("BR", "")
    assert Region.parse("CA", default_country="US") == Region("US", "CA")
    assert Region.parse("CA") == Region("CA", "")
    assert Region("US", "KY").matches("US", "Kentucky")
    with pytest.raises(DefinitionError, match="two-letter country"):
        Region.parse("Atlantis")
    # a bare code that is no ISO country is refused, never stored as a country of that name
    with pytest.raises(DefinitionError, match=r"'OR' is not a country code$"):
        Region.parse("OR")
    with pytest.raises(DefinitionError, match="'ZZ' is not a country code nor a state of US"):
        Region.parse("ZZ", default_country="US")


def test_hierarchy_cycle_is_found() -> None:
    a = TerritoryDef("a", "East", kind="region", parent_id="c")
    b = TerritoryDef("b", "North-East", parent_id="a")
    c = TerritoryDef("c", "Boston", parent_id="b")
    cycle = find_cycle([a, b, c])
    assert cycle is not None
    assert cycle[0] == cycle[-1]
    with pytest.raises(DefinitionError, match="hierarchy has a cycle"):
        raise_errors([a, b, c])


def test_overlap_only_matters_at_equal_priority() -> None:
    geom = parse_geometry(polygon(SQUARE))
    a = TerritoryDef("a", "North", geometry=geom, postal_codes=frozenset({"02139"}))
    b = TerritoryDef("b", "South", geometry=geom.buffer(-0.1))
    messages = [p.message for p in check([a, b])]
    assert any("polygons overlap" in m for m in messages)
    assert not [
        p
        for p in check([a, TerritoryDef("b", "South", priority=10, geometry=geom)])
        if p.severity == "error"
    ]
    c = TerritoryDef("c", "Metro", postal_codes=frozenset({"02139", "02140"}))
    with pytest.raises(DefinitionError, match="both list postal code"):
        raise_errors([a, c])


def test_attribute_rules_overlap_only_when_one_account_could_match_both() -> None:
    def rule(**data: object) -> AttributeRule:
        return AttributeRule.from_json(data)

    big_health = TerritoryDef(
        "a", "Key Health", rules=(rule(industry="Healthcare", size="250-999"),)
    )
    any_health = TerritoryDef("b", "Health", rules=(rule(industry=["healthcare", "Retail"]),))
    with pytest.raises(DefinitionError, match=r"their rules .* can match the same account"):
        raise_errors([big_health, any_health])
    # Disjoint on one condition is enough: no account is both Healthcare and Retail, or both
    # above 100k and below 50k of potential.
    retail = TerritoryDef("c", "Retail", rules=(rule(industry="Retail"),))
    small = TerritoryDef("d", "Small", rules=(rule(industry="Healthcare", potential_max=50_000),))
    large = TerritoryDef("e", "Large", rules=(rule(industry="Healthcare", potential_min=100_000),))
    assert not [p for p in check([big_health, retail]) if p.severity == "error"]
    assert not [p for p in check([small, large]) if p.severity == "error"]
    # At different priorities the lower number wins visibly, so it is allowed.
    ranked = TerritoryDef("f", "Health", priority=50, rules=any_health.rules)
    assert not [p for p in check([big_health, ranked]) if p.severity == "error"]


def test_touching_polygons_do_not_overlap() -> None:
    left = parse_geometry(polygon(SQUARE))
    right = parse_geometry(polygon([[x + 1.0, y] for x, y in SQUARE]))
    assert not check(
        [TerritoryDef("a", "A", geometry=left), TerritoryDef("b", "B", geometry=right)]
    )


def test_row_round_trip() -> None:
    t = TerritoryDef(
        "a",
        "North",
        priority=5,
        geometry=parse_geometry(polygon(SQUARE)),
        postal_codes=frozenset({"02139"}),
        regions=(Region("US", "MA"),),
        rules=(AttributeRule(industries=("Retail",)),),
    )
    back = TerritoryDef.from_row({"id": "a", **t.row_fields()})
    assert back.postal_codes == t.postal_codes
    assert back.regions == t.regions
    assert back.rules == t.rules
    assert back.geometry.equals(t.geometry)
    assert back.priority == 5
