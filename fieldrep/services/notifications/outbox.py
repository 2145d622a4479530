"""Writing notifications into the outbox, in the caller's transaction.

E-mails go only to a contact who consented (``contacts.referral_consent``) and has an address; a
message that may not be sent is still written, as ``skipped`` with the reason, so nobody wonders
why it never arrived. Each message remembers the laptop that wrote it: only that one sends it, so
a synced outbox is not sent once per laptop.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from fieldrep.domain.vocabulary import MANAGER_ROLES
from fieldrep.services.context import Context
from fieldrep.services.notifications import templates
from fieldrep.store.writer import utc_now


def _one(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> dict[str, Any] | None:
    cur = conn.execute(sql, params)
    row = cur.fetchone()
    return None if row is None else dict(zip([d[0] for d in cur.description], row, strict=True))


def notify_user(
    ctx: Context, user_id: str, subject: str, body: str, table: str, row_id: str
) -> str:
    """An in-app notification for a rep or manager."""
    return ctx.writer.insert(
        "notifications",
        {
            "recipient_user_id": user_id,
            "channel": "app",
            "subject": subject,
            "body": body,
            "related_table": table,
            "related_id": row_id,
            "status": "queued",
            "origin_device": ctx.writer.device_id,
        },
    )


def notify_managers(ctx: Context, subject: str, body: str, table: str, row_id: str) -> list[str]:
    """Tell the managers, as far as this laptop may: the server accepts a notification only for
    someone in the writer's scope, so a manager's laptop writes one for its manager (an admin's
    for every manager) and a rep's none; a manager sees the rewards awaiting approval anyway
    (:func:`awaiting_approval_count`, derived from the rewards they can see). With nobody signed
    in (a local database never synced) every manager is told."""
    me = ctx.user()
    if me is not None and me.get("role") not in MANAGER_ROLES:
        return []
    if me is not None and me.get("role") == "manager":
        ids = [str(me["id"])]
    else:
        ids = [
            r[0]
            for r in ctx.conn.execute(
                "SELECT id FROM users WHERE role IN ('manager', 'admin') AND active = 1 ORDER BY id"
            )
        ]
    return [notify_user(ctx, uid, subject, body, table, row_id) for uid in ids]


def awaiting_approval_count(conn: sqlite3.Connection) -> int:
    """Rewards waiting for a manager's decision, whoever's laptop computed them."""
    return int(
        conn.execute(
            "SELECT count(*) FROM rewards WHERE status IN ('awaiting_approval', 'pending')"
            " AND kind = 'reward'"
        ).fetchone()[0]
    )


def email_contact(
    ctx: Context,
    contact_id: str | None,
    template_name: str,
    values: dict[str, str],
    table: str,
    row_id: str,
) -> str | None:
    """Render ``template_name`` for the contact into the outbox; None when there is no contact."""
    if contact_id is None:
        return None
    conn = ctx.conn
    contact = _one(
        conn,
        "SELECT first_name, last_name, email, referral_consent FROM contacts WHERE id = ?",
        (contact_id,),
    )
    if contact is None:
        return None
    name = f"{contact['first_name']} {contact['last_name']}".strip()
    subject, body = templates.render(
        templates.load(conn, template_name), {"referrer_name": name, **values}
    )
    status, error = "queued", None
    if not contact["referral_consent"]:
        status, error = "skipped", "no consent to referral e-mails"
    elif not (contact["email"] or "").strip():
        status, error = "skipped", "the contact has no e-mail address"
    return ctx.writer.insert(
        "notifications",
        {
            # the colleague it is sent on behalf of: keeps it in their sync scope (the server
            # scopes notifications by user) and shows them a failure
            "recipient_user_id": ctx.user_id,
            "recipient_contact_id": contact_id,
            "channel": "email",
            "subject": subject,
            "body": body,
            "related_table": table,
            "related_id": row_id,
            "status": status,
            "template": template_name,
            "to_address": (contact["email"] or "").strip() or None,
            "last_error": error,
            "origin_device": ctx.writer.device_id,
        },
    )


def _referral_values(conn: sqlite3.Connection, referral_id: str) -> dict[str, Any] | None:
    return _one(
        conn,
        "SELECT r.referrer_contact_id, r.referred_name, coalesce(r.referred_company, '')"
        " AS referred_company, coalesce(u.display_name, u.username, '') AS rep_name"
        " FROM referrals r LEFT JOIN users u ON u.id = r.captured_by_id WHERE r.id = ?",
        (referral_id,),
    )


def referrer_status_changed(ctx: Context, referral_id: str, stage: str) -> str | None:
    ref = _referral_values(ctx.conn, referral_id)
    if ref is None:
        return None
    values = {k: str(ref[k]) for k in ("referred_name", "referred_company", "rep_name")}
    values["stage"] = stage
    return email_contact(
        ctx, ref["referrer_contact_id"], "referral_status", values, "referrals", referral_id
    )


def reward_issued(
    ctx: Context, reward_id: str, contact_id: str | None, amount: str, explanation: str
) -> str | None:
    row = _one(ctx.conn, "SELECT referral_id FROM rewards WHERE id = ?", (reward_id,))
    ref = _referral_values(ctx.conn, row["referral_id"]) if row else None
    values = {"amount": amount, "explanation": explanation}
    if ref is not None:
        values |= {k: str(ref[k]) for k in ("referred_name", "referred_company", "rep_name")}
    return email_contact(ctx, contact_id, "reward_issued", values, "rewards", reward_id)


def unread(conn: sqlite3.Connection, user_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """The in-app notifications ``user_id`` has not read, newest first (the notification centre)."""
    cur = conn.execute(
        "SELECT id, subject, body, related_table, related_id, created_at FROM notifications"
        " WHERE recipient_user_id = ? AND channel = 'app' AND status != 'read'"
        " ORDER BY created_at DESC, id DESC LIMIT ?",
        (user_id, limit),
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def unread_count(conn: sqlite3.Connection, user_id: str) -> int:
    """For the status bar's badge (one indexed count)."""
    return int(
        conn.execute(
            "SELECT count(*) FROM notifications WHERE recipient_user_id = ? AND channel = 'app'"
            " AND status != 'read'",
            (user_id,),
        ).fetchone()[0]
    )


def mark_read(ctx: Context, ids: list[str]) -> int:
    """Mark the signed-in user's notifications read (someone else's are left alone)."""
    done = 0
    with ctx.writer.transaction() as conn:
        for nid in ids:
            row = conn.execute(
                "SELECT status FROM notifications WHERE id = ? AND recipient_user_id = ?",
                (nid, ctx.user_id),
            ).fetchone()
            if row is not None and row[0] != "read":
                ctx.writer.update("notifications", nid, {"status": "read", "read_at": utc_now()})
                done += 1
    return done
