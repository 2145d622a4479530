"""Every setting this installation keeps in ``local_meta``, declared once with its type and default.

The model is Vorta's settings list: one declaration per key says what it holds, its type, its
default and how it is written, and readers call :func:`get`/:func:`put` instead of parsing
strings where they read them (``int(local_meta.get(conn, "sync_cursor", "0"))``). The stored
strings are the ones the code always wrote (no migration): integers as decimal text, flags as
``"1"``/``""``, JSON as ``json.dumps``, text as given (``None`` stores NULL, meaning unset).

An absent key, NULL or the empty string reads as the default. A value that does not parse raises
(``ValueError``), except where the declaration says otherwise (the tile cache's cap, the mail
server's port), which fall back to the default as they always did.

Still reading keys by name, to move here with the changes under way there: the referral SLA
(``services/referrals/sla.py``) and the migrations' trigger conditions; ``reports/catalog.py``
joins ``local_meta`` on ``user_id`` in SQL.
"""

from __future__ import annotations

import copy
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fieldrep.store import local_meta
from fieldrep.store.migrations import ACCOUNT_KEYS_DEFERRED as _ACCOUNT_KEYS_DEFERRED_KEY

T = TypeVar("T")


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One ``local_meta`` key: what it holds, its default, and how it is read and written."""

    key: str
    default: T
    parse: Callable[[str], T]
    format: Callable[[T], str | None]
    doc: str


def get(conn: sqlite3.Connection, setting: Setting[T]) -> T:
    """The stored value of ``setting``, or its default when absent, NULL or empty."""
    raw = local_meta.get(conn, setting.key)
    if not raw:
        return copy.deepcopy(setting.default)
    return setting.parse(raw)


def put(conn: sqlite3.Connection, setting: Setting[T], value: T) -> None:
    """Store ``value``; call inside the caller's transaction, or alone in autocommit mode."""
    local_meta.put(conn, setting.key, setting.format(value))


def clear(conn: sqlite3.Connection, setting: Setting[Any]) -> None:
    """Remove the key altogether (the marker settings the triggers test with ``EXISTS``)."""
    conn.execute("DELETE FROM local_meta WHERE key = ?", (setting.key,))


# -- kinds --------------------------------------------------------------------------------------


def _text_or_null(value: str | None) -> str | None:
    return value


def text(key: str, doc: str) -> Setting[str]:
    """Free text; reads ``""`` when unset. ``put(..., None)`` is not allowed: store ``""``."""
    return Setting(key, "", str, _text_or_null, doc)


def optional_text(key: str, doc: str) -> Setting[str | None]:
    """Free text that may be unset (``None``, stored as NULL)."""
    return Setting[str | None](key, None, str, _text_or_null, doc)


def integer(key: str, doc: str, default: int = 0) -> Setting[int]:
    return Setting(key, default, int, lambda value: str(int(value)), doc)


def lenient_integer(key: str, doc: str, default: int) -> Setting[int]:
    """An integer typed by a person: anything that does not parse reads as the default."""

    def parse(raw: str) -> int:
        try:
            return int(raw)
        except ValueError:
            return default

    return Setting(key, default, parse, lambda value: str(int(value)), doc)


def flag(key: str, doc: str) -> Setting[bool]:
    """Set (``"1"``) or not (``""``); any non-empty text reads as set."""
    return Setting(key, False, lambda raw: True, lambda value: "1" if value else "", doc)


def on_off(key: str, doc: str, default: bool) -> Setting[bool]:
    """``"1"`` or ``"0"``; only ``"0"`` reads as off."""
    return Setting(key, default, lambda raw: raw != "0", lambda value: "1" if value else "0", doc)


def seconds(key: str, doc: str) -> Setting[float]:
    """A ``time.time()`` stamp, stored as its ``repr``."""
    return Setting(key, 0.0, float, repr, doc)


def json_value(key: str, doc: str, default: T) -> Setting[T]:
    """A JSON document; the default is copied on every read, so a caller may change it."""
    return Setting(key, default, json.loads, json.dumps, doc)


def _port(raw: str) -> int:
    return int(raw) if raw.isdigit() else 587


# -- the settings -------------------------------------------------------------------------------

