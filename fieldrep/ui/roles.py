"""What the signed-in user's role lets them do in the app, and how a disabled tool says why.

The server refuses a rep's writes to territory definitions, memberships, quotas and the like
(``fieldrep.server.scope``); the app must not invite them. A database nobody signed in to (a local
book, the demo) has nobody to refuse it, so every tool works there. Pages re-read the access when
``users`` or ``local_meta`` change (signing in or out, the first sync bringing the user's row), so a
role change needs no restart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from PySide6.QtWidgets import QWidget

from fieldrep.domain.vocabulary import MANAGER_ROLES
from fieldrep.services.context import Context

# The tables whose change can change the access (the user's row, who is signed in).
ACCESS_TABLES = ("users", "local_meta")
_TIP_PROPERTY = "fieldrepUsableTip"


@dataclass(frozen=True)
class Access:
    """Whether the manager's tools are usable, and if not, the sentence a tooltip gives."""

    manager_tools: bool
    reason: str = ""
    role: str | None = None


def access_for(context: Context) -> Access:
    role = context.role()
    if role in MANAGER_ROLES:
        return Access(True, role=role)
    if role is not None:
        user = context.user() or {}
        name = user.get("display_name") or user.get("username") or "you"
        return Access(
            False,
            f"Only a manager can do this: {name} is signed in as a {role}."
            " Ask your manager to change territories, quotas or members.",
            role,
        )
    if context.user_id is not None and context.signed_in:
        return Access(
            False,
            "Waiting for the server to confirm your role: this is usable after the first"
            " sync if you are a manager.",
        )
    return Access(True)  # a local book: no server to refuse anything


def apply_access(widgets: Iterable[QWidget], access: Access) -> None:
    """Enable the manager-only ``widgets`` or disable them with the reason as their tooltip (the
    tooltip they had is given back when they become usable again)."""
    for widget in widgets:
        usable_tip = widget.property(_TIP_PROPERTY)
        if usable_tip is None:
            usable_tip = widget.toolTip()
            widget.setProperty(_TIP_PROPERTY, usable_tip)
        widget.setEnabled(access.manager_tools)
        widget.setToolTip(str(usable_tip) if access.manager_tools else access.reason)
