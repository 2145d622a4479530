"""Every figure of the reports computed a second, simple way from the raw tables of a demo book
(Python loops over SELECT *), and compared with what the builders say."""

from __future__ import annotations

import sqlite3
import statistics
from collections import Counter, defaultdict
from datetime import date, datetime
from typing import Any

import pytest

from fieldrep.reports.catalog import build_report
from fieldrep.reports.model import NA
from fieldrep.reports.periods import parse_period

PERIODS = ["2026-Q4", "2026-11", "2026", "2026-10-15..2026-11-14"]


def rows(conn: sqlite3.Connection, table: str) -> list[dict[str, Any]]:
    cur = conn.execute(f"SELECT * FROM {table}")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def keyed(table: Any) -> dict[str, dict[str, Any]]:
    keys = [c.key for c in table.columns]
    return {r[0]: dict(zip(keys, r, strict=True)) for r in table.rows}


@pytest.mark.parametrize("text", PERIODS)
def test_territory_performance(demo: sqlite3.Connection, text: str) -> None:
    period = parse_period(text)
    lo, hi = period.lo, period.hi
    report = build_report(demo, "territory-performance", period)
    got = keyed(report.sections[0])
    territories = rows(demo, "territories")
    kids = defaultdict(list)
    for t in territories:
        kids[t["parent_id"]].append(t["id"])
    name = {t["id"]: t["name"] for t in territories}

    def below(tid: str) -> set[str]:
        out = {tid}
        for k in kids[tid]:
            out |= below(k)
        return out

    accounts = rows(demo, "accounts")
    deals = [d for d in rows(demo, "deals") if lo <= d["closed_on"] < hi]
    visits = [v for v in rows(demo, "visits") if lo <= v["visited_at"] < hi]
    where = {a["id"]: a["territory_id"] for a in accounts}
    quotas = rows(demo, "quotas")
    for t in territories:
        ids = below(t["id"])
        row = got[name[t["id"]]]
        assert row["accounts"] == sum(1 for a in accounts if a["territory_id"] in ids)
        assert row["potential"] == pytest.approx(
            sum(a["potential"] or 0 for a in accounts if a["territory_id"] in ids)
        )
        assert row["sales:USD"] == pytest.approx(
            sum(d["amount"] for d in deals if d["territory_id"] in ids), abs=0.01
        )
        assert row["visits"] == sum(1 for v in visits if where[v["account_id"]] in ids)
        visited = {v["account_id"] for v in visits if where[v["account_id"]] in ids}
        assert row["visited"] == len(visited)
        if not kids[t["id"]]:
            # Leaf quotas: the demo keeps monthly territory quotas; sum the months inside.
            months = [
                q["target"]
                for q in quotas
                if q["territory_id"] == t["id"]
                and q["user_id"] is None
                and q["metric"] == "sales"
                and q["period"] == "month"
                and lo <= q["period_start"] < hi
                and (period.kind != "custom" or q["period_start"][:7] < hi[:7])
            ]
            expected = sum(months) if months else None
            assert row["quota"] == (pytest.approx(expected) if expected is not None else None)
            if expected:
                assert row["attainment"] == pytest.approx(row["sales:USD"] / expected)
            else:
                assert row["attainment"] == NA
    total = report.sections[0].totals()
    assert total is not None
    assert total[1] == len(accounts)
    assert total[report.sections[0].index("sales:USD")] == pytest.approx(
        sum(d["amount"] for d in deals), abs=0.05
    )


