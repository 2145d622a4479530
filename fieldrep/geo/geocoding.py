"""Placing addresses on the map: offline from the bundled gazetteer, online through geopy when allowed.

Offline first: a postal code gives its centroid (quality ``postal_code``), else the city and region
give the city centre (quality ``city``). That is instant and works on a plane, so imports always use
it. When the user has configured an online geocoder (see :class:`OnlineSettings`) and the machine is
online, :func:`refine_online` asks the provider for accounts that have a street address and upgrades
them to ``address`` or ``street`` quality. Every online answer, found or not, is cached in the local
``geocode_cache`` table forever (:mod:`fieldrep.geo.geocode_cache`), so a query is never sent twice.

An address that cannot be placed stays without coordinates and is listed by :func:`unplaced_accounts`;
it is never dropped.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol, TypeGuard
from urllib.parse import urlsplit

from fieldrep.domain.errors import Cancelled
from fieldrep.geo.geocode_cache import CachedAnswer, GeocodeCache, cache_key
from fieldrep.store import settings as stored_settings
from fieldrep.store.book import OpenBook

log = logging.getLogger(__name__)

QUALITIES = ("address", "street", "postal_code", "city", "manual")
GAZETTEER_SOURCE = "gazetteer"
# Nominatim's public servers allow one request a second; a self-hosted one may allow more.
PUBLIC_NOMINATIM = "nominatim.openstreetmap.org"
NOMINATIM_POLICY = (
    "Nominatim's usage policy asks for a user agent that identifies your organisation and at most"
    " one request a second on its public servers."
)
# A single request gives up after this long (a cancel waits at most this long too); a stored
# setting from an older version (10 s) is capped to it.
MAX_TIMEOUT_SECONDS = 5.0
# A server that asks us to wait longer than this before a retry is not retried in this run.
MAX_RETRY_WAIT_SECONDS = 30.0
# This many unreadable answers in a row stop the run: the server is broken, not one address.
MAX_UNREADABLE_IN_A_ROW = 3


@dataclass(frozen=True)
class Address:
    street: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str = "US"

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Address:
        return cls(
            street=row.get("street") or None,
            city=row.get("city") or None,
            region=row.get("region") or None,
            postal_code=row.get("postal_code") or None,
            country=(row.get("country") or "US"),
        )

    def one_line(self) -> str:
        parts = [self.street, self.city, " ".join(p for p in (self.region, self.postal_code) if p)]
        return ", ".join(p for p in parts if p) + f" ({self.country})"


@dataclass(frozen=True)
class GeoResult:
    lat: float
    lon: float
    quality: str
    source: str

    def as_fields(self) -> dict[str, Any]:
        return {
            "lat": self.lat,
            "lon": self.lon,
            "geocode_quality": self.quality,
            "geocode_source": self.source,
        }


class Gazetteer(Protocol):
    def postal_code(self, code: str, country: str = "US") -> Any: ...

    def city(self, name: str, region: str | None = None, country: str = "US") -> Any: ...


def _is_place(place: Any) -> TypeGuard[Any]:
    """A found place that is one: latitude = longitude = 0 is the data's "unknown" (Null Island)."""
    return place is not None and not (place.lat == 0 and place.lon == 0)


# Accounts at exactly (0, 0) were placed from an "unknown" by older versions: they count as unplaced.
_UNPLACED = "(lat IS NULL OR lon IS NULL OR (lat = 0 AND lon = 0))"


