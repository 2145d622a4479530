"""Demo field activity: visits over the last 90 days, follow-up tasks, a year of deals, and quotas."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from fieldrep.domain.vocabulary import VISIT_OUTCOMES
from fieldrep.services.demo import names as words
from fieldrep.services.demo.accounts import Accounts
from fieldrep.services.demo.common import DemoClock, SeededIds, iso
from fieldrep.services.demo.org import Org

VISIT_DAYS = 90
VISITS_PER_REP_DAY = 4
OUTCOMES = VISIT_OUTCOMES
OUTCOME_WEIGHTS = (50, 8, 22, 15, 5)
# How often a rep goes back to an account, by its status.
STATUS_VISIT_WEIGHT = {"active": 5, "prospect": 3, "inactive": 1, "lost": 0.2}


@dataclass
class Rows:
    """Rows of one table and their ids, in the same order."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)

    def add(self, ids: SeededIds, row: dict[str, Any]) -> str:
        row_id = ids.next()
        self.rows.append(row)
        self.ids.append(row_id)
        return row_id


@dataclass
class Activity:
    visits: Rows = field(default_factory=Rows)
    visit_account: list[int] = field(default_factory=list)  # visit index -> account index
    visits_by_rep: dict[str, list[int]] = field(default_factory=dict)
    tasks: Rows = field(default_factory=Rows)
    deals: Rows = field(default_factory=Rows)
    quotas: Rows = field(default_factory=Rows)


def build_visits_and_tasks(
    rng: random.Random, ids: SeededIds, clock: DemoClock, org: Org, acc: Accounts, out: Activity
) -> None:
    workdays = sum(1 for d in range(VISIT_DAYS) if (clock.today - timedelta(days=d)).weekday() < 5)
    for rep in org.rep_ids:
        owned = acc.by_owner.get(rep, [])
        if not owned:
            continue
        weights = [STATUS_VISIT_WEIGHT[acc.rows[i]["status"]] for i in owned]
        count = min(len(owned) * 2, workdays * VISITS_PER_REP_DAY)
        chosen = rng.choices(owned, weights, k=count)
        moments = sorted(clock.working_moment(rng, VISIT_DAYS - 1) for _ in range(count))
        for index, moment in zip(chosen, moments, strict=True):
            account = acc.rows[index]
            outcome = rng.choices(OUTCOMES, OUTCOME_WEIGHTS)[0]
            duration = rng.choice((15, 20, 30, 30, 45, 45, 60, 90))
            visit_id = out.visits.add(
                ids,
                {
                    "account_id": acc.ids[index],
                    "user_id": rep,
                    "visited_at": iso(moment),
                    "duration_min": duration if outcome != "no_show" else 5,
                    "outcome": outcome,
                    "notes": rng.choice(words.VISIT_NOTES[outcome]),
                    "next_step": rng.choice(words.NEXT_STEPS)
                    if outcome in ("met", "follow_up")
                    else None,
                    "lat": round(account["lat"] + rng.gauss(0, 0.0004), 6),
                    "lon": round(account["lon"] + rng.gauss(0, 0.0005), 6),
                    "created_at": iso(min(moment + timedelta(minutes=duration), clock.now)),
                },
            )
            out.visits_by_rep.setdefault(rep, []).append(len(out.visit_account))
            out.visit_account.append(index)
            if outcome == "follow_up" or (outcome == "met" and rng.random() < 0.2):
                due = moment.date() + timedelta(days=rng.randint(2, 14))
                _task(rng, ids, clock, out, rep, index, acc, due, moment, visit_id)
        # Every rep's list shows each kind of task: due today, overdue, upcoming, done.
        for offset in (0, 0, -3, -9, 4, 11, -20):
            index = rng.choice(owned)
            due = clock.today + timedelta(days=offset)
            created = datetime.combine(
                min(due, clock.today) - timedelta(days=rng.randint(3, 20)),
                time(9, rng.randint(0, 59)),
            )
            _task(
                rng,
                ids,
                clock,
                out,
                rep,
                index,
                acc,
                due,
                created,
                None,
                done=offset == -20 or (offset == -9 and rng.random() < 0.5),
            )


