"""The product's vocabularies, spelled once: account statuses, size bands, visit outcomes, referral
stages, roles.

Each is a :class:`~enum.StrEnum`, so a member is the very string stored in SQLite, sent over sync
and shown in files (``AccountStatus.ACTIVE == "active"``); the schema's CHECK constraints list the
same values (tests/domain/test_vocabulary.py holds them together). Reward states live beside their
rules in :mod:`fieldrep.domain.rewards`.
"""

from __future__ import annotations

from enum import StrEnum


class AccountStatus(StrEnum):
    PROSPECT = "prospect"
    ACTIVE = "active"
    INACTIVE = "inactive"
    LOST = "lost"

    @property
    def is_open(self) -> bool:
        """Still worth a visit: counted in coverage and balance."""
        return self in (AccountStatus.PROSPECT, AccountStatus.ACTIVE)


class SizeBand(StrEnum):
    """Employees, in the bands CRMs export."""

    MICRO = "1-9"
    SMALL = "10-49"
    MEDIUM = "50-249"
    LARGE = "250-999"
    ENTERPRISE = "1000+"


class VisitOutcome(StrEnum):
    MET = "met"
    NO_SHOW = "no_show"
    FOLLOW_UP = "follow_up"
    ORDER = "order"
    LOST = "lost"


class Stage(StrEnum):
    """A referral's place in the pipeline."""

    NEW = "new"
    CONTACTED = "contacted"
    QUALIFIED = "qualified"
    PROPOSAL = "proposal"
    WON = "won"
    LOST = "lost"

    @property
    def label(self) -> str:
        return self.value.title()

    @property
    def is_open(self) -> bool:
        return self not in (Stage.WON, Stage.LOST)


class Role(StrEnum):
    """A user's role on the team's server."""

    REP = "rep"
    MANAGER = "manager"
    ADMIN = "admin"

    @property
    def manages(self) -> bool:
        """Sees and edits the team (territories, quotas, approvals), not only their own book."""
        return self in (Role.MANAGER, Role.ADMIN)


class MemberRole(StrEnum):
    """A user's place in a territory."""

    OWNER = "owner"
    MEMBER = "member"


ACCOUNT_STATUSES: tuple[str, ...] = tuple(AccountStatus)
OPEN_ACCOUNT_STATUSES: tuple[str, ...] = tuple(s for s in AccountStatus if s.is_open)
SIZE_BANDS: tuple[str, ...] = tuple(SizeBand)
VISIT_OUTCOMES: tuple[str, ...] = tuple(VisitOutcome)
ROLES: tuple[str, ...] = tuple(Role)
MANAGER_ROLES: frozenset[str] = frozenset(r for r in Role if r.manages)
