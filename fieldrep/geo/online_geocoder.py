"""One online geocoder (geopy's Nominatim) behind our rate limit and our permanent cache.

Every online answer, found or not, is cached in the local ``geocode_cache`` table forever
(:mod:`fieldrep.geo.geocode_cache`), so a query is never sent twice.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Mapping
from typing import Any

from fieldrep.domain.errors import Cancelled
from fieldrep.geo.geocode_cache import CachedAnswer, GeocodeCache, cache_key
from fieldrep.geo.geocoder_settings import MAX_TIMEOUT_SECONDS, OnlineSettings
from fieldrep.geo.geocoding import Address, GeoResult

# A server that asks us to wait longer than this before a retry is not retried in this run.
MAX_RETRY_WAIT_SECONDS = 30.0


def quality_of(raw: Mapping[str, Any]) -> str:
    """Our quality for a Nominatim answer, judged conservatively from its class and type."""
    kind = str(raw.get("addresstype") or raw.get("type") or "")
    cls = str(raw.get("class") or raw.get("category") or "")
    if (
        kind in ("house", "building")
        or cls == "building"
        or raw.get("address", {}).get("house_number")
    ):
        return "address"
    if kind == "postcode":
        return "postal_code"
    if kind in ("city", "town", "village", "hamlet", "administrative", "suburb", "municipality"):
        return "city"
    return "street"


class UnreadableAnswer(Exception):
    """The provider answered, but not with a place we can read (e.g. ``"lat": "abc"``): that
    address fails, the run goes on with the next one."""


def never_cancelled() -> bool:
    return False


def answer_result(answer: CachedAnswer, source: str) -> GeoResult | None:
    if answer.lat is None or answer.lon is None or answer.quality is None:
        return None
    return GeoResult(answer.lat, answer.lon, answer.quality, source)


class OnlineGeocoder:
    """One geopy geocoder behind our rate limit and our permanent cache.

    A request is sent at most twice: once, and once more after a timeout, an unavailable server or
    a rate limit, no sooner than the server asked (``Retry-After``). ``requests_sent`` counts every
    request that went out. Errors are not swallowed: an unreachable provider must stop the run and
    be reported, and must never be cached as "not found".
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        settings: OnlineSettings,
        geocoder: Any | None = None,
        cancelled: Callable[[], bool] = never_cancelled,
    ) -> None:
        self.settings = settings
        self.cache = GeocodeCache(conn, settings.cache_name)
        self._geocoder = make_geopy_geocoder(settings) if geocoder is None else geocoder
        self._cancelled = cancelled
        self._next_request_at = 0.0  # time.monotonic() when the provider may be asked again
        self.requests_sent = 0

    @staticmethod
    def query_for(address: Address) -> dict[str, str]:
        query = {
            "street": address.street,
            "city": address.city,
            "state": address.region,
            "postalcode": address.postal_code,
            "country": address.country,
        }
        return {k: v.strip() for k, v in query.items() if v and v.strip()}

    def geocode(self, address: Address) -> GeoResult | None:
        """Raises :class:`UnreadableAnswer` for an answer that is not a place, a ``GeopyError``
        when the provider could not answer, and ``Cancelled`` when cancelled while waiting."""
        query = self.query_for(address)
        key = cache_key(query)
        cached = self.cache.get(key)
        if cached is None:
            cached = self._ask(query)
            self.cache.put(key, cached)
        return answer_result(cached, self.settings.cache_name)

    def _ask(self, query: dict[str, str]) -> CachedAnswer:
        from geopy.exc import (
            GeocoderParseError,
            GeocoderRateLimited,
            GeocoderTimedOut,
            GeocoderUnavailable,
            GeopyError,
        )

        for attempt in (1, 2):
            self._wait_until(self._next_request_at)
            started = time.monotonic()
            self._next_request_at = started + self.settings.min_delay_seconds
            self.requests_sent += 1
            try:
                location = self._geocoder.geocode(query, exactly_one=True, addressdetails=True)
                if location is None:
                    return CachedAnswer(None, None, None, None)
                return CachedAnswer(
                    float(location.latitude),
                    float(location.longitude),
                    quality_of(location.raw),
                    location.address,
                )
            except (GeocoderTimedOut, GeocoderUnavailable, GeocoderRateLimited) as exc:
                wait = getattr(exc, "retry_after", None) or 0
                if attempt == 2 or wait > MAX_RETRY_WAIT_SECONDS or self._cancelled():
                    raise
                self._next_request_at = max(self._next_request_at, time.monotonic() + wait)
            except GeocoderParseError as exc:
                raise UnreadableAnswer(str(exc).splitlines()[0]) from exc
            except GeopyError:
                raise  # some of them are ValueErrors too, but not about the answer
            except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
                raise UnreadableAnswer(f"{type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait_until(self, moment: float) -> None:
        """Sleep until ``moment``, a little at a time so that a cancel is seen at once."""
        while True:
            if self._cancelled():
                raise Cancelled
            left = moment - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.1))


def make_geopy_geocoder(settings: OnlineSettings) -> Any:
    """geopy's Nominatim with a short timeout and no silent HTTP-level retries (we retry once, see
    :class:`OnlineGeocoder`)."""
    if settings.provider != "nominatim":
        raise ValueError(f"unknown geocoding provider {settings.provider!r} (known: nominatim)")
    from functools import partial

    from geopy.adapters import RequestsAdapter, URLLibAdapter
    from geopy.geocoders import Nominatim

    adapter: Any = (
        partial(RequestsAdapter, max_retries=0) if RequestsAdapter.is_available else URLLibAdapter
    )
    return Nominatim(
        user_agent=settings.user_agent,
        domain=settings.domain,
        scheme=settings.scheme,
        timeout=min(settings.timeout_seconds, MAX_TIMEOUT_SECONDS),
        adapter_factory=adapter,
    )
