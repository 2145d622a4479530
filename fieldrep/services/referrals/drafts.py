"""What a capture takes (:class:`Draft`) and gives back (:class:`CaptureResult`), and its refusal."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fieldrep.services.referrals.duplicates import Match
from fieldrep.services.referrals.model import Outcome
from fieldrep.services.referrals.routing import Route
from fieldrep.store.errors import ValidationError


class CaptureRefused(ValidationError):
    """A referral that cannot be saved as typed; ``field`` names the culprit, nothing was written."""

    def __init__(self, message: str, field: str, typed: str = "") -> None:
        super().__init__(message, table="referrals", field=field)
        self.typed = typed


@dataclass
class Draft:
    """What the rep typed (or an import row held)."""

    referred_name: str
    referred_company: str = ""
    phone: str = ""
    email: str = ""
    street: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""  # empty: the referrer's country
    notes: str = ""
    relationship: str = ""  # how the referrer knows them
    consent: bool = False
    referrer_account_id: str | None = None
    referrer_contact_id: str | None = None
    visit_id: str | None = None
    channel: str = "visit"
    captured_by_id: str | None = None  # empty: the signed-in user
    captured_at: datetime | None = None  # empty: now
    override_reason: str = ""


@dataclass
class CaptureResult:
    outcome: Outcome
    referral_id: str | None
    message: str
    matches: list[Match] = field(default_factory=list)
    route: Route | None = None
    flags: list[str] = field(default_factory=list)
    sla_due_at: str | None = None
    task_ids: list[str] = field(default_factory=list)
    linked_to: str | None = None  # the account or first referral it was linked to

    @property
    def saved(self) -> bool:
        return self.referral_id is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "saved": self.saved,
            "referral_id": self.referral_id,
            "message": self.message,
            "flags": self.flags,
            "linked_to": self.linked_to,
            "sla_due_at": self.sla_due_at,
            "tasks": self.task_ids,
            "route": self.route.to_json() if self.route else None,
            "matches": [m.to_json() for m in self.matches],
        }
