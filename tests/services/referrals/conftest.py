"""A small organisation for referral tests: a manager, reps in Boston Metro, a Texas territory."""

from __future__ import annotations

import pytest

from fieldrep.services.context import Context
from fieldrep.services.referrals.capture import Draft, ReferralService
from fieldrep.services.territories import service as territory_service
from tests.services.helpers_territories import user


@pytest.fixture
def org(ctx: Context) -> dict[str, str]:
    boss, ann, bob, omar = (
        user(ctx, "mia", "manager"),
        user(ctx, "ann"),
        user(ctx, "bob"),
        user(ctx, "omar"),
    )
    ctx.set_user(boss)
    metro = territory_service.create_territory(
        ctx, "Boston Metro", postal_codes="02139, 02140", owner_id=boss
    )
    texas = territory_service.create_territory(
        ctx, "Texas Metros", postal_codes="75201, 75202", owner_id=boss
    )
    territory_service.set_member(ctx, metro, ann, weight=1)
    territory_service.set_member(ctx, metro, bob, weight=1)
    territory_service.set_member(ctx, texas, omar, weight=1)
    for territory in (metro, texas):  # the manager owns both but takes no leads
        territory_service.set_member(ctx, territory, boss, role="owner", weight=0)
    referrer = ctx.writer.insert(
        "accounts",
        {
            "name": "Acme Tools Inc.",
            "status": "active",
            "street": "12 Main Street",
            "city": "Cambridge",
            "postal_code": "02139",
            "phone": "(617) 555-0100",
            "website": "https://www.acmetools.com",
            "territory_id": metro,
            "owner_id": ann,
        },
    )
    contact = ctx.writer.insert(
        "contacts",
        {
            "account_id": referrer,
            "first_name": "Jane",
            "last_name": "Roe",
            "email": "jane@acmetools.com",
            "phone": "617-555-0142",
        },
    )
    ctx.set_user(ann)
    return {
        "boss": boss,
        "ann": ann,
        "bob": bob,
        "omar": omar,
        "metro": metro,
        "texas": texas,
        "referrer": referrer,
        "contact": contact,
    }


@pytest.fixture
def service(ctx: Context) -> ReferralService:
    return ReferralService(ctx)


def draft(org: dict[str, str], **fields: object) -> Draft:
    values: dict[str, object] = {
        "referred_name": "Sam Lee",
        "referred_company": "Lone Star Plumbing LLC",
        "phone": "(214) 555-0199",
        "email": "sam@lonestarplumbing.com",
        "street": "400 Elm St",
        "city": "Dallas",
        "postal_code": "75201",
        "consent": True,
        "referrer_account_id": org["referrer"],
        "referrer_contact_id": org["contact"],
    }
    values.update(fields)
    return Draft(**values)  # type: ignore[arg-type]
