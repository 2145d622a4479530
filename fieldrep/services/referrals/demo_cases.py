"""Demo referrals that show each thing the duplicate check flags (used by demo_referrals)."""

from __future__ import annotations

import json
import random
from typing import TYPE_CHECKING

from fieldrep.services.referrals.model import Flag
from fieldrep.services.referrals.normalise import company_key, phone

if TYPE_CHECKING:
    from fieldrep.services.demo.accounts import Accounts
    from fieldrep.services.demo.common import SeededIds
    from fieldrep.services.demo.referrals import Referrals


def match_key(text: str | None) -> str | None:
    return company_key(text) or None if text else None


def match_phone(text: str | None) -> str | None:
    number = phone(text, "US", strict=False)
    return number.e164 if number else None


def showcases(rng: random.Random, ids: SeededIds, out: Referrals, acc: Accounts) -> None:
    """One of each thing the duplicate check flags, to show: a self-referral, a referral of an
    existing customer, and a possible duplicate saved with the rep's reason."""
    rows = out.referrals.rows
    fresh = [
        i
        for i, r in enumerate(rows)
        if r["stage"] in ("new", "contacted") and not r["duplicate_of_id"]
    ]
    lost = [i for i, r in enumerate(rows) if r["stage"] == "lost" and not r["duplicate_of_id"]]
    if len(fresh) < 2 or not lost:
        return

    def event(index: int, kind: str, reason: str, to: str | None = None) -> None:
        row = rows[index]
        out.events.add(
            ids,
            {
                "referral_id": out.referrals.ids[index],
                "at": row["created_at"],
                "user_id": row["captured_by_id"],
                "kind": kind,
                "from_value": None,
                "to_value": to,
                "reason": reason,
            },
        )

    # A customer refers their own colleague: flagged, still worked.
    index = fresh[0]
    ref_index, contact_index, _ = out.meta[index]
    if contact_index is not None:
        own, contact = acc.rows[ref_index], acc.contacts[contact_index]
        row = rows[index]
        row.update(
            referred_name=f"{contact['first_name']} {contact['last_name']}",
            referred_company=own["name"],
            referred_phone=contact["phone"],
            referred_email=contact["email"],
            match_name=match_key(own["name"]),
            match_email=(contact["email"] or "").lower() or None,
            match_phone=match_phone(contact["phone"]),
            flags=json.dumps([Flag.SELF_REFERRAL.value]),
        )
        event(
            index,
            "duplicate",
            f"self-referral: same e-mail {row['match_email']} as"
            f" {own['name']}, contact {row['referred_name']}",
        )
    # An existing customer referred as a new lead: linked to the account, no new lead.
    index = lost[0]
    ref_index = out.meta[index][0]
    others = [i for i, r in enumerate(acc.rows) if r["status"] == "active" and i != ref_index]
    if others:
        target = rng.choice(others)
        customer = acc.rows[target]
        row = rows[index]
        row.update(
            referred_company=customer["name"],
            referred_phone=customer["phone"],
            match_name=match_key(customer["name"]),
            match_phone=match_phone(customer["phone"]),
            converted_account_id=acc.ids[target],
            lost_reason=f"already a customer: {customer['name']}",
            flags=json.dumps([Flag.ALREADY_CUSTOMER.value]),
        )
        event(
            index,
            "duplicate",
            f"already a customer: same phone {customer['phone']} as"
            f" {customer['name']}; linked to the account, no new lead",
            acc.ids[target],
        )
    # A name like an account's, saved anyway with the rep's reason.
    index = fresh[1]
    similar = rng.choice(acc.rows)
    row = rows[index]
    row.update(
        referred_company=f"{similar['name']} West",
        match_name=match_key(f"{similar['name']} West"),
        flags=json.dumps([Flag.DUPLICATE_OVERRIDDEN.value]),
    )
    event(index, "duplicate", f"possible duplicate: name 90 % like {similar['name']!r}")
    event(
        index,
        "override",
        "Different branch: the west-side shop has its own buyer",
        "possible_duplicate",
    )
