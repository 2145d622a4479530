"""Geocoding: offline from the real gazetteer; online through geopy's real Nominatim class talking to a
local HTTP server on loopback that answers like Nominatim (no network leaves the machine)."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import replace
from http.server import ThreadingHTTPServer

import pytest

from fieldrep.geo.geocoder_settings import OnlineSettings, load_settings, save_settings
from fieldrep.geo.geocoding import Address, OfflineGeocoder
from fieldrep.geo.online_geocoder import make_geopy_geocoder
from fieldrep.geo.online_refine import refinable_ids, refine_online
from fieldrep.geo.placement import unplaced_accounts
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
    steps: list[tuple[int, int | None, str]] = []
    again = refine_online(ctx, settings, progress=lambda *step: steps.append(step))
    assert again.requests_sent == 0
    # The one progress shape, (done, total, what is being done), over the one account left.
    assert steps == [(1, 1, "Checked 1 of 1 accounts")]
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


def test_unreadable_answer_fails_only_its_account(
    ctx: Context, nominatim: ThreadingHTTPServer
) -> None:
    a = _account(ctx, "A", "1 Main St")
    garbled = _account(ctx, "B", "2 Garbled St")  # answered {"lat": "abc", "lon": null}
    c = _account(ctx, "C", "3 Main St")
    report = refine_online(ctx, _settings(nominatim, delay=0.01))
    assert report.stopped_reason == ""
    assert (report.checked, report.improved, report.unreadable) == (3, 2, 1)
    quality = dict(ctx.db.execute("SELECT id, geocode_quality FROM accounts").fetchall())
    assert (quality[a], quality[garbled], quality[c]) == ("address", "postal_code", "address")
    # Not cached as "not found": the next run asks again.
    assert ctx.db.execute("SELECT count(*) FROM geocode_cache").fetchone()[0] == 2


def test_unreadable_answers_in_a_row_stop_the_run(
    ctx: Context, nominatim: ThreadingHTTPServer
) -> None:
    for n in range(5):
        _account(ctx, f"G{n}", f"{n} Garbled St")
    report = refine_online(ctx, _settings(nominatim, delay=0.01))
    assert report.stopped_reason == "the geocoder's answers could not be read"
    assert (report.checked, report.unreadable, report.requests_sent) == (3, 3, 3)


def test_slow_server_is_asked_twice_at_most(ctx: Context, nominatim: ThreadingHTTPServer) -> None:
    _account(ctx, "A", "1 Main St")
    _account(ctx, "B", "2 Main St")
    nominatim.delay = 1.0  # type: ignore[attr-defined]
    settings = replace(_settings(nominatim, delay=0.01), timeout_seconds=0.3)
    report = refine_online(ctx, settings)
    assert report.stopped_reason == "the geocoder could not be reached (GeocoderTimedOut)"
    assert len(nominatim.seen) == 2  # type: ignore[attr-defined]  # once, and one retry
    assert report.requests_sent == 2


def test_a_request_gives_up_within_a_few_seconds() -> None:
    stored_by_an_older_version = OnlineSettings(provider="nominatim", timeout_seconds=10.0)
    assert make_geopy_geocoder(stored_by_an_older_version).timeout <= 5
    assert make_geopy_geocoder(OnlineSettings(provider="nominatim")).timeout <= 5


def test_cancel_during_a_slow_request_is_a_cancel(
    ctx: Context, nominatim: ThreadingHTTPServer
) -> None:
    _account(ctx, "A", "1 Main St")
    nominatim.delay = 1.5  # type: ignore[attr-defined]
    settings = replace(_settings(nominatim, delay=0.01), timeout_seconds=0.3)
    # The user presses Cancel while the first request is on its way.
    report = refine_online(ctx, settings, cancelled=lambda: bool(nominatim.seen))  # type: ignore[attr-defined]
    assert report.stopped_reason == "cancelled"
    assert len(nominatim.seen) == 1  # type: ignore[attr-defined]  # no retry after a cancel


def test_rate_limit_is_retried_once_after_the_wait_it_asked_for(
    ctx: Context, nominatim: ThreadingHTTPServer
) -> None:
    _account(ctx, "A", "1 Main St")
    nominatim.status, nominatim.retry_after = 429, 1  # type: ignore[attr-defined]
    report = refine_online(ctx, _settings(nominatim, delay=0.01))
    assert report.stopped_reason == "the server asked us to slow down (rate limited)"
    (first, _), (second, _) = nominatim.seen  # type: ignore[attr-defined]
    assert second - first >= 0.95
    assert report.requests_sent == 2


def test_network_errors_log_no_warnings(
    ctx: Context, nominatim: ThreadingHTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The run's report says what happened; a failed request is not a warning with a traceback."""
    _account(ctx, "A", "1 Main St")
    nominatim.fail = True  # type: ignore[attr-defined]
    with caplog.at_level(logging.WARNING):
        report = refine_online(ctx, _settings(nominatim, delay=0.01))
    assert report.stopped_reason == "the geocoder could not be reached (GeocoderTimedOut)"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert report.requests_sent == len(nominatim.seen) == 2  # type: ignore[attr-defined]


def test_refinable_ids_skip_accounts_already_answered_with_nothing_better(
    ctx: Context, nominatim: ThreadingHTTPServer
) -> None:
    lost = _account(ctx, "A lost", "9 Nowhere Rd")
    town = ctx.writer.insert("accounts", {"name": "B town", "city": "Oddville", "region": "MA"})
    fresh = _account(ctx, "C fresh", "1 Main St")
    settings = _settings(nominatim, delay=0.01)
    assert refinable_ids(ctx.db.conn, 2, settings) == [lost, town]
    refine_online(ctx, settings, account_ids=[lost])
    # The lost one was answered "not found": the next batch of two moves on.
    assert refinable_ids(ctx.db.conn, 2, settings) == [town, fresh]
    assert refinable_ids(ctx.db.conn, 2) == [lost, town]  # without settings: every candidate