# Signing in and syncing (written by fieldrep.sync.client and the sync service).
SERVER_URL = text("server_url", "the sync server this database signed in to")
DEVICE_TOKEN = optional_text(
    "device_token", "this laptop's token at the server (unset: signed out)"
)
DEVICE_ID = text("device_id", "this installation's id, the tie-breaker of its clocks")
USER_ID = optional_text("user_id", "the user this database belongs to")
SYNC_USERNAME = text("sync_username", "the name the user signed in with")
LAST_SYNC_AT = text("last_sync_at", "when the last sync finished (ISO 8601, UTC)")
SYNC_LAST_ERROR = text("sync_last_error", "why the last sync failed (empty: it did not)")
SYNC_CURSOR = integer("sync_cursor", "the server's change number this database has pulled to")
SYNC_SCOPE_KEY = text("sync_scope_key", "the server's key of what this user may see")
SYNC_REFETCH = json_value(
    "sync_refetch", "rows to pull again ([table, id] pairs)", default=list[Any]()
)
SYNC_REPLACING = flag("sync_replacing", "a full pull is replacing the local rows")
SYNC_NEW_DEVICE = flag("sync_new_device", "the server forgot this device: sign in as a new one")
SYNC_VERIFIED_AT = seconds("sync_verified_at", "when row counts were last compared with the server")
SYNC_CLOCK_TAG = optional_text(
    "sync_clock_tag", "the tag the server keeps this device's clocks under (unset: none told)"
)
HLC_LAST = integer("hlc_last", "the hybrid logical clock's last value")

# The demo.
DEMO_SEED = text("demo_seed", "the seed the demo book was built from (empty: not a demo)")
DEMO_KEPT_AT = text("demo_kept_at", "where the demo was copied before it became a team database")

# Referrals and rewards.
MATCH_INDEX_GENERATION = integer("match_index.generation", "bumped on each match-index refresh")
REWARDS_FOLLOWED_VERSION = integer(
    "rewards_followed_version", "the highest stage event the rewards have followed"
)
REFERRALS_SLA = json_value(
    "referrals.sla", "days allowed per referral stage, default and per territory", default=None
)

# The mail server (rewards notifications).
SMTP_HOST = optional_text("smtp_host", "the mail server's name")
SMTP_PORT = Setting("smtp_port", 587, _port, str, "the mail server's port")
SMTP_STARTTLS = on_off("smtp_starttls", "whether to upgrade with STARTTLS", default=True)
SMTP_USERNAME = optional_text("smtp_username", "the name to sign in to the mail server with")
SMTP_PASSWORD = optional_text("smtp_password", "the mail server's password")
SMTP_SENDER = optional_text("smtp_sender", "the From address of the mails sent")
SMTP_CAFILE = optional_text("smtp_cafile", "a CA bundle to trust instead of the system's")

# Map and geocoding.
MAP_TILE_CACHE_MB = lenient_integer("map.tile_cache_mb", "the tile cache's cap in MB", default=500)
MAP_DAY_ROUTE = json_value(
    "map.day_route",
    "today's planned stops: {'day': ISO date, 'ids': [...]}",
    default=dict[str, Any](),
)
GEOCODER_ONLINE = json_value(
    "geocoder.online",
    "the online geocoder's settings (OnlineSettings fields)",
    default=dict[str, Any](),
)

# Markers and formats of the derived tables.
ACCOUNT_KEYS_FORMAT = text("account_keys.format", "how the account duplicate keys are filed")
ACCOUNT_KEYS_DEFERRED = flag(
    _ACCOUNT_KEYS_DEFERRED_KEY, "present while a bulk import files account keys itself"
)
SEARCH_INDEX_DEFERRED = flag(
    "search_index.deferred", "present while a bulk writer rebuilds the search index itself"
)

ALL: tuple[Setting[Any], ...] = tuple(
    value for value in list(globals().values()) if isinstance(value, Setting)
)
"""Every declared setting, in declaration order."""


# Territory files.
REGION_COUNTRY = text(
    "territories.region_country",
    "whose states a bare two-letter region in a territory file names (ISO code; empty: US;"
    " 'none': such codes are countries)",
)
