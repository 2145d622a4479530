"""A synthetic book for the referral benches: accounts (with a contact each) and referrals written
straight into FieldRep's tables (the match-index triggers queue them as any write would)."""

from __future__ import annotations

import random
import sqlite3
import uuid
from pathlib import Path

STAGES = ("new", "contacted", "qualified", "proposal", "won", "lost")
FIRST = ("Ann", "Bob", "Carla", "Dev", "Eve", "Femi", "Gus", "Hana", "Ivan", "Jo", "Kim", "Lee")
LAST = ("Roe", "Smith", "Nguyen", "Garcia", "Khan", "Muller", "Okafor", "Rossi", "Silva", "Tan")
WORDS = (
    "Acme",
    "Harbor",
    "Summit",
    "Pioneer",
    "Maple",
    "Cedar",
    "Granite",
    "Lone Star",
    "Bright",
    "Northern",
    "Atlas",
    "Beacon",
    "Coastal",
    "Delta",
    "Evergreen",
    "Frontier",
    "Golden",
    "Highland",
    "Iron",
    "Juniper",
    "Keystone",
    "Liberty",
    "Meridian",
    "Oak",
    "Prairie",
)
TRADES = (
    "Plumbing",
    "Dental",
    "Bakery",
    "Logistics",
    "Hardware",
    "Software",
    "Farms",
    "Clinic",
    "Roofing",
    "Catering",
    "Motors",
    "Labs",
    "Foods",
    "Electric",
    "Printing",
)
AREAS = (212, 213, 305, 312, 415, 503, 617, 702, 713, 817, 919, 206, 303, 404, 512, 614)
FORMS = ("Inc.", "LLC", "Co.", "Corp.", "Ltd", "", "", "Group")


SYLLABLES = (
    "ka",
    "lo",
    "mi",
    "ne",
    "ru",
    "so",
    "ta",
    "vi",
    "zo",
    "be",
    "dra",
    "fen",
    "gul",
    "hox",
    "jin",
    "kir",
    "mav",
    "nol",
    "pex",
    "quo",
    "rast",
    "sil",
    "tor",
    "wex",
)


def company(rng: random.Random, n: int) -> str:
    """A made-up firm; names differ as real ones do (a number in a name would make two firms
    look alike to any fuzzy match)."""
    coined = "".join(rng.choice(SYLLABLES) for _ in range(3)).title()
    return f"{coined} {rng.choice(WORDS)} {rng.choice(TRADES)} {rng.choice(FORMS)}".strip()


def phone(rng: random.Random) -> str:
    return f"({rng.choice(AREAS)}) {rng.randint(201, 549)}-{rng.randint(0, 9999):04d}"


def build(path: Path, accounts: int, referrals: int, seed: int = 7) -> sqlite3.Connection:
    from fieldrep.services.context import Context

    rng = random.Random(seed)
    ctx = Context.open(path)
    conn = ctx.conn
    now = "2026-01-01T00:00:00.000Z"
    user = str(uuid.uuid4())
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO users (id, username, display_name, role, created_at) VALUES (?, 'ann', 'Ann',"
        " 'rep', ?)",
        (user, now),
    )
    rows, contacts = [], []
    for n in range(accounts):
        aid = str(uuid.UUID(int=rng.getrandbits(128)))
        name = company(rng, n)
        slug = name.split()[0].lower() + str(n)
        rows.append(
            (
                aid,
                name,
                "active",
                f"{rng.randint(1, 9999)} Main St",
                f"{rng.randint(10000, 99999)}",
                phone(rng),
                f"info@{slug}.com",
                f"https://www.{slug}.com",
                user,
                now,
                now,
            )
        )
        contacts.append(
            (
                str(uuid.UUID(int=rng.getrandbits(128))),
                aid,
                rng.choice(FIRST),
                rng.choice(LAST),
                f"{rng.choice(FIRST).lower()}@{slug}.com",
                phone(rng),
                now,
            )
        )
    conn.executemany(
        "INSERT INTO accounts (id, name, status, street, postal_code, phone, email, website,"
        " owner_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.executemany(
        "INSERT INTO contacts (id, account_id, first_name, last_name, email, phone, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        contacts,
    )
    from fieldrep.services.referrals import normalise as norm

    refs = []
    for n in range(referrals):
        name = company(rng, n + accounts)
        tel = phone(rng)
        email = f"{rng.choice(FIRST).lower()}@{name.split()[0].lower()}{n}.net"
        created = f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T10:00:00.000Z"
        refs.append(
            (
                str(uuid.UUID(int=rng.getrandbits(128))),
                f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                name,
                email,
                tel,
                f"{rng.randint(10000, 99999)}",
                norm.company_key(name),
                email,
                norm.phone(tel, strict=False).e164 if norm.phone(tel, strict=False) else None,
                user,
                user,
                rng.choice(STAGES),
                created,
                created,
                f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T10:00:00.000Z",
                round(rng.uniform(500, 50000), -1) if rng.random() < 0.4 else None,
            )
        )
    conn.executemany(
        "INSERT INTO referrals (id, referred_name, referred_company, referred_email,"
        " referred_phone, referred_postal_code, match_name, match_email, match_phone,"
        " captured_by_id, owner_id, stage, created_at, updated_at, sla_due_at, amount)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        refs,
    )
    conn.execute("COMMIT")
    ctx.set_user(user)
    ctx.close()
    return sqlite3.connect(path)
