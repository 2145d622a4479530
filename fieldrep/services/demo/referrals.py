"""Demo referrals in every stage with their event history, duplicates and notifications.

A referral's events replay its life: created, assigned, then one ``stage`` event per step it took
(new -> contacted -> qualified -> proposal -> won, or -> lost from wherever it stopped). A won
referral converted into one of the demo accounts and brought a deal. The reward rules and rewards
are :mod:`fieldrep.services.demo.rewards`'s.

Kept whole: one builder of demo rows that refer to each other's ids (referrals, their events,
duplicates, notifications), in the order they are made.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from fieldrep.services.demo import names as words
from fieldrep.services.demo.accounts import Accounts, demo_places
from fieldrep.services.demo.activity import Activity, Rows
from fieldrep.services.demo.common import (
    DemoClock,
    SeededIds,
    iso,
    phone,
    slug,
    weighted_index,
)
from fieldrep.services.demo.org import Org
from fieldrep.services.referrals.demo_cases import match_key, match_phone, showcases
from fieldrep.services.referrals.model import Flag, Stage
from fieldrep.services.referrals.sla import DEFAULT_DAYS

STAGES = ("new", "contacted", "qualified", "proposal", "won", "lost")
STAGE_WEIGHTS = (16, 15, 14, 12, 23, 20)
PATH = ("new", "contacted", "qualified", "proposal", "won")
CHANNELS = ("visit", "phone", "email", "event", "web", "other")
CHANNEL_WEIGHTS = (50, 15, 12, 10, 10, 3)


@dataclass
class Referrals:
    referrals: Rows = field(default_factory=Rows)
    events: Rows = field(default_factory=Rows)
    history: Rows = field(default_factory=Rows)
    rules: Rows = field(default_factory=Rows)
    rewards: Rows = field(default_factory=Rows)
    notifications: Rows = field(default_factory=Rows)
    # referral index -> (referrer account index, referrer contact index, time of each stage reached)
    meta: list[tuple[int, int | None, dict[str, datetime]]] = field(default_factory=list)


def _sla(stage: str, reached: dict[str, datetime], rng: random.Random, now: datetime) -> str | None:
    """Open referrals fall due over the coming days, a few already overdue (as in a real team)."""
    days = DEFAULT_DAYS.get(Stage(stage))
    if days is None:
        return None
    due = max(
        reached[stage] + timedelta(hours=4), now + timedelta(days=rng.uniform(-1.5, days + 1))
    )
    return iso(due)


def build_referrals(
    rng: random.Random,
    ids: SeededIds,
    clock: DemoClock,
    gaz: Any,
    org: Org,
    acc: Accounts,
    act: Activity,
    count: int,
) -> Referrals:
    out = Referrals()
    places, cum = demo_places(gaz, org)
    active = [i for i, row in enumerate(acc.rows) if row["status"] == "active"] or list(
        range(len(acc.rows))
    )
    stages = list(STAGES) + rng.choices(STAGES, STAGE_WEIGHTS, k=max(count - len(STAGES), 0))
    converted: set[int] = set()
    for stage in stages[:count]:
        ref_index = rng.choice(active)
        referrer = acc.rows[ref_index]
        contacts = acc.contacts_of[ref_index]
        contact_index = rng.choice(contacts) if contacts else None
        rep = referrer["owner_id"]
        channel = rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
        path = (
            list(PATH[: PATH.index(stage) + 1])
            if stage != "lost"
            else [*PATH[: rng.randint(1, 4)], "lost"]
        )
        steps = len(path) - 1
        created = clock.now - timedelta(days=rng.uniform(steps * 7 + 0.5, steps * 7 + 90))
        visit_id = None
        if channel == "visit" and act.visits_by_rep.get(rep):
            visit_index = rng.choice(act.visits_by_rep[rep])
            visit_id = act.visits.ids[visit_index]
            created = datetime.fromisoformat(act.visits.rows[visit_index]["visited_at"][:19])
        reached = {"new": created}
        moment = created
        for step in path[1:]:
            moment += timedelta(days=rng.uniform(0.2, 6.5), minutes=rng.randint(0, 300))
            reached[step] = min(moment, clock.now - timedelta(minutes=5))

        target = None
        if stage == "won":
            candidates = [
                i
                for i in rng.sample(active, min(len(active), 8))
                if i != ref_index and i not in converted
            ]
            target = candidates[0] if candidates else None
        if target is not None:
            converted.add(target)
            row = acc.rows[target]
            contact = acc.contacts[acc.contacts_of[target][0]]
            person = f"{contact['first_name']} {contact['last_name']}"
            company, email, tel = row["name"], contact["email"], contact["phone"]
            street, city, postal = row["street"], row["city"], row["postal_code"]
            territory_id, owner_id = row["territory_id"], row["owner_id"]
        else:
            place = places[weighted_index(rng, cum)]
            first, last = rng.choice(words.FIRST_NAMES), rng.choice(words.SURNAMES)
            person = f"{first} {last}"
            industry = rng.choice(list(words.INDUSTRIES))
            company = f"{rng.choice(words.SURNAMES)} {rng.choice(words.INDUSTRIES[industry][1])}"
            email = f"{slug(first)}@{slug(company)[:30]}.example"
            tel = phone(rng)
            street = f"{rng.randint(1, 9899)} {rng.choice(words.STREET_NAMES)} St"
            city, postal = place.city, place.postal_code
            territory_id = org.territory_for(place.postal_code, place.region)
            assert territory_id is not None
            owner_id = org.pick_member(rng, territory_id)
        amount = None
        if stage in ("proposal", "won") or (stage == "lost" and "proposal" in path):
            amount = round(rng.lognormvariate(9.0, 0.8), -1)
        referral_id = out.referrals.add(
            ids,
            {
                "referrer_account_id": acc.ids[ref_index],
                "referrer_contact_id": acc.contact_ids[contact_index]
                if contact_index is not None
                else None,
                "referred_name": person,
                "referred_company": company,
                "referred_email": email,
                "referred_phone": tel,
                "referred_street": street,
                "referred_city": city,
                "referred_postal_code": postal,
                "referred_country": "US",
                "match_name": match_key(company),
                "match_email": email.lower(),
                "match_phone": match_phone(tel),
                "captured_by_id": rep,
                "visit_id": visit_id,
                "channel": channel,
                "territory_id": territory_id,
                "owner_id": owner_id,
                "stage": stage,
                "sla_due_at": _sla(stage, reached, rng, clock.now),
                "duplicate_of_id": None,
                "flags": "[]",
                "converted_account_id": acc.ids[target] if target is not None else None,
                "amount": amount,
                "lost_reason": rng.choice(words.LOST_REASONS) if stage == "lost" else None,
                "notes": rng.choice(words.REFERRAL_NOTES) if rng.random() < 0.4 else None,
                "created_at": iso(created),
                "updated_at": iso(reached[path[-1]]),
            },
        )
        out.meta.append((ref_index, contact_index, reached))
        _history(rng, ids, out, org, referral_id, rep, owner_id, territory_id, path, reached)
        if target is not None and amount is not None:
            act.deals.add(
                ids,
                {
                    "account_id": acc.ids[target],
                    "user_id": owner_id,
                    "territory_id": territory_id,
                    "referral_id": referral_id,
                    "amount": amount,
                    "currency": "USD",
                    "closed_on": reached["won"].date().isoformat(),
                    "description": "First order (referral)",
                    "created_at": iso(reached["won"]),
                },
            )
    _flag_duplicates(rng, ids, out, clock)
    showcases(rng, ids, out, acc)
    return out


def _history(
    rng: random.Random,
    ids: SeededIds,
    out: Referrals,
    org: Org,
    referral_id: str,
    rep: str,
    owner_id: str,
    territory_id: str,
    path: list[str],
    reached: dict[str, datetime],
) -> None:
    created = reached["new"]
    events = out.events
    events.add(
        ids,
        {
            "referral_id": referral_id,
            "at": iso(created),
            "user_id": rep,
            "kind": "created",
            "from_value": None,
            "to_value": "new",
            "reason": None,
        },
    )
    assigned = created + timedelta(seconds=rng.randint(1, 90))
    why = f"routed to {org.names[territory_id]} by weighted round robin"
    events.add(
        ids,
        {
            "referral_id": referral_id,
            "at": iso(assigned),
            "user_id": None,
            "kind": "assignment",
            "from_value": None,
            "to_value": owner_id,
            "reason": why,
        },
    )
    out.history.add(
        ids,
        {
            "entity": "referral",
            "entity_id": referral_id,
            "from_territory_id": None,
            "to_territory_id": territory_id,
            "from_owner_id": None,
            "to_owner_id": owner_id,
            "reason": why,
            "by_user_id": None,
            "at": iso(assigned),
        },
    )
    for before, after in pairwise(path):
        events.add(
            ids,
            {
                "referral_id": referral_id,
                "at": iso(reached[after]),
                "user_id": owner_id,
                "kind": "stage",
                "from_value": before,
                "to_value": after,
                "reason": "lost" if after == "lost" else None,
            },
        )
        if rng.random() < 0.15:
            events.add(
                ids,
                {
                    "referral_id": referral_id,
                    "at": iso(reached[after] + timedelta(minutes=rng.randint(1, 120))),
                    "user_id": owner_id,
                    "kind": "note",
                    "from_value": None,
                    "to_value": rng.choice(words.REFERRAL_NOTES),
                    "reason": None,
                },
            )


def _flag_duplicates(rng: random.Random, ids: SeededIds, out: Referrals, clock: DemoClock) -> None:
    """A few referrals repeat an earlier one's contact details: flagged, linked, logged."""
    rows = out.referrals.rows
    open_later = [
        i for i in range(1, len(rows)) if rows[i]["stage"] in ("new", "contacted", "lost")
    ]
    for index in rng.sample(open_later, min(len(open_later), max(2, len(rows) // 30))):
        original = rng.randrange(index)
        if rows[original]["duplicate_of_id"] is not None:
            continue
        row, orig = rows[index], rows[original]
        for key in (
            "referred_name",
            "referred_company",
            "referred_email",
            "referred_phone",
            "match_name",
            "match_email",
            "match_phone",
        ):
            row[key] = orig[key]
        row["duplicate_of_id"] = out.referrals.ids[original]
        row["flags"] = json.dumps([Flag.ALREADY_REFERRED.value])
        at = datetime.fromisoformat(row["created_at"][:19]) + timedelta(seconds=30)
        out.events.add(
            ids,
            {
                "referral_id": out.referrals.ids[index],
                "at": iso(min(at, clock.now)),
                "user_id": None,
                "kind": "duplicate",
                "from_value": None,
                "to_value": out.referrals.ids[original],
                "reason": f"already referred: same e-mail {orig['match_email']} as the referral of"
                f" {orig['referred_name']} on {orig['created_at'][:10]}; the first referral keeps"
                " the attribution",
            },
        )


def notify(
    ids: SeededIds,
    out: Referrals,
    user_id: str | None,
    contact_id: str | None,
    channel: str,
    subject: str,
    body: str,
    table: str,
    row_id: str,
    status: str,
    at: datetime,
    **extra: Any,
) -> None:
    out.notifications.add(
        ids,
        {
            **extra,
            "recipient_user_id": user_id,
            "recipient_contact_id": contact_id,
            "channel": channel,
            "subject": subject,
            "body": body,
            "related_table": table,
            "related_id": row_id,
            "status": status,
            "created_at": iso(at),
            "sent_at": iso(at + timedelta(minutes=1)) if status in ("sent", "read") else None,
        },
    )


def notify_new_referrals(ids: SeededIds, clock: DemoClock, out: Referrals, limit: int = 12) -> None:
    """Tell owners about their newest unworked referrals (the first read, the rest waiting)."""
    fresh = [i for i, r in enumerate(out.referrals.rows) if r["stage"] == "new"]
    fresh.sort(key=lambda i: out.referrals.rows[i]["created_at"], reverse=True)
    for n, index in enumerate(fresh[:limit]):
        row = out.referrals.rows[index]
        at = datetime.fromisoformat(row["created_at"][:19]) + timedelta(minutes=2)
        notify(
            ids,
            out,
            row["owner_id"],
            None,
            "app",
            "New referral assigned to you",
            f"{row['referred_name']} ({row['referred_company']}), reply by {row['sla_due_at'][:10]}",
            "referrals",
            out.referrals.ids[index],
            "read" if n % 3 == 2 else "queued",
            min(at, clock.now),
        )


def referral_count(accounts: int) -> int:
    return max(36, accounts // 25)


# Who agreed to hear about referrals (``contacts.referral_consent``): most people who referred
# someone said yes when they did (some declined the e-mails), a few others opted in at a visit.
REFERRER_CONSENT = 0.85
OTHER_CONSENT = 0.2


def grant_consent(rng: random.Random, acc: Accounts, out: Referrals) -> None:
    """Set every demo contact's consent, by chance, more often for referrers; before the rewards,
    which the rules give only to referrers who agreed (as the ledger does). From its own random
    stream, so the rest of the demo is the same whatever these rates are."""
    referrers = {acc.contact_ids[c] for _a, c, _reached in out.meta if c is not None}
    for contact_id, contact in zip(acc.contact_ids, acc.contacts, strict=True):
        chance = REFERRER_CONSENT if contact_id in referrers else OTHER_CONSENT
        contact["referral_consent"] = int(rng.random() < chance)
