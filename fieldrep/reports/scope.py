"""Who and where a report covers: a territory subtree and/or one rep, found by name.

An unknown name raises :class:`ScopeError` suggesting the closest known names (difflib), so
``--territory Wets`` answers "did you mean West?".
"""

from __future__ import annotations

import difflib
import sqlite3
from dataclasses import dataclass, field


class ScopeError(ValueError):
    """A territory or rep name matched nothing; the message suggests the closest names."""


@dataclass(frozen=True)
class Territory:
    id: str
    name: str
    parent_id: str | None
    kind: str
    archived: bool


@dataclass(frozen=True)
class Rep:
    id: str
    username: str
    name: str
    role: str
    active: bool

    @property
    def label(self) -> str:
        return self.name if self.active else f"{self.name} (left)"


@dataclass
class Scope:
    """The territories (a subtree, or all) and the rep a report is limited to."""

    territories: dict[str, Territory]  # every territory, by id
    reps: dict[str, Rep]  # every user, by id
    root: Territory | None = None
    rep: Rep | None = None
    selected: set[str] = field(default_factory=set)  # territory ids in the subtree (all if no root)

    @property
    def label(self) -> str:
        parts = []
        if self.root is not None:
            parts.append(f"Territory: {self.root.name} and below")
        if self.rep is not None:
            parts.append(f"Rep: {self.rep.label}")
        return "; ".join(parts) or "All territories"

    def children(self, territory_id: str | None) -> list[Territory]:
        kids = [t for t in self.territories.values() if t.parent_id == territory_id]
        # A parent that does not exist (not synced to this laptop) makes its children top-level.
        if territory_id is None:
            kids += [
                t
                for t in self.territories.values()
                if t.parent_id is not None and t.parent_id not in self.territories
            ]
        return sorted(kids, key=lambda t: t.name.lower())

    def in_scope(self, territory_id: str | None) -> bool:
        if self.root is None:
            return True
        return territory_id in self.selected


def _suggest(name: str, known: list[str], what: str) -> ScopeError:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    if not close:
        lowered = {k.lower(): k for k in known}
        close = [lowered[k] for k in difflib.get_close_matches(name.lower(), lowered, 3, 0.4)]
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return ScopeError(f"no {what} named {name!r}{hint}")


def load_scope(
    conn: sqlite3.Connection, territory: str | None = None, rep: str | None = None
) -> Scope:
    """The scope for a territory name (its subtree) and a rep (username or display name)."""
    territories = {
        row[0]: Territory(row[0], row[1], row[2], row[3], bool(row[4]))
        for row in conn.execute(
            "SELECT id, name, parent_id, kind, archived FROM territories ORDER BY name"
        )
    }
    reps = {
        row[0]: Rep(row[0], row[1], row[2] or row[1], row[3], bool(row[4]))
        for row in conn.execute("SELECT id, username, display_name, role, active FROM users")
    }
    scope = Scope(territories, reps)
    if territory:
        wanted = territory.strip().lower()
        found = [t for t in territories.values() if t.name.lower() == wanted or t.id == territory]
        if not found:
            raise _suggest(territory, sorted({t.name for t in territories.values()}), "territory")
        scope.root = found[0]
        scope.selected = subtree(territories, found[0].id)
    else:
        scope.selected = set(territories)
    if rep:
        wanted = rep.strip().lower()
        found_reps = [
            r
            for r in reps.values()
            if wanted in (r.username.lower(), r.name.lower()) or r.id == rep
        ]
        if not found_reps:
            names = sorted({r.username for r in reps.values()} | {r.name for r in reps.values()})
            raise _suggest(rep, names, "rep")
        scope.rep = found_reps[0]
    return scope


def subtree(territories: dict[str, Territory], root: str) -> set[str]:
    out = {root}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for t in territories.values():
            if t.parent_id == parent and t.id not in out:
                out.add(t.id)
                frontier.append(t.id)
    return out


def territory_at(
    conn: sqlite3.Connection, entity: str, moment: str
) -> tuple[dict[str, str | None], set[str]]:
    """Where each ``entity`` ('referral', 'account') sat at ``moment`` according to its assignment
    history, for the rows that have one, and the ids that moved between territories after their
    first placement. Rows with no history are where their own ``territory_id`` says."""
    at: dict[str, str | None] = {}
    after: dict[str, str | None] = {}
    placements: dict[str, int] = {}
    for entity_id, src, dst, when in conn.execute(
        "SELECT entity_id, from_territory_id, to_territory_id, at FROM assignment_history "
        "WHERE entity = ? ORDER BY entity_id, at",
        [entity],
    ):
        if src is not None and src != dst:
            placements[entity_id] = placements.get(entity_id, 0) + 1
        if when < moment:
            at[entity_id] = dst
        elif entity_id not in at and entity_id not in after:
            after[entity_id] = src  # first move after the moment: where it was before it
    for entity_id, src in after.items():
        at.setdefault(entity_id, src)
    return at, set(placements)
