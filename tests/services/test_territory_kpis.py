"""KPIs per territory and rep: sums, quota granularity, coverage window, referrals."""

from __future__ import annotations

from datetime import date

import pytest

from fieldrep.services.context import Context
from fieldrep.services.territories import kpis
from fieldrep.services.territories import service as territory_service
from tests.services.helpers_territories import account, user


def test_period_bounds() -> None:
    assert kpis.period_of("quarter", date(2026, 5, 17)) == kpis.Period(
        "quarter", date(2026, 4, 1), date(2026, 7, 1)
    )
    assert kpis.period_of("month", date(2026, 12, 3)).end == date(2027, 1, 1)
    assert kpis.period_of("year", date(2026, 5, 17)).label == "2026"
    with pytest.raises(ValueError, match="period must be one of"):
        kpis.period_of("week", date(2026, 1, 1))


def test_territory_and_rep_kpis(ctx: Context) -> None:
    ann, bob = user(ctx, "ann"), user(ctx, "bob")
    north = territory_service.create_territory(ctx, "North", postal_codes="1")
    south = territory_service.create_territory(ctx, "South", postal_codes="2")
    a1 = account(ctx, "A1", territory_id=north, owner_id=ann, potential=1000)
    a2 = account(ctx, "A2", territory_id=north, owner_id=ann, potential=500)
    a3 = account(ctx, "A3", territory_id=south, owner_id=bob, potential=250)
    w = ctx.writer
    w.insert(
        "deals",
        {
            "account_id": a1,
            "user_id": ann,
            "territory_id": north,
            "amount": 300,
            "closed_on": "2026-04-10",
        },
    )
    w.insert(
        "deals",
        {
            "account_id": a2,
            "user_id": ann,
            "territory_id": north,
            "amount": 200,
            "closed_on": "2026-06-30",
        },
    )
    w.insert(
        "deals",
        {
            "account_id": a3,
            "user_id": bob,
            "territory_id": south,
            "amount": 999,
            "closed_on": "2026-03-31",
        },
    )  # previous quarter
    for month in ("2026-04-01", "2026-05-01", "2026-06-01"):
        w.insert(
            "quotas",
            {"territory_id": north, "period": "month", "period_start": month, "target": 250},
        )
    w.insert(
        "quotas", {"user_id": ann, "period": "year", "period_start": "2026-01-01", "target": 4000}
    )
    w.insert("visits", {"account_id": a1, "user_id": ann, "visited_at": "2026-05-20T10:00:00Z"})
    w.insert("visits", {"account_id": a1, "user_id": ann, "visited_at": "2026-05-21T10:00:00Z"})
    w.insert("visits", {"account_id": a3, "user_id": bob, "visited_at": "2025-12-01T10:00:00Z"})
    w.insert(
        "referrals",
        {
            "referred_name": "R1",
            "territory_id": north,
            "owner_id": ann,
            "stage": "won",
            "created_at": "2026-04-02T00:00:00Z",
            "updated_at": "2026-05-02T00:00:00Z",
        },
    )
    w.insert(
        "referrals",
        {
            "referred_name": "R2",
            "territory_id": north,
            "owner_id": ann,
            "created_at": "2026-04-03T00:00:00Z",
            "updated_at": "2026-04-03T00:00:00Z",
        },
    )
    q2 = kpis.period_of("quarter", date(2026, 5, 1))
    rows = {
        r.name: r for r in kpis.kpis(ctx, "territory", q2, coverage_days=30, today=date(2026, 6, 1))
    }
    n = rows["North"]
    assert (n.accounts, n.potential, n.sales, n.quota) == (2, 1500, 500, 750)
    assert n.attainment == pytest.approx(500 / 750)
    assert (n.visited, n.coverage, n.visits) == (1, 0.5, 2)
    assert (n.referrals_received, n.referrals_won) == (2, 1)
    s = rows["South"]
    assert (s.sales, s.quota, s.attainment, s.visited, s.coverage) == (0, None, None, 0, 0.0)
    reps = {r.name: r for r in kpis.kpis(ctx, "rep", q2, today=date(2026, 6, 1))}
    assert reps["Ann"].quota == pytest.approx(1000)  # a yearly 4000 pro-rated to a quarter
    assert reps["Ann"].sales == 500
    assert reps["Bob"].accounts == 1
    only_south = kpis.kpis(ctx, "rep", q2, territory_id=south, today=date(2026, 6, 1))
    assert {r.name: r.accounts for r in only_south} == {"Ann": 0, "Bob": 1}
    total = kpis.totals(list(rows.values()))
    assert (total.accounts, total.sales, total.quota) == (3, 500, 750)
