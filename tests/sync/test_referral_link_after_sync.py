"""The same person referred by two reps while both were offline is linked by the sync itself (the
sync session's hook, in the core), not only once someone opens the Referrals page."""

from __future__ import annotations

import threading
from collections.abc import Callable

from fieldrep.server import admin
from fieldrep.server.storage import Storage
from fieldrep.services.referrals.capture import Draft, ReferralService
from fieldrep.services.referrals.model import Outcome
from fieldrep.services.sync import session as sync_session
from tests.sync.harness import Laptop, LiveServer, Org, server_row

Make = Callable[[str], Laptop]


def _sam(by: str) -> Draft:
    return Draft(
        referred_name="Sam Lee",
        referred_company=f"Lone Star Plumbing ({by})",
        phone="(214) 555-0199",
        postal_code="75201",
        consent=True,
        channel="event",
    )


def test_a_sync_links_the_second_capture_to_the_first(
    storage: Storage, org: Org, server: LiveServer, laptop: Make
) -> None:
    (south,) = admin.put_rows(
        storage,
        "territories",
        [{"name": "Texas Metros", "postal_codes": '["75201"]', "created_at": "2024-01-01"}],
    )
    admin.put_rows(storage, "territory_members", [{"territory_id": south, "user_id": org.rep2}])
    ann, ben = laptop("rep1"), laptop("rep2")
    ann.login("rep1")
    ben.login("rep2")
    ann.sync()
    ben.sync()
    first = ReferralService(ann.ctx).capture(_sam("Ann"))
    later = ReferralService(ben.ctx).capture(_sam("Ben"))  # Ben has not seen Ann's yet
    assert first.outcome is later.outcome is Outcome.NEW_LEAD
    ann.sync()
    result = sync_session.run_sync(ben.ctx.path, lambda *_a: None, threading.Event())
    assert result.pulled > 0
    row = ben.ctx.conn.execute(
        "SELECT duplicate_of_id, owner_id FROM referrals WHERE id = ?", (later.referral_id,)
    ).fetchone()
    assert row == (first.referral_id, org.rep2)  # the first keeps the attribution
    reasons = [
        r[0]
        for r in ben.ctx.conn.execute(
            "SELECT reason FROM referral_events WHERE referral_id = ? AND kind = 'duplicate'",
            (first.referral_id,),
        )
    ]
    assert any("linked here after sync" in r for r in reasons)
    # The link travels with the next sync (Ben's capture is not in Ann's scope: the server's row).
    sync_session.run_sync(ben.ctx.path, lambda *_a: None, threading.Event())
    on_server = server_row(storage, "referrals", str(later.referral_id))
    assert on_server is not None
    assert on_server["duplicate_of_id"] == first.referral_id
