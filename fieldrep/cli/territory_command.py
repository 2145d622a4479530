"""``fieldrep assign`` and ``fieldrep territories list|import|export|explain``.

``assign`` runs the territory engine over every account, prints the diff (moved, from, to, why) and
applies it in one transaction unless ``--dry-run``.
"""

from __future__ import annotations

import argparse

from fieldrep.cli.common import CommandError, add_db_option, add_json_option, emit, open_context
from fieldrep.cli.territory_io_command import add_export_parser, add_import_parser


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "assign",
        help="reassign every account to its territory (prints the diff)",
        description="Match every unlocked account to a territory (polygon > postal "
        "code > region > attribute rule, then priority: lower number wins), route "
        "owners for moved accounts, print the diff and apply it in one transaction.",
    )
    add_db_option(p)
    p.add_argument("--dry-run", action="store_true", help="print the diff, change nothing")
    p.add_argument(
        "--limit",
        type=int,
        default=50,
        metavar="N",
        help="moves listed in the text output (default 50; --json lists all)",
    )
    add_json_option(p)
    p.set_defaults(handler=run_assign)

    t = sub.add_parser("territories", help="list, import, export territories; explain an account")
    t_sub = t.add_subparsers(dest="what", metavar="ACTION", required=True)
    ls = t_sub.add_parser("list", help="territories in precedence order with their definitions")
    add_db_option(ls)
    add_json_option(ls)
    ls.set_defaults(handler=run_list)
    add_import_parser(t_sub, "import")
    add_export_parser(t_sub, "export")
    ex = t_sub.add_parser("explain", help="which territory an account gets, and why")
    ex.add_argument("account", metavar="ACCOUNT_ID")
    add_db_option(ex)
    add_json_option(ex)
    ex.set_defaults(handler=run_explain)


def run_assign(args: argparse.Namespace) -> int:
    from fieldrep.services.territories import assignment as assign
    from fieldrep.store.errors import StoreError

    ctx = open_context(args)
    try:
        diff = assign.assign_all(ctx, dry_run=args.dry_run)
    except StoreError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        ctx.close()
    emit(args, diff.to_json(), assign.diff_text(diff, limit=max(args.limit, 0)))
    return 0


def run_list(args: argparse.Namespace) -> int:
    from fieldrep.services.territories import service as territory_service

    ctx = open_context(args)
    try:
        rows = territory_service.territory_rows(ctx)
    finally:
        ctx.close()
    lines = [f"{'prio':>5}  {'name':<28} {'kind':<9} {'accounts':>8}  definition"]
    for r in rows:
        parts = territory_service.criteria_parts(r)
        name = (
            ("  " if r["parent_id"] else "") + r["name"] + (" (archived)" if r["archived"] else "")
        )
        lines.append(
            f"{r['priority']:>5}  {name:<28} {r['kind']:<9} {r['accounts']:>8}  "
            f"{', '.join(parts) or '-'}"
        )
    emit(args, {"territories": rows}, "\n".join(lines))
    return 0


def run_explain(args: argparse.Namespace) -> int:
    from fieldrep.services.territories import assignment as assign
    from fieldrep.store.errors import StoreError

    ctx = open_context(args)
    try:
        decision = assign.explain_account(ctx, args.account)
    except StoreError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        ctx.close()
    emit(
        args,
        {
            "account": decision.account_id,
            "territory_id": decision.territory_id,
            "territory": decision.territory_name,
            "kind": decision.kind,
            "reason": decision.reason,
        },
        f"{decision.territory_name or '(no territory)'}: {decision.reason}",
    )
    return 0
