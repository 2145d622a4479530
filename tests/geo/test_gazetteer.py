"""The offline gazetteer answers from the real ZIP and city data shipped in its packages."""

from __future__ import annotations

import math

import pytest

from fieldrep.geo.gazetteer import Gazetteer, Place, default_gazetteer, normalise_postal_code


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return default_gazetteer()


def _near(place: Place | None, lat: float, lon: float, tolerance: float = 0.05) -> bool:
    assert place is not None
    return math.isclose(place.lat, lat, abs_tol=tolerance) and math.isclose(
        place.lon, lon, abs_tol=tolerance
    )


def test_postal_code_finds_cambridge(gaz: Gazetteer) -> None:
    place = gaz.postal_code("02139")
    assert place is not None
    assert (place.postal_code, place.city, place.region, place.country) == (
        "02139",
        "Cambridge",
        "MA",
        "US",
    )
    assert _near(place, 42.36, -71.10)


@pytest.mark.parametrize(
    "code", ["02139-4307", "2139", " 02139 ", "2139.0", "021394307", "2139-4307"]
)
def test_postal_code_normalises_before_lookup(gaz: Gazetteer, code: str) -> None:
    place = gaz.postal_code(code)
    assert place is not None
    assert place.postal_code == "02139"


def test_leading_zeros_of_the_smallest_zip(gaz: Gazetteer) -> None:
    place = gaz.postal_code("501")
    assert place is not None
    assert (place.postal_code, place.region) == ("00501", "NY")


@pytest.mark.parametrize("code", ["99999", "00000", "ABCDE", "", "   ", "123456", "12"])
def test_unknown_or_malformed_code_is_none(gaz: Gazetteer, code: str) -> None:
    assert gaz.postal_code(code) is None


def test_other_countries_are_not_known(gaz: Gazetteer) -> None:
    assert gaz.postal_code("02139", country="DE") is None
    assert gaz.city("Cambridge", country="GB") is None
    assert gaz.places("FR") == []


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("02139-4307", "US", "02139"),
        (2139, "US", "02139"),
        ("  90210 ", "US", "90210"),
        ("9021O", "US", None),
        ("1234567890", "US", None),
        (None, "US", None),
        (" k1a  0b1 ", "CA", "K1A 0B1"),
        ("", "CA", None),
    ],
)
def test_normalise_postal_code(raw: str | int | None, country: str, expected: str | None) -> None:
    assert normalise_postal_code(raw, country) == expected


def test_city_with_state_is_the_centroid_of_its_zips(gaz: Gazetteer) -> None:
    place = gaz.city("  cambridge ", "ma")
    assert place is not None
    assert (place.city, place.region, place.postal_code) == ("Cambridge", "MA", None)
    assert _near(place, 42.37, -71.11)
    # The same name in another state is another place.
    other = gaz.city("Cambridge", "OH")
    assert other is not None
    assert other.region == "OH"
    assert not _near(other, place.lat, place.lon, tolerance=1.0)


def test_city_without_state_picks_the_most_populous(gaz: Gazetteer) -> None:
    portland = gaz.city("portland")
    assert portland is not None
    assert portland.region == "OR"
    assert _near(portland, 45.5, -122.65, tolerance=0.2)
    assert gaz.city("Portland", "Maine").region == "ME"  # type: ignore[union-attr]


def test_city_names_are_matched_loosely(gaz: Gazetteer) -> None:
    st_louis = gaz.city("St. Louis")
    assert st_louis is not None
    assert (st_louis.city, st_louis.region) == ("Saint Louis", "MO")
    assert gaz.city("new york city").region == "NY"  # type: ignore[union-attr]
    assert gaz.city("Nowhereville-on-Nothing") is None
    assert gaz.city("Cambridge", "ZZ") is None


@pytest.mark.parametrize(
    ("typed", "state", "found"),
    [
        ("San José", "CA", "San Jose"),
        ("Española", "NM", "Espanola"),
        ("Coeur d’Alene", "ID", "Coeur D Alene"),  # a typographic apostrophe
        ("Coeur d'Alene", "ID", "Coeur D Alene"),
        ("O'Fallon", "MO", "O Fallon"),
        ("Cañon City", "CO", "Canon City"),
    ],
)
def test_accents_and_apostrophes_do_not_hide_a_city(
    gaz: Gazetteer, typed: str, state: str, found: str
) -> None:
    place = gaz.city(typed, state)
    assert place is not None
    assert place.city == found


def test_places_cover_every_zip_and_populated_places_are_weighted(gaz: Gazetteer) -> None:
    places = gaz.places()
    assert len(places) > 40_000
    assert len({p.postal_code for p in places}) == len(places)
    assert all(-180 <= p.lon <= 180 and -90 <= p.lat <= 90 for p in places)
    weighted = gaz.populated_places()
    assert 20_000 < len(weighted) < len(places)
    by_code = {p.postal_code: w for p, w in weighted}
    # A Manhattan ZIP stands for many more people than a rural Montana one.
    assert by_code["10001"] > by_code["59001"]


def test_default_gazetteer_is_one_instance() -> None:
    assert default_gazetteer() is default_gazetteer()


def test_a_few_codes_looked_up_one_by_one_match_the_whole_table() -> None:
    """The first FEW_LOOKUPS codes are found without reading the ZIP table, with the same answer."""
    from fieldrep.geo import gazetteer as gz

    full = gz.Gazetteer()
    codes = [p.postal_code for p in full.places("US")[::250]]
    codes += ["00000", "99999", "2139", "02139-4307"]
    few = gz.Gazetteer()
    answers = [few.postal_code(c) for c in codes[: gz.FEW_LOOKUPS]]
    assert few._zips is None  # nothing read as a whole yet
    assert answers == [full.postal_code(c) for c in codes[: gz.FEW_LOOKUPS]]
    assert answers[-4:] == [None, None, full.postal_code("02139"), full.postal_code("02139")]


def test_no_place_is_null_island() -> None:
    """The ZIP data stores lat = lon = 0 for 872 ZIPs (one a populated street ZIP): unknown."""
    from fieldrep.geo.gazetteer import default_gazetteer

    gaz = default_gazetteer()
    assert all(not (p.lat == 0 and p.lon == 0) for p, _ in gaz.populated_places())
    assert all(not (p.lat == 0 and p.lon == 0) for p in gaz.places())
    assert gaz.postal_code("90140") is None  # Commerce CA
    livingston = gaz.city("Livingston", "TX")
    assert livingston is not None
    assert livingston.lat > 25  # the town's other ZIPs, not an average with (0, 0)
