"""Who may create or change which fields of each table, checked where scope is (DESIGN.md 10).

Scope says which rows a user sees; authority says what they may write in them. Managers and admins
may write every field of the rows in their scope; a rep may not:

- create or change rewards (approve, issue or size them) or quotas;
- change territories, and so the referral SLA a territory carries (``territories.referral_sla``,
  the team's setting every laptop applies, issue 18): :func:`scope.check_public_write` refuses
  every territory write from a rep;
- credit a deal to anyone but themselves, or on an account they do not own;
- reassign (territory or owner) an account or referral owned by someone else;
- write history under anyone's name but their own;
- create a task for someone else, except the follow-up task of a referral they captured, for the
  referral's owner (:func:`referral_follow_up`: a referral captured for a colleague's territory
  gives the colleague their task, issue 18).

Fields that record who did something are set from the authenticated user, never taken from the
client: ``assignment_history.by_user_id``, ``referral_events.user_id``, ``referrals.captured_by_id``
(on creation) and ``rewards.approved_by_id`` (when a reward is approved). Admins are trusted (their
laptops push other users' rows when they load a book).
"""

from __future__ import annotations

from typing import Any

from fieldrep.server.scope import Refused, Viewer
from fieldrep.server.storage import Tx

# Table -> field set from the authenticated user when the row is created.
CREATED_BY = {
    "assignment_history": "by_user_id",
    "referral_events": "user_id",
    "referrals": "captured_by_id",
}
MANAGER_ONLY = {
    "rewards": "only a manager can create, approve, issue or size rewards",
    "quotas": "only a manager can set quotas",
}
ASSIGNMENT_FIELDS = ("territory_id", "owner_id")
APPROVED = frozenset({"approved", "issued", "redeemed"})


def check(
    tx: Tx,
    viewer: Viewer,
    tbl: str,
    before: dict[str, Any] | None,
    after: dict[str, Any],
    clocks: dict[str, str],
    stamp: str,
) -> None:
    """Raise :class:`Refused` unless ``viewer`` may turn ``before`` (None: a new row) into
    ``after``; fills the who-did-it fields of ``after`` (and their ``clocks`` with ``stamp``)."""
    if viewer.is_admin:
        return

    def own(field: str) -> None:
        if after.get(field) != viewer.user_id:
            after[field] = viewer.user_id
            clocks[field] = stamp

    if before is None and tbl in CREATED_BY:
        own(CREATED_BY[tbl])
    if tbl == "rewards" and viewer.role == "manager":
        if after.get("status") in APPROVED and (
            before is None or before.get("status") not in APPROVED
        ):
            own("approved_by_id")
        return
    if viewer.role == "manager":
        return
    if tbl in MANAGER_ONLY:
        raise Refused(MANAGER_ONLY[tbl])
    if tbl == "deals":
        if after.get("user_id") != viewer.user_id:
            raise Refused("a deal can only be credited to yourself")
        if after.get("account_id"):
            row = tx.one("SELECT owner_id FROM accounts WHERE id = ?", (after["account_id"],))
            if row is None or row[0] != viewer.user_id:
                raise Refused("a deal can only be recorded on an account you own")
    if (
        tbl in ("accounts", "referrals")
        and before is not None
        and any(before.get(f) != after.get(f) for f in ASSIGNMENT_FIELDS)
        and before.get("owner_id") not in (None, viewer.user_id)
    ):
        raise Refused(f"only a manager can reassign {tbl} owned by someone else")


def referral_follow_up(tx: Tx, viewer: Viewer, tbl: str, values: dict[str, Any]) -> bool:
    """Whether a new row outside ``viewer``'s scope is the follow-up task of a referral they
    captured, for that referral's owner: a rep may hand that one task to a colleague."""
    if tbl != "tasks" or not values.get("referral_id") or not values.get("user_id"):
        return False
    row = tx.one(
        "SELECT captured_by_id, owner_id FROM referrals WHERE id = ? AND _deleted = 0",
        (values["referral_id"],),
    )
    return row is not None and row[0] == viewer.user_id and row[1] == values["user_id"]
