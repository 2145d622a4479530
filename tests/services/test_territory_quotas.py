"""Quotas per territory and per rep per period: set, update, remove, read back through the KPIs."""

from __future__ import annotations

from datetime import date

import pytest

from fieldrep.services.context import Context
from fieldrep.services.territories import kpis, quotas
from fieldrep.services.territories import service as territory_service
from fieldrep.store.errors import ValidationError
from tests.services.helpers_territories import user


def test_set_update_remove_and_kpis_follow(ctx: Context) -> None:
    ann = user(ctx, "ann")
    north = territory_service.create_territory(ctx, "North", postal_codes="1")
    q2 = kpis.period_of("quarter", date(2026, 5, 10))
    assert (
        quotas.set_quotas(
            ctx,
            q2,
            [quotas.QuotaEdit("territory", north, "12,000"), quotas.QuotaEdit("rep", ann, 5000)],
        )
        == 2
    )
    lines = {(line.kind, line.name): line.target for line in quotas.lines(ctx, q2)}
    assert lines == {("territory", "North"): 12000.0, ("rep", "Ann"): 5000.0}
    assert kpis.kpis(ctx, "territory", q2)[0].quota == 12000.0
    assert kpis.kpis(ctx, "rep", q2)[0].quota == 5000.0
    # Pro-rated into a month of that quarter.
    may = kpis.period_of("month", date(2026, 5, 1))
    assert kpis.kpis(ctx, "territory", may)[0].quota == pytest.approx(4000.0)
    # Same value again: nothing changes; a new value updates the one row; None removes it.
    assert quotas.set_quotas(ctx, q2, [quotas.QuotaEdit("territory", north, 12000)]) == 0
    assert quotas.set_quotas(ctx, q2, [quotas.QuotaEdit("territory", north, 15000)]) == 1
    assert ctx.db.execute("SELECT count(*) FROM quotas").fetchone()[0] == 2
    assert quotas.set_quotas(ctx, q2, [quotas.QuotaEdit("rep", ann, None)]) == 1
    assert kpis.kpis(ctx, "rep", q2)[0].quota is None


def test_bad_target_saves_nothing(ctx: Context) -> None:
    ann = user(ctx, "ann")
    north = territory_service.create_territory(ctx, "North", postal_codes="1")
    year = kpis.period_of("year", date(2026, 1, 1))
    with pytest.raises(ValidationError, match="quota for Ann: the target must be zero or more"):
        quotas.set_quotas(
            ctx, year, [quotas.QuotaEdit("territory", north, 10), quotas.QuotaEdit("rep", ann, -5)]
        )
    with pytest.raises(ValidationError, match="quota for North: 'lots' is not a number"):
        quotas.set_quotas(ctx, year, [quotas.QuotaEdit("territory", north, "lots")])
    assert ctx.db.execute("SELECT count(*) FROM quotas").fetchone()[0] == 0


def test_periods_around() -> None:
    labels = [p.label for p in quotas.periods_around("quarter", date(2026, 2, 3), 2, 1)]
    assert labels == ["Q3 2025", "Q4 2025", "Q1 2026", "Q2 2026"]
