"""Who sees and may write which rows: the territory scope every pull is filtered by and every push
is checked against.

A viewer has a set of people P (a rep: themselves; a manager: themselves and their team, the users
whose ``manager_id`` is them) and a set of territories T (where someone in P is an active
``territory_members`` row or the territory's owner, plus every territory below those). Admins see
everything. Per table:

- accounts, deals, quotas, referrals, notifications, visits, tasks, assignment_history: visible when a
  territory column is in T or a person column is in P (:data:`RULES`);
- contacts, referral_events, rewards: also through their parent account or referral;
- accounts and referrals also stay visible to whoever created them (``row_creators``: the server
  notes the user who pushed a row's first write), and to that user's manager, after the territory
  engine handed them to a colleague: visible, but no longer theirs to change (:data:`CREATOR_TABLES`);
- users, territories, territory_members, reward_rules: visible to everyone; written by admins
  (managers may edit territories, memberships of their team and reward rules; anyone may edit the
  contact details of their own user row).

Everything is expressed as SQL predicates so pulls filter in the database, and the same predicate
checks a pushed row before and after the merge.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from fieldrep.server.storage import Tx


@dataclass(frozen=True)
class Rule:
    territory: tuple[str, ...] = ()
    people: tuple[str, ...] = ()
    parent: tuple[str, str] | None = None  # (parent table, column holding the parent's id)

    @property
    def columns(self) -> tuple[str, ...]:
        return self.territory + self.people + ((self.parent[1],) if self.parent else ())


PUBLIC = frozenset({"users", "territories", "territory_members", "reward_rules"})
RULES: dict[str, Rule] = {
    "accounts": Rule(territory=("territory_id",), people=("owner_id",)),
    "contacts": Rule(parent=("accounts", "account_id")),
    "visits": Rule(people=("user_id",)),
    "tasks": Rule(people=("user_id",)),
    "deals": Rule(territory=("territory_id",), people=("user_id",)),
    "quotas": Rule(territory=("territory_id",), people=("user_id",)),
    "referrals": Rule(territory=("territory_id",), people=("captured_by_id", "owner_id")),
    "referral_events": Rule(parent=("referrals", "referral_id")),
    "rewards": Rule(people=("recipient_user_id",), parent=("referrals", "referral_id")),
    "notifications": Rule(people=("recipient_user_id",)),
    "assignment_history": Rule(
        territory=("from_territory_id", "to_territory_id"),
        people=("from_owner_id", "to_owner_id", "by_user_id"),
    ),
}
# Tables whose rows stay in view of their creator (read-only once handed to someone else).
CREATOR_TABLES = frozenset({"accounts", "referrals"})
# Rows whose visibility follows a parent: when the parent moves they move with it.
CHILDREN: dict[str, list[tuple[str, str]]] = {}
for _name, _rule in RULES.items():
    if _rule.parent:
        CHILDREN.setdefault(_rule.parent[0], []).append((_name, _rule.parent[1]))

SELF_EDITABLE_USER_FIELDS = frozenset({"display_name", "email", "phone", "home_lat", "home_lon"})


CONTACT_FIELDS = ("email", "phone")
HOME_FIELDS = ("home_lat", "home_lon")


def hidden_user_fields(viewer: Viewer, user_id: str, manager_id: str | None) -> tuple[str, ...]:
    """The fields of a user row (``user_id``, managed by ``manager_id``) that ``viewer`` is not
    shown: contact details outside their team, and anyone's home but their own and their
    reports'. Admins see everything."""
    if viewer.is_admin or user_id == viewer.user_id:
        return ()
    if manager_id is not None and manager_id == viewer.user_id:
        return ()  # their manager
    team = user_id == viewer.manager_id or (
        manager_id is not None and manager_id == viewer.manager_id
    )
    return HOME_FIELDS if team else CONTACT_FIELDS + HOME_FIELDS


class Refused(Exception):
    """A mutation the viewer may not make; the message is the reason reported to the client."""


