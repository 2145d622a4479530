"""How long each stage may wait: first contact within 2 days of capture, and so on.

A team setting (issue 18): a manager (or admin) sets the days per stage on a territory, in its
``referral_sla`` column (JSON, ``{"new": 1, "contacted": 5}``), which syncs like the rest of the
territory: everyone in scope reads it, every laptop applies it, and the server refuses it from a
rep (only managers change territories). A territory without a value for a stage follows its
parent's, up to its root: the team default is the value on the team's root territories (a
territory with no parent is its own root; :func:`set_team_default`).

Where no territory of the chain has a value, this laptop's own setting applies (the local setting
of before, JSON in ``local_meta`` under ``referrals.sla``: {"default": {"new": 2}, "territories":
{"<id>": {...}}}), then the defaults here."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

from fieldrep.services.referrals.model import Stage
from fieldrep.store import local_meta
from fieldrep.store.writer import Writer

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


def _days(value: object) -> dict[str, float]:
    """The stage -> days of a stored SLA object, leaving out anything that is not a positive
    number of days (a value written by hand or by a newer version)."""
    try:
        parsed = json.loads(value) if isinstance(value, str) and value else {}
    except ValueError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {
        str(k): float(v)
        for k, v in parsed.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and v > 0
    }


def own_days(conn: sqlite3.Connection, territory_id: str) -> dict[str, float]:
    """What the team set on this territory itself (stage -> days), its parents' left out."""
    row = conn.execute(
        "SELECT referral_sla FROM territories WHERE id = ?", (territory_id,)
    ).fetchone()
    return _days(row[0] if row else None)


def territory_chain(conn: sqlite3.Connection, territory_id: str | None) -> list[str]:
    """``territory_id``, its parent, and so on up to its root (a cycle stops the walk)."""
    chain: list[str] = []
    current = territory_id
    while current and current not in chain:
        chain.append(current)
        row = conn.execute("SELECT parent_id FROM territories WHERE id = ?", (current,)).fetchone()
        current = row[0] if row else None
    return chain


def team_days(conn: sqlite3.Connection, territory_id: str | None) -> dict[str, float]:
    """The team's SLA for a territory: per stage, the nearest value on it or above it."""
    found: dict[str, float] = {}
    for tid in territory_chain(conn, territory_id):
        row = conn.execute("SELECT referral_sla FROM territories WHERE id = ?", (tid,)).fetchone()
        for stage, days in _days(row[0] if row else None).items():
            found.setdefault(stage, days)
    return found


def days_for(conn: sqlite3.Connection, stage: Stage, territory_id: str | None) -> float | None:
    if not stage.is_open:
        return None
    team = team_days(conn, territory_id)
    if stage.value in team:
        return team[stage.value]
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
    """This laptop's own setting: applies only where the team has set nothing."""
    _check(stage, days)
    settings = _settings(conn)
    scope: dict[str, float]
    if territory_id:
        scope = settings.setdefault("territories", {}).setdefault(territory_id, {})
    else:
        scope = settings.setdefault("default", {})
    scope[stage.value] = days
    local_meta.put(conn, SETTING, json.dumps(settings))


def _check(stage: Stage, days: float | None) -> None:
    if not stage.is_open:
        raise ValueError(f"a {stage.value} referral has no SLA")
    if days is not None and not days > 0:
        raise ValueError("an SLA must be more than 0 days")


def set_team_days(writer: Writer, stage: Stage, days: float | None, territory_id: str) -> None:
    """The team's SLA for ``stage`` on a territory (and the territories below it that set none);
    ``None`` clears it (the parent's value applies again). Synced: the server takes it from a
    manager or admin and refuses it from a rep."""
    _check(stage, days)
    with writer.transaction() as conn:
        row = conn.execute(
            "SELECT referral_sla FROM territories WHERE id = ?", (territory_id,)
        ).fetchone()
        if row is None:
            raise ValueError(f"territory {territory_id} does not exist")
        current = _days(row[0])
        if days is None:
            current.pop(stage.value, None)
        else:
            current[stage.value] = float(days)
        value = json.dumps(dict(sorted(current.items()))) if current else None
        writer.update("territories", territory_id, {"referral_sla": value})


def team_roots(conn: sqlite3.Connection, user_id: str) -> list[str]:
    """The root territories of ``user_id``'s team: the roots above every territory owned by, or
    with an active member among, the user and the people they manage."""
    people = [user_id] + [
        r[0] for r in conn.execute("SELECT id FROM users WHERE manager_id = ?", (user_id,))
    ]
    marks = ", ".join("?" * len(people))
    rows = conn.execute(
        f"SELECT id FROM territories WHERE owner_id IN ({marks}) UNION SELECT territory_id"
        f" FROM territory_members WHERE active = 1 AND user_id IN ({marks})",
        (*people, *people),
    ).fetchall()
    roots: set[str] = set()
    for (tid,) in rows:
        chain = territory_chain(conn, tid)
        if chain:
            roots.add(chain[-1])
    return sorted(roots)


def set_team_default(writer: Writer, user_id: str, stage: Stage, days: float | None) -> list[str]:
    """The team default for ``stage``: set on the root territories of ``user_id``'s team (every
    territory below them that sets no value of its own follows it); returns those roots."""
    roots = team_roots(writer.conn, user_id)
    if not roots:
        raise ValueError("you have no territories yet: a team default is kept on your territories")
    with writer.transaction():
        for root in roots:
            set_team_days(writer, stage, days, root)
    return roots


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def due_at(
    conn: sqlite3.Connection, stage: Stage, territory_id: str | None, start: datetime
) -> str | None:
    days = days_for(conn, stage, territory_id)
    return None if days is None else iso(start + timedelta(days=days))
