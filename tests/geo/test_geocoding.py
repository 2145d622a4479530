"""Geocoding: offline from the real gazetteer; online through geopy's real Nominatim class talking to a
local HTTP server on loopback that answers like Nominatim (no network leaves the machine)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest

from fieldrep.geo.geocoding import (
    Address,
    OfflineGeocoder,
    OnlineSettings,
    load_settings,
    refine_online,
    save_settings,
    unplaced_accounts,
)
from fieldrep.services.context import Context
from tests.geo.nominatim_server import running_nominatim, settings_for


def test_postal_code_first_then_city_then_nothing() -> None:
    geo = OfflineGeocoder()
    by_zip = geo.geocode(Address(city="Nowhere", postal_code="02139"))
    assert by_zip is not None
    assert by_zip.quality == "postal_code"
    assert by_zip.source == "gazetteer"
    assert 42.3 < by_zip.lat < 42.4  # Cambridge, MA
    assert -71.2 < by_zip.lon < -71.0

    by_city = geo.geocode(Address(city="Denver", region="CO", postal_code="00000"))
    assert by_city is not None
    assert by_city.quality == "city"
    assert 39.5 < by_city.lat < 40.0

    assert geo.geocode(Address(city="Atlantis", region="ZZ")) is None
    assert geo.geocode(Address(street="1 Main St")) is None
    assert geo.geocode(Address(postal_code="75001", country="FR")) is None


def test_spreadsheet_mangled_zip_still_places() -> None:
    result = OfflineGeocoder().geocode(Address(postal_code="2139"))
    assert result is not None
    assert result.quality == "postal_code"


@pytest.fixture
def nominatim() -> Iterator[ThreadingHTTPServer]:
    with running_nominatim() as server:
        yield server


def _settings(server: ThreadingHTTPServer, delay: float = 0.2) -> OnlineSettings:
    return settings_for(server, delay)


def _account(
    ctx: Context, name: str, street: str | None, quality: str | None = "postal_code"
) -> str:
    values = {
        "name": name,
        "street": street,
        "city": "Cambridge",
        "region": "MA",
        "postal_code": "02139",
    }
    if quality:
        values.update(lat=42.37, lon=-71.10, geocode_quality=quality, geocode_source="gazetteer")
    return ctx.writer.insert("accounts", values)


def test_refine_online_upgrades_caches_and_rate_limits(
    ctx: Context, nominatim: ThreadingHTTPServer
) -> None:
    a = _account(ctx, "A", "1 Main St")
    b = _account(ctx, "B", "2 Main St")
    lost = _account(ctx, "C", "9 Nowhere Rd")
    manual = _account(ctx, "D", "5 Main St", quality="manual")
    no_street = _account(ctx, "E", None)
    settings = _settings(nominatim)

    report = refine_online(ctx, settings)
    assert (report.checked, report.improved, report.not_found) == (3, 2, 1)
    assert report.requests_sent == 3
    rows = {r["id"]: r for r in ctx.db.query("SELECT * FROM accounts")}
    for upgraded in (a, b):
        assert rows[upgraded]["geocode_quality"] == "address"
        assert rows[upgraded]["geocode_source"].startswith("nominatim:127.0.0.1")
        assert rows[upgraded]["lat"] == pytest.approx(42.3625)
    assert rows[lost]["geocode_quality"] == "postal_code"
    assert rows[manual]["geocode_quality"] == "manual"
    assert rows[no_street]["geocode_quality"] == "postal_code"
    # The provider saw at most one request per min_delay_seconds, and a structured query.
    times = [t for t, _ in nominatim.seen]  # type: ignore[attr-defined]
    assert all(later - earlier >= 0.19 for earlier, later in itertools.pairwise(times))
    assert nominatim.seen[0][1]["postalcode"] == ["02139"]  # type: ignore[attr-defined]
    assert nominatim.seen[0][1]["format"] == ["json"]  # type: ignore[attr-defined]

    # Cached forever, including "not found": a second run sends nothing.
    again = refine_online(ctx, settings)
    assert again.requests_sent == 0
    assert again.not_found == 1
    assert len(nominatim.seen) == 3  # type: ignore[attr-defined]


def test_unreachable_provider_stops_and_caches_nothing(
    ctx: Context, nominatim: ThreadingHTTPServer
) -> None:
    _account(ctx, "A", "1 Main St")
    nominatim.fail = True  # type: ignore[attr-defined]
    report = refine_online(ctx, _settings(nominatim, delay=0.01))
    assert report.stopped_reason.startswith("the geocoder could not be reached")
    assert report.improved == 0
    assert ctx.db.execute("SELECT count(*) FROM geocode_cache").fetchone()[0] == 0


def test_not_configured_means_never_online(ctx: Context) -> None:
    _account(ctx, "A", "1 Main St")
    report = refine_online(ctx, load_settings(ctx.db.conn))
    assert report.stopped_reason == "no online geocoder is configured"
    assert report.requests_sent == 0


def test_settings_round_trip_and_unknown_provider(ctx: Context) -> None:
    settings = OnlineSettings(provider="nominatim", user_agent="acme-fieldrep")
    save_settings(ctx.db.conn, settings)
    assert load_settings(ctx.db.conn) == settings
    with pytest.raises(ValueError, match="unknown geocoding provider"):
        save_settings(ctx.db.conn, OnlineSettings(provider="bing"))


def test_unplaced_accounts_are_listed(ctx: Context) -> None:
    _account(ctx, "Placed", "1 Main St")
    lost = _account(ctx, "Lost", None, quality=None)
    listed = unplaced_accounts(ctx.db.conn)
    assert [r["id"] for r in listed] == [lost]
    assert listed[0]["name"] == "Lost"


def test_online_places_what_the_gazetteer_could_not(
    ctx: Context, nominatim: ThreadingHTTPServer
) -> None:
    odd_town = ctx.writer.insert("accounts", {"name": "Odd", "city": "Oddville", "region": "MA"})
    atlantis = ctx.writer.insert("accounts", {"name": "Lost", "city": "Atlantis"})
    placed_city = _account(ctx, "Town only", None, quality="city")
    report = refine_online(ctx, _settings(nominatim, delay=0.01))
    assert (report.checked, report.improved, report.not_found) == (2, 1, 1)
    row = ctx.db.execute(
        "SELECT lat, geocode_quality, geocode_source FROM accounts WHERE id = ?", (odd_town,)
    ).fetchone()
    assert row[0] == pytest.approx(41.0)
    assert row[1] == "city"
    assert row[2].startswith("nominatim:127.0.0.1")
    assert [r["id"] for r in unplaced_accounts(ctx.db.conn)] == [atlantis]
    quality = ctx.db.execute(
        "SELECT geocode_quality FROM accounts WHERE id = ?", (placed_city,)
    ).fetchone()
    assert quality == ("city",)  # a city answer never replaces a city centre it already had