@dataclass(frozen=True)
class Viewer:
    user_id: str
    role: str
    people: frozenset[str] = field(default_factory=frozenset)
    territories: frozenset[str] = field(default_factory=frozenset)
    # Their own manager: who is on their team (whose contact details they see).
    manager_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @cached_property
    def key(self) -> str:
        """Changes whenever what this viewer may see changes for reasons other than row edits."""
        text = json.dumps(
            [self.role, sorted(self.people), sorted(self.territories), self.manager_id]
        )
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def sees_scope_values(
        self, territories: Iterable[str | None], people: Iterable[str | None]
    ) -> bool:
        """Whether a row with these scope values (territories, people: see :func:`scope_values`)
        is visible to this viewer (used for a row's state before a move)."""
        if self.is_admin:
            return True
        return bool(set(territories) & self.territories or set(people) & self.people)


# Viewers a server keeps between requests, per storage (``Tx.kept``), by user: at most this many.
KEPT_VIEWERS = 4096


def viewer(tx: Tx, user_id: str, epoch: int) -> Viewer:
    """``user_id``'s viewer, as :func:`load_viewer` reads it, kept between requests under the
    database's scope epoch ``epoch`` (read in ``tx``): every write to what a scope is made of
    moves the epoch (triggers of server schema v7), so a kept viewer is used only while the
    database says nothing it depends on changed, and every server process stays stateless. Only a
    read-only transaction keeps what it reads: a writer may see its own uncommitted changes."""
    kept = tx.kept.get(("viewer", user_id))
    if kept is not None and kept[0] == epoch:
        found: Viewer = kept[1]
        return found
    loaded = load_viewer(tx, user_id)
    if tx.read_only:
        if len(tx.kept) >= KEPT_VIEWERS:
            tx.kept.clear()
        tx.kept[("viewer", user_id)] = (epoch, loaded)
    return loaded


def load_viewer(tx: Tx, user_id: str) -> Viewer:
    row = tx.one("SELECT role, manager_id FROM users WHERE id = ? AND _deleted = 0", (user_id,))
    role = row[0] if row else "rep"
    manager_id = row[1] if row else None
    people = {user_id}
    if role == "manager":
        people |= {
            r[0]
            for r in tx.all(
                "SELECT id FROM users WHERE manager_id = ? AND _deleted = 0", (user_id,)
            )
        }
    if role == "admin":
        return Viewer(user_id, role, frozenset(people), frozenset(), manager_id)
    sql, param = tx.in_list("user_id", sorted(people))
    direct = {
        r[0]
        for r in tx.all(
            f"SELECT territory_id FROM territory_members WHERE {sql} AND active = 1 AND _deleted = 0",
            (param,),
        )
    }
    sql, param = tx.in_list("owner_id", sorted(people))
    direct |= {
        r[0] for r in tx.all(f"SELECT id FROM territories WHERE {sql} AND _deleted = 0", (param,))
    }
    # A region's owner or member also covers every territory below it.
    children: dict[str, list[str]] = {}
    for tid, parent in tx.all("SELECT id, parent_id FROM territories WHERE _deleted = 0"):
        if parent:
            children.setdefault(parent, []).append(tid)
    territories: set[str] = set()
    stack = [t for t in direct if t]
    while stack:
        tid = stack.pop()
        if tid in territories:
            continue
        territories.add(tid)
        stack.extend(children.get(tid, ()))
    return Viewer(user_id, role, frozenset(people), frozenset(territories), manager_id)


def predicate(tx: Tx, viewer: Viewer, tbl: str, *, writable: bool = False) -> tuple[str, list[Any]]:
    """SQL (over the table's own columns, unqualified) selecting the rows ``viewer`` may see, or
    with ``writable`` the rows they may change (not those they see only as their creator)."""
    if viewer.is_admin or tbl in PUBLIC:
        return "1 = 1", []
    rule = RULES[tbl]
    parts: list[str] = []
    params: list[Any] = []
    if tbl in CREATOR_TABLES and not writable:
        # Correlated on the row's own id (a primary-key lookup per row): an IN list of every
        # row the people created would be read whole for each row checked.
        sql, param = tx.in_list("rc.user_id", sorted(viewer.people))
        parts.append(
            f"EXISTS (SELECT 1 FROM row_creators rc WHERE rc.tbl = ? AND rc.row_id = {tbl}.id"
            f" AND {sql})"
        )
        params += [tbl, param]
    for col in rule.territory:
        sql, param = tx.in_list(col, sorted(viewer.territories))
        parts.append(sql)
        params.append(param)
    for col in rule.people:
        sql, param = tx.in_list(col, sorted(viewer.people))
        parts.append(sql)
        params.append(param)
    if rule.parent:
        parent, col = rule.parent
        inner, inner_params = predicate(tx, viewer, parent, writable=writable)
        parts.append(f"{col} IN (SELECT id FROM {parent} WHERE {inner})")
        params += inner_params
    return "(" + " OR ".join(parts) + ")", params


