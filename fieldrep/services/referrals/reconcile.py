"""The same person referred by two reps while both were offline: after a sync both referrals are on
the laptop. :func:`link_duplicates` links each later capture to the first (which keeps the
attribution), as a capture would have done had it seen the first, with an event on both.

Only the first referral's owner (or a manager or admin) links, so two laptops do not both write
it; the values written are the same whoever writes them (earliest capture, then lowest id), so a
sync merges them to one answer. A later referral someone already worked (past New) is left alone.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fieldrep.domain.vocabulary import MANAGER_ROLES
from fieldrep.services.context import Context
from fieldrep.services.referrals.match_index import pending, refresh
from fieldrep.services.referrals.model import EventKind, Flag
from fieldrep.services.referrals.routing import user_name
from fieldrep.store.writer import utc_now

log = logging.getLogger(__name__)

# Past this many rows waiting to be filed in the match index (a first sync of a big book), linking
# after the sync is left to the Referrals page, whose background filing goes in steps.
AFTER_SYNC_MAX_PENDING = 20_000

_SHARED = (
    "SELECT k.key, r.id, r.created_at, r.owner_id, r.stage, r.flags, r.captured_by_id,"
    " r.duplicate_of_id FROM match_keys k JOIN referrals r ON r.id = k.row_id"
    " WHERE k.tbl = 'referrals' AND (k.key LIKE 'p:%' OR k.key LIKE 'e:%')"
    " AND r.stage NOT IN ('won', 'lost') AND k.key IN (SELECT key FROM match_keys"
    " WHERE tbl = 'referrals' GROUP BY key HAVING count(*) > 1) ORDER BY k.key, r.created_at, r.id"
)


def link_duplicates(ctx: Context) -> list[tuple[str, str]]:
    """Link later captures of the same person to the first; returns (later, first) pairs."""
    me = ctx.user()
    if me is None:
        return []
    manager = me.get("role") in MANAGER_ROLES
    linked: list[tuple[str, str]] = []
    with ctx.writer.transaction() as conn:
        refresh(conn)
        groups: dict[str, list[dict[str, Any]]] = {}
        cur = conn.execute(_SHARED)
        cols = [d[0] for d in cur.description]
        for row in cur.fetchall():
            item = dict(zip(cols, row, strict=True))
            groups.setdefault(item["key"], []).append(item)
        done: set[str] = set()
        for key, rows in groups.items():
            first = next((r for r in rows if not r["duplicate_of_id"]), None)
            if first is None or not (manager or first["owner_id"] == me["id"]):
                continue
            for later in rows:
                if later is first or later["duplicate_of_id"] or later["id"] in done:
                    continue
                if later["stage"] != "new" or later["id"] == first["id"]:
                    continue
                flags = json.loads(later["flags"] or "[]")
                if Flag.ALREADY_REFERRED.value not in flags:
                    flags.append(Flag.ALREADY_REFERRED.value)
                ctx.writer.update(
                    "referrals",
                    later["id"],
                    {
                        "duplicate_of_id": first["id"],
                        "owner_id": first["owner_id"],
                        "flags": json.dumps(flags),
                    },
                )
                what = "phone" if key.startswith("p:") else "e-mail"
                at = utc_now()
                who = user_name(ctx, later["captured_by_id"]) or "a rep"
                ctx.writer.insert_many(
                    "referral_events",
                    [
                        {
                            "referral_id": later["id"],
                            "at": at,
                            "user_id": me["id"],
                            "kind": EventKind.DUPLICATE.value,
                            "to_value": first["id"],
                            "reason": f"already referred (same {what} {key[2:]}, captured"
                            f" {first['created_at'][:10]} while offline apart); the first"
                            " referral keeps the attribution",
                        },
                        {
                            "referral_id": first["id"],
                            "at": at,
                            "user_id": me["id"],
                            "kind": EventKind.DUPLICATE.value,
                            "to_value": later["id"],
                            "reason": f"referred again (same {what}), captured by {who} on"
                            f" {later['created_at'][:10]}; linked here after sync",
                        },
                    ],
                )
                done.add(later["id"])
                linked.append((later["id"], first["id"]))
    return linked


def link_after_pull(ctx: Context, pulled: int) -> list[tuple[str, str]]:
    """What the sync session runs once a sync has pulled rows (on its worker, in the core): the
    same person captured by two reps offline is linked at once, not only when someone opens the
    Referrals page. Never fails the sync: a problem is logged and the page links on its next show."""
    if pulled <= 0 or pending(ctx.conn) > AFTER_SYNC_MAX_PENDING:
        return []
    try:
        linked = link_duplicates(ctx)
    except Exception:
        log.exception("linking referrals captured twice offline failed; the Referrals page retries")
        return []
    if linked:
        log.info("linked %d referral(s) captured twice while offline", len(linked))
    return linked
