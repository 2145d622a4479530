"""``fieldrep import ...`` and ``fieldrep export ...``: the command groups for moving data in and out.

This module owns both groups and their ``accounts`` (and ``contacts``) subcommands. Another module
adds its own subcommands (e.g. ``import territories``) by being listed in
:data:`IMPORT_EXPORT_MODULES` and defining ``register_import(subparsers)`` and/or
``register_export(subparsers)``; each subparser sets ``handler`` like any command.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path
from typing import Any

from fieldrep.cli.common import CommandError, add_db_option, add_json_option, emit, open_context
from fieldrep.domain.vocabulary import ACCOUNT_STATUSES

log = logging.getLogger(__name__)

IMPORT_EXPORT_MODULES: list[str] = [
    "fieldrep.cli.territory_io_command",
    "fieldrep.cli.referrals_command",
]
SHOWN_ERRORS = 10


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    imp = sub.add_parser("import", help="import accounts or contacts from CSV or XLSX files")
    imp_sub = imp.add_subparsers(dest="what", metavar="WHAT", required=True)
    exp = sub.add_parser("export", help="export accounts to CSV or XLSX files")
    exp_sub = exp.add_subparsers(dest="what", metavar="WHAT", required=True)
    _register_import_accounts(imp_sub)
    _register_import_contacts(imp_sub)
    _register_export_accounts(exp_sub)
    for name in IMPORT_EXPORT_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue  # that part of the app is not installed (yet)
        if hasattr(module, "register_import"):
            module.register_import(imp_sub)
        if hasattr(module, "register_export"):
            module.register_export(exp_sub)


# -- import accounts / contacts -------------------------------------------------------------------


def _register_import_accounts(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "accounts",
        help="import accounts (columns matched by name: Company, ZIP, City, ...)",
        description="Import accounts from a CSV or XLSX file. Rows that fail go to the errors "
        "file with line, column and reason; the good rows are imported in one transaction; "
        "possible duplicates of existing accounts are not created twice.",
    )
    p.add_argument("file", type=Path, metavar="FILE", help="a .csv or .xlsx file")
    add_db_option(p)
    p.add_argument(
        "--errors",
        type=Path,
        metavar="FILE",
        help="where to write the rows that failed (default: FILE.errors.csv beside it)",
    )
    p.add_argument(
        "--allow-duplicates",
        action="store_true",
        help="import rows that look like existing accounts anyway",
    )
    add_json_option(p)
    p.set_defaults(handler=run_import_accounts)


def _register_import_contacts(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("contacts", help="import contacts, matched to accounts by name or id")
    p.add_argument("file", type=Path, metavar="FILE", help="a .csv or .xlsx file")
    add_db_option(p)
    p.add_argument(
        "--errors",
        type=Path,
        metavar="FILE",
        help="where to write the rows that failed (default: FILE.errors.csv beside it)",
    )
    add_json_option(p)
    p.set_defaults(handler=run_import_contacts)


def _errors_path(args: argparse.Namespace) -> Path:
    if args.errors:
        return Path(args.errors)
    return args.file.with_name(f"{args.file.stem}.errors.csv")


def _progress(args: argparse.Namespace) -> Any:
    if args.json or not sys.stderr.isatty():
        return None

    def show(done: int, total: int, phase: str) -> None:
        print(f"\r{phase}: {done:,}/{total:,}   ", end="", file=sys.stderr, flush=True)

    return show


def _counted(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _report_text(report: Any, what: str) -> str:
    lines = [
        f"Imported {report.imported:,} of {report.rows_read:,} {what} from"
        f" {Path(report.file).name}"
        + (f" ({report.encoding}, delimiter {report.delimiter!r})." if report.encoding else ".")
    ]
    if getattr(report, "updated", 0) or getattr(report, "unchanged", 0):
        fields = ", ".join(f"{name} {n:,}" for name, n in sorted(report.updated_fields.items()))
        lines.append(
            f"  updated {_counted(report.updated, 'account')} named by the FieldRep id column"
            + (f" (changed: {fields})" if fields else "")
            + (f"; {report.unchanged:,} unchanged" if report.unchanged else "")
        )
    for note in report.notes:
        lines.append(f"  note: {note}")
    placed = report.placed_by
    if what == "rows" and report.imported:
        parts = [f"{n:,} by {q.replace('_', ' ')}" for q, n in sorted(placed.items())]
        lines.append("  placed on the map: " + (", ".join(parts) or "none"))
        unassigned = report.imported - report.assigned
        lines.append(
            f"  in a territory: {report.assigned:,}"
            + (f"; {unassigned:,} match no territory" if unassigned else "")
        )
        if report.unplaced_total:
            lines.append(
                f"  {_counted(report.unplaced_total, 'account')} imported without a location"
                " (address not found offline):"
            )
            lines += [
                f"    line {u['line']}: {u['name']} - {u['address']}"
                for u in report.unplaced[:SHOWN_ERRORS]
            ]
            if report.unplaced_total > SHOWN_ERRORS:
                lines.append(
                    f"    ... and {report.unplaced_total - SHOWN_ERRORS:,} more"
                    " (`fieldrep geocode unplaced` lists every account without a location)"
                )
    if getattr(report, "warned_rows", 0):
        lines.append(
            f"  imported with a warning: {_counted(report.warned_rows, 'row')}"
            f" (a bad value is dropped, a doubtful one kept); details in {report.errors_file}"
        )
        for warning in report.warnings[:SHOWN_ERRORS]:
            column = f", {warning.column}" if warning.column else ""
            lines.append(f"    line {warning.line}{column}: {warning.reason}")
        if report.warnings_total > SHOWN_ERRORS:
            lines.append(f"    ... and {report.warnings_total - SHOWN_ERRORS:,} more")
    if report.failed_rows:
        lines.append(
            f"  not imported: {_counted(report.failed_rows, 'row')} ({report.duplicates:,}"
            f" possible duplicates); details in {report.errors_file}"
        )
        for error in report.errors[:SHOWN_ERRORS]:
            column = f", {error.column}" if error.column else ""
            lines.append(f"    line {error.line}{column}: {error.reason}")
        if report.errors_total > SHOWN_ERRORS:
            lines.append(f"    ... and {report.errors_total - SHOWN_ERRORS:,} more")
    return "\n".join(lines)


def _exit_code(report: Any) -> int:
    # Duplicates are expected on a re-import; any other failed row makes the run a failure.
    return 1 if report.failed_rows > report.duplicates else 0


def run_import_accounts(args: argparse.Namespace) -> int:
    from fieldrep.services.imports.accounts import ImportCancelled, import_accounts
    from fieldrep.services.imports.readers import ImportFileError

    ctx = open_context(args)
    try:
        report = import_accounts(
            ctx,
            args.file,
            errors_path=_errors_path(args),
            allow_duplicates=args.allow_duplicates,
            progress=_progress(args),
        )
    except ImportFileError as exc:
        raise CommandError(f"{exc}; nothing was imported") from exc
    except ImportCancelled as exc:
        raise CommandError(str(exc)) from exc
    finally:
        ctx.close()
    if _progress(args) is not None:
        print(file=sys.stderr)
    emit(args, report.summary(), _report_text(report, "rows"))
    return _exit_code(report)


def run_import_contacts(args: argparse.Namespace) -> int:
    from fieldrep.services.imports.contacts import import_contacts
    from fieldrep.services.imports.readers import ImportFileError

    ctx = open_context(args)
    try:
        report = import_contacts(ctx, args.file, errors_path=_errors_path(args))
    except ImportFileError as exc:
        raise CommandError(f"{exc}; nothing was imported") from exc
    finally:
        ctx.close()
    emit(args, report.summary(), _report_text(report, "contacts"))
    return _exit_code(report)


# -- export accounts --------------------------------------------------------------------------------


def _register_export_accounts(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("accounts", help="export accounts (optionally filtered) to .csv or .xlsx")
    p.add_argument("file", type=Path, metavar="FILE", help="FILE.csv or FILE.xlsx")
    add_db_option(p)
    p.add_argument("--search", metavar="TEXT", default="", help="words to search for")
    p.add_argument("--territory", metavar="NAME", help="territory name ('none': unassigned)")
    p.add_argument("--owner", metavar="USERNAME", help="owner's username ('none': no owner)")
    p.add_argument("--status", choices=ACCOUNT_STATUSES)
    p.add_argument("--industry", metavar="NAME")
    p.add_argument(
        "--quality",
        metavar="Q",
        choices=("address", "street", "postal_code", "city", "manual", "none"),
        help="geocode quality ('none': accounts without a location)",
    )
    p.add_argument(
        "--not-visited-days",
        type=int,
        metavar="N",
        help="only accounts with no visit in the last N days",
    )
    p.add_argument(
        "--sort",
        default="name",
        metavar="COLUMN",
        choices=(
            "name",
            "city",
            "region",
            "postal_code",
            "status",
            "industry",
            "potential",
            "owner",
            "territory",
            "last_visit",
        ),
    )
    p.add_argument("--desc", action="store_true", help="sort in descending order")
    add_json_option(p)
    p.set_defaults(handler=run_export_accounts)


def _lookup(conn: Any, sql: str, value: str | None, what: str) -> str | None:
    from fieldrep.store.accounts_repository import NO_VALUE

    if value is None:
        return None
    if value.casefold() == "none":
        return NO_VALUE
    row = conn.execute(sql, (value,)).fetchone()
    if row is None:
        raise CommandError(f"there is no {what} {value!r} in this database", exit_code=2)
    return str(row[0])


def run_export_accounts(args: argparse.Namespace) -> int:
    from fieldrep.services.accounts.export import ExportError, export_accounts
    from fieldrep.store.accounts_repository import NO_VALUE, AccountFilter, Sort

    if args.not_visited_days is not None and args.not_visited_days < 0:
        raise CommandError("--not-visited-days must be 0 or more", exit_code=2)
    ctx = open_context(args)
    try:
        conn = ctx.db.conn
        flt = AccountFilter(
            text=args.search,
            territory_id=_lookup(
                conn,
                "SELECT id FROM territories WHERE name = ? COLLATE NOCASE",
                args.territory,
                "territory",
            ),
            owner_id=_lookup(
                conn, "SELECT id FROM users WHERE username = ? COLLATE NOCASE", args.owner, "user"
            ),
            status=args.status,
            industry=args.industry,
            geocode_quality=NO_VALUE if args.quality == "none" else args.quality,
            not_visited_days=args.not_visited_days,
        )
        count = export_accounts(conn, args.file, flt, Sort(args.sort, args.desc))
    except ExportError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        ctx.close()
    emit(
        args,
        {"file": str(args.file), "accounts": count},
        f"Exported {count:,} accounts to {args.file}.",
    )
    return 0
