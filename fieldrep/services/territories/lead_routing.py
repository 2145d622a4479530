"""Who gets a new account or lead in a territory: one weighted router per territory, seeded from
the database's current counts (accounts owned, open referrals), capacity respected.

``route_lead(ctx, territory_id)`` picks the member for one new lead; :class:`Routers` keeps the
routers of a whole run (a reassignment, an import) so the spread is fair across all of it.
"""

from __future__ import annotations

from fieldrep.domain.routing import Choice, Member, Router
from fieldrep.services.context import Context

ROUTED = "lead routed"


class Routers:
    """One router per territory, seeded from the database's current counts."""

    def __init__(self, ctx: Context, policy: str = "round_robin") -> None:
        self.ctx, self.policy = ctx, policy
        self._routers: dict[str, Router] = {}
        self._members: dict[str, set[str]] = {}

    def members_of(self, territory_id: str) -> set[str]:
        self.router(territory_id)
        return self._members[territory_id]

    def router(self, territory_id: str) -> Router:
        if territory_id in self._routers:
            return self._routers[territory_id]
        rows = list(
            self.ctx.db.query(
                """SELECT m.user_id, coalesce(nullif(u.display_name, ''), u.username) AS name,
                      m.routing_weight, m.capacity,
                      (SELECT count(*) FROM accounts a WHERE a.owner_id = m.user_id) +
                      (SELECT count(*) FROM referrals r WHERE r.owner_id = m.user_id
                         AND r.stage NOT IN ('won', 'lost')) AS load,
                      (SELECT count(*) FROM accounts a WHERE a.owner_id = m.user_id
                         AND a.territory_id = m.territory_id) +
                      (SELECT count(*) FROM referrals r WHERE r.owner_id = m.user_id
                         AND r.territory_id = m.territory_id) AS received
               FROM territory_members m LEFT JOIN users u ON u.id = m.user_id
               WHERE m.territory_id = ? AND m.active = 1 AND coalesce(u.active, 1) = 1
               ORDER BY m.user_id""",
                [territory_id],
            )
        )
        owner = list(
            self.ctx.db.query(
                "SELECT t.owner_id, coalesce(nullif(u.display_name, ''), u.username) AS name "
                "FROM territories t LEFT JOIN users u ON u.id = t.owner_id WHERE t.id = ?",
                [territory_id],
            )
        )
        fallback = owner[0] if owner else {"owner_id": None, "name": ""}
        members = [
            Member(
                r["user_id"],
                r["name"] or "",
                float(r["routing_weight"]),
                r["capacity"],
                int(r["load"]),
                int(r["received"]),
            )
            for r in rows
        ]
        router = Router(
            members,
            policy=self.policy,
            fallback_owner=fallback["owner_id"],
            fallback_name=fallback["name"] or "",
        )
        self._routers[territory_id] = router
        self._members[territory_id] = {m.user_id for m in members} | (
            {fallback["owner_id"]} if fallback["owner_id"] else set()
        )
        return router

    def choose(self, territory_id: str) -> Choice:
        return self.router(territory_id).choose()


def owner_for(
    routers: Routers, territory_id: str | None, current_owner: str | None, territory_changed: bool
) -> tuple[str | None, str]:
    """(owner, why) for an account landing in ``territory_id``."""
    if territory_id is None:
        return current_owner, ""
    if current_owner and current_owner in routers.members_of(territory_id):
        return current_owner, ""
    if not territory_changed and current_owner:
        return current_owner, ""
    choice = routers.choose(territory_id)
    if choice.user_id is None:
        return current_owner, ""
    return choice.user_id, f"; owner: {choice.reason}"


def route_lead(ctx: Context, territory_id: str, policy: str = "round_robin") -> Choice:
    """The member who gets the next lead in ``territory_id`` (not written; the caller records it)."""
    return Routers(ctx, policy).choose(territory_id)
