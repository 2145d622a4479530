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

import json
import logging
import math
import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from fieldrep.geo.geocode_cache import CachedAnswer, GeocodeCache

log = logging.getLogger(__name__)

QUALITIES = ("address", "street", "postal_code", "city", "manual")
GAZETTEER_SOURCE = "gazetteer"
SETTINGS_KEY = "geocoder.online"
# Nominatim's public servers allow one request a second; a self-hosted one may allow more.
PUBLIC_NOMINATIM = "nominatim.openstreetmap.org"
NOMINATIM_POLICY = (
    "Nominatim's usage policy asks for a user agent that identifies your organisation and at most"
    " one request a second on its public servers."
)


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


class OfflineGeocoder:
    """Postal-code then city centroids from the gazetteer, memoised in a dict (imports hit it 100k
    times with a few thousand distinct keys)."""

    def __init__(self, gazetteer: Gazetteer | None = None) -> None:
        if gazetteer is None:
            from fieldrep.geo.gazetteer import default_gazetteer

            gazetteer = default_gazetteer()
        self._gazetteer = gazetteer
        self._memo: dict[tuple[str, ...], GeoResult | None] = {}

    def load(self) -> None:
        """Read the whole gazetteer now, for a job that will place many addresses."""
        load = getattr(self._gazetteer, "load", None)  # a gazetteer that loads nothing has none
        if load is not None:
            load()

    def geocode(self, address: Address) -> GeoResult | None:
        country = (address.country or "US").upper()
        if address.postal_code:
            key = ("p", country, address.postal_code.strip().upper())
            if key not in self._memo:
                place = self._gazetteer.postal_code(address.postal_code, country=country)
                self._memo[key] = (
                    GeoResult(place.lat, place.lon, "postal_code", GAZETTEER_SOURCE)
                    if place is not None
                    else None
                )
            if self._memo[key] is not None:
                return self._memo[key]
        if address.city:
            region = (address.region or "").strip().upper()
            key = ("c", country, region, address.city.strip().casefold())
            if key not in self._memo:
                place = self._gazetteer.city(address.city, region=region or None, country=country)
                self._memo[key] = (
                    GeoResult(place.lat, place.lon, "city", GAZETTEER_SOURCE)
                    if place is not None
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
    timeout_seconds: float = 10.0

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
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise SettingsError("url", f"{text!r} has a port that is not a number") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError("url", f"{text!r} is not an http(s) address")
    if parts.query or parts.fragment:
        raise SettingsError("url", f"{text!r}: give the server only, without '?' or '#' parts")
    if not math.isfinite(min_delay) or min_delay < 0:
        raise SettingsError("min_delay", "the delay between requests must be 0 seconds or more")
    if parts.hostname == PUBLIC_NOMINATIM and min_delay < 1:
        raise SettingsError(
            "min_delay", "the delay must be at least 1 second on the public Nominatim server"
        )
    return OnlineSettings(
        provider="nominatim",
        user_agent=agent,
        domain=parts.netloc + parts.path.rstrip("/"),
        scheme=parts.scheme,
        min_delay_seconds=float(min_delay),
    )


def load_settings(conn: sqlite3.Connection) -> OnlineSettings:
    row = conn.execute("SELECT value FROM local_meta WHERE key = ?", (SETTINGS_KEY,)).fetchone()
    if row is None or not row[0]:
        return OnlineSettings()
    data = json.loads(row[0])
    known = set(OnlineSettings.__dataclass_fields__)
    return OnlineSettings(**{k: v for k, v in data.items() if k in known})


def save_settings(conn: sqlite3.Connection, settings: OnlineSettings) -> None:
    """Store the settings (inside the caller's transaction, or alone in autocommit mode)."""
    if settings.provider not in ("", "nominatim"):
        raise ValueError(f"unknown geocoding provider {settings.provider!r} (known: nominatim)")
    conn.execute(
        "INSERT INTO local_meta (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (SETTINGS_KEY, json.dumps(asdict(settings))),
    )


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


class OnlineGeocoder:
    """One geopy geocoder behind geopy's RateLimiter and our permanent cache."""

    def __init__(
        self, conn: sqlite3.Connection, settings: OnlineSettings, geocoder: Any | None = None
    ) -> None:
        from geopy.extra.rate_limiter import RateLimiter

        if geocoder is None:
            geocoder = make_geopy_geocoder(settings)
        self.settings = settings
        self.cache = GeocodeCache(conn, settings.cache_name)
        # Errors are not swallowed: an unreachable provider must stop the run and be reported, and
        # must never be cached as "not found".
        self._geocode = RateLimiter(
            geocoder.geocode,
            min_delay_seconds=settings.min_delay_seconds,
            max_retries=1,
            error_wait_seconds=settings.min_delay_seconds,
            swallow_exceptions=False,
        )
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
        query = self.query_for(address)
        key = json.dumps(query, sort_keys=True).casefold()
        cached = self.cache.get(key)
        if cached is None:
            self.requests_sent += 1
            location = self._geocode(query, exactly_one=True, addressdetails=True)
            if location is None:
                cached = CachedAnswer(None, None, None, None)
            else:
                cached = CachedAnswer(
                    location.latitude,
                    location.longitude,
                    quality_of(location.raw),
                    location.address,
                )
            self.cache.put(key, cached)
        if cached.lat is None or cached.lon is None or cached.quality is None:
            return None
        return GeoResult(cached.lat, cached.lon, cached.quality, self.settings.cache_name)


def make_geopy_geocoder(settings: OnlineSettings) -> Any:
    if settings.provider != "nominatim":
        raise ValueError(f"unknown geocoding provider {settings.provider!r} (known: nominatim)")
    from geopy.geocoders import Nominatim

    return Nominatim(
        user_agent=settings.user_agent,
        domain=settings.domain,
        scheme=settings.scheme,
        timeout=settings.timeout_seconds,
    )


@dataclass
class RefineReport:
    """What a run of :func:`refine_online` did. ``improved`` counts every account it moved,
    ``placed`` those of them that had no location before."""

    checked: int = 0
    improved: int = 0
    not_found: int = 0
    requests_sent: int = 0
    stopped_reason: str = ""
    placed: int = 0
    total: int = 0  # accounts the run set out to check


# One run at a time in this process: two at once would each keep to the provider's rate limit and
# together break it (the Accounts page and the Geocoding dialog can both start one).
_ONLINE_RUN = threading.Lock()


_REFINABLE = (
    "SELECT id, street, city, region, postal_code, country, (lat IS NULL OR lon IS NULL)"
    " FROM accounts WHERE (street IS NOT NULL AND street != ''"
    " AND (geocode_quality IS NULL OR geocode_quality IN ('postal_code', 'city')))"
    " OR ((lat IS NULL OR lon IS NULL) AND (coalesce(city, '') != ''"
    " OR coalesce(postal_code, '') != ''))"
)


def refinable_ids(conn: sqlite3.Connection, limit: int | None = None) -> list[str]:
    """Accounts that online geocoding could improve (a street, no better than postal quality)."""
    sql = "SELECT id" + _REFINABLE[_REFINABLE.index(" FROM accounts") :]
    sql += " ORDER BY name COLLATE NOCASE"
    params: list[Any] = []
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [r[0] for r in conn.execute(sql, params)]


def refinable_count(conn: sqlite3.Connection) -> int:
    """How many accounts a run of :func:`refine_online` would check."""
    sql = "SELECT count(*)" + _REFINABLE[_REFINABLE.index(" FROM accounts") :]
    return int(conn.execute(sql).fetchone()[0])


def refine_online(
    ctx: Any,
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
    Manual pins and address-quality coordinates are never touched.
    """
    report = RefineReport()
    if not settings.enabled:
        report.stopped_reason = "no online geocoder is configured"
        return report
    if not _ONLINE_RUN.acquire(blocking=False):
        report.stopped_reason = "another online placement is already running"
        return report
    try:
        _refine(ctx, settings, report, geocoder, account_ids, progress, cancelled)
    finally:
        _ONLINE_RUN.release()
    return report


def _refine(
    ctx: Any,
    settings: OnlineSettings,
    report: RefineReport,
    geocoder: Any | None,
    account_ids: Iterable[str] | None,
    progress: Callable[[int, int], None] | None,
    cancelled: Callable[[], bool] | None,
) -> None:
    from geopy.exc import GeopyError

    online = OnlineGeocoder(ctx.db.conn, settings, geocoder)
    sql, params = _REFINABLE, []
    if account_ids is not None:
        ids = list(account_ids)
        sql = f"SELECT * FROM ({sql}) WHERE id IN ({', '.join('?' * len(ids))})"
        params = ids
    rows = ctx.db.conn.execute(sql, params).fetchall()
    report.total = len(rows)
    for index, (account_id, *parts, unplaced) in enumerate(rows):
        if cancelled is not None and cancelled():
            report.stopped_reason = "cancelled"
            break
        address = Address(*parts[:4], country=parts[4] or "US")
        try:
            result = online.geocode(address)
        except GeopyError as exc:
            report.stopped_reason = f"the geocoder could not be reached ({type(exc).__name__})"
            log.warning("online geocoding stopped: %s", exc)
            break
        report.checked += 1
        if result is None:
            report.not_found += 1
        elif unplaced or result.quality in ("address", "street"):
            ctx.writer.update("accounts", account_id, result.as_fields())
            report.improved += 1
            report.placed += bool(unplaced)
        if progress is not None:
            progress(index + 1, len(rows))
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
            "SELECT CASE WHEN lat IS NULL OR lon IS NULL THEN NULL ELSE geocode_quality END,"
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
        " WHERE lat IS NULL OR lon IS NULL ORDER BY name COLLATE NOCASE"
    )
    params: list[Any] = []
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    cur = conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def unplaced_count(conn: sqlite3.Connection) -> int:
    return int(
        conn.execute("SELECT count(*) FROM accounts WHERE lat IS NULL OR lon IS NULL").fetchone()[0]
    )
