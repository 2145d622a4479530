"""Capturing referrals: every outcome of the duplicate check, routing, SLA, tasks and bad input."""

from __future__ import annotations

import json

import pytest

from fieldrep.services.context import Context
from fieldrep.services.referrals.capture import CaptureRefused, ReferralService
from fieldrep.services.referrals.model import Flag, Outcome
from tests.services.referrals.conftest import draft


def _events(ctx: Context, referral_id: str) -> list[tuple[str, str | None, str | None]]:
    return ctx.conn.execute(
        "SELECT kind, to_value, reason FROM referral_events WHERE referral_id = ? ORDER BY rowid",
        (referral_id,),
    ).fetchall()


def test_a_new_lead_is_normalised_routed_and_given_its_tasks_in_one_write(
    ctx: Context, org: dict[str, str], service: ReferralService
) -> None:
    ctx.set_user(org["boss"])  # a manager: may write the owner's follow-up task too
    before = ctx.writer.pending_count()
    result = service.capture(draft(org))
    assert result.outcome is Outcome.NEW_LEAD
    assert result.referral_id is not None
    row = ctx.conn.execute(
        "SELECT referred_phone, match_phone, match_email, match_name, territory_id, owner_id,"
        " captured_by_id, stage, sla_due_at, referred_country FROM referrals WHERE id = ?",
        (result.referral_id,),
    ).fetchone()
    assert row[:4] == (
        "+12145550199",
        "+12145550199",
        "sam@lonestarplumbing.com",
        "lone star plumbing",
    )
    # routed to Texas (ZIP 75201), to its only member, never to the capturing rep
    assert row[4:8] == (org["texas"], org["omar"], org["boss"], "new")
    assert row[8] > result.referral_id[:0]
    assert row[9] == "US"
    assert result.message.startswith("Routed to Omar, Texas Metros, because postal code 75201")
    kinds = [k for k, _, _ in _events(ctx, result.referral_id)]
    assert kinds == ["created", "note", "note", "assignment", "note"]
    tasks = ctx.conn.execute(
        "SELECT user_id, title, due_date FROM tasks WHERE referral_id = ? ORDER BY title",
        (result.referral_id,),
    ).fetchall()
    assert [(t[0], t[1].split()[0]) for t in tasks] == [
        (org["omar"], "First"),
        (org["boss"], "Thank"),
    ]
    assert tasks[0][2] == row[8][:10]
    history = ctx.conn.execute(
        "SELECT to_territory_id, to_owner_id FROM assignment_history WHERE entity_id = ?",
        (result.referral_id,),
    ).fetchall()
    assert history == [(org["texas"], org["omar"])]
    # every row reached the sync outbox: referral, 5 events, history, 2 tasks
    assert ctx.writer.pending_count() - before == 9


def test_a_rep_writes_the_follow_up_task_for_the_colleague_who_owns_the_referral(
    ctx: Context, org: dict[str, str], service: ReferralService
) -> None:
    result = service.capture(draft(org))  # Ann captures, Omar owns
    tasks = ctx.conn.execute(
        "SELECT user_id, title, due_date FROM tasks WHERE referral_id = ? ORDER BY title",
        (result.referral_id,),
    ).fetchall()
    # Omar's first contact (the server takes it: Ann captured the referral), Ann's thank-you.
    assert [(t[0], t[1].split()[0]) for t in tasks] == [
        (org["omar"], "First"),
        (org["ann"], "Thank"),
    ]
    assert result.sla_due_at is not None
    assert tasks[0][2] == result.sla_due_at[:10]
    note = _events(ctx, str(result.referral_id))[-1][2] or ""
    assert "follow-up task for Omar" in note


def test_same_phone_as_an_account_is_already_a_customer_and_makes_no_lead(
    ctx: Context, org: dict[str, str], service: ReferralService
) -> None:
    other = ctx.writer.insert(
        "accounts",
        {
            "name": "Bright Dental",
            "status": "active",
            "phone": "+1 214 555 0199",
            "postal_code": "75201",
            "owner_id": org["omar"],
        },
    )
    result = service.capture(draft(org, referred_company="Bright Dental Group"))
    assert result.outcome is Outcome.ALREADY_CUSTOMER
    assert result.linked_to == other
    assert "same phone +1 214-555-0199 as Bright Dental (customer, owned by Omar)" in result.message
    stage, converted, flags = ctx.conn.execute(
        "SELECT stage, converted_account_id, flags FROM referrals WHERE id = ?",
        (result.referral_id,),
    ).fetchone()
    assert (stage, converted) == ("lost", other)
    assert Flag.ALREADY_CUSTOMER in json.loads(flags)
    assert ctx.conn.execute("SELECT count(*) FROM tasks").fetchone()[0] == 0


