"""Editing accounts: create, update with validation, delete, and undo of the last edit.

Every value goes through the same cleaners as the import (so a typed value and an imported one obey
the same rules) and a refused value raises :class:`ValidationError` naming the field. Writes go
through the Writer, so each edit reaches the sync outbox in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fieldrep.services.context import Context
from fieldrep.services.imports import validation as v
from fieldrep.store.errors import StoreError, ValidationError

EDITABLE = (
    "name",
    "industry",
    "size",
    "employees",
    "potential",
    "status",
    "street",
    "city",
    "region",
    "postal_code",
    "country",
    "phone",
    "email",
    "website",
    "notes",
    "lat",
    "lon",
    "geocode_quality",
    "geocode_source",
    "territory_id",
    "owner_id",
    "locked",
)
_ADDRESS = ("street", "city", "region", "postal_code", "country")
# Fields the territory engine looks at: changing one re-runs assignment on save (issue 5).
_ASSIGNMENT_INPUTS = (
    "lat", "lon", "postal_code", "country", "region", "industry", "size", "potential", "status"
)  # fmt: skip


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def clean(values: Mapping[str, Any]) -> dict[str, Any]:
    """Validated, normalised values; raises ValidationError(field=...) on the first bad one."""
    out: dict[str, Any] = {}
    try:
        for name, value in values.items():
            if name not in EDITABLE:
                raise ValidationError(
                    f"accounts have no editable field {name!r}", table="accounts", field=name
                )
            raw = _text(value)
            if name in ("name", "industry", "street", "city", "region", "notes"):
                out[name] = v.clean_text(name, raw)
            elif name == "country":
                out[name] = v.parse_country(raw)
            elif name == "postal_code":
                country = out.get("country") or values.get("country") or "US"
                out[name] = v.parse_postal_code(raw, str(country))
            elif name == "employees":
                out[name] = value if isinstance(value, int) else v.parse_employees(raw)
            elif name == "size":
                out[name] = v.size_band(raw, None)
            elif name == "potential":
                number = v.parse_number("potential", raw)
                if number is not None and number < 0:
                    raise v.FieldProblem("potential", "cannot be negative")
                out[name] = number
            elif name == "status":
                out[name] = v.parse_status(raw)
            elif name == "phone":
                out[name] = v.parse_phone(raw)
            elif name == "email":
                out[name] = v.parse_email(raw)
            elif name == "website":
                out[name] = v.parse_website(raw)
            elif name in ("lat", "lon"):
                out[name] = v.parse_coordinate(name, raw)
            else:
                out[name] = value
    except v.FieldProblem as exc:
        raise ValidationError(
            f"{exc.field.replace('_', ' ')} {exc.reason}", table="accounts", field=exc.field
        ) from None
    if "name" in out and not out["name"]:
        raise ValidationError("name is required", table="accounts", field="name")
    return out


@dataclass
class Edit:
    account_id: str
    before: dict[str, Any]  # the changed fields' values before the edit
    label: str


class AccountsService:
    """Account edits for one context, remembering the last edit so it can be undone."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.last_edit: Edit | None = None
        # One sentence about where the last created account went, for the dialog to show.
        self.last_note: str | None = None

    def create(self, values: Mapping[str, Any]) -> str:
        data = clean(values)
        if not data.get("name"):
            raise ValidationError("name is required", table="accounts", field="name")
        if data.get("lat") is not None and data.get("lon") is not None:
            data.setdefault("geocode_quality", "manual")
            data.setdefault("geocode_source", "manual")
        elif any(data.get(k) for k in _ADDRESS):
            data.update(self._place(data))
        if self.ctx.user_id and "owner_id" not in data:
            data["owner_id"] = self.ctx.user_id
        with self.ctx.writer.transaction():
            account_id = self.ctx.writer.insert("accounts", data)
            if "territory_id" not in data:
                self._assign(str(account_id))
        self.last_edit = None
        self.last_note = self._placement_note(str(account_id))
        return str(account_id)

    def _placement_note(self, account_id: str) -> str | None:
        """What the account dialog tells after a save: kept as yours, or handed to a colleague."""
        row = self.ctx.conn.execute(
            "SELECT a.territory_id, a.owner_id, t.name, u.display_name, u.username"
            " FROM accounts a LEFT JOIN territories t ON t.id = a.territory_id"
            " LEFT JOIN users u ON u.id = a.owner_id WHERE a.id = ?",
            (account_id,),
        ).fetchone()
        if row is None:
            return None
        territory_id, owner_id, territory, display, username = row
        me = self.ctx.user_id
        if territory_id is None:
            return "This account matches no territory: kept as yours" if owner_id == me else None
        if me and owner_id and owner_id != me:
            who = ", ".join(x for x in (display or username, territory) if x)
            return f"Handed to {who}"
        return None

    def handed_away(self, account_id: str) -> str | None:
        """Why a rep may not change this account any more (the server would refuse the edit): it
        was handed to a colleague's territory. ``None`` when the account is theirs to change."""
        if self.ctx.role() != "rep" or not self.ctx.user_id:
            return None
        me = self.ctx.user_id
        row = self.ctx.conn.execute(
            "SELECT a.owner_id, a.territory_id, u.display_name, u.username, t.name"
            " FROM accounts a LEFT JOIN users u ON u.id = a.owner_id"
            " LEFT JOIN territories t ON t.id = a.territory_id WHERE a.id = ?",
            (account_id,),
        ).fetchone()
        if row is None or not row[0] or row[0] == me:
            return None
        _owner_id, territory_id, display, username, territory = row
        if territory_id and territory_id in self._my_territories(me):
            return None
        where = ", ".join(x for x in (display or username, territory) if x) or "another team"
        return f"Handed to {where}: only they or their manager can change it now."

    def _my_territories(self, me: str) -> set[str]:
        """The territories a rep may write in, as the server counts them: where they are an active
        member or the owner, and every territory below those."""
        conn = self.ctx.conn
        direct = {
            r[0]
            for r in conn.execute(
                "SELECT territory_id FROM territory_members WHERE user_id = ? AND active = 1"
                " UNION SELECT id FROM territories WHERE owner_id = ?",
                (me, me),
            )
        }
        children: dict[str, list[str]] = {}
        for tid, parent in conn.execute("SELECT id, parent_id FROM territories"):
            if parent:
                children.setdefault(parent, []).append(tid)
        out: set[str] = set()
        stack = [t for t in direct if t]
        while stack:
            tid = stack.pop()
            if tid not in out:
                out.add(tid)
                stack.extend(children.get(tid, ()))
        return out

    def _assign(self, account_id: str) -> None:
        """Assign-on-save: territory and owner by the territory engine, with history."""
        from fieldrep.services.territories.assignment import assign_account

        assign_account(self.ctx, account_id)

    def _place(self, data: Mapping[str, Any]) -> dict[str, Any]:
        from fieldrep.geo.geocoding import Address, OfflineGeocoder

        result = OfflineGeocoder().geocode(Address.from_row(data))
        if result is None:
            return {"lat": None, "lon": None, "geocode_quality": None, "geocode_source": None}
        return result.as_fields()

    def update(self, account_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Apply ``changes``; returns the fields that really changed. A changed address moves the
        pin to the new address's centroid unless the pin was placed by hand."""
        data = clean(changes)
        current = self._current(account_id)
        data = {k: val for k, val in data.items() if current.get(k) != val}
        if not data:
            return {}
        if (
            any(k in data for k in _ADDRESS)
            and "lat" not in data
            and (current.get("geocode_quality") != "manual")
        ):
            merged = {**current, **data}
            data.update({k: val for k, val in self._place(merged).items() if current.get(k) != val})
        if "lat" in data or "lon" in data:
            data.setdefault("geocode_quality", "manual")
            data.setdefault("geocode_source", "manual")
        before = {k: current.get(k) for k in data}
        with self.ctx.writer.transaction():
            changed = self.ctx.writer.update("accounts", account_id, data)
            if any(k in changed for k in _ASSIGNMENT_INPUTS) and not (
                {"territory_id", "owner_id"} & set(data)
            ):
                self._assign(account_id)
        if changed:
            shown = ", ".join(k for k in data if k not in ("geocode_source",))
            self.last_edit = Edit(account_id, before, f"edit of {shown}")
        return changed

    def set_location(self, account_id: str, lat: float, lon: float) -> dict[str, Any]:
        """A pin placed or dragged by the user: quality 'manual'."""
        return self.update(
            account_id,
            {
                "lat": float(lat),
                "lon": float(lon),
                "geocode_quality": "manual",
                "geocode_source": "manual",
            },
        )

    def undo(self) -> Edit | None:
        """Revert the last edit (only the fields it changed); returns it, or None if none."""
        edit = self.last_edit
        if edit is None:
            return None
        with self.ctx.writer.transaction():
            self.ctx.writer.update("accounts", edit.account_id, edit.before)
            if any(k in edit.before for k in _ASSIGNMENT_INPUTS):
                self._assign(edit.account_id)
        self.last_edit = None
        return edit

    def delete(self, account_id: str) -> bool:
        """Delete an account (the UI asks for confirmation first); it leaves a sync tombstone."""
        self.last_edit = None
        return bool(self.ctx.writer.delete("accounts", account_id))

    def _current(self, account_id: str) -> dict[str, Any]:
        cur = self.ctx.conn.execute("SELECT * FROM accounts WHERE id = ?", (account_id,))
        row = cur.fetchone()
        if row is None:
            raise StoreError(f"account {account_id} does not exist (it may have been deleted)")
        return dict(zip([d[0] for d in cur.description], row, strict=True))