def _task(
    rng: random.Random,
    ids: SeededIds,
    clock: DemoClock,
    out: Activity,
    rep: str,
    index: int,
    acc: Accounts,
    due: date,
    created: datetime,
    visit_id: str | None,
    done: bool | None = None,
) -> None:
    if done is None:
        done = due < clock.today and rng.random() < 0.7
    done_at = None
    if done:
        finished = min(datetime.combine(due, time(16, 0)), clock.now - timedelta(hours=1))
        done_at = iso(max(finished, created + timedelta(hours=1)))
    name = acc.rows[index]["name"]
    out.tasks.add(
        ids,
        {
            "account_id": acc.ids[index],
            "referral_id": None,
            "visit_id": visit_id,
            "user_id": rep,
            "title": rng.choice(words.TASK_TITLES).format(name=name),
            "notes": None,
            "due_date": due.isoformat(),
            "done": int(done),
            "done_at": done_at,
            "created_at": iso(created),
        },
    )


def build_deals(
    rng: random.Random, ids: SeededIds, clock: DemoClock, acc: Accounts, out: Activity
) -> None:
    for index, account in enumerate(acc.rows):
        status = account["status"]
        if status == "active":
            count = rng.choices((0, 1, 2, 3, 4), (25, 42, 22, 8, 3))[0]
        elif status == "inactive":
            count = rng.choices((0, 1), (70, 30))[0]
        else:
            continue
        for _ in range(count):
            days = rng.randint(0, 364) if status == "active" else rng.randint(200, 364)
            closed = clock.today - timedelta(days=days)
            amount = round(account["potential"] / 4 * rng.lognormvariate(0, 0.5), -1)
            out.deals.add(
                ids,
                {
                    "account_id": acc.ids[index],
                    "user_id": account["owner_id"],
                    "territory_id": account["territory_id"],
                    "referral_id": None,
                    "amount": max(amount, 50.0),
                    "currency": "USD",
                    "closed_on": closed.isoformat(),
                    "description": rng.choice(words.DEAL_DESCRIPTIONS),
                    "created_at": iso(datetime.combine(closed, time(rng.randint(9, 17), 0))),
                },
            )


def _month_starts(today: date, back: int, ahead: int) -> list[date]:
    first = today.replace(day=1)
    months = []
    for offset in range(-back, ahead + 1):
        y, m = divmod(first.month - 1 + offset, 12)
        months.append(date(first.year + y, m + 1, 1))
    return months


def build_quotas(
    rng: random.Random, ids: SeededIds, clock: DemoClock, org: Org, out: Activity
) -> None:
    """Monthly sales targets per territory, quarterly sales and monthly visit targets per rep."""
    yearly_territory: dict[str, float] = {}
    yearly_rep: dict[str, float] = {}
    for deal in out.deals.rows:
        yearly_territory[deal["territory_id"]] = (
            yearly_territory.get(deal["territory_id"], 0.0) + deal["amount"]
        )
        yearly_rep[deal["user_id"]] = yearly_rep.get(deal["user_id"], 0.0) + deal["amount"]
    created = iso(clock.days_ago(400))
    months = _month_starts(clock.today, 11, 2)
    for tid in org.leaf_ids:
        base = max(yearly_territory.get(tid, 0.0) / 12, 1000.0)
        for start in months:
            out.quotas.add(
                ids,
                {
                    "territory_id": tid,
                    "user_id": None,
                    "period": "month",
                    "period_start": start.isoformat(),
                    "metric": "sales",
                    "target": round(base * rng.uniform(0.95, 1.2), -3),
                    "created_at": created,
                },
            )
    quarters = sorted({date(m.year, (m.month - 1) // 3 * 3 + 1, 1) for m in months})
    for rep in org.rep_ids:
        base = max(yearly_rep.get(rep, 0.0) / 4, 1000.0)
        for start in quarters:
            out.quotas.add(
                ids,
                {
                    "territory_id": None,
                    "user_id": rep,
                    "period": "quarter",
                    "period_start": start.isoformat(),
                    "metric": "sales",
                    "target": round(base * rng.uniform(1.0, 1.25), -3),
                    "created_at": created,
                },
            )
        for start in months:
            out.quotas.add(
                ids,
                {
                    "territory_id": None,
                    "user_id": rep,
                    "period": "month",
                    "period_start": start.isoformat(),
                    "metric": "visits",
                    "target": float(rng.choice((60, 70, 75, 80))),
                    "created_at": created,
                },
            )
