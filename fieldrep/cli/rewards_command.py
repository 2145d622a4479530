"""``fieldrep rewards list|release|approve|decline|issue|redeem|mail|backfill|rules|rule|metrics``: the reward ledger
and the referral programme's metrics from the command line.

``metrics`` is here as ``fieldrep rewards metrics`` because the ``referrals`` group belongs to the
referral commands; :func:`add_metrics_parser` registers the same command under it
(``fieldrep referrals metrics``) when that group calls it.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from fieldrep.cli.common import CommandError, add_db_option, add_json_option, emit, open_context
from fieldrep.domain.errors import FieldRepError
from fieldrep.domain.rewards import Recipient, RewardError, Trigger, money, percent
from fieldrep.services.context import Context


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("rewards", help="referral rewards: list, approve, issue, redeem")
    cmds = parser.add_subparsers(dest="rewards_command", metavar="ACTION", required=True)

    def action(name: str, text: str) -> argparse.ArgumentParser:
        p = cmds.add_parser(name, help=text, description=text)
        add_db_option(p)
        add_json_option(p)
        return p

    p = action("list", "list rewards (a rep sees those of the referrals they captured)")
    p.add_argument("--status", action="append", default=[], help="only this status (repeatable)")
    p.add_argument("--referral", help="only this referral's rewards")
    p.add_argument("--balances", action="store_true", help="per-recipient balances instead")
    p.set_defaults(handler=_list)
    p = action("release", "move rewards whose waiting period is over to the approval queue")
    p.set_defaults(handler=_release)
    for name, text in (
        ("approve", "approve rewards awaiting approval (managers)"),
        ("redeem", "mark issued rewards redeemed (managers)"),
    ):
        p = action(name, text)
        p.add_argument(
            "ids", nargs="+", metavar="ID", help="reward id, or its last characters as listed"
        )
        p.set_defaults(handler=_decide, verb=name)
    p = action("decline", "decline rewards awaiting approval, with the reason (managers)")
    p.add_argument("ids", nargs="+", metavar="ID")
    p.add_argument("--reason", required=True, help="why (shown to the rep and kept)")
    p.set_defaults(handler=_decide, verb="decline")
    p = action("issue", "issue every approved reward as one payout batch (managers)")
    p.add_argument("--csv", type=Path, required=True, help="the payout file for finance")
    p.add_argument("--batch", help="the batch's name (default: payout-DATE-TIME)")
    p.set_defaults(handler=_issue)
    p = action("mail", "send the e-mails waiting in the outbox by SMTP (STARTTLS, login)")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=587)
    p.add_argument(
        "--user", default="", help="login; the password is read from $FIELDREP_SMTP_PASSWORD"
    )
    p.add_argument("--sender", required=True, help="the From address")
    p.add_argument("--no-starttls", action="store_true", help="plain SMTP (a local relay only)")
    p.add_argument("--cafile", help="the certificate of a private CA")
    p.set_defaults(handler=_mail)
    p = action("backfill", "after a rule change: the rewards referrals at a stage have not had yet")
    p.add_argument("--trigger", default="won", choices=[t.value for t in Trigger])
    p.set_defaults(handler=_backfill)
    p = action("rules", "list the reward rules (every version with --all)")
    p.add_argument("--all", action="store_true", help="every version, not only the current ones")
    p.set_defaults(handler=_rules)
    p = action("rule", "add a reward rule, or a new version of one (--id), managers only")
    p.add_argument("--id", default="", help="the rule to change (a new version); empty: a new rule")
    p.add_argument("--name", required=True)
    p.add_argument("--recipient", default="referrer_contact", choices=[r.value for r in Recipient])
    p.add_argument("--trigger", default="won", choices=[t.value for t in Trigger])
    p.add_argument("--fixed", metavar="AMOUNT", help="a fixed reward, e.g. 200 or 49.50")
    p.add_argument("--percent", metavar="P", help="a percentage of the deal, e.g. 5 or 2.5")
    p.add_argument("--from", dest="valid_from", required=True, help="first day, YYYY-MM-DD")
    p.add_argument("--until", required=True, help="last day, YYYY-MM-DD")
    p.add_argument("--priority", type=int, default=0)
    p.add_argument("--hold-days", type=int, default=0)
    p.add_argument("--min-deal", metavar="AMOUNT", default="0")
    p.add_argument("--base-cap", metavar="AMOUNT", help="the largest deal value a percentage is of")
    p.add_argument("--cap-reward", metavar="AMOUNT", help="per-reward cap")
    p.add_argument("--cap-year", metavar="AMOUNT", help="per-referrer cap per calendar year")
    p.add_argument("--new-customers-only", action="store_true")
    p.add_argument("--no-approval", action="store_true", help="approved without a manager")
    p.set_defaults(handler=_rule)  # fmt: skip
    add_metrics_parser(cmds)


def _cents(text: str | None, what: str) -> int | None:
    if text is None:
        return None
    try:
        value = Decimal(text.replace("$", "").replace(",", "").strip())
    except InvalidOperation:
        raise CommandError(f"{what}: {text!r} is not an amount") from None
    return int((value * 100).to_integral_value(ROUND_HALF_UP))


def _backfill(args: argparse.Namespace) -> int:
    from fieldrep.services.rewards import ledger
    from fieldrep.services.rewards.rules import require_manager

    def body(ctx: Context) -> int:
        require_manager(ctx, "compute rewards for every referral")
        got = ledger.backfill(ctx, Trigger(args.trigger))
        emit(args, {"created": got.created}, f"{len(got.created)} reward(s) computed")
        return 0

    return _run(args, body)


def _rules(args: argparse.Namespace) -> int:
    from fieldrep.services.rewards import rules

    def body(ctx: Context) -> int:
        got = rules.all_versions(ctx.conn) if args.all else rules.current(ctx.conn)
        lines = []
        for s in got:
            r = s.rule
            amount = money(r.amount_cents) if r.kind.value == "fixed" else percent(r.percent_bp)
            lines.append(
                f"{r.rule_id[-8:]} v{r.version}  {r.name:<28} {r.recipient.value:<17}"
                f" {r.trigger.value:<9} {r.kind.value:<15} {amount:>8}  {r.valid_from} to"
                f" {r.valid_until or '(no end)'}  priority {r.priority}, hold {r.hold_days} d"
            )
        summary = {"rules": [{"row_id": s.row_id, **asdict(s.rule)} for s in got]}
        emit(args, summary, "\n".join(lines) or "no reward rules")
        return 0

    return _run(args, body)


def _rule(args: argparse.Namespace) -> int:
    from datetime import date

    from fieldrep.domain.rewards import AmountKind, RewardRule
    from fieldrep.services.rewards import rules

    if (args.fixed is None) == (args.percent is None):
        raise CommandError("give either --fixed AMOUNT or --percent P")
    try:
        start, end = date.fromisoformat(args.valid_from), date.fromisoformat(args.until)
    except ValueError as exc:
        raise CommandError(f"dates are written YYYY-MM-DD ({exc})") from None
    bp = _cents(args.percent, "--percent")
    rule = RewardRule(
        rule_id=args.id,
        version=1,
        name=args.name,
        recipient=Recipient(args.recipient),
        trigger=Trigger(args.trigger),
        kind=AmountKind.FIXED if args.fixed is not None else AmountKind.PERCENT,
        valid_from=start,
        valid_until=end,
        priority=args.priority,
        amount_cents=_cents(args.fixed, "--fixed") or 0,
        percent_bp=bp or 0,
        base_cap_cents=_cents(args.base_cap, "--base-cap"),
        min_deal_cents=_cents(args.min_deal, "--min-deal") or 0,
        new_customers_only=args.new_customers_only,
        cap_per_reward_cents=_cents(args.cap_reward, "--cap-reward"),
        cap_per_referrer_year_cents=_cents(args.cap_year, "--cap-year"),
        hold_days=args.hold_days,
    )

    def body(ctx: Context) -> int:
        saved = rules.save(ctx, rule, needs_approval=not args.no_approval)
        emit(
            args,
            {"row_id": saved.row_id, "rule_id": saved.rule.rule_id, "version": saved.rule.version},
            f"saved {saved.rule.name} v{saved.rule.version} ({saved.rule.rule_id})",
        )
        return 0

    return _run(args, body)


def add_metrics_parser(cmds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = cmds.add_parser("metrics", help="referral programme metrics for a period")
    add_db_option(p)
    add_json_option(p)
    p.add_argument("--period", default=None, help="2026, 2026-Q3 or 2026-07 (default: this year)")
    p.add_argument("--territory", metavar="NAME", help="this territory and those below it")
    p.add_argument("--rep", metavar="USERNAME", help="referrals this rep captured or owns")
    p.add_argument(
        "--sla-hours",
        type=float,
        help="first-contact SLA in hours for every referral (default: each territory's team SLA)",
    )
    p.set_defaults(handler=_metrics)


def _resolve(ctx: Context, prefix: str) -> str:
    rows = ctx.conn.execute(
        "SELECT id FROM rewards WHERE id LIKE ? || '%' OR id LIKE '%' || ? LIMIT 2",
        (prefix.lower(), prefix.lower()),
    ).fetchall()
    if not rows:
        raise CommandError(f"no reward id starts or ends with {prefix!r}")
    if len(rows) > 1:
        raise CommandError(f"more than one reward id matches {prefix!r}: give more of it")
    return str(rows[0][0])


def _run(args: argparse.Namespace, body: Any) -> int:
    ctx = open_context(args, must_exist=True)
    try:
        return int(body(ctx))
    except (RewardError, FieldRepError, ValueError, LookupError) as exc:
        raise CommandError(str(exc)) from exc
    finally:
        ctx.close()


def _list(args: argparse.Namespace) -> int:
    from fieldrep.services.rewards import lifecycle

    def body(ctx: Context) -> int:
        if args.balances:
            bal = lifecycle.balances(ctx.conn)
            lines = [
                f"{b.recipient_name or b.recipient_key:<32} due {money(b.due_cents, b.currency):>10}"
                f"  issued {money(b.issued_cents, b.currency):>10}"
                f"  clawback {money(b.clawback_open_cents, b.currency):>9}"
                f"  payable {money(b.net_payable_cents, b.currency):>10}"
                for b in bal
            ]
            emit(args, {"balances": [b.__dict__ for b in bal]}, "\n".join(lines) or "no rewards")
            return 0
        got = lifecycle.for_user(
            ctx, lifecycle.Filter(statuses=tuple(args.status), referral_id=args.referral)
        )
        lines = [
            f"{r.id[-8:]}  {r.status:<17} {money(r.amount_cents, r.currency):>10}  "
            f"{r.recipient_name[:24]:<24} {r.referred_name[:20]:<20} {r.explanation}"
            + (f" [{r.reason}]" if r.reason else "")
            for r in got
        ]
        emit(args, {"rewards": [r.__dict__ for r in got]}, "\n".join(lines) or "no rewards")
        return 0

    return _run(args, body)


def _release(args: argparse.Namespace) -> int:
    from fieldrep.services.rewards import lifecycle

    def body(ctx: Context) -> int:
        moved = lifecycle.release_holds(ctx)
        emit(args, {"released": moved}, f"{len(moved)} reward(s) now await approval")
        return 0

    return _run(args, body)


def _decide(args: argparse.Namespace) -> int:
    from fieldrep.services.rewards import lifecycle

    def body(ctx: Context) -> int:
        ids = [_resolve(ctx, p) for p in args.ids]
        if args.verb == "approve":
            done = lifecycle.approve(ctx, ids)
        elif args.verb == "decline":
            done = lifecycle.decline(ctx, ids, args.reason)
        else:
            done = lifecycle.redeem(ctx, ids)
        past = {"approve": "approved", "decline": "declined", "redeem": "redeemed"}[args.verb]
        emit(args, {past: done}, f"{len(done)} reward(s) {past}")
        return 0

    return _run(args, body)


def _issue(args: argparse.Namespace) -> int:
    from fieldrep.services.rewards import lifecycle

    def body(ctx: Context) -> int:
        payout = lifecycle.issue(ctx, args.csv, batch=args.batch)
        summary = {
            "batch": payout.batch,
            "csv": str(args.csv),
            "recipients": len(payout.lines),
            "total_cents": payout.total_cents,
            "carried": payout.carried,
        }
        text = (
            f"{payout.batch}: {len(payout.lines)} recipient(s), {money(payout.total_cents)}"
            f" -> {args.csv}"
        )
        if payout.carried:
            text += f"; {len(payout.carried)} carried (clawbacks exceed their rewards)"
        emit(args, summary, text)
        return 0

    return _run(args, body)


def _mail(args: argparse.Namespace) -> int:
    from fieldrep.services.notifications.smtp_sender import SmtpConfig, send_due

    config = SmtpConfig(
        host=args.host,
        port=args.port,
        sender=args.sender,
        username=args.user,
        password=os.environ.get("FIELDREP_SMTP_PASSWORD", ""),
        starttls=not args.no_starttls,
        cafile=args.cafile,
    )

    def body(ctx: Context) -> int:
        report = send_due(ctx, config)
        emit(args, report.__dict__, report.summary())
        return 1 if report.stopped else 0

    return _run(args, body)


def _metrics(args: argparse.Namespace) -> int:
    from datetime import date

    from fieldrep.services.rewards import metrics

    def body(ctx: Context) -> int:
        rep = None
        if args.rep:
            row = ctx.conn.execute(
                "SELECT id FROM users WHERE username = ?", (args.rep,)
            ).fetchone()
            if row is None:
                raise CommandError(f"there is no user {args.rep!r}")
            rep = row[0]
        period = args.period or str(date.today().year)
        m = metrics.compute(
            ctx.conn, period, territory=args.territory, rep=rep, sla_hours=args.sla_hours
        )

        def pct(x: float | None) -> str:
            return "-" if x is None else f"{x:.1%}"

        def num(x: float | None, unit: str) -> str:
            return "-" if x is None else f"{x:.1f} {unit}"

        lines = [
            f"Referrals {m.period}"
            + (f", {m.territory}" if m.territory else "")
            + (f", {args.rep}" if args.rep else ""),
            f"  referrals            {m.referrals}  (won {m.won}, {money(m.won_value_cents)})",
            f"  referral rate        {pct(m.referral_rate)}  ({m.referring_accounts} of"
            f" {m.active_accounts} active accounts)",
            f"  first contact        {num(m.median_hours_to_first_contact, 'h')} (median)",
            f"  to conversion        {num(m.median_days_to_conversion, 'days')} (median)",
            f"  SLA compliance       {pct(m.sla_compliance)}  ({m.sla_met} of {m.sla_counted})",
            f"  reward cost          {money(m.reward_cost_cents)}",
            f"  ROI                  {'-' if m.roi is None else f'{m.roi:.1f}x'}",
            f"  redemption rate      {pct(m.redemption_rate)}",
            "  conversion by cohort month:",
            *(
                f"    {month}  {c['won']:>4} of {c['referrals']:<4} {c['rate']:.0%}"
                for month, c in m.conversion_by_cohort.items()
            ),
            "  top referrers:",
            *(
                f"    {t['name'][:36]:<36} {t['referrals']:>3} referred, {t['won']} won"
                for t in m.top_referrers
            ),
        ]
        emit(args, m.to_json(), "\n".join(lines))
        return 0

    return _run(args, body)
