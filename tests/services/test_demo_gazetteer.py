"""The demo builder takes the gazetteer it places accounts with; the process-wide one is only its
default (and is not touched when a gazetteer is passed in)."""

from __future__ import annotations

from datetime import date

from fieldrep.geo.gazetteer import Gazetteer, default_gazetteer
from fieldrep.services.context import Context
from fieldrep.services.demo.build import DemoOptions, build_demo


def test_a_passed_gazetteer_is_used_instead_of_the_shared_one(ctx: Context) -> None:
    before = default_gazetteer.cache_info()
    own = Gazetteer()
    counts = build_demo(ctx, DemoOptions(accounts=5, seed=1, today=date(2026, 3, 2)), gazetteer=own)
    assert counts["accounts"] == 5
    after = default_gazetteer.cache_info()
    assert (after.hits, after.misses) == (before.hits, before.misses)
    placed = ctx.db.execute("SELECT count(*) FROM accounts WHERE lat IS NOT NULL").fetchone()[0]
    assert placed == 5
