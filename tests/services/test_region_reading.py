"""Whose states a territory file's bare two-letter regions are (issue 15.3): the team's book decides,
a choice made for the book wins and is remembered, and every import says which reading it used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fieldrep.domain.errors import ValidationError
from fieldrep.domain.territory_rules import DefinitionError, Region
from fieldrep.services.context import Context
from fieldrep.services.territories import geojson as territory_geojson
from fieldrep.services.territories import region_reading
from fieldrep.services.territories import service as territory_service


def _file(tmp_path: Path, *features: tuple[str, object]) -> Path:
    """A GeoJSON file as a GIS tool writes it: features with a name and regions, no geometry."""
    path = tmp_path / "territories.geojson"
    data = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"name": n, "regions": r}, "geometry": None}
            for n, r in features
        ],
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _accounts(ctx: Context, **per_country: int) -> None:
    rows = [
        {"name": f"{country} {i}", "country": country}
        for country, n in per_country.items()
        for i in range(n)
    ]
    ctx.writer.insert_many("accounts", rows)


def _regions(ctx: Context) -> dict[str, tuple[Region, ...]]:
    return {t.name: t.regions for t in territory_service.load_definitions(ctx)}


def test_an_empty_book_reads_two_letter_regions_as_us_states_and_says_why(
    ctx: Context, tmp_path: Path
) -> None:
    result = territory_geojson.import_file(ctx, _file(tmp_path, ("West", ["CA", "ID", "Oregon"])))
    assert _regions(ctx)["West"] == (Region("US", "CA"), Region("US", "ID"), Region("US", "OR"))
    assert result.region_reading == (
        "two-letter regions (CA, ID) read as US states: the book has no accounts or territory"
        " regions yet, so US by default"
    )


def test_a_german_teams_book_reads_them_as_german_states(ctx: Context, tmp_path: Path) -> None:
    _accounts(ctx, DE=29, AT=1)
    result = territory_geojson.import_file(ctx, _file(tmp_path, ("Süd", ["BY", "BW"])))
    assert _regions(ctx)["Süd"] == (Region("DE", "BY"), Region("DE", "BW"))
    assert result.region_reading == (
        "two-letter regions (BY, BW) read as Germany states: 97 % of your accounts are in Germany"
    )
    # Nothing was remembered: the reading follows the book's data.
    assert not region_reading.region_reading(ctx.conn).chosen


def test_without_a_clear_majority_or_with_three_letter_regions_the_reading_says_so(
    ctx: Context,
) -> None:
    _accounts(ctx, US=5, DE=4)
    reading = region_reading.team_reading(ctx.conn)
    assert reading.country == "US"
    assert reading.reason == (
        "no country holds two thirds of your accounts (56 % the US, 44 % Germany), so US by default"
    )
    _accounts(ctx, GB=40)  # British regions are ENG, SCT...: a two-letter code is a country
    reading = region_reading.team_reading(ctx.conn)
    assert reading.country is None
    assert reading.label() == "country codes"
    assert "whose regions have no two-letter codes" in reading.reason


def test_with_no_accounts_the_territories_regions_tell(ctx: Context, tmp_path: Path) -> None:
    territory_geojson.import_file(
        ctx, _file(tmp_path, ("Nord", [{"country": "DE", "region": "HH"}, "DE-SH"]))
    )
    assert region_reading.team_reading(ctx.conn) == region_reading.RegionReading(
        "DE", "100 % of your territories' regions are in Germany"
    )


def test_a_choice_wins_is_remembered_and_is_not_kept_when_the_import_is_refused(
    ctx: Context, tmp_path: Path
) -> None:
    _accounts(ctx, US=10)
    path = _file(tmp_path, ("North America", ["CA", "MX"]))
    result = territory_geojson.import_file(ctx, path, region_country=None)
    assert _regions(ctx)["North America"] == (Region("CA", ""), Region("MX", ""))
    assert result.region_reading == (
        "two-letter regions (CA, MX) read as country codes: as chosen for this book"
    )
    assert region_reading.region_reading(ctx.conn) == region_reading.RegionReading(
        None, "as chosen for this book", chosen=True
    )
    # The next import of the book follows the choice, not the accounts.
    territory_geojson.import_file(ctx, _file(tmp_path, ("Pacific", ["ID"])))
    assert _regions(ctx)["Pacific"] == (Region("ID", ""),)  # Indonesia, not Idaho
    # A refused import remembers nothing.
    bad = _file(tmp_path, ("Süd", ["BY"]), ("Süd", ["BW"]))
    with pytest.raises(DefinitionError, match="all named 'Süd'"):
        territory_geojson.import_file(ctx, bad, region_country="DE")
    assert region_reading.region_reading(ctx.conn).country is None
    # Read as countries, a code that is no country is refused, never stored as one.
    with pytest.raises(DefinitionError, match=r"feature 1 \(West\): region 'OR' is not a country"):
        territory_geojson.import_file(ctx, _file(tmp_path, ("West", ["OR"])))
    assert region_reading.parse_choice("Germany") == "DE"
    assert region_reading.parse_choice(" none ") is None
    with pytest.raises(ValidationError, match="'Atlantis' is not a country"):
        region_reading.parse_choice("Atlantis")


def test_the_question_offers_us_the_teams_country_and_country_codes(
    ctx: Context, tmp_path: Path
) -> None:
    collection = territory_geojson.read_file(
        _file(tmp_path, ("West", "CA, ID"), ("Nord", ["US-WA", "Kentucky"]), ("Süd", ["ca"]))
    )
    _accounts(ctx, US=10)
    asked = region_reading.question(ctx.conn, collection)
    assert asked is not None
    assert asked.codes == ["CA", "ID"]  # "US-WA" and "Kentucky" are not ambiguous
    assert asked.options == ["US", None]
    _accounts(ctx, DE=100)
    asked = region_reading.question(ctx.conn, collection)
    assert asked is not None
    assert asked.options == ["US", "DE", None]
    assert asked.preset.country == "DE"
    assert region_reading.read_as("CA", "US") == "CA California"
    assert region_reading.read_as("CA", None) == "CA Canada"
    assert region_reading.read_as("CA", "DE") == "CA Canada"  # no German state: a country
    assert region_reading.read_as("BY", "DE") == "BY Bayern"
    assert region_reading.read_as("OR", None) == "OR ?"
    no_codes = territory_geojson.read_file(_file(tmp_path, ("Nord", ["US-WA"])))
    assert region_reading.question(ctx.conn, no_codes) is None


def test_territories_import_remembers_the_region_country_and_says_the_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fieldrep.cli import main

    db = tmp_path / "book.db"
    Context.open(db).close()  # an empty book (import and login create one)
    path = _file(tmp_path, ("Süd", ["BY"]))
    args = ["territories", "import", str(path), "--db", str(db)]
    assert main([*args, "--region-country", "Germany"]) == 0
    assert "Two-letter regions (BY) read as Germany states: as chosen for this book." in (
        capsys.readouterr().out
    )
    assert main([*args, "--region-country", "Atlantis"]) == 1
    assert "'Atlantis' is not a country" in capsys.readouterr().err
    ctx = Context.open(db)
    try:
        assert region_reading.region_reading(ctx.conn).country == "DE"
        assert _regions(ctx)["Süd"] == (Region("DE", "BY"),)
    finally:
        ctx.close()
