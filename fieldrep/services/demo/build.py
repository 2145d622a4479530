"""Build a realistic, reproducible demo database: a sales team, territories, accounts and their history.

The same seed and the same ``today`` give identical rows (ids included; only the sync clocks differ,
since they record when this device wrote). Rows are generated in memory first, then every table is
written through ``Writer.insert_many`` inside one transaction, so each row gets its outbox entry and a
crash or an interrupt leaves the database as it was. 100,000 accounts take well under a minute.

Parts: ``demo_org`` (users, territories), ``demo_accounts`` (accounts, contacts), ``demo_activity``
(visits, tasks, deals, quotas), ``demo_referrals`` (referrals, events, notifications), ``demo_rewards`` (reward rules and the rewards
the ledger's engine gives).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fieldrep.domain.progress import Progress
from fieldrep.geo.gazetteer import Gazetteer, default_gazetteer
from fieldrep.services.context import Context
from fieldrep.services.demo.accounts import build_accounts
from fieldrep.services.demo.activity import (
    Activity,
    build_deals,
    build_quotas,
    build_visits_and_tasks,
)
from fieldrep.services.demo.common import DemoClock, SeededIds, part_rng
from fieldrep.services.demo.org import build_org, member_rows
from fieldrep.services.demo.referrals import (
    build_referrals,
    grant_consent,
    notify_new_referrals,
    referral_count,
)
from fieldrep.services.demo.rewards import build_rewards
from fieldrep.store import settings
from fieldrep.store.accounts_repository import deferred_search_index
from fieldrep.store.errors import StoreError, ValidationError

log = logging.getLogger(__name__)

MAX_ACCOUNTS = 200_000
# Rows per insert_many call: big enough for executemany to shine, small enough to report progress.
BATCH = 20_000


@dataclass
class DemoOptions:
    accounts: int = 5000
    seed: int = 1
    today: date | None = None  # the demo's "today"; None: the real one


def build_demo(
    ctx: Context,
    options: DemoOptions,
    progress: Progress | None = None,
    gazetteer: Gazetteer | None = None,
) -> dict[str, int]:
    """Fill an empty database with demo data; returns the number of rows written per table.

    Signs in the manager ("morgan") and records the seed in ``local_meta`` under ``demo_seed``.
    Places come from ``gazetteer`` (by default the process's shared one, loaded on first use).
    """
    if not 1 <= options.accounts <= MAX_ACCOUNTS:
        raise ValidationError(
            f"the demo needs between 1 and {MAX_ACCOUNTS} accounts, not {options.accounts}",
            table="accounts",
        )
    for name in ("accounts", "users", "territories"):
        if ctx.db.execute(f"SELECT EXISTS (SELECT 1 FROM {name})").fetchone()[0]:
            raise StoreError(f"{ctx.path} already holds {name}; the demo needs an empty database")
    report = progress or (lambda done, total, what: None)
    tables = _generate(options, report, gazetteer if gazetteer is not None else default_gazetteer())
    counts = {name: len(rows) for name, rows, _ in tables}
    total = sum(counts.values())
    written = 0
    # The search index is filled once at the end instead of by a trigger per account and contact.
    with ctx.writer.transaction() as conn, deferred_search_index(conn):
        for name, rows, row_ids in tables:
            for start in range(0, len(rows), BATCH):
                chunk = rows[start : start + BATCH]
                ctx.writer.insert_many(name, chunk, row_ids=row_ids[start : start + BATCH])
                written += len(chunk)
                report(written, total, f"writing {name}")
        settings.put(conn, settings.DEMO_SEED, str(options.seed))
        manager = next(
            i for i, row in zip(tables[0][2], tables[0][1], strict=True) if row["role"] == "manager"
        )
        ctx.set_user(manager)
    log.info("demo: %d rows written (seed %d)", total, options.seed)
    return counts


def _generate(
    options: DemoOptions, report: Progress, gaz: Gazetteer
) -> list[tuple[str, list[dict[str, Any]], list[str]]]:
    """Every demo row, table by table in a dependency-friendly order, with its id."""
    seed = options.seed
    if options.today is None:
        now = datetime.now(UTC).replace(tzinfo=None)
        clock = DemoClock(now.date(), latest=now)
    else:
        clock = DemoClock(options.today)
    # from the day, not the time of day: the same seed and day give the same ids
    ids = SeededIds(
        seed, datetime.combine(clock.today, time(17, 30)) - timedelta(days=3 * 365 + 30)
    )
    steps = 6
    report(0, steps, "loading the gazetteer")
    org = build_org(gaz, ids, clock, part_rng(seed, "org"))
    report(1, steps, "generating accounts")
    acc = build_accounts(part_rng(seed, "accounts"), ids, clock, gaz, org, options.accounts)
    members, member_ids = member_rows(org, ids, acc.load)
    report(2, steps, "generating visits and tasks")
    act = Activity()
    build_visits_and_tasks(part_rng(seed, "visits"), ids, clock, org, acc, act)
    report(3, steps, "generating deals")
    build_deals(part_rng(seed, "deals"), ids, clock, acc, act)
    report(4, steps, "generating referrals")
    refs = build_referrals(
        part_rng(seed, "referrals"),
        ids,
        clock,
        gaz,
        org,
        acc,
        act,
        referral_count(options.accounts),
    )
    grant_consent(part_rng(seed, "consent"), acc, refs)
    build_rewards(part_rng(seed, "rewards"), ids, clock, org, acc, refs)
    notify_new_referrals(ids, clock, refs)
    # Quotas last: their targets follow the deals, referral deals included.
    build_quotas(part_rng(seed, "quotas"), ids, clock, org, act)
    report(5, steps, "generated")
    return [
        ("users", org.users, org.user_ids),
        ("territories", org.territories, org.territory_ids),
        ("territory_members", members, member_ids),
        ("accounts", acc.rows, acc.ids),
        ("contacts", acc.contacts, acc.contact_ids),
        ("visits", act.visits.rows, act.visits.ids),
        ("tasks", act.tasks.rows, act.tasks.ids),
        ("deals", act.deals.rows, act.deals.ids),
        ("quotas", act.quotas.rows, act.quotas.ids),
        ("referrals", refs.referrals.rows, refs.referrals.ids),
        ("referral_events", refs.events.rows, refs.events.ids),
        ("assignment_history", refs.history.rows, refs.history.ids),
        ("reward_rules", refs.rules.rows, refs.rules.ids),
        ("rewards", refs.rewards.rows, refs.rewards.ids),
        ("notifications", refs.notifications.rows, refs.notifications.ids),
    ]
