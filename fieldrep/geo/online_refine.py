"""Upgrading accounts online: offline-placed accounts with a street asked of the online geocoder.

When the user has configured an online geocoder (:mod:`fieldrep.geo.geocoder_settings`) and the
machine is online, :func:`refine_online` asks the provider for accounts that have a street address
and upgrades them to ``address`` or ``street`` quality, and places the accounts the gazetteer could
not place at all. One run at a time in this process; each improvement is its own small write.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fieldrep.domain.errors import Cancelled
from fieldrep.domain.progress import Progress
from fieldrep.geo.geocode_cache import GeocodeCache, cache_key
from fieldrep.geo.geocoder_settings import OnlineSettings
from fieldrep.geo.geocoding import Address, GeoResult
from fieldrep.geo.online_geocoder import (
    OnlineGeocoder,
    UnreadableAnswer,
    answer_result,
    never_cancelled,
)
from fieldrep.geo.placement import UNPLACED
from fieldrep.store.book import OpenBook

log = logging.getLogger(__name__)

# This many unreadable answers in a row stop the run: the server is broken, not one address.
MAX_UNREADABLE_IN_A_ROW = 3


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
    f"SELECT id, street, city, region, postal_code, country, {UNPLACED}"
    " FROM accounts WHERE (street IS NOT NULL AND street != ''"
    " AND (geocode_quality IS NULL OR geocode_quality IN ('postal_code', 'city')))"
    f" OR ({UNPLACED} AND (coalesce(city, '') != ''"
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
                answer_result(cached, settings.cache_name), bool(unplaced)
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
    progress: Progress | None = None,
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
        _refine(
            ctx, settings, report, geocoder, account_ids, progress, cancelled or never_cancelled
        )
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
    progress: Progress | None,
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
                progress(index + 1, len(rows), f"Checked {index + 1:,} of {len(rows):,} accounts")
    finally:
        report.requests_sent = online.requests_sent
