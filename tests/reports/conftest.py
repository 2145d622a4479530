"""Fixtures for report tests: a small demo book (built once) and a hand-made book of edge cases."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from fieldrep.services.context import Context
from fieldrep.services.demo.build import DemoOptions, build_demo

TODAY = date(2026, 12, 7)


@pytest.fixture(scope="session")
def demo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("reports") / "demo.db"
    ctx = Context.open(path)
    try:
        build_demo(ctx, DemoOptions(accounts=400, seed=7, today=TODAY))
    finally:
        ctx.close()
    return path


@pytest.fixture
def demo(demo_path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(demo_path)
    yield conn
    conn.close()


_COUNTER = iter(range(10**9))


def put(conn: sqlite3.Connection, table: str, **values: Any) -> str:
    """Insert a fixture row straight into a table (the builders only read)."""
    values.setdefault("id", f"{table}-{next(_COUNTER):06d}")
    if table in (
        "users",
        "territories",
        "accounts",
        "contacts",
        "visits",
        "tasks",
        "deals",
        "quotas",
        "referrals",
        "reward_rules",
        "rewards",
    ):
        values.setdefault("created_at", "2026-01-01T00:00:00Z")
    if table in ("accounts", "referrals"):
        values.setdefault("updated_at", values["created_at"])
    cols = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", list(values.values()))
    return str(values["id"])


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """Region North > Alpha (quota), Beta (quota), Gamma (no quota); rep Ann active, Bob left in
    Q3 2026; deals in USD and EUR; a referral moved Alpha -> Beta in August."""
    Context.open(tmp_path / "edge.db").close()
    conn = sqlite3.connect(tmp_path / "edge.db")
    ann = put(conn, "users", id="u-ann", username="ann", display_name="Ann Lee", role="rep")
    bob = put(
        conn, "users", id="u-bob", username="bob", display_name="Bob Roe", role="rep", active=0
    )
    put(conn, "users", id="u-mgr", username="max", display_name="Max Boss", role="manager")
    north = put(conn, "territories", id="t-north", name="North", kind="region")
    alpha = put(conn, "territories", id="t-alpha", name="Alpha", parent_id=north)
    beta = put(conn, "territories", id="t-beta", name="Beta", parent_id=north)
    gamma = put(conn, "territories", id="t-gamma", name="Gamma", parent_id=north)
    put(conn, "territory_members", territory_id=alpha, user_id=ann)
    put(conn, "territory_members", territory_id=beta, user_id=bob)
    accounts = {}
    for tid, owner, n in ((alpha, ann, 3), (beta, bob, 2), (gamma, ann, 1)):
        for i in range(n):
            accounts[f"{tid}-{i}"] = put(
                conn,
                "accounts",
                id=f"a-{tid}-{i}",
                name=f"{tid[2:].title()} Shop {i}",
                potential=1000.0 * (i + 1),
                territory_id=tid,
                owner_id=owner,
                status="active",
            )
    # Q3 2026 (Jul-Sep): USD and EUR deals; Bob sold in July, then left.
    put(
        conn,
        "deals",
        account_id="a-t-alpha-0",
        user_id=ann,
        territory_id=alpha,
        amount=600.0,
        closed_on="2026-07-15",
    )
    put(
        conn,
        "deals",
        account_id="a-t-alpha-1",
        user_id=ann,
        territory_id=alpha,
        amount=400.0,
        closed_on="2026-09-30",
    )
    put(
        conn,
        "deals",
        account_id="a-t-alpha-2",
        user_id=ann,
        territory_id=alpha,
        amount=999.0,
        closed_on="2026-10-01",
    )  # next quarter
    put(
        conn,
        "deals",
        account_id="a-t-beta-0",
        user_id=bob,
        territory_id=beta,
        amount=250.0,
        closed_on="2026-07-02",
    )
    put(
        conn,
        "deals",
        account_id="a-t-beta-1",
        user_id=bob,
        territory_id=beta,
        amount=700.0,
        currency="EUR",
        closed_on="2026-08-20",
    )
    put(
        conn,
        "deals",
        account_id="a-t-gamma-0",
        user_id=ann,
        territory_id=gamma,
        amount=300.0,
        closed_on="2026-08-01",
    )
    for start in ("2026-07-01", "2026-08-01", "2026-09-01"):
        put(conn, "quotas", territory_id=alpha, period="month", period_start=start, target=500.0)
    put(
        conn,
        "quotas",
        territory_id=beta,
        period="quarter",
        period_start="2026-07-01",
        target=1000.0,
    )
    put(conn, "visits", account_id="a-t-alpha-0", user_id=ann, visited_at="2026-07-06T10:00:00Z")
    put(conn, "visits", account_id="a-t-alpha-0", user_id=ann, visited_at="2026-07-07T10:00:00Z")
    put(conn, "visits", account_id="a-t-beta-0", user_id=bob, visited_at="2026-07-08T10:00:00Z")
    put(conn, "tasks", account_id="a-t-alpha-1", user_id=ann, title="call", due_date="2026-08-01")
    put(
        conn,
        "tasks",
        account_id="a-t-beta-1",
        user_id=bob,
        title="quote",
        due_date="2026-07-20",
        done=1,
        done_at="2026-07-19T09:00:00Z",
    )
    # A referral received in Alpha on 1 July, moved to Beta on 10 August, won on 20 August.
    put(
        conn,
        "referrals",
        id="r-moved",
        referred_name="Moved Co",
        territory_id=beta,
        owner_id=bob,
        captured_by_id=ann,
        referrer_account_id="a-t-alpha-0",
        stage="won",
        created_at="2026-07-01T09:00:00Z",
        sla_due_at="2026-07-03T09:00:00Z",
        amount=5000.0,
        updated_at="2026-08-20T09:00:00Z",
    )
    put(
        conn,
        "assignment_history",
        entity="referral",
        entity_id="r-moved",
        to_territory_id=alpha,
        at="2026-07-01T09:00:00Z",
    )
    put(
        conn,
        "assignment_history",
        entity="referral",
        entity_id="r-moved",
        from_territory_id=alpha,
        to_territory_id=beta,
        at="2026-08-10T09:00:00Z",
    )
    for at, stage in (("2026-07-02T09:00:00Z", "contacted"), ("2026-08-20T09:00:00Z", "won")):
        put(conn, "referral_events", referral_id="r-moved", at=at, kind="stage", to_value=stage)
    # A referral received in Gamma in September, still new, SLA past.
    put(
        conn,
        "referrals",
        id="r-new",
        referred_name="Fresh Co",
        territory_id=gamma,
        owner_id=ann,
        captured_by_id=ann,
        referrer_account_id="a-t-alpha-0",
        stage="new",
        created_at="2026-09-10T09:00:00Z",
        sla_due_at="2026-09-12T09:00:00Z",
    )
    put(
        conn,
        "rewards",
        referral_id="r-moved",
        recipient_account_id="a-t-alpha-0",
        amount=250.0,
        status="issued",
        approved_at="2026-08-21T09:00:00Z",
        issued_at="2026-08-22T09:00:00Z",
    )
    put(
        conn,
        "rewards",
        referral_id="r-moved",
        recipient_user_id=ann,
        amount=100.0,
        currency="EUR",
        status="approved",
        approved_at="2026-09-01T09:00:00Z",
    )
    put(
        conn,
        "rewards",
        referral_id="r-moved",
        recipient_account_id="a-t-alpha-0",
        kind="clawback",
        amount=-50.0,
        status="approved",
        approved_at="2026-09-05T09:00:00Z",
    )
    conn.commit()
    yield conn
    conn.close()
