"""Sales quotas per territory and per rep per period (month, quarter, year): read and set.

A quota is one ``quotas`` row for (territory or rep, period kind, first day of the period, metric).
Territory quotas have no ``user_id``; a rep's quota has no ``territory_id`` (the KPI service reads
them the same way). Setting a quota updates the existing row or inserts one; a target of ``None``
removes it. A batch of edits is validated first and written in one transaction: one bad target and
nothing is saved.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from fieldrep.services.context import Context
from fieldrep.services.territories.kpis import PERIODS, Period, period_of
from fieldrep.store.errors import ValidationError

METRIC = "sales"


@dataclass(frozen=True)
class QuotaLine:
    """One editable line: a territory or a rep, and its target for the period (None: no quota)."""

    kind: str  # "territory" or "rep"
    key: str
    name: str
    target: float | None


@dataclass(frozen=True)
class QuotaEdit:
    kind: str
    key: str
    target: float | str | None  # text as typed ("12,000") is parsed and checked


def periods_around(kind: str, on: date, back: int = 6, ahead: int = 3) -> list[Period]:
    """Periods of ``kind`` from ``back`` before the one containing ``on`` to ``ahead`` after."""
    here = period_of(kind, on)
    out = [here]
    p = here
    for _ in range(back):
        p = period_of(kind, date.fromordinal(p.start.toordinal() - 1))
        out.insert(0, p)
    p = here
    for _ in range(ahead):
        p = period_of(kind, p.end)
        out.append(p)
    return out


def _column(kind: str) -> str:
    if kind == "territory":
        return "territory_id"
    if kind == "rep":
        return "user_id"
    raise ValidationError(f"a quota is for a territory or a rep, not {kind!r}", table="quotas")


def lines(ctx: Context, period: Period) -> list[QuotaLine]:
    """Every active territory, then every active rep, with their quota for exactly ``period``."""
    targets: dict[tuple[str, str], float] = {}
    for r in ctx.db.query(
        "SELECT territory_id, user_id, target FROM quotas WHERE metric = ? AND period = ? "
        "AND period_start = ?",
        [METRIC, period.kind, period.start.isoformat()],
    ):
        if r["user_id"] is None and r["territory_id"]:
            targets[("territory", r["territory_id"])] = float(r["target"])
        elif r["user_id"] and r["territory_id"] is None:
            targets[("rep", r["user_id"])] = float(r["target"])
    out = [
        QuotaLine("territory", t["id"], t["name"], targets.get(("territory", t["id"])))
        for t in ctx.db.query(
            "SELECT id, name FROM territories WHERE kind = 'territory' AND archived = 0 "
            "ORDER BY name COLLATE NOCASE"
        )
    ]
    out += [
        QuotaLine("rep", u["id"], u["name"], targets.get(("rep", u["id"])))
        for u in ctx.db.query(
            "SELECT id, coalesce(nullif(display_name, ''), username) AS name FROM users "
            "WHERE active = 1 AND role = 'rep' ORDER BY name COLLATE NOCASE"
        )
    ]
    return out


def _target(value: object, name: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(str(value).replace(",", "").strip())
    except ValueError:
        raise ValidationError(
            f"quota for {name}: {value!r} is not a number", table="quotas", field="target"
        ) from None
    if not math.isfinite(number) or number < 0:
        raise ValidationError(
            f"quota for {name}: the target must be zero or more, not {value!r}",
            table="quotas",
            field="target",
        )
    return number


def set_quotas(ctx: Context, period: Period, edits: Iterable[QuotaEdit]) -> int:
    """Write ``edits`` for ``period`` in one transaction; returns how many rows changed."""
    if period.kind not in PERIODS or period_of(period.kind, period.start) != period:
        raise ValidationError(f"{period.label} is not a whole {period.kind}", table="quotas")
    names = {
        ("territory", r["id"]): r["name"] for r in ctx.db.query("SELECT id, name FROM territories")
    }
    names |= {
        ("rep", r["id"]): r["name"]
        for r in ctx.db.query(
            "SELECT id, coalesce(nullif(display_name, ''), username) AS name FROM users"
        )
    }
    checked: list[tuple[str, str, float | None]] = []
    for e in edits:
        column = _column(e.kind)
        if (e.kind, e.key) not in names:
            raise ValidationError(f"no {e.kind} with id {e.key}", table="quotas", field=column)
        checked.append((column, e.key, _target(e.target, names[(e.kind, e.key)])))
    other = {"territory_id": "user_id", "user_id": "territory_id"}
    changed = 0
    with ctx.writer.transaction():
        for column, key, target in checked:
            rows = list(
                ctx.db.query(
                    f"SELECT id, target FROM quotas WHERE {column} = ? AND {other[column]} IS NULL "
                    "AND metric = ? AND period = ? AND period_start = ?",
                    [key, METRIC, period.kind, period.start.isoformat()],
                )
            )
            if target is None:
                for r in rows:
                    ctx.writer.delete("quotas", r["id"])
                    changed += 1
            elif rows:
                if float(rows[0]["target"]) != target:
                    ctx.writer.update("quotas", rows[0]["id"], {"target": target})
                    changed += 1
            else:
                values: dict[str, Any] = {
                    column: key,
                    "period": period.kind,
                    "period_start": period.start.isoformat(),
                    "metric": METRIC,
                    "target": target,
                }
                ctx.writer.insert("quotas", values)
                changed += 1
    return changed
