"""The user's online geocoder: its settings, the rules they are checked by, and where they are kept.

An empty ``provider`` means never go online for geocoding. The settings live in ``local_meta``
(:data:`fieldrep.store.settings.GEOCODER_ONLINE`); :func:`nominatim_settings` holds the rules the
CLI and the settings dialog share (Nominatim's usage policy among them).
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from fieldrep.store import settings as stored_settings

# Nominatim's public servers allow one request a second; a self-hosted one may allow more.
PUBLIC_NOMINATIM = "nominatim.openstreetmap.org"
NOMINATIM_POLICY = (
    "Nominatim's usage policy asks for a user agent that identifies your organisation and at most"
    " one request a second on its public servers."
)
# A single request gives up after this long (a cancel waits at most this long too); a stored
# setting from an older version (10 s) is capped to it.
MAX_TIMEOUT_SECONDS = 5.0


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
