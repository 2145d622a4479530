"""``fieldrep referrals add|list|move|metrics`` and ``fieldrep import referrals FILE``.

``add`` runs the same automation as the app's capture dialog and prints the checks and the routing;
``list`` shows the pipeline with SQL filters; ``move`` moves one referral (its id or the last 8
characters of it) to a stage. The signed-in user (``fieldrep login``, or the demo's manager) acts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from fieldrep.cli.common import CommandError, add_db_option, add_json_option, emit, open_context

STAGE_NAMES = ("new", "contacted", "qualified", "proposal", "won", "lost")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("referrals", help="capture, list and move referrals")
    rsub = p.add_subparsers(dest="what", metavar="WHAT", required=True)

    add = rsub.add_parser(
        "add",
        help="capture a referral: normalise, check for duplicates, route, set the SLA",
        description="Capture a referral as the app does. The referred person must have agreed"
        " to be contacted (--consent). A possible duplicate is not saved unless --override says"
        " why it is not one.",
    )
    add.add_argument("--referrer", metavar="ACCOUNT", help="the referring account (name or id)")
    add.add_argument("--name", default="", help="the referred person")
    add.add_argument("--company", default="", help="their company")
    add.add_argument("--phone", default="")
    add.add_argument("--email", default="")
    add.add_argument("--address", default="", help="street and number")
    add.add_argument("--city", default="")
    add.add_argument("--state", default="", help="state or region (used for routing)")
    add.add_argument("--zip", default="", help="postal code")
    add.add_argument("--country", default="", help="default: the referrer's country")
    add.add_argument("--notes", default="")
    add.add_argument("--relationship", default="", help="how the referrer knows them")
    add.add_argument(
        "--channel", default="visit", choices=("visit", "phone", "email", "event", "web", "other")
    )
    add.add_argument("--consent", action="store_true", help="they agreed to be contacted")
    add.add_argument(
        "--override",
        default="",
        metavar="REASON",
        help="save a possible duplicate anyway, saying why",
    )
    add_db_option(add)
    add_json_option(add)
    add.set_defaults(handler=run_add)

    lst = rsub.add_parser("list", help="list referrals, filtered")
    lst.add_argument("--stage", choices=STAGE_NAMES)
    lst.add_argument("--owner", metavar="USERNAME", help="owner's username ('me': yourself)")
    lst.add_argument("--territory", metavar="NAME")
    lst.add_argument("--overdue", action="store_true", help="only those past their SLA")
    lst.add_argument("--linked", action="store_true", help="include those linked to an earlier one")
    lst.add_argument("--limit", type=int, default=50)
    add_db_option(lst)
    add_json_option(lst)
    lst.set_defaults(handler=run_list)

    mv = rsub.add_parser("move", help="move a referral to another stage")
    mv.add_argument("id", metavar="ID", help="the referral's id (or its last 8 characters)")
    mv.add_argument("stage", metavar="STAGE", help="|".join(STAGE_NAMES))
    mv.add_argument("--reason", default="", help="why (needed for lost)")
    mv.add_argument("--value", type=float, help="the deal's value (needed for won)")
    mv.add_argument("--account", metavar="ACCOUNT", help="won: the account it became (name or id)")
    mv.add_argument(
        "--create-account",
        action="store_true",
        help="won: create the account from the referred party",
    )
    add_db_option(mv)
    add_json_option(mv)
    mv.set_defaults(handler=run_move)

    # ``fieldrep referrals metrics``: the same command as ``fieldrep rewards metrics`` (issue 19).
    from fieldrep.cli.rewards_command import add_metrics_parser

    add_metrics_parser(rsub)


def register_import(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "referrals",
        help="import referrals collected on paper or at an event",
        description="Import referrals from CSV or XLSX (columns: referrer account, referred name,"
        " company, phone, email, address, city, state, ZIP, notes, captured by, date). Each row"
        " goes through the capture automation; failed rows go to the errors file.",
    )
    p.add_argument("file", type=Path, metavar="FILE")
    add_db_option(p)
    p.add_argument(
        "--errors",
        type=Path,
        metavar="FILE",
        help="where to write the rows that failed (default: FILE.errors.csv)",
    )
    add_json_option(p)
    p.set_defaults(handler=run_import)


def _account(conn: Any, text: str | None) -> str | None:
    if not text:
        return None
    row = conn.execute(
        "SELECT id FROM accounts WHERE id = ? OR name = ? COLLATE NOCASE ORDER BY id = ? DESC"
        " LIMIT 2",
        (text, text, text),
    ).fetchall()
    if not row:
        raise CommandError(f"there is no account {text!r} in this database", exit_code=2)
    return str(row[0][0])


def _result_text(result: Any) -> str:
    lines = [result.message]
    if result.matches:
        lines.append("Checks:")
        lines += [f"  - {m.explain()}" for m in result.matches]
    else:
        lines.append("Checks: no duplicate among accounts, contacts and open referrals.")
    if result.route is not None:
        lines.append(f"Routing: {result.route.reason}")
    if result.referral_id:
        lines.append(f"Referral {result.referral_id[-8:]} ({result.referral_id}).")
    return "\n".join(lines)


def run_add(args: argparse.Namespace) -> int:
    from fieldrep.services.referrals.capture import CaptureRefused, Draft, ReferralService

    ctx = open_context(args)
    try:
        draft = Draft(
            referred_name=args.name,
            referred_company=args.company,
            phone=args.phone,
            email=args.email,
            street=args.address,
            city=args.city,
            region=args.state,
            postal_code=args.zip,
            country=args.country,
            notes=args.notes,
            relationship=args.relationship,
            consent=args.consent,
            referrer_account_id=_account(ctx.conn, args.referrer),
            channel=args.channel,
            override_reason=args.override,
        )
        try:
            result = ReferralService(ctx).capture(draft)
        except CaptureRefused as exc:
            hint = " (add --consent once they agreed)" if exc.field == "consent" else ""
            raise CommandError(f"not saved: {exc}{hint}", exit_code=1) from exc
    finally:
        ctx.close()
    emit(args, result.to_json(), _result_text(result))
    return 0 if result.saved else 1


def run_list(args: argparse.Namespace) -> int:
    from fieldrep.services.referrals import pipeline
    from fieldrep.services.referrals.model import Stage

    ctx = open_context(args, must_exist=True)
    try:
        owner = None
        if args.owner:
            if args.owner == "me":
                owner = ctx.user_id
            else:
                row = ctx.conn.execute(
                    "SELECT id FROM users WHERE username = ? COLLATE NOCASE", (args.owner,)
                ).fetchone()
                if row is None:
                    raise CommandError(f"there is no user {args.owner!r}", exit_code=2)
                owner = row[0]
        territory = None
        if args.territory:
            row = ctx.conn.execute(
                "SELECT id FROM territories WHERE name = ? COLLATE NOCASE", (args.territory,)
            ).fetchone()
            if row is None:
                raise CommandError(f"there is no territory {args.territory!r}", exit_code=2)
            territory = row[0]
        flt = pipeline.Filter(
            stage=Stage(args.stage) if args.stage else None,
            owner_id=owner,
            territory_id=territory,
            overdue=args.overdue,
            linked=args.linked,
        )
        cards = pipeline.cards(ctx.conn, flt, limit=max(args.limit, 0), sort="due")
        totals = pipeline.totals(ctx.conn, flt)
    finally:
        ctx.close()
    summary = {
        "totals": {s.value: t.__dict__ for s, t in totals.items()},
        "referrals": [c.__dict__ for c in cards],
    }
    lines = [
        "  ".join(f"{s.label} {t.count:,}" for s, t in totals.items())
        + f"  (overdue {sum(t.overdue for t in totals.values()):,})"
    ]
    for c in cards:
        mark = " OVERDUE" if c.overdue else ""
        due = f" due {c.sla_due_at[:10]}" if c.sla_due_at and c.stage not in ("won", "lost") else ""
        lines.append(
            f"{c.id[-8:]}  {c.stage:<9} {c.name} ({c.company or '-'}) -> {c.owner or '-'},"
            f" {c.territory or 'no territory'}{due}{mark}"
        )
    emit(args, summary, "\n".join(lines))
    return 0


def run_move(args: argparse.Namespace) -> int:
    from fieldrep.services.referrals.pipeline import MoveRefused, find, move

    ctx = open_context(args, must_exist=True)
    try:
        try:
            referral_id = find(ctx.conn, args.id)
            moved = move(
                ctx,
                referral_id,
                args.stage,
                reason=args.reason,
                value=args.value,
                account_id=_account(ctx.conn, args.account),
                create_account=args.create_account,
            )
        except MoveRefused as exc:
            raise CommandError(f"not moved: {exc}") from exc
    finally:
        ctx.close()
    emit(args, moved.__dict__, f"Referral {referral_id[-8:]}: {moved.message}.")
    return 0


def run_import(args: argparse.Namespace) -> int:
    from fieldrep.services.imports.readers import ImportFileError
    from fieldrep.services.referrals.importer import import_referrals

    ctx = open_context(args)
    progress = None
    if not args.json and sys.stderr.isatty():

        def progress(done: int, total: int, phase: str) -> None:
            print(f"\r{phase}: {done:,}/{total:,}   ", end="", file=sys.stderr, flush=True)

    try:
        report = import_referrals(ctx, args.file, errors_path=args.errors, progress=progress)
    except ImportFileError as exc:
        raise CommandError(f"{exc}; nothing was imported") from exc
    finally:
        ctx.close()
    if progress is not None:
        print(file=sys.stderr)
    lines = [
        f"Imported {report.imported:,} of {report.rows_read:,} referrals from {args.file.name}."
    ]
    for outcome, n in sorted(report.outcomes.items()):
        lines.append(f"  {outcome.replace('_', ' ')}: {n:,}")
    for row in report.results[:20]:
        lines.append(f"  line {row['line']}: {row['message']}")
        lines += [f"      duplicate check: {d}" for d in row["duplicates"][:3]]
    if report.errors_total:
        lines.append(
            f"  not imported: {report.errors_total:,} rows; details in {report.errors_file}"
        )
        lines += [f"    line {e.line}, {e.column}: {e.reason}" for e in report.errors[:10]]
    emit(args, report.summary(), "\n".join(lines))
    return 1 if report.errors_total else 0
