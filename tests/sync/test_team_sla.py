"""The referral SLA is a team setting (issue 18): a manager sets it on a territory or as the team
default, it syncs, and a rep's laptop dates its new referrals by it; a rep's own attempt to change
it is refused by the server. Through the real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta

from fieldrep.server import admin
from fieldrep.server.storage import Storage
from fieldrep.services.referrals import sla
from fieldrep.services.referrals.capture import Draft, ReferralService
from fieldrep.services.referrals.model import Outcome, Stage
from tests.sync.harness import Laptop, LiveServer, Org, server_row

Make = Callable[[str], Laptop]


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


PEOPLE = {
    "Ann": ("Harbor Bakery", "0111"),
    "Bea": ("Quincy Tiles", "0122"),
    "Cal": ("Lantern Books", "0133"),
    "Dan": ("Granite Roofing", "0144"),
}


def _capture(lap: Laptop, name: str) -> timedelta:
    """Capture a referral in Boston on ``lap``; how long its first contact may wait."""
    result = ReferralService(lap.ctx).capture(
        Draft(
            referred_name=name,
            referred_company=PEOPLE[name][0],
            phone="(617) 555-" + PEOPLE[name][1],
            postal_code="02139",
            consent=True,
            channel="event",
        )
    )
    assert result.outcome is Outcome.NEW_LEAD
    row = lap.ctx.conn.execute(
        "SELECT created_at, sla_due_at FROM referrals WHERE id = ?", (result.referral_id,)
    ).fetchone()
    return _when(row[1]) - _when(row[0])


def test_a_managers_sla_reaches_the_reps_laptop_and_a_reps_change_is_refused(
    storage: Storage, org: Org, server: LiveServer, laptop: Make
) -> None:
    (region,) = admin.put_rows(
        storage,
        "territories",
        [{"name": "East Coast", "kind": "region", "owner_id": org.manager, "created_at": "x"}],
    )
    (boston,) = admin.put_rows(
        storage,
        "territories",
        [
            {
                "name": "Boston",
                "parent_id": region,
                "postal_codes": '["02139"]',
                "created_at": "2024-01-01",
            }
        ],
    )
    admin.put_rows(storage, "territory_members", [{"territory_id": boston, "user_id": org.rep1}])
    rep = laptop("rep1")
    rep.login("rep1")
    rep.sync()
    with rep.writer.transaction() as conn:
        sla.set_days(conn, Stage.NEW, 9)  # the rep's own setting: only where the team sets none
    assert _capture(rep, "Ann") == timedelta(days=9)

    boss = laptop("manager")
    boss.login("manager")
    boss.sync()
    # The team default lives on the team's root territories: the region above Boston, and North
    # and South (the reps' other territories, roots of their own); not East (no one's).
    roots = sla.set_team_default(boss.writer, org.manager, Stage.NEW, 3)
    assert roots == sorted([region, org.t1, org.t2])
    boss.sync()
    assert json.loads(server_row(storage, "territories", region)["referral_sla"]) == {"new": 3}
    rep.sync()
    assert _capture(rep, "Bea") == timedelta(days=3)

    # Boston answers faster than the rest of the region.
    sla.set_team_days(boss.writer, Stage.NEW, 1, boston)
    boss.sync()
    rep.sync()
    assert _capture(rep, "Cal") == timedelta(days=1)
    assert sla.days_for(rep.ctx.conn, Stage.CONTACTED, boston) == sla.DEFAULT_DAYS[Stage.CONTACTED]

    # A rep may read the SLA, not change it: the server refuses, the team value stays everywhere.
    sla.set_team_days(rep.writer, Stage.NEW, 30, boston)
    result = rep.sync()
    assert result.rejected == 1
    assert any("only a manager or administrator" in r for r in result.rejections)
    assert json.loads(server_row(storage, "territories", boston)["referral_sla"]) == {"new": 1}
    rep.sync()  # the refused value is replaced by the server's
    assert json.loads(rep.rows("territories")[boston]["referral_sla"]) == {"new": 1}
    assert _capture(rep, "Dan") == timedelta(days=1)
    boss.sync()
    assert json.loads(boss.rows("territories")[boston]["referral_sla"]) == {"new": 1}
