"""A referral captured offline for a colleague's territory reaches the colleague after sync, routed
to them with their follow-up task, and stays visible to the rep who captured it."""

from __future__ import annotations

from collections.abc import Callable

from fieldrep.server import admin
from fieldrep.server.storage import Storage
from fieldrep.services.referrals.capture import Draft, ReferralService
from fieldrep.services.referrals.model import Outcome
from tests.sync.harness import Laptop, LiveServer, Org, server_row

Make = Callable[[str], Laptop]


def test_a_referral_for_a_colleagues_territory_is_routed_to_them_and_kept_by_its_captor(
    storage: Storage, org: Org, server: LiveServer, laptop: Make
) -> None:
    (south,) = admin.put_rows(
        storage,
        "territories",
        [{"name": "Texas Metros", "postal_codes": '["75201"]', "created_at": "2024-01-01"}],
    )
    admin.put_rows(storage, "territory_members", [{"territory_id": south, "user_id": org.rep2}])
    ann = laptop("rep1")
    ann.login("rep1")
    ann.sync()
    result = ReferralService(ann.ctx).capture(
        Draft(
            referred_name="Sam Lee",
            referred_company="Lone Star Plumbing",
            phone="(214) 555-0199",
            postal_code="75201",
            consent=True,
            channel="event",
        )
    )
    assert result.outcome is Outcome.NEW_LEAD
    assert result.route is not None
    assert result.route.owner_id == org.rep2  # routed on Ann's laptop, offline
    referral = str(result.referral_id)
    ann.sync()
    on_server = server_row(storage, "referrals", referral)
    assert on_server is not None
    assert (on_server["owner_id"], on_server["captured_by_id"]) == (org.rep2, org.rep1)
    assert on_server["territory_id"] == south
    ben = laptop("rep2")
    ben.login("rep2")
    ben.sync()
    assert ben.rows("referrals")[referral]["owner_id"] == org.rep2
    events = {r["referral_id"] for r in ben.rows("referral_events").values()}
    assert referral in events
    # Nothing Ann wrote was refused: the server takes the follow-up task she wrote for Ben, as
    # the task of a referral she captured, and Ben's laptop receives it.
    assert ann.conflicts() == []
    assert ben.rows("referrals")[referral]["sla_due_at"] == result.sla_due_at
    bens = [t for t in ben.rows("tasks").values() if t["referral_id"] == referral]
    assert [(t["user_id"], t["title"]) for t in bens] == [
        (org.rep2, "First contact with referral Sam Lee (Lone Star Plumbing)")
    ]
    assert bens[0]["due_date"] == (result.sla_due_at or "")[:10]
    ann.sync()
    assert referral in ann.rows("referrals")  # the captor still sees it