def visible(tx: Tx, viewer: Viewer, tbl: str, row_id: str, *, writable: bool = False) -> bool:
    sql, params = predicate(tx, viewer, tbl, writable=writable)
    return tx.one(f"SELECT 1 FROM {tbl} WHERE id = ? AND {sql}", (row_id, *params)) is not None


def check_public_write(
    viewer: Viewer,
    tbl: str,
    row_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any],
    changed: Iterable[str],
) -> None:
    """Raise :class:`Refused` unless ``viewer`` may write this row of a table everyone sees."""
    if viewer.is_admin:
        return
    if tbl == "users":
        if (
            before is not None
            and row_id == viewer.user_id
            and set(changed) <= SELF_EDITABLE_USER_FIELDS
        ):
            return
        raise Refused("only an administrator can add users or change their role or team")
    if viewer.role != "manager":
        raise Refused(f"only a manager or administrator can change {tbl.replace('_', ' ')}")
    if tbl == "reward_rules":
        return
    if tbl == "territories":
        parent = after.get("parent_id")
        if (
            parent
            and (before is None or before.get("parent_id") != parent)
            and parent not in viewer.territories
        ):
            # Grafting onto another team's region would show this team's rows to that team.
            raise Refused("a territory's parent must be one of your team's territories")
        for state in (before, after):
            if state is not None and not (
                row_id in viewer.territories
                or state.get("owner_id") in viewer.people
                or state.get("parent_id") in viewer.territories
            ):
                raise Refused("this territory is not one of your team's territories")
        return
    if tbl == "territory_members":
        for state in (before, after):
            if state is not None and not (
                state.get("territory_id") in viewer.territories
                and state.get("user_id") in viewer.people
            ):
                raise Refused("you can only assign your own team to your team's territories")
        return
    raise Refused(f"{tbl} cannot be changed here")


def scope_values(tx: Tx, tbl: str, row: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The (territories, people) that make ``row`` visible, following its parent if it has one."""
    rule = RULES[tbl]
    territories = [row.get(c) for c in rule.territory]
    people = [row.get(c) for c in rule.people]
    if rule.parent and row.get(rule.parent[1]):
        parent_tbl, col = rule.parent
        prule = RULES[parent_tbl]
        cols = prule.territory + prule.people
        prow = tx.one(f"SELECT {', '.join(cols)} FROM {parent_tbl} WHERE id = ?", (row[col],))
        if prow:
            territories += list(prow[: len(prule.territory)])
            people += list(prow[len(prule.territory) :])
    return [t for t in territories if t], [p for p in people if p]


def note_creator(tx: Tx, tbl: str, row_id: str, user_id: str) -> None:
    """Remember who created a row of :data:`CREATOR_TABLES`, so it stays in their view."""
    if tbl in CREATOR_TABLES:
        tx.execute(
            "INSERT INTO row_creators (tbl, row_id, user_id) VALUES (?, ?, ?)"
            " ON CONFLICT (tbl, row_id) DO NOTHING",
            (tbl, row_id, user_id),
        )


def handed_to(tx: Tx, tbl: str, row: dict[str, Any]) -> str:
    """Why a row its creator still sees is no longer theirs to change: "handed to Omar, Texas
    Metros"."""
    rule = RULES.get(tbl)
    owner = territory = None
    if rule and "owner_id" in rule.people and row.get("owner_id"):
        found = tx.one("SELECT display_name, username FROM users WHERE id = ?", (row["owner_id"],))
        owner = (found[0] or found[1]) if found else None
    if rule and "territory_id" in rule.territory and row.get("territory_id"):
        found = tx.one("SELECT name FROM territories WHERE id = ?", (row["territory_id"],))
        territory = found[0] if found else None
    where = ", ".join(x for x in (owner, territory) if x)
    return f"handed to {where}" if where else "handed to another team"