@pytest.mark.parametrize("text", PERIODS[:3])
def test_rep_activity(demo: sqlite3.Connection, text: str) -> None:
    period = parse_period(text)
    lo, hi = period.lo, period.hi
    report = build_report(demo, "rep-activity", period)
    users = {u["id"]: u for u in rows(demo, "users")}
    got = {r[0]: r for r in report.sections[0].rows}
    visits = [v for v in rows(demo, "visits") if lo <= v["visited_at"] < hi]
    referrals = [r for r in rows(demo, "referrals") if lo <= r["created_at"] < hi]
    per_rep = Counter(v["user_id"] for v in visits)
    for uid, count in per_rep.items():
        label = users[uid]["display_name"]
        row = got[label]
        assert row[2] == count
        assert row[4] == len({v["account_id"] for v in visits if v["user_id"] == uid})
        assert row[7] == sum(1 for r in referrals if r["captured_by_id"] == uid)
    weekly = report.sections[1]
    assert sum(r[-1] for r in weekly.rows) == len(visits)
    for r in weekly.rows:
        monday: date = r[0]
        assert r[-1] == sum(
            1 for v in visits if 0 <= (date.fromisoformat(v["visited_at"][:10]) - monday).days < 7
        )


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize("text", ["2026-Q4", "2026"])
def test_referral_programme(demo: sqlite3.Connection, text: str) -> None:
    period = parse_period(text)
    lo, hi = period.lo, period.hi
    report = build_report(demo, "referral-programme", period)
    funnel, cohorts, sla, top, roi = report.sections
    got = [
        r
        for r in rows(demo, "referrals")
        if lo <= r["created_at"] < hi and r["duplicate_of_id"] is None
    ]
    events = defaultdict(list)
    for e in sorted(rows(demo, "referral_events"), key=lambda e: e["at"]):
        if e["kind"] == "stage":
            events[e["referral_id"]].append(e)
    order = ["new", "contacted", "qualified", "proposal", "won"]
    for i, stage in enumerate(order):
        reached = [
            r
            for r in got
            if stage == "new"
            or any(e["to_value"] == stage for e in events[r["id"]])
            or (r["stage"] in order and order.index(r["stage"]) >= i)
        ]
        assert funnel.rows[i][1] == len(reached), stage
    assert funnel.rows[-1][1] == sum(1 for r in got if r["stage"] == "lost")
    months = Counter(r["created_at"][:7] for r in got)
    assert {r[0]: r[1] for r in cohorts.rows} == dict(months)
    for row in cohorts.rows:
        won = [r for r in got if r["created_at"][:7] == row[0] and r["stage"] == "won"]
        assert row[2] == len(won)
        days = []
        for r in won:
            at = next(e["at"] for e in events[r["id"]] if e["to_value"] == "won")
            days.append((_at(at) - _at(r["created_at"])).total_seconds() / 86400)
        if days:
            assert row[6] == pytest.approx(round(statistics.median(days), 1))
    met = late = 0
    for r in got:
        first = next((e["at"] for e in events[r["id"]] if e["to_value"] != "new"), None)
        if first is not None and r["sla_due_at"]:
            met += first <= r["sla_due_at"]
            late += first > r["sla_due_at"]
    assert (sla.rows[1][1], sla.rows[2][1]) == (met, late)
    referrers = Counter(r["referrer_account_id"] for r in got if r["referrer_account_id"])
    assert top.rows[0][1] == max(referrers.values())
    ids = {r["id"] for r in got}
    cost = sum(
        w["amount"]
        for w in rows(demo, "rewards")
        if w["referral_id"] in ids and w["status"] in ("approved", "issued", "redeemed")
    )
    assert roi.rows[0][2] == pytest.approx(cost, abs=0.01)


@pytest.mark.parametrize("text", ["2026-Q4", "2026"])
def test_reward_payouts(demo: sqlite3.Connection, text: str) -> None:
    period = parse_period(text)
    lo, hi = period.lo, period.hi
    report = build_report(demo, "reward-payouts", period)
    issued = clawed = approved = 0.0
    for w in rows(demo, "rewards"):
        if w["kind"] == "clawback" and w["status"] not in ("declined", "revoked"):
            if lo <= (w["approved_at"] or w["created_at"]) < hi:
                clawed += w["amount"]
        elif w["kind"] == "reward" and w["status"] in ("issued", "redeemed"):
            if lo <= w["issued_at"] < hi:
                issued += w["amount"]
        elif w["kind"] == "reward" and w["status"] == "approved" and lo <= w["approved_at"] < hi:
            approved += w["amount"]
    yearly = report.sections[1]
    assert sum(r[3] for r in yearly.rows) == pytest.approx(approved, abs=0.01)
    assert sum(r[4] for r in yearly.rows) == pytest.approx(issued, abs=0.01)
    assert sum(r[5] for r in yearly.rows) == pytest.approx(clawed, abs=0.01)
    totals = report.sections[0].totals()
    assert totals is not None
    assert totals[7] == pytest.approx(issued + clawed, abs=0.05)


def test_accounts_list_with_filters(demo: sqlite3.Connection) -> None:
    report = build_report(demo, "accounts", parse_period("2026"), rep="jordan", status="active")
    jordan = demo.execute("SELECT id FROM users WHERE username = 'jordan'").fetchone()[0]
    expected = sorted(
        (
            a["name"]
            for a in rows(demo, "accounts")
            if a["owner_id"] == jordan and a["status"] == "active"
        ),
        key=str.lower,
    )
    assert [r[0] for r in report.sections[0].rows] == expected
