"""Capturing a referral: check -> normalise -> duplicate check -> route -> SLA and tasks, one write.

:meth:`ReferralService.capture` refuses a referral nobody could act on (no name, no way to reach the
person, no consent, a phone or e-mail that cannot be valid: :class:`CaptureRefused` names the field
and keeps what was typed), then decides one :class:`~fieldrep.services.referrals.model.Outcome` and
writes the referral, its events (created, normalised, duplicates, override, assignment, SLA), the
assignment history and the tasks in ONE transaction through the Writer, so they sync together. A
possible duplicate is not saved until the rep gives a reason to override it.

Kept whole: one service, :class:`ReferralService`, whose steps (check, normalise, duplicates,
route, SLA and tasks) run in that order inside one write.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fieldrep.geo.geocoding import OfflineGeocoder
from fieldrep.services.context import Context
from fieldrep.services.referrals import normalise as norm
from fieldrep.services.referrals import sla
from fieldrep.services.referrals.drafts import CaptureRefused, CaptureResult, Draft
from fieldrep.services.referrals.duplicates import DuplicateChecker, Match, Query
from fieldrep.services.referrals.match_index import NameIndex
from fieldrep.services.referrals.model import CHANNELS, EventKind, Flag, Outcome, Stage
from fieldrep.services.referrals.routing import Route, place, route, user_name
from fieldrep.services.territories.lead_routing import Routers

# event(kind, frm=..., to=..., reason=...) -> a referral_events row (see ReferralService._events_of)
EventMaker = Callable[..., dict[str, Any]]


def _clean(text: str | None, limit: int, what: str) -> str:
    value = " ".join((text or "").split())
    if len(value) > limit:
        raise CaptureRefused(f"the {what} is longer than {limit} characters", what, value)
    return value


class ReferralService:
    """Referral capture for one open database; keeps the name index and geocoder between calls."""

    def __init__(self, ctx: Context, geocoder: OfflineGeocoder | None = None) -> None:
        self.ctx = ctx
        self.names = NameIndex()
        self._geocoder = geocoder
        self.routers: Routers | None = None  # set for a batch (an import), so routing is fair

    @property
    def geocoder(self) -> OfflineGeocoder:
        if self._geocoder is None:
            self._geocoder = OfflineGeocoder()
        return self._geocoder

    # -- the pieces -------------------------------------------------------------------------------

    def referrer(self, account_id: str | None) -> dict[str, Any] | None:
        if not account_id:
            return None
        cur = self.ctx.conn.execute(
            "SELECT id, name, country, owner_id FROM accounts WHERE id = ?", (account_id,)
        )
        row = cur.fetchone()
        return None if row is None else dict(zip([d[0] for d in cur.description], row, strict=True))

    def normalised(self, draft: Draft) -> tuple[dict[str, Any], Query, str]:
        """The row's values and the duplicate query; raises :class:`CaptureRefused`."""
        name = _clean(draft.referred_name, 200, "name")
        company = _clean(draft.referred_company, 200, "company")
        if not name and not company:
            raise CaptureRefused("say who was referred: a name or a company", "name")
        if not name:
            name = company
        referrer = self.referrer(draft.referrer_account_id)
        if draft.referrer_account_id and referrer is None:
            raise CaptureRefused(
                "the referring account no longer exists on this laptop", "referrer"
            )
        country = (draft.country or (referrer or {}).get("country") or "US").strip().upper()
        try:
            phone = norm.phone(draft.phone, country)
            email = norm.email(draft.email)
        except norm.BadValue as exc:
            raise CaptureRefused(
                f"the {exc.field} {exc.typed!r} {exc.reason}; fix it or leave it empty",
                exc.field,
                exc.typed,
            ) from exc
        street = _clean(draft.street, 300, "street")
        postal = _clean(draft.postal_code, 20, "postal code").upper()
        city = _clean(draft.city, 100, "city")
        if phone is None and email is None and not street:
            raise CaptureRefused(
                "add a phone, an e-mail or an address: with none, nobody can contact them", "phone"
            )
        if not draft.consent:
            raise CaptureRefused(
                "tick that they agreed to be contacted: their contact details are saved only with"
                " consent",
                "consent",
            )
        if draft.channel not in CHANNELS:
            raise CaptureRefused(f"channel must be one of {', '.join(CHANNELS)}", "channel")
        key = norm.company_key(company) if company else ""
        notes = (draft.notes or "").strip()
        relationship = _clean(draft.relationship, 200, "relationship")
        values = {
            "referrer_account_id": draft.referrer_account_id,
            "referrer_contact_id": draft.referrer_contact_id,
            "referred_name": name,
            "referred_company": company or None,
            "referred_email": email,
            "referred_phone": phone.e164 if phone else None,
            "referred_street": street or None,
            "referred_city": city or None,
            "referred_postal_code": postal or None,
            "referred_country": country,
            "match_name": key or None,
            "match_email": email,
            "match_phone": phone.e164 if phone else None,
            "captured_by_id": draft.captured_by_id or self.ctx.user_id,
            "visit_id": draft.visit_id,
            "channel": draft.channel,
            "notes": notes or None,
            "relationship": relationship or None,
        }
        query = Query(
            person=norm.person_key(name),
            company_key=key,
            sorted_name=norm.sorted_name(key) if key else "",
            phone=phone.e164 if phone else None,
            phone_display=phone.display if phone else "",
            email=email,
            email_domain=norm.email_domain(email),
            address_key=norm.address_key(street, postal),
            postal_code=postal or None,
            referrer_account_id=draft.referrer_account_id,
            referrer_contact_id=draft.referrer_contact_id,
        )
        shown = ", ".join(
            p
            for p in (
                f"phone {phone.display}" if phone else "",
                f"e-mail {email}" if email else "",
                f"company key {key!r}" if key else "",
                f"address key {query.address_key}" if query.address_key else "",
            )
            if p
        )
        return values, query, shown

    def check(self, query: Query) -> list[Match]:
        """The matches of ``query`` (files queued rows first; call inside a write transaction)."""
        self.names.bring_up_to_date(self.ctx.conn)
        return DuplicateChecker(self.ctx.conn, self.names).check(query)

    # -- capture ----------------------------------------------------------------------------------

    def capture(self, draft: Draft) -> CaptureResult:
        values, query, shown = self.normalised(draft)
        located = place(
            self.geocoder,
            values["referred_postal_code"],
            values["referred_city"],
            draft.region,
            values["referred_country"],
        )
        if located is not None:
            query = Query(**{**query.__dict__, "lat": located.lat, "lon": located.lon})
        moment = draft.captured_at or datetime.now(UTC)
        at = sla.iso(moment)
        by = values["captured_by_id"]
        writer = self.ctx.writer
        with writer.transaction() as conn:
            matches = self.check(query)
            selfs = [m for m in matches if m.self_referral]
            others = [m for m in matches if not m.self_referral]
            strong_account = next(
                (m for m in others if m.strong and m.table in ("accounts", "contacts")), None
            )
            strong_referral = next((m for m in others if m.strong and m.table == "referrals"), None)
            weak = [m for m in others if not m.strong]
            flags = [Flag.SELF_REFERRAL.value] if selfs else []
            override = " ".join(draft.override_reason.split())
            if strong_account is not None and strong_account.account_id:
                outcome = Outcome.ALREADY_CUSTOMER
            elif strong_referral is not None:
                outcome = Outcome.ALREADY_REFERRED
            elif weak and not override:
                return CaptureResult(
                    Outcome.POSSIBLE_DUPLICATE,
                    None,
                    "Possible duplicate: "
                    + "; ".join(m.explain() for m in weak[:3])
                    + ". Save it anyway with a reason, or cancel.",
                    matches,
                    flags=flags,
                )
            else:
                outcome = Outcome.OVERRIDDEN if weak else Outcome.NEW_LEAD
            values["created_at"] = values["updated_at"] = values["consent_at"] = at
            if outcome is Outcome.ALREADY_CUSTOMER:
                assert strong_account is not None
                return self._already_customer(values, strong_account, matches, flags, shown, at)
            if outcome is Outcome.ALREADY_REFERRED:
                assert strong_referral is not None
                return self._already_referred(values, strong_referral, matches, flags, shown, at)
            routed = route(
                self.ctx,
                postal_code=values["referred_postal_code"],
                region=draft.region,
                country=values["referred_country"],
                located=located,
                captured_by=by,
                routers=self.routers,
            )
            due = sla.due_at(conn, Stage.NEW, routed.territory_id, moment)
            if weak:
                flags.append(Flag.DUPLICATE_OVERRIDDEN.value)
            values.update(
                territory_id=routed.territory_id,
                owner_id=routed.owner_id,
                stage=Stage.NEW.value,
                sla_due_at=due,
                flags=json.dumps(flags),
            )
            referral_id, event, events = self._insert_referral(values, shown, at)
            events += [
                event(EventKind.DUPLICATE, reason=f"self-referral: {m.explain()}") for m in selfs
            ]
            events += [
                event(EventKind.DUPLICATE, to=m.row_id, reason=f"possible duplicate: {m.explain()}")
                for m in weak
            ]
            if weak:
                events.append(event(EventKind.OVERRIDE, to="possible_duplicate", reason=override))
            if not matches:
                events.append(
                    event(
                        EventKind.NOTE,
                        to="checked",
                        reason="no duplicate among accounts, contacts and open referrals",
                    )
                )
            events.append(event(EventKind.ASSIGNMENT, to=routed.owner_id, reason=routed.reason))
            writer.insert(
                "assignment_history",
                {
                    "entity": "referral",
                    "entity_id": referral_id,
                    "from_territory_id": None,
                    "to_territory_id": routed.territory_id,
                    "from_owner_id": None,
                    "to_owner_id": routed.owner_id,
                    "reason": routed.reason,
                    "by_user_id": by,
                    "at": at,
                },
            )
            tasks = self._tasks(referral_id, values, routed, due, moment)
            events.append(
                event(
                    EventKind.NOTE,
                    to="sla",
                    reason=f"first contact due by {(due or '')[:10]}; "
                    + (
                        f"follow-up task for {routed.owner_name or 'the owner'}"
                        if self.may_task(routed.owner_id, by)
                        else "no owner yet: it is due on the board"
                    )
                    + "; thank-you task for the capturing rep",
                )
            )
            writer.insert_many("referral_events", events)
        message = routed.sentence + f" First contact due by {(due or '')[:10]}."
        if selfs:
            message += " Flagged as a self-referral: " + selfs[0].explain() + "."
        if weak:
            message += " Saved despite a possible duplicate: " + weak[0].explain() + "."
        return CaptureResult(outcome, referral_id, message, matches, routed, flags, due, tasks)

    # -- outcomes ---------------------------------------------------------------------------------

    def _already_customer(
        self,
        values: dict[str, Any],
        match: Match,
        matches: list[Match],
        flags: list[str],
        shown: str,
        at: str,
    ) -> CaptureResult:
        account = match.account_id
        row = self.ctx.conn.execute(
            "SELECT name, territory_id, owner_id, status FROM accounts WHERE id = ?", (account,)
        ).fetchone()
        name, territory, owner, status = row if row else ("the account", None, None, "")
        flags = [*flags, Flag.ALREADY_CUSTOMER.value]
        what = "Already a customer" if status == "active" else "Already an account"
        values.update(
            territory_id=territory,
            owner_id=owner or values["captured_by_id"],
            stage=Stage.LOST.value,
            lost_reason=f"{what.lower()}: {name}",
            converted_account_id=account,
            flags=json.dumps(flags),
        )
        referral_id, event, events = self._insert_referral(values, shown, at)
        events.append(
            event(
                EventKind.DUPLICATE,
                to=account,
                reason=f"{what.lower()}: {match.explain()}; linked to the account, no new lead",
            )
        )
        events.append(
            event(EventKind.STAGE, frm="new", to="lost", reason=f"{what.lower()}: {name}")
        )
        self.ctx.writer.insert_many("referral_events", events)
        owner_name = user_name(self.ctx, owner)
        message = (
            f"{what}: {match.explain()}. Linked to {name}"
            + (f" ({owner_name}'s)" if owner_name else "")
            + "; no new lead was created."
        )
        return CaptureResult(
            Outcome.ALREADY_CUSTOMER, referral_id, message, matches, None, flags, linked_to=account
        )

    def _already_referred(
        self,
        values: dict[str, Any],
        match: Match,
        matches: list[Match],
        flags: list[str],
        shown: str,
        at: str,
    ) -> CaptureResult:
        first = match.info
        flags = [*flags, Flag.ALREADY_REFERRED.value]
        values.update(
            territory_id=first.get("territory_id"),
            owner_id=first.get("owner_id"),
            stage=Stage.NEW.value,
            duplicate_of_id=match.row_id,
            flags=json.dumps(flags),
        )
        by = values["captured_by_id"]
        referral_id, event, events = self._insert_referral(values, shown, at)
        events.append(
            event(
                EventKind.DUPLICATE,
                to=match.row_id,
                reason=f"already referred: {match.explain()}; the first"
                " referral keeps the attribution",
            )
        )
        referrer = self.referrer(values["referrer_account_id"])
        on_first = self._events_of(match.row_id, by, at)
        events.append(
            on_first(
                EventKind.DUPLICATE,
                to=referral_id,
                reason=f"referred again by {(referrer or {}).get('name') or 'someone'}"
                f" (captured by {user_name(self.ctx, by) or 'a rep'}) on {at[:10]}",
            )
        )
        self.ctx.writer.insert_many("referral_events", events)
        message = (
            f"Already referred: {match.explain()}. The first referral keeps the credit; this one"
            " is recorded on it."
        )
        return CaptureResult(
            Outcome.ALREADY_REFERRED,
            referral_id,
            message,
            matches,
            None,
            flags,
            linked_to=match.row_id,
        )

    # -- rows -------------------------------------------------------------------------------------

    def _insert_referral(
        self, values: dict[str, Any], shown: str, at: str
    ) -> tuple[str, EventMaker, list[dict[str, Any]]]:
        """Insert the referral; its id, an event maker for it and its first events (captured,
        normalised), for the caller to add to and write."""
        by = values["captured_by_id"]
        referral_id = str(self.ctx.writer.insert("referrals", values))
        return (
            referral_id,
            self._events_of(referral_id, by, at),
            self._first_events(referral_id, values, shown, by, at),
        )

    @classmethod
    def _events_of(cls, referral_id: str, user: str | None, at: str) -> EventMaker:
        """``event(kind, frm=, to=, reason=)`` for one referral, by one user, at one moment."""

        def event(
            kind: EventKind,
            *,
            frm: str | None = None,
            to: str | None = None,
            reason: str | None = None,
        ) -> dict[str, Any]:
            return cls._event(referral_id, kind, user, at, frm=frm, to=to, reason=reason)

        return event

    @staticmethod
    def _event(
        referral_id: str,
        kind: EventKind,
        user: str | None,
        at: str,
        *,
        frm: str | None = None,
        to: str | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]:
        return {
            "referral_id": referral_id,
            "at": at,
            "user_id": user,
            "kind": kind.value,
            "from_value": frm,
            "to_value": to,
            "reason": reason,
        }

    def _first_events(
        self, referral_id: str, values: dict[str, Any], shown: str, by: str | None, at: str
    ) -> list[dict[str, Any]]:
        referrer = self.referrer(values["referrer_account_id"])
        how = f"at a visit to {referrer['name']}" if referrer else f"by {values['channel']}"
        return [
            self._event(
                referral_id,
                EventKind.CREATED,
                by,
                at,
                to="new",
                reason=f"captured by {user_name(self.ctx, by) or 'an unknown rep'} {how};"
                " consent to be contacted given",
            ),
            self._event(
                referral_id,
                EventKind.NOTE,
                by,
                at,
                to="normalised",
                reason=f"normalised: {shown or 'nothing to normalise'}",
            ),
        ]

    def may_task(self, owner_id: str | None, captured_by: str | None) -> bool:
        """Whether the owner's follow-up task is written: always when the referral has an owner.
        The sync server takes a task a rep writes for a colleague when it is the follow-up of a
        referral that rep captured, for its owner (``fieldrep.server.authority``)."""
        return bool(owner_id)

    def _tasks(
        self,
        referral_id: str,
        values: dict[str, Any],
        routed: Route,
        due: str | None,
        moment: datetime,
    ) -> list[str]:
        who = values["referred_name"] + (
            f" ({values['referred_company']})"
            if values["referred_company"] and values["referred_company"] != values["referred_name"]
            else ""
        )
        rows: list[dict[str, Any]] = []
        if self.may_task(routed.owner_id, values["captured_by_id"]):
            rows.append(
                {
                    "referral_id": referral_id,
                    "user_id": routed.owner_id,
                    "title": f"First contact with referral {who}",
                    "notes": routed.sentence,
                    "due_date": (due or sla.iso(moment))[:10],
                }
            )
        by = values["captured_by_id"]
        referrer = self.referrer(values["referrer_account_id"])
        if by and referrer:
            rows.append(
                {
                    "referral_id": referral_id,
                    "account_id": referrer["id"],
                    "user_id": by,
                    "title": f"Thank {referrer['name']} for referring {who}",
                    "due_date": (moment.astimezone().date() + timedelta(days=1)).isoformat(),
                }
            )
        return self.ctx.writer.insert_many("tasks", rows) if rows else []


__all__ = ["CaptureRefused", "CaptureResult", "Draft", "ReferralService"]
