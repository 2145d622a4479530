"""The manager's home figures, recomputed from the raw tables of the demo book."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta

import pytest

from fieldrep.reports.home import COVERAGE_DAYS, build_home
from tests.reports.conftest import TODAY


def test_home_figures_match_the_raw_tables(demo: sqlite3.Connection) -> None:
    home = build_home(demo, today=TODAY)
    tiles = {t.key: t for t in home.tiles}
    assert home.period.code == "2026-Q4"
    sales = sum(
        a
        for (a,) in demo.execute(
            "SELECT amount FROM deals WHERE closed_on >= '2026-10-01' AND closed_on < '2027-01-01'"
        )
    )
    assert tiles["sales"].drill is not None
    drill = tiles["sales"].drill()
    total = drill.totals()
    assert total is not None
    assert total[drill.index("sales:USD")] == pytest.approx(sales, abs=0.05)
    monday = TODAY - timedelta(days=TODAY.weekday())
    visits = demo.execute(
        "SELECT count(*) FROM visits WHERE visited_at >= ?", [monday.isoformat()]
    ).fetchone()[0]
    assert tiles["visits"].value == f"{visits:,}"
    since = (TODAY - timedelta(days=COVERAGE_DAYS)).isoformat()
    visited = demo.execute(
        "SELECT count(DISTINCT account_id) FROM visits WHERE visited_at >= ?", [since]
    ).fetchone()[0]
    accounts = demo.execute("SELECT count(*) FROM accounts").fetchone()[0]
    assert tiles["coverage"].detail == f"{visited:,} of {accounts:,} accounts visited"
    assert tiles["coverage"].drill is not None
    not_visited = tiles["coverage"].drill()
    assert len(not_visited.rows) == min(1000, accounts - visited)
    pending = demo.execute(
        "SELECT count(*) FROM rewards WHERE status = 'awaiting_approval' AND kind = 'reward'"
    ).fetchone()[0]
    assert pending  # the demo has rewards awaiting approval
    assert tiles["rewards"].value == f"{pending:,}"
    assert tiles["rewards"].drill is not None
    assert len(tiles["rewards"].drill().rows) == pending
    # Sparklines: the 12 full weeks before this one.
    assert len(tiles["visits"].spark) == 12
    first = monday - timedelta(weeks=12)
    in_sparks = demo.execute(
        "SELECT count(*) FROM visits WHERE visited_at >= ? AND visited_at < ?",
        [first.isoformat(), monday.isoformat()],
    ).fetchone()[0]
    assert sum(tiles["visits"].spark) == in_sparks
    received = demo.execute(
        "SELECT count(*) FROM referrals WHERE created_at >= '2026-10-01' AND "
        "created_at < '2027-01-01' AND duplicate_of_id IS NULL"
    ).fetchone()[0]
    assert tiles["referrals"].value.startswith(f"{received:,} in")
    assert date(2026, 10, 1) <= home.today
