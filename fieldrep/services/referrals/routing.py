"""Where a new lead goes: placed offline, matched to a territory by the territory engine, given a
member by the weighted, capacity-aware router (fieldrep.services.territories.lead_routing), never an inactive
or departed rep. Every decision comes with the sentence that explains it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fieldrep.domain.assignment import AccountFacts, AssignmentEngine
from fieldrep.geo.geocoding import Address, GeoResult, OfflineGeocoder
from fieldrep.services.context import Context
from fieldrep.services.territories.lead_routing import Routers
from fieldrep.services.territories.service import load_definitions


@dataclass(frozen=True)
class Route:
    territory_id: str | None
    territory_name: str | None
    owner_id: str | None
    owner_name: str
    reason: str  # the full explanation, kept in the event history
    sentence: str  # what the rep reads at once

    def to_json(self) -> dict[str, Any]:
        return {
            "territory_id": self.territory_id,
            "territory": self.territory_name,
            "owner_id": self.owner_id,
            "owner": self.owner_name,
            "reason": self.reason,
            "sentence": self.sentence,
        }


def user_name(ctx: Context, user_id: str | None) -> str:
    if not user_id:
        return ""
    row = ctx.conn.execute(
        "SELECT coalesce(nullif(display_name, ''), username) FROM users WHERE id = ?", (user_id,)
    ).fetchone()
    return str(row[0]) if row else "a colleague"


def _active(ctx: Context, user_id: str | None) -> bool:
    if not user_id:
        return False
    row = ctx.conn.execute("SELECT active FROM users WHERE id = ?", (user_id,)).fetchone()
    return row is None or bool(row[0])  # a user not (yet) synced here is taken as active


def place(
    geocoder: OfflineGeocoder,
    postal_code: str | None,
    city: str | None,
    region: str | None,
    country: str,
) -> GeoResult | None:
    return geocoder.geocode(
        Address(
            city=city or None,
            region=region or None,
            postal_code=postal_code or None,
            country=country,
        )
    )


def route(
    ctx: Context,
    *,
    postal_code: str | None,
    region: str | None,
    country: str,
    located: GeoResult | None,
    captured_by: str | None,
    routers: Routers | None = None,
) -> Route:
    """The territory and owner for a new lead (nothing written; the caller records it)."""
    facts = AccountFacts(
        "referral",
        located.lat if located else None,
        located.lon if located else None,
        postal_code or None,
        country,
        region or None,
    )
    decision = AssignmentEngine(load_definitions(ctx)).explain(facts)
    me = user_name(ctx, captured_by) or "you"
    if decision.territory_id is None:
        why = f"{decision.reason}; kept by {me}, who captured it, until a manager routes it"
        return Route(None, None, captured_by, me, why, f"No territory covers it: kept by {me}.")
    choice = (routers or Routers(ctx)).choose(decision.territory_id)
    owner, owner_why = choice.user_id, choice.reason
    if owner is not None and not _active(ctx, owner):
        owner_why += f"; {user_name(ctx, owner)} is no longer active"
        owner = None
    if owner is None:
        owner = captured_by
        owner_why += f"; kept by {me}, who captured it, until a manager assigns it"
    name = user_name(ctx, owner)
    reason = f"{decision.reason}; owner: {owner_why}"
    short = decision.reason.split(" (priority")[0]
    sentence = f"Routed to {name}, {decision.territory_name}, because {short}."
    return Route(decision.territory_id, decision.territory_name, owner, name, reason, sentence)