def test_a_second_referral_is_recorded_on_the_first_which_keeps_attribution(
    ctx: Context, org: dict[str, str], service: ReferralService
) -> None:
    first = service.capture(draft(org))
    ctx.set_user(org["bob"])
    again = service.capture(
        draft(org, phone="", email="SAM@LoneStarPlumbing.com", referrer_contact_id=None)
    )
    assert again.outcome is Outcome.ALREADY_REFERRED
    assert again.linked_to == first.referral_id
    assert "same e-mail sam@lonestarplumbing.com" in again.message
    assert "by Acme Tools Inc. on" in again.message
    dup_of, owner = ctx.conn.execute(
        "SELECT duplicate_of_id, owner_id FROM referrals WHERE id = ?", (again.referral_id,)
    ).fetchone()
    assert (dup_of, owner) == (first.referral_id, org["omar"])
    assert first.referral_id is not None
    on_first = [e for e in _events(ctx, first.referral_id) if e[0] == "duplicate"]
    assert on_first
    assert on_first[0][1] == again.referral_id
    assert "captured by Bob" in (on_first[0][2] or "")


def test_referring_your_own_contact_is_flagged_as_a_self_referral(
    ctx: Context, org: dict[str, str], service: ReferralService
) -> None:
    result = service.capture(
        draft(
            org,
            referred_name="Jane Roe",
            referred_company="",
            phone="617 555 0142",
            email="",
            street="",
            postal_code="02139",
        )
    )
    assert result.saved
    assert Flag.SELF_REFERRAL in result.flags
    assert "self-referral" in result.message.lower()
    assert "Acme Tools Inc., contact Jane Roe" in result.message
    events = _events(ctx, str(result.referral_id))
    assert any(k == "duplicate" and (r or "").startswith("self-referral") for k, _, r in events)


def test_a_similar_name_is_a_possible_duplicate_saved_only_with_a_reason(
    ctx: Context, org: dict[str, str], service: ReferralService
) -> None:
    ctx.writer.insert(
        "accounts",
        {
            "name": "Lone Star Plumbing Co.",
            "status": "prospect",
            "postal_code": "75201",
            "lat": 32.787,
            "lon": -96.799,
        },
    )
    asked = service.capture(draft(org))
    assert asked.outcome is Outcome.POSSIBLE_DUPLICATE
    assert not asked.saved
    assert "name 100 % like 'Lone Star Plumbing Co.'" in asked.message
    assert ctx.conn.execute("SELECT count(*) FROM referrals").fetchone()[0] == 0
    saved = service.capture(draft(org, override_reason="Different branch, other owner"))
    assert saved.outcome is Outcome.OVERRIDDEN
    events = _events(ctx, str(saved.referral_id))
    assert ("override", "possible_duplicate", "Different branch, other owner") in events
    assert Flag.DUPLICATE_OVERRIDDEN in saved.flags


def test_misspelt_company_with_another_legal_form_is_found_fuzzily(
    ctx: Context, org: dict[str, str], service: ReferralService
) -> None:
    ctx.writer.insert("accounts", {"name": "O'Brien & Sons Corporation", "postal_code": "75202"})
    result = service.capture(draft(org, referred_company="OBrien and Son LLC"))
    assert result.outcome is Outcome.POSSIBLE_DUPLICATE
    assert "O'Brien & Sons Corporation" in result.message


def test_a_free_mail_domain_is_never_a_match(
    ctx: Context, org: dict[str, str], service: ReferralService
) -> None:
    ctx.writer.insert("contacts", {"first_name": "X", "email": "someone@gmail.com"})
    result = service.capture(draft(org, email="sam.lee@gmail.com"))
    assert result.outcome is Outcome.NEW_LEAD
    assert result.matches == []


