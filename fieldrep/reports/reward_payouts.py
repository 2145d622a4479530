"""Reward payouts: approved, issued and clawed-back rewards per recipient, with yearly totals (for
tax reporting).

Each reward counts on the day of its last money step: issued (issued or redeemed rewards) on
``issued_at``, approved-not-yet-issued on ``approved_at``, a clawback on ``approved_at`` (else its
creation). Pending, declined and revoked rewards are not payouts and are left out. Amounts stay in
their own currency: a recipient paid in two currencies has a row for each.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict

from fieldrep.reports import figures
from fieldrep.reports.common import referrals_in_scope
from fieldrep.reports.model import Chart, Column, Kind, Report, Table
from fieldrep.reports.periods import ReportPeriod
from fieldrep.reports.scope import Scope

AMOUNTS = ("approved", "issued", "clawed_back")


def payout_step(
    kind: str, status: str, approved_at: str | None, issued_at: str | None, created_at: str
) -> tuple[str, str] | None:
    """(which column, on which moment) a reward row counts in, or None when it is no payout."""
    if kind == "clawback":
        if status in ("declined", "revoked"):
            return None
        return "clawed_back", approved_at or created_at
    if status in ("issued", "redeemed"):
        return "issued", issued_at or approved_at or created_at
    if status == "approved":
        return "approved", approved_at or created_at
    return None


def build(
    conn: sqlite3.Connection, scope: Scope, period: ReportPeriod, *, team: str = ""
) -> Report:
    in_scope = {r.id for r in referrals_in_scope(conn, scope, period.hi)}
    accounts = dict(conn.execute("SELECT id, name FROM accounts"))
    contacts = {
        cid: f"{first} {last}".strip()
        for cid, first, last in conn.execute("SELECT id, first_name, last_name FROM contacts")
    }
    sums: dict[tuple[str, str, str, str], dict[str, float]] = defaultdict(
        lambda: defaultdict(float)
    )
    for row in conn.execute(
        "SELECT referral_id, recipient_account_id, recipient_contact_id, recipient_user_id, kind, "
        "status, amount, currency, approved_at, issued_at, created_at FROM rewards"
    ):
        rid, acc, con, usr, kind, status, amount, currency, approved, issued, created = row
        if rid not in in_scope:
            continue
        step = payout_step(kind, status, approved, issued, created)
        if step is None or not (period.lo <= step[1] < period.hi):
            continue
        if usr:
            rep = scope.reps.get(usr)
            who, what = (rep.label if rep else "(user not on this laptop)"), "rep"
        elif con:
            name = contacts.get(con, "(contact not on this laptop)")
            who = f"{name}, {accounts[acc]}" if acc in accounts else name
            what = "contact"
        else:
            who, what = accounts.get(acc or "", "(account not on this laptop)"), "account"
        sums[(who, what, step[1][:4], currency)][step[0]] += amount
    columns = [
        Column("recipient", "Recipient", Kind.TEXT, 36),
        Column("type", "Type", Kind.TEXT, 9),
        Column("year", "Year", Kind.TEXT, 6),
        Column("currency", "Currency", Kind.TEXT, 9),
        Column("approved", "Approved, not issued", Kind.MONEY, 14, "sum"),
        Column("issued", "Issued", Kind.MONEY, 12, "sum"),
        Column("clawed_back", "Clawed back", Kind.MONEY, 12, "sum"),
        Column("net", "Net paid", Kind.MONEY, 12, "sum"),
    ]
    currencies = sorted({key[3] for key in sums})
    several = len(currencies) > 1
    recipients = Table("Payouts per recipient", columns, total_label=None if several else "Total")
    for key in sorted(sums, key=lambda k: (k[0].lower(), k[2], k[3])):
        s = sums[key]
        values = [round(s.get(a, 0.0), 2) for a in AMOUNTS]
        recipients.rows.append([*key, *values, round(values[1] + values[2], 2)])
    recipients.notes = [
        "Net paid: issued less clawed back (clawbacks are negative). Approved rewards are not yet "
        "paid out.",
    ]
    if several:
        recipients.notes.append(
            f"Amounts are in {', '.join(currencies)}: no total row, because currencies are never "
            "added together; see the yearly totals per currency."
        )
    yearly = Table(
        "Yearly totals",
        [
            Column("year", "Year", Kind.TEXT, 6),
            Column("currency", "Currency", Kind.TEXT, 9),
            Column("recipients", "Recipients", Kind.INT, 11),
            *columns[4:],
        ],
        total_label=None,
    )
    per_year: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    people: dict[tuple[str, str], set[str]] = defaultdict(set)
    for (who, what, year, currency), s in sums.items():
        for a in AMOUNTS:
            per_year[(year, currency)][a] += s.get(a, 0.0)
        people[(year, currency)].add(f"{what}:{who}")
    for year, currency in sorted(per_year):
        s = per_year[(year, currency)]
        values = [round(s.get(a, 0.0), 2) for a in AMOUNTS]
        yearly.rows.append(
            [
                year,
                currency,
                len(people[(year, currency)]),
                *values,
                round(values[1] + values[2], 2),
            ]
        )
    top = sorted(recipients.rows, key=lambda r: -r[7])[:15]
    names = [f"{r[0]} ({r[3]})" if several else r[0] for r in top]
    nets = [r[7] for r in top]
    charts = [
        Chart(
            "Net paid per recipient",
            lambda fig: figures.value_bars(fig, names, nets, "Net paid, largest recipients"),
            0,
            "recipient",
            ("net",),
            bars=len(names),
        )
    ]
    return Report(
        "reward-payouts",
        "Reward payouts",
        period,
        scope.label,
        [recipients, yearly],
        charts,
        team=team,
        empty=not sums,
    )
