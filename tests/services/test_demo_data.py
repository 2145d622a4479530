"""The demo generator: reproducible, consistent with its own territory definitions, fully synced."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from fieldrep.geo.gazetteer import default_gazetteer
from fieldrep.services.context import Context
from fieldrep.services.demo.build import DemoOptions, build_demo
from fieldrep.services.demo.common import DemoClock
from fieldrep.services.territories.assignment import assign_all
from fieldrep.store import local_meta
from fieldrep.store.catalog import synced_tables
from fieldrep.store.errors import StoreError, ValidationError

TODAY = date(2025, 3, 14)  # a Friday
N = 300


def _build(path: Path, seed: int = 5, today: date = TODAY) -> tuple[Context, dict[str, int]]:
    ctx = Context.open(path)
    counts = build_demo(ctx, DemoOptions(accounts=N, seed=seed, today=today))
    return ctx, counts


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Context, dict[str, int]]]:
    ctx, counts = _build(tmp_path_factory.mktemp("demo") / "demo.db")
    yield ctx, counts
    ctx.close()


def _snapshot(ctx: Context) -> dict[str, list[tuple[object, ...]]]:
    """Every synced row without its sync clocks (they record when this device wrote)."""
    out = {}
    for name, tbl in synced_tables().items():
        cols = ", ".join(["id", *tbl.fields])
        out[name] = ctx.db.execute(f"SELECT {cols} FROM {name} ORDER BY id").fetchall()
    return out


def test_counts_are_what_was_written(demo: tuple[Context, dict[str, int]]) -> None:
    ctx, counts = demo
    for name, count in counts.items():
        assert ctx.db.execute(f"SELECT count(*) FROM {name}").fetchone()[0] == count, name
    assert counts["accounts"] == N
    assert counts["users"] == 11
    assert N <= counts["contacts"] <= 3 * N
    per_account = ctx.db.execute(
        "SELECT min(n), max(n) FROM (SELECT count(c.id) AS n FROM accounts a"
        " LEFT JOIN contacts c ON c.account_id = a.id GROUP BY a.id)"
    ).fetchone()
    assert tuple(per_account) == (1, 3)
    for name in (
        "visits",
        "tasks",
        "deals",
        "quotas",
        "referrals",
        "referral_events",
        "reward_rules",
        "rewards",
        "notifications",
        "territory_members",
    ):
        assert counts[name] > 0, name


def test_every_row_has_its_outbox_entry(demo: tuple[Context, dict[str, int]]) -> None:
    ctx, counts = demo
    per_table = dict(ctx.db.execute("SELECT tbl, count(DISTINCT row_id) FROM outbox GROUP BY tbl"))
    assert per_table == {name: n for name, n in counts.items() if n}
    assert ctx.db.execute("SELECT count(*) FROM outbox").fetchone()[0] == sum(counts.values())
    orphans = ctx.db.execute(
        "SELECT count(*) FROM accounts a WHERE NOT EXISTS"
        " (SELECT 1 FROM outbox o WHERE o.tbl = 'accounts' AND o.row_id = a.id)"
    ).fetchone()[0]
    assert orphans == 0


def test_same_seed_and_today_give_identical_rows(
    demo: tuple[Context, dict[str, int]], tmp_path: Path
) -> None:
    ctx, _ = demo
    again, _ = _build(tmp_path / "again.db")
    try:
        assert _snapshot(again) == _snapshot(ctx)
    finally:
        again.close()


def test_another_seed_gives_other_rows(
    demo: tuple[Context, dict[str, int]], tmp_path: Path
) -> None:
    ctx, _ = demo
    other, _ = _build(tmp_path / "other.db", seed=6)
    try:
        names = {r[0] for r in ctx.db.execute("SELECT name FROM accounts")}
        other_names = {r[0] for r in other.db.execute("SELECT name FROM accounts")}
        assert names != other_names
        assert _snapshot(other)["accounts"] != _snapshot(ctx)["accounts"]
    finally:
        other.close()


def test_team_and_sign_in(demo: tuple[Context, dict[str, int]]) -> None:
    ctx, _ = demo
    roles = Counter(r[0] for r in ctx.db.execute("SELECT role FROM users"))
    assert roles == {"admin": 1, "manager": 1, "rep": 9}
    user = ctx.user()
    assert user is not None
    assert (user["username"], user["role"]) == ("morgan", "manager")
    assert local_meta.get(ctx.db.conn, "demo_seed") == "5"
    homeless = ctx.db.execute("SELECT count(*) FROM users WHERE home_lat IS NULL").fetchone()[0]
    assert homeless == 0


def test_territory_hierarchy(demo: tuple[Context, dict[str, int]]) -> None:
    ctx, _ = demo
    rows = [dict(r) for r in ctx.db.query("SELECT * FROM territories")]
    regions = [r for r in rows if r["kind"] == "region"]
    leaves = [r for r in rows if r["kind"] == "territory"]
    assert len(regions) == 4
    assert len(leaves) >= 10
    region_ids = {r["id"] for r in regions}
    assert all(t["parent_id"] in region_ids for t in leaves)
    by_codes = [t for t in leaves if json.loads(t["postal_codes"])]
    by_states = [t for t in leaves if json.loads(t["regions"])]
    assert len(by_codes) >= 2
    assert len(by_codes) + len(by_states) == len(leaves)
    assert len({t["color"] for t in leaves}) == len(leaves)
    members = {
        (m["territory_id"], m["user_id"]): m
        for m in ctx.db.query("SELECT * FROM territory_members")
    }
    for t in rows:
        assert members[(t["id"], t["owner_id"])]["role"] == "owner"


def test_accounts_sit_where_the_territory_engine_puts_them(
    demo: tuple[Context, dict[str, int]],
) -> None:
    ctx, _ = demo
    diff = assign_all(ctx, dry_run=True)
    assert diff.unassigned == []
    assert diff.moves == []
    strays = ctx.db.execute(
        "SELECT count(*) FROM accounts a WHERE NOT EXISTS (SELECT 1 FROM territory_members m"
        " WHERE m.territory_id = a.territory_id AND m.user_id = a.owner_id)"
    ).fetchone()[0]
    assert strays == 0
    # The postal-code territories really receive accounts (populated metros) in a bigger sample.
    in_lists = ctx.db.execute(
        "SELECT count(*) FROM accounts a JOIN territories t ON t.id = a.territory_id"
        " WHERE t.postal_codes != '[]'"
    ).fetchone()[0]
    assert in_lists >= 1


def test_accounts_are_at_real_postal_codes(demo: tuple[Context, dict[str, int]]) -> None:
    ctx, _ = demo
    gaz = default_gazetteer()
    rows = list(ctx.db.query("SELECT * FROM accounts"))
    for row in rows:
        place = gaz.postal_code(row["postal_code"])
        assert place is not None
        assert (place.city, place.region) == (row["city"], row["region"])
        assert abs(place.lat - row["lat"]) < 0.1
        assert abs(place.lon - row["lon"]) < 0.1
        assert (row["geocode_quality"], row["geocode_source"]) == ("postal_code", "demo")
    assert {r["size"] for r in rows} == {"1-9", "10-49", "50-249", "250-999", "1000+"}
    assert {r["status"] for r in rows} == {"prospect", "active", "inactive", "lost"}
    assert len({r["industry"] for r in rows}) >= 8
    assert len({r["region"] for r in rows}) >= 20
    assert len({r["name"] for r in rows}) > 0.95 * len(rows)


def test_activity_dates(demo: tuple[Context, dict[str, int]]) -> None:
    ctx, _ = demo
    first, last = ctx.db.execute("SELECT min(visited_at), max(visited_at) FROM visits").fetchone()
    assert first[:10] >= (TODAY - timedelta(days=90)).isoformat()
    assert last[:10] <= TODAY.isoformat()
    reps = {r[0] for r in ctx.db.execute("SELECT id FROM users WHERE role = 'rep'")}
    assert {r[0] for r in ctx.db.execute("SELECT DISTINCT user_id FROM visits")} <= reps
    today = TODAY.isoformat()
    kinds = ctx.db.execute(
        "SELECT sum(done = 0 AND due_date < ?), sum(done = 0 AND due_date = ?), sum(done = 1),"
        " sum(done = 1 AND done_at IS NULL) FROM tasks",
        [today, today],
    ).fetchone()
    overdue, due_today, done, done_without_time = kinds
    assert overdue > 0
    assert due_today > 0
    assert done > 0
    assert done_without_time == 0
    first, last = ctx.db.execute("SELECT min(closed_on), max(closed_on) FROM deals").fetchone()
    assert first >= (TODAY - timedelta(days=365)).isoformat()
    assert last <= today
    periods = {r[0] for r in ctx.db.execute("SELECT DISTINCT period FROM quotas")}
    assert periods == {"month", "quarter"}


def test_referrals_in_every_stage_with_matching_history(
    demo: tuple[Context, dict[str, int]],
) -> None:
    ctx, _ = demo
    stages = {r[0] for r in ctx.db.execute("SELECT DISTINCT stage FROM referrals")}
    assert stages == {"new", "contacted", "qualified", "proposal", "won", "lost"}
    events: dict[str, list[dict[str, object]]] = {}
    for e in ctx.db.query("SELECT * FROM referral_events ORDER BY at, id"):
        events.setdefault(e["referral_id"], []).append(e)
    for ref in ctx.db.query("SELECT * FROM referrals"):
        history = events[ref["id"]]
        assert history[0]["kind"] == "created"
        chain = [e for e in history if e["kind"] == "stage"]
        current = "new"
        for e in chain:
            assert e["from_value"] == current
            current = str(e["to_value"])
        assert current == ref["stage"]
        assert ref["owner_id"] in {e["to_value"] for e in history if e["kind"] == "assignment"}
        if ref["stage"] == "won":
            assert ref["converted_account_id"] is not None
            assert ref["amount"] > 0
        if ref["stage"] == "lost":
            assert ref["lost_reason"]
    duplicates = list(ctx.db.query("SELECT * FROM referrals WHERE duplicate_of_id IS NOT NULL"))
    assert duplicates
    for dup in duplicates:
        original = next(
            ctx.db.query("SELECT * FROM referrals WHERE id = ?", [dup["duplicate_of_id"]])
        )
        assert dup["match_email"] == original["match_email"]
        assert "already_referred" in json.loads(dup["flags"])


def test_reward_rules_and_rewards(demo: tuple[Context, dict[str, int]]) -> None:
    ctx, _ = demo
    kinds = {r[0] for r in ctx.db.execute("SELECT kind FROM reward_rules")}
    assert kinds == {"fixed", "percent", "tiered_by_count"}
    statuses = {r[0] for r in ctx.db.execute("SELECT DISTINCT status FROM rewards")}
    assert {
        "on_hold",
        "awaiting_approval",
        "approved",
        "issued",
        "redeemed",
        "declined",
    } <= statuses
    assert ctx.db.execute("SELECT count(*) FROM rewards WHERE kind = 'clawback'").fetchone()[0]
    broken = ctx.db.execute(
        "SELECT count(*) FROM rewards WHERE (status IN ('issued', 'redeemed') AND (issued_at IS NULL"
        " OR payout_batch IS NULL)) OR (status = 'redeemed' AND redeemed_at IS NULL)"
        " OR (status IN ('approved', 'issued', 'redeemed') AND approved_at IS NULL)"
        " OR (status = 'declined' AND (declined_reason IS NULL OR decided_by_id IS NULL))"
        " OR (status = 'on_hold' AND hold_until <= ?)",
        (TODAY.isoformat(),),
    ).fetchone()[0]
    assert broken == 0
    unreached = ctx.db.execute(
        "SELECT count(*) FROM rewards w JOIN reward_rules r ON r.id = w.rule_id"
        " JOIN referrals f ON f.id = w.referral_id WHERE r.trigger_stage = 'won'"
        " AND f.stage != 'won'"
    ).fetchone()[0]
    assert unreached == 0


def test_refuses_a_database_that_is_not_empty(demo: tuple[Context, dict[str, int]]) -> None:
    ctx, counts = demo
    with pytest.raises(StoreError, match="already holds"):
        build_demo(ctx, DemoOptions(accounts=5, seed=1, today=TODAY))
    assert ctx.db.execute("SELECT count(*) FROM accounts").fetchone()[0] == counts["accounts"]


def test_rejects_a_bad_account_count(ctx: Context) -> None:
    with pytest.raises(ValidationError, match="between 1 and"):
        build_demo(ctx, DemoOptions(accounts=0))


def test_a_failure_while_writing_leaves_nothing(ctx: Context) -> None:
    seen: list[tuple[int, int, str]] = []

    def progress(done: int, total: int, what: str) -> None:
        seen.append((done, total, what))
        if what == "writing referrals":
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        build_demo(ctx, DemoOptions(accounts=40, seed=2, today=TODAY), progress)
    assert any(what == "writing accounts" for _, _, what in seen)
    for name in synced_tables():
        assert ctx.db.execute(f"SELECT count(*) FROM {name}").fetchone()[0] == 0, name
    assert ctx.db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    assert ctx.user_id is None


def test_a_demo_built_in_the_morning_has_no_visit_later_that_day() -> None:
    morning = datetime(2025, 3, 14, 9, 48)  # a Friday
    clock = DemoClock(morning.date(), latest=morning)
    assert clock.now == morning
    rng = random.Random(3)
    moments = [clock.working_moment(rng, 2) for _ in range(2000)]
    assert max(moments) < morning
    assert any(m.date() == morning.date() for m in moments)  # the morning itself is used
    early = DemoClock(morning.date(), latest=morning.replace(hour=7))
    assert all(
        m.date() < morning.date() for m in (early.working_moment(rng, 2) for _ in range(200))
    )


def test_a_demo_of_today_stays_in_the_past(tmp_path: Path) -> None:
    ctx = Context.open(tmp_path / "now.db")
    build_demo(ctx, DemoOptions(accounts=N, seed=2))
    now = datetime.now(UTC).isoformat(timespec="milliseconds")[:23] + "Z"
    latest = ctx.db.execute("SELECT max(visited_at), max(created_at) FROM visits").fetchone()
    assert max(latest) <= now
    ctx.close()


def test_demo_contacts_consent_as_people_do(demo: tuple[Context, dict[str, int]]) -> None:
    """Most referrers agreed to hear back, a few other contacts opted in; everyone the demo
    rewarded or e-mailed had agreed (the ledger and the outbox require it)."""
    ctx, _counts = demo
    conn = ctx.conn

    def share(where: str) -> float:
        n, yes = conn.execute(
            f"SELECT count(*), sum(referral_consent) FROM contacts c WHERE {where}"
        ).fetchone()
        assert n > 20, where
        return float(yes) / n

    referrer = "c.id IN (SELECT referrer_contact_id FROM referrals)"
    assert 0.7 < share(referrer) < 1.0
    assert 0.05 < share(f"NOT {referrer}") < 0.4
    reached = conn.execute(
        "SELECT count(*) FROM contacts c WHERE referral_consent = 0 AND (c.id IN (SELECT"
        " recipient_contact_id FROM rewards) OR c.id IN (SELECT recipient_contact_id FROM"
        " notifications))"
    ).fetchone()[0]
    assert reached == 0