class OfflineGeocoder:
    """Postal-code then city centroids from the gazetteer, memoised in a dict (imports hit it 100k
    times with a few thousand distinct keys)."""

    def __init__(self, gazetteer: Gazetteer | None = None) -> None:
        if gazetteer is None:
            from fieldrep.geo.gazetteer import default_gazetteer

            gazetteer = default_gazetteer()
        self._gazetteer = gazetteer
        self._memo: dict[tuple[str, ...], GeoResult | None] = {}

    @property
    def gazetteer(self) -> Gazetteer:
        return self._gazetteer

    def load(self) -> None:
        """Read the whole gazetteer now, for a job that will place many addresses."""
        load = getattr(self._gazetteer, "load", None)  # a gazetteer that loads nothing has none
        if load is not None:
            load()

    def geocode(self, address: Address) -> GeoResult | None:
        country = (address.country or "US").upper()
        if address.postal_code:
            key: tuple[str, ...] = ("p", country, address.postal_code.strip().upper())
            if key not in self._memo:
                place = self._gazetteer.postal_code(address.postal_code, country=country)
                self._memo[key] = (
                    GeoResult(place.lat, place.lon, "postal_code", GAZETTEER_SOURCE)
                    if place is not None and _is_place(place)
                    else None
                )
            if self._memo[key] is not None:
                return self._memo[key]
        if address.city:
            from fieldrep.domain.regions import normalise_region

            region = (normalise_region(address.region, country) or "").upper()
            key = ("c", country, region, address.city.strip().casefold())
            if key not in self._memo:
                place = self._gazetteer.city(address.city, region=region or None, country=country)
                self._memo[key] = (
                    GeoResult(place.lat, place.lon, "city", GAZETTEER_SOURCE)
                    if place is not None and _is_place(place)
                    else None
                )
            return self._memo[key]
        return None


@dataclass(frozen=True)
class OnlineSettings:
    """The user's online geocoder. ``provider`` empty means: never go online for geocoding.

    Nominatim's usage policy asks for an identifying user agent and at most one request a second;
    ``min_delay_seconds`` may only be lowered for a self-hosted server.
    """

    provider: str = ""
    user_agent: str = "fieldrep"
    domain: str = "nominatim.openstreetmap.org"
    scheme: str = "https"
    min_delay_seconds: float = 1.0
    timeout_seconds: float = MAX_TIMEOUT_SECONDS

    @property
    def enabled(self) -> bool:
        return bool(self.provider)

    @property
    def cache_name(self) -> str:
        return f"{self.provider}:{self.domain}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.domain}"