def test_an_inactive_rep_never_gets_a_lead(
    ctx: Context, org: dict[str, str], service: ReferralService
) -> None:
    ctx.writer.update("users", org["omar"], {"active": 0})
    result = service.capture(draft(org))
    assert result.route is not None
    assert result.route.owner_id != org["omar"]
    assert result.route.owner_id == org["boss"]  # the territory's fallback owner


def test_a_referral_no_territory_covers_stays_with_its_captor(
    ctx: Context, org: dict[str, str], service: ReferralService
) -> None:
    result = service.capture(draft(org, postal_code="99501", city="Anchorage"))
    assert result.route is not None
    assert (result.route.territory_id, result.route.owner_id) == (None, org["ann"])
    assert result.message.startswith("No territory covers it: kept by Ann.")


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"phone": "", "email": "", "street": ""}, "phone", "nobody can contact them"),
        ({"phone": "555-01", "email": ""}, "phone", "'555-01'"),
        ({"phone": "(214) 555-01999"}, "phone", "cannot be a valid phone number in US"),
        ({"email": "sam@@lonestar"}, "email", "'sam@@lonestar' is not a valid e-mail"),
        ({"consent": False}, "consent", "agreed to be contacted"),
        ({"referred_name": "", "referred_company": ""}, "name", "who was referred"),
        ({"referrer_account_id": "gone"}, "referrer", "no longer exists"),
    ],
)
def test_bad_input_is_refused_saying_why_and_writes_nothing(
    ctx: Context,
    org: dict[str, str],
    service: ReferralService,
    fields: dict[str, object],
    field: str,
    words: str,
) -> None:
    before = ctx.writer.pending_count()
    with pytest.raises(CaptureRefused) as info:
        service.capture(draft(org, **fields))
    assert info.value.field == field
    assert words in str(info.value)
    assert ctx.writer.pending_count() == before
    assert ctx.conn.execute("SELECT count(*) FROM referrals").fetchone()[0] == 0


def test_the_referrers_country_is_the_default_region_for_phones(
    ctx: Context, org: dict[str, str], service: ReferralService
) -> None:
    uk = ctx.writer.insert("accounts", {"name": "Thames Ltd", "country": "GB"})
    result = service.capture(
        draft(
            org,
            referrer_account_id=uk,
            referrer_contact_id=None,
            phone="020 7946 0018",
            postal_code="",
            city="",
        )
    )
    phone = ctx.conn.execute(
        "SELECT referred_phone FROM referrals WHERE id = ?", (result.referral_id,)
    ).fetchone()[0]
    assert phone == "+442079460018"


def test_the_same_address_alone_is_only_a_possible_duplicate(
    ctx: Context, org: dict[str, str], service: ReferralService
) -> None:
    # One office building, many firms: never linked on the address alone.
    ctx.writer.insert(
        "accounts",
        {"name": "Tower Dental", "street": "400 Elm Street, Suite 12", "postal_code": "75201"},
    )
    result = service.capture(draft(org))
    assert result.outcome is Outcome.POSSIBLE_DUPLICATE
    assert "same address as Tower Dental" in result.message


def test_how_they_know_each_other_and_consent_are_fields_of_their_own(
    ctx: Context, org: dict[str, str], service: ReferralService
) -> None:
    result = service.capture(draft(org, relationship="  his   supplier ", notes="call after 5"))
    row = ctx.conn.execute(
        "SELECT relationship, notes, consent_at, created_at FROM referrals WHERE id = ?",
        (result.referral_id,),
    ).fetchone()
    assert row[:2] == ("his supplier", "call after 5")
    assert row[2] == row[3]  # consent given at capture (required to save)
    with pytest.raises(CaptureRefused, match="relationship is longer than 200"):
        service.capture(draft(org, relationship="x" * 201))


def test_a_third_capture_explains_each_reason_once(
    ctx: Context, org: dict[str, str], service: ReferralService
) -> None:
    """The second capture folds into the first: a third that matches both says each reason once."""
    first = service.capture(draft(org))
    service.capture(draft(org))
    third = service.capture(draft(org))
    assert third.outcome is Outcome.ALREADY_REFERRED
    assert third.linked_to == first.referral_id
    (match,) = [m for m in third.matches if m.table == "referrals"]
    assert len(match.reasons) == len(set(match.reasons))
    assert third.message.count("same phone") == 1
