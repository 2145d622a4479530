"""The shared checks for the online geocoder's settings, the placement summary, and one online run at
a time (the CLI and the Geocoding dialog both rely on these)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest

from fieldrep.geo.geocoder_settings import PUBLIC_NOMINATIM, SettingsError, nominatim_settings
from fieldrep.geo.online_refine import refinable_count, refine_online
from fieldrep.geo.placement import placement_summary, unplaced_count
from fieldrep.services.context import Context
from tests.geo.nominatim_server import running_nominatim, settings_for


@pytest.mark.parametrize(
    ("agent", "url", "delay", "field", "words"),
    [
        ("", "", 1.0, "user_agent", "user agent naming your organisation"),
        ("   ", "", 1.0, "user_agent", "user agent naming your organisation"),
        ("acme\nX-Evil: 1", "", 1.0, "user_agent", "single line"),
        ("acme", "ftp://geo.acme.com", 1.0, "url", "is not an http(s) address"),
        ("acme", "https://", 1.0, "url", "is not an http(s) address"),
        ("acme", "geo.acme.com:port", 1.0, "url", "has a port that is not a number"),
        ("acme", "http://127.0.0.1:99999", 1.0, "url", "has a port out of range (1-65535)"),
        ("acme", "https://geo.acme.com/search?q=x", 1.0, "url", "without '?' or '#'"),
        ("acme", "", 0.5, "min_delay", "at least 1 second on the public Nominatim server"),
        ("acme", f"http://{PUBLIC_NOMINATIM}/", 0.0, "min_delay", "at least 1 second"),
        # A trailing dot or capitals still name the public server (the same host to DNS).
        ("acme", f"https://{PUBLIC_NOMINATIM}.", 0.0, "min_delay", "at least 1 second"),
        (
            "acme",
            "https://Nominatim.OpenStreetMap.ORG.:443/",
            0.5,
            "min_delay",
            "at least 1 second",
        ),
        ("acme", "https://geo.acme.com", -1.0, "min_delay", "0 seconds or more"),
        ("acme", "https://geo.acme.com", float("nan"), "min_delay", "0 seconds or more"),
    ],
)
def test_bad_settings_name_the_field(
    agent: str, url: str, delay: float, field: str, words: str
) -> None:
    with pytest.raises(SettingsError, match=re.escape(words)) as info:
        nominatim_settings(agent, url, delay)
    assert info.value.field == field


def test_good_settings() -> None:
    public = nominatim_settings("  acme-fieldrep (it@acme.com) ", "", 1)
    assert public.enabled
    assert (public.user_agent, public.scheme, public.domain) == (
        "acme-fieldrep (it@acme.com)",
        "https",
        PUBLIC_NOMINATIM,
    )
    assert public.url == f"https://{PUBLIC_NOMINATIM}"
    dotted = nominatim_settings("acme", f"HTTPS://{PUBLIC_NOMINATIM.upper()}.", 1)
    assert (dotted.scheme, dotted.domain) == ("https", PUBLIC_NOMINATIM)
    own = nominatim_settings("acme", "geo.acme.com:8080/nominatim/", 0)
    assert (own.scheme, own.domain, own.min_delay_seconds) == (
        "https",
        "geo.acme.com:8080/nominatim",
        0.0,
    )


def test_placement_summary_orders_best_first(ctx: Context) -> None:
    for name, quality in (("A", "city"), ("B", "address"), ("C", "city"), ("D", None)):
        values: dict[str, object] = {"name": name, "city": "Cambridge", "street": "1 Main St"}
        if quality:
            values.update(lat=42.0, lon=-71.0, geocode_quality=quality)
        ctx.writer.insert("accounts", values)
    # Coordinates lost but a quality left behind: not placed, whatever the quality column says.
    ctx.writer.insert("accounts", {"name": "E", "geocode_quality": "postal_code"})
    summary = placement_summary(ctx.conn)
    assert list(summary.by_quality.items()) == [("address", 1), ("city", 2), ("none", 2)]
    assert (summary.total, summary.placed, summary.unplaced) == (5, 3, 2)
    assert summary.cached_answers == 0
    assert unplaced_count(ctx.conn) == 2
    assert refinable_count(ctx.conn) == 3  # A and C (street, city quality) and D (no location)


@pytest.fixture
def nominatim() -> Iterator[ThreadingHTTPServer]:
    with running_nominatim() as server:
        yield server


def test_one_online_run_at_a_time(ctx: Context, nominatim: ThreadingHTTPServer) -> None:
    ctx.writer.insert("accounts", {"name": "A", "street": "1 Main St", "city": "Cambridge"})
    ctx.writer.insert("accounts", {"name": "B", "street": "2 Main St", "city": "Cambridge"})
    settings = settings_for(nominatim, delay=0.01)
    inside, release = threading.Event(), threading.Event()
    second: list[str] = []

    def hold(done: int, total: int | None, text: str) -> None:
        if done == 1:
            inside.set()
            release.wait()

    def run_first() -> None:
        other = Context.open(ctx.path)
        try:
            refine_online(other, settings, progress=hold)
        finally:
            inside.set()  # never leave the test waiting if the run failed before its first answer
            other.close()

    first = threading.Thread(target=run_first)
    first.start()
    try:
        inside.wait()
        second.append(refine_online(ctx, settings).stopped_reason)
    finally:
        release.set()
        first.join()
    assert second == ["another online placement is already running"]
    assert refine_online(ctx, settings).stopped_reason == ""  # free again once the first ended