class SettingsError(ValueError):
    """A setting the user gave is not acceptable; ``field`` says which one (``user_agent``,
    ``url`` or ``min_delay``) so a form can show the message beside it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def nominatim_settings(user_agent: str | None, url: str, min_delay: float) -> OnlineSettings:
    """Checked settings for a Nominatim server (the CLI and the settings dialog share the rules).

    Raises :class:`SettingsError` for a missing or multi-line user agent, an address that is not
    http(s), or a delay below one second on the public server (its usage policy).
    """
    agent = (user_agent or "").strip()
    if not agent:
        raise SettingsError(
            "user_agent", "Nominatim needs a user agent naming your organisation (its usage policy)"
        )
    if "\n" in agent or "\r" in agent:
        raise SettingsError("user_agent", "the user agent must be a single line")
    text = (url or "").strip() or f"https://{PUBLIC_NOMINATIM}"
    parts = urlsplit(text if "://" in text else f"https://{text}")
    try:
        port = parts.port
    except ValueError:
        raw_port = parts.netloc.rpartition(":")[2]
        problem = "out of range (1-65535)" if raw_port.isdigit() else "that is not a number"
        raise SettingsError("url", f"{text!r} has a port {problem}") from None
    # "Nominatim.OpenStreetMap.org." is the public server too (case and a trailing dot are noise).
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme not in ("http", "https") or not host:
        raise SettingsError("url", f"{text!r} is not an http(s) address")
    if parts.query or parts.fragment:
        raise SettingsError("url", f"{text!r}: give the server only, without '?' or '#' parts")
    if not math.isfinite(min_delay) or min_delay < 0:
        raise SettingsError("min_delay", "the delay between requests must be 0 seconds or more")
    if host == PUBLIC_NOMINATIM and min_delay < 1:
        raise SettingsError(
            "min_delay", "the delay must be at least 1 second on the public Nominatim server"
        )
    return OnlineSettings(
        provider="nominatim",
        user_agent=agent,
        domain=(f"[{host}]" if ":" in host else host)
        + ("" if port is None else f":{port}")
        + parts.path.rstrip("/"),
        scheme=parts.scheme,
        min_delay_seconds=float(min_delay),
    )


def load_settings(conn: sqlite3.Connection) -> OnlineSettings:
    data = stored_settings.get(conn, stored_settings.GEOCODER_ONLINE)
    known = set(OnlineSettings.__dataclass_fields__)
    return OnlineSettings(**{k: v for k, v in data.items() if k in known})


def save_settings(conn: sqlite3.Connection, settings: OnlineSettings) -> None:
    """Store the settings (inside the caller's transaction, or alone in autocommit mode)."""
    if settings.provider not in ("", "nominatim"):
        raise ValueError(f"unknown geocoding provider {settings.provider!r} (known: nominatim)")
    stored_settings.put(conn, stored_settings.GEOCODER_ONLINE, asdict(settings))


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


def _never() -> bool:
    return False


def _result(answer: CachedAnswer, source: str) -> GeoResult | None:
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
        cancelled: Callable[[], bool] = _never,
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
        return _result(cached, self.settings.cache_name)

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


@dataclass
class RefineReport:
    """What a run of :func:`refine_online` did. ``improved`` counts every account it moved,
    ``placed`` those of them that had no location before, ``unreadable`` those whose answer could
    not be read (counted in ``checked``; asked again next time)."""

    checked: int = 0
    improved: int = 0
    not_found: int = 0
    requests_sent: int = 0
    stopped_reason: str = ""
    placed: int = 0
    total: int = 0  # accounts the run set out to check
    unreadable: int = 0


# One run at a time in this process: two at once would each keep to the provider's rate limit and
# together break it (the Accounts page and the Geocoding dialog can both start one).
_ONLINE_RUN = threading.Lock()


_REFINABLE = (
    f"SELECT id, street, city, region, postal_code, country, {_UNPLACED}"
    " FROM accounts WHERE (street IS NOT NULL AND street != ''"
    " AND (geocode_quality IS NULL OR geocode_quality IN ('postal_code', 'city')))"
    f" OR ({_UNPLACED} AND (coalesce(city, '') != ''"
    " OR coalesce(postal_code, '') != ''))"
)


def _improves(result: GeoResult | None, unplaced: bool) -> bool:
    """Whether an answer moves the account: any place for an unplaced one, else a street or
    better (a city answer never replaces the postal or city centre it already has)."""
    return result is not None and (unplaced or result.quality in ("address", "street"))


def refinable_ids(
    conn: sqlite3.Connection, limit: int | None = None, settings: OnlineSettings | None = None
) -> list[str]:
    """Accounts that online geocoding could improve (a street, no better than postal quality),
    by name.

    With ``settings``, accounts whose address that geocoder already answered, with an answer that
    does not improve them, are left out: a run with ``limit`` then moves on to accounts not yet
    asked instead of checking the same hopeless ones again.
    """
    rows = conn.execute(_REFINABLE + " ORDER BY name COLLATE NOCASE").fetchall()
    cache = None if settings is None else GeocodeCache(conn, settings.cache_name)
    ids: list[str] = []
    for account_id, *parts, unplaced in rows:
        if limit is not None and len(ids) >= limit:
            break
        if cache is not None and settings is not None:
            query = OnlineGeocoder.query_for(
                Address(parts[0], parts[1], parts[2], parts[3], country=parts[4] or "US")
            )
            cached = cache.get(cache_key(query))
            if cached is not None and not _improves(
                _result(cached, settings.cache_name), bool(unplaced)
            ):
                continue
        ids.append(account_id)
    return ids


def refinable_count(conn: sqlite3.Connection) -> int:
    """How many accounts a run of :func:`refine_online` would check."""
    sql = "SELECT count(*)" + _REFINABLE[_REFINABLE.index(" FROM accounts") :]
    return int(conn.execute(sql).fetchone()[0])


def refine_online(
    ctx: OpenBook,
    settings: OnlineSettings,
    *,
    geocoder: Any | None = None,
    account_ids: Iterable[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> RefineReport:
    """Upgrade accounts with a street address from offline to online quality, and place the
    accounts the offline gazetteer could not place at all (any quality beats none).

    Each improvement is its own small write, so a lost connection or a cancel keeps what was done.
    An answer that cannot be read fails only its account. Manual pins and address-quality
    coordinates are never touched.
    """
    report = RefineReport()
    if not settings.enabled:
        report.stopped_reason = "no online geocoder is configured"
        return report
    if not _ONLINE_RUN.acquire(blocking=False):
        report.stopped_reason = "another online placement is already running"
        return report
    try:
        _refine(ctx, settings, report, geocoder, account_ids, progress, cancelled or _never)
    finally:
        _ONLINE_RUN.release()
    return report


def _stop_reason(exc: Exception) -> str:
    from geopy.exc import GeocoderRateLimited

    if isinstance(exc, GeocoderRateLimited):
        return "the server asked us to slow down (rate limited)"
    return f"the geocoder could not be reached ({type(exc).__name__})"


def _refine(
    ctx: OpenBook,
    settings: OnlineSettings,
    report: RefineReport,
    geocoder: Any | None,
    account_ids: Iterable[str] | None,
    progress: Callable[[int, int], None] | None,
    cancelled: Callable[[], bool],
) -> None:
    from geopy.exc import GeopyError

    online = OnlineGeocoder(ctx.db.conn, settings, geocoder, cancelled)
    sql, params = _REFINABLE, []
    if account_ids is not None:
        ids = list(account_ids)
        sql = f"SELECT * FROM ({sql}) WHERE id IN ({', '.join('?' * len(ids))})"
        params = ids
    rows = ctx.db.conn.execute(sql, params).fetchall()
    report.total = len(rows)
    unreadable_in_a_row = 0
    try:
        for index, (account_id, *parts, unplaced) in enumerate(rows):
            if cancelled():
                report.stopped_reason = "cancelled"
                break
            address = Address(parts[0], parts[1], parts[2], parts[3], country=parts[4] or "US")
            try:
                result = online.geocode(address)
            except Cancelled:
                report.stopped_reason = "cancelled"
                break
            except UnreadableAnswer as exc:
                log.info("unreadable answer for %s: %s", address.one_line(), exc)
                report.checked += 1
                report.unreadable += 1
                unreadable_in_a_row += 1
                if unreadable_in_a_row >= MAX_UNREADABLE_IN_A_ROW:
                    report.stopped_reason = "the geocoder's answers could not be read"
                    break
            except GeopyError as exc:
                report.stopped_reason = "cancelled" if cancelled() else _stop_reason(exc)
                log.info("online geocoding stopped: %s", exc)
                break
            else:
                unreadable_in_a_row = 0
                report.checked += 1
                if result is None:
                    report.not_found += 1
                elif _improves(result, bool(unplaced)):
                    ctx.writer.update("accounts", account_id, result.as_fields())
                    report.improved += 1
                    report.placed += bool(unplaced)
            if progress is not None:
                progress(index + 1, len(rows))
    finally:
        report.requests_sent = online.requests_sent


@dataclass(frozen=True)
class PlacementSummary:
    """Where the accounts are on the map: how many at each quality (``none``: not placed)."""

    by_quality: dict[str, int]
    cached_answers: int

    @property
    def total(self) -> int:
        return sum(self.by_quality.values())

    @property
    def unplaced(self) -> int:
        return self.by_quality.get("none", 0)

    @property
    def placed(self) -> int:
        return self.total - self.unplaced


def placement_summary(conn: sqlite3.Connection) -> PlacementSummary:
    """Accounts by location quality, best first, ``none`` last; and the cached online answers."""
    counts = {
        (q or "none"): n
        for q, n in conn.execute(
            f"SELECT CASE WHEN {_UNPLACED} THEN NULL ELSE geocode_quality END,"
            " count(*) FROM accounts GROUP BY 1"
        )
    }
    order = {q: i for i, q in enumerate((*QUALITIES, "none"))}
    by_quality = dict(sorted(counts.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))
    cached = conn.execute("SELECT count(*) FROM geocode_cache").fetchone()[0]
    return PlacementSummary(by_quality, cached)


def unplaced_accounts(conn: sqlite3.Connection, limit: int | None = None) -> list[dict[str, Any]]:
    """Accounts without coordinates, so the user can fix them (never silently dropped)."""
    sql = (
        "SELECT id, name, street, city, region, postal_code, country FROM accounts"
        f" WHERE {_UNPLACED} ORDER BY name COLLATE NOCASE"
    )
    params: list[Any] = []
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    cur = conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def unplaced_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute(f"SELECT count(*) FROM accounts WHERE {_UNPLACED}").fetchone()[0])
