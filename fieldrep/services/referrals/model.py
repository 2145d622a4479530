"""The referral vocabularies, spelled once: capture outcomes, flags, match kinds; the stages are
the domain's (:class:`fieldrep.domain.vocabulary.Stage`)."""

from __future__ import annotations

from enum import StrEnum

from fieldrep.domain.vocabulary import Stage

STAGES = tuple(Stage)
OPEN_STAGES = tuple(s for s in Stage if s.is_open)


class Outcome(StrEnum):
    """What the duplicate check made of a capture."""

    NEW_LEAD = "new_lead"  # routed as a new lead
    ALREADY_CUSTOMER = "already_customer"  # linked to the account, no new lead
    ALREADY_REFERRED = "already_referred"  # linked to the first referral, which keeps attribution
    POSSIBLE_DUPLICATE = "possible_duplicate"  # not saved: needs an override with a reason
    OVERRIDDEN = "overridden"  # a possible duplicate saved anyway, with the rep's reason


class Flag(StrEnum):
    SELF_REFERRAL = "self_referral"
    ALREADY_CUSTOMER = "already_customer"
    ALREADY_REFERRED = "already_referred"
    POSSIBLE_DUPLICATE = "possible_duplicate"
    DUPLICATE_OVERRIDDEN = "duplicate_overridden"


class EventKind(StrEnum):
    CREATED = "created"
    STAGE = "stage"
    ASSIGNMENT = "assignment"
    NOTE = "note"
    OVERRIDE = "override"
    DUPLICATE = "duplicate"
    REWARD = "reward"


CHANNELS = ("visit", "phone", "email", "event", "web", "other")
