"""How long each stage may wait: first contact within 2 days of capture, and so on. Defaults here;
a manager may set other days per stage, for all territories or one (local setting, JSON in
``local_meta`` under ``referrals.sla``: {"default": {"new": 2}, "territories": {"<id>": {...}}})."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

from fieldrep.services.referrals.model import Stage
from fieldrep.store import local_meta

SETTING = "referrals.sla"
DEFAULT_DAYS: dict[Stage, float] = {
    Stage.NEW: 2,  # first contact
    Stage.CONTACTED: 7,
    Stage.QUALIFIED: 14,
    Stage.PROPOSAL: 21,
}


def _settings(conn: sqlite3.Connection) -> dict[str, Any]:
    raw = local_meta.get(conn, SETTING)
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def days_for(conn: sqlite3.Connection, stage: Stage, territory_id: str | None) -> float | None:
    if not stage.is_open:
        return None
    settings = _settings(conn)
    for scope in (
        settings.get("territories", {}).get(territory_id or "", {}),
        settings.get("default", {}),
    ):
        if isinstance(scope, dict) and stage.value in scope:
            return float(scope[stage.value])
    return DEFAULT_DAYS[stage]


def set_days(
    conn: sqlite3.Connection, stage: Stage, days: float, territory_id: str | None = None
) -> None:
    if days <= 0:
        raise ValueError("an SLA must be more than 0 days")
    settings = _settings(conn)
    scope: dict[str, float]
    if territory_id:
        scope = settings.setdefault("territories", {}).setdefault(territory_id, {})
    else:
        scope = settings.setdefault("default", {})
    scope[stage.value] = days
    local_meta.put(conn, SETTING, json.dumps(settings))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def due_at(
    conn: sqlite3.Connection, stage: Stage, territory_id: str | None, start: datetime
) -> str | None:
    days = days_for(conn, stage, territory_id)
    return None if days is None else iso(start + timedelta(days=days))
