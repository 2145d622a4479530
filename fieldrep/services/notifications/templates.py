"""E-mail templates for referrers, rendered with :class:`string.Template` (``${name}`` fields
only: no expressions, no attribute access, nothing a template author could run).

A template naming a field that is not offered is refused when it is saved, naming the field, so a
message never goes out with a hole in it. Edited templates are kept in this laptop's database
(``message_templates``, local); the defaults live here.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from string import Template

from fieldrep.store.writer import utc_now

FIELDS = frozenset(
    {
        "referrer_name",  # the person we write to
        "referred_name",  # whom they referred
        "referred_company",
        "stage",  # qualified, won ...
        "amount",  # the reward, formatted ("$200")
        "explanation",  # how the reward was computed
        "rep_name",  # the rep who captured the referral
    }
)


@dataclass(frozen=True)
class MessageTemplate:
    name: str
    subject: str
    body: str


DEFAULTS = {
    t.name: t
    for t in (
        MessageTemplate(
            "referral_status",
            "Your referral of ${referred_name}: ${stage}",
            "Dear ${referrer_name},\n\nthank you again for referring ${referred_name}"
            " (${referred_company}). It has reached the stage: ${stage}.\n\n${rep_name}\n",
        ),
        MessageTemplate(
            "reward_issued",
            "Your reward of ${amount} is on its way",
            "Dear ${referrer_name},\n\nyour referral of ${referred_name} earned you ${amount}"
            " (${explanation}). It is on its way.\n\nThank you!\n${rep_name}\n",
        ),
    )
}


TITLES = {
    "referral_status": "Referral status changed",
    "reward_issued": "Reward issued",
}

# What each field says, and the value a preview fills it with.
FIELD_HELP = {
    "referrer_name": ("the person we write to", "Dana Whitfield"),
    "referred_name": ("whom they referred", "Sam Okafor"),
    "referred_company": ("the referred person's company", "Okafor Logistics"),
    "stage": ("the referral's stage", "qualified"),
    "amount": ("the reward, formatted", "$200"),
    "explanation": ("how the reward was computed", "flat $200 for a won referral"),
    "rep_name": ("the rep who captured the referral", "Morgan Lee"),
}
SAMPLE = {name: sample for name, (_what, sample) in FIELD_HELP.items()}


class TemplateError(ValueError):
    """A template was refused; the message names the field or the fault."""


def check(subject: str, body: str) -> None:
    for part, text in (("subject", subject), ("body", body)):
        tpl = Template(text)
        if not tpl.is_valid():
            raise TemplateError(
                f"the {part} has a '$' that is not a field: write $$ for a dollar sign, or"
                " ${field} for a field"
            )
        unknown = sorted(set(tpl.get_identifiers()) - FIELDS)
        if unknown:
            raise TemplateError(
                f"the {part} names an unknown field ${{{unknown[0]}}}; the fields are"
                f" {', '.join(sorted(FIELDS))}"
            )
    if not subject.strip():
        raise TemplateError("the subject is empty")


def save(conn: sqlite3.Connection, name: str, subject: str, body: str) -> None:
    """Keep an edited template (refused, nothing saved, if it names an unknown field)."""
    if name not in DEFAULTS:
        raise TemplateError(f"there is no template {name!r} ({', '.join(sorted(DEFAULTS))})")
    check(subject, body)
    conn.execute(
        "INSERT INTO message_templates (name, subject, body, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET subject = excluded.subject, body = excluded.body,"
        " updated_at = excluded.updated_at",
        (name, subject, body, utc_now()),
    )


def reset(conn: sqlite3.Connection, name: str) -> MessageTemplate:
    """Forget the edited ``name``: the default is used again (and returned)."""
    if name not in DEFAULTS:
        raise TemplateError(f"there is no template {name!r} ({', '.join(sorted(DEFAULTS))})")
    conn.execute("DELETE FROM message_templates WHERE name = ?", (name,))
    return DEFAULTS[name]


def is_edited(conn: sqlite3.Connection, name: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM message_templates WHERE name = ?", (name,)).fetchone()
        is not None
    )


def load(conn: sqlite3.Connection, name: str) -> MessageTemplate:
    row = conn.execute(
        "SELECT subject, body FROM message_templates WHERE name = ?", (name,)
    ).fetchone()
    return DEFAULTS[name] if row is None else MessageTemplate(name, row[0], row[1])


def render(tpl: MessageTemplate, values: dict[str, str]) -> tuple[str, str]:
    """(subject, body); a value's line breaks are flattened in the subject (no header injection)."""
    clean = {k: str(values.get(k, "")) for k in FIELDS}
    subject = Template(tpl.subject).substitute(clean)
    subject = " ".join(subject.split())
    return subject, Template(tpl.body).substitute(clean)
