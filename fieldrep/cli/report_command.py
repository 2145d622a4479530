"""``fieldrep report KIND``: write a manager report (territory performance, rep activity, referral
programme, reward payouts, accounts) as CSV, XLSX or PDF, for a period, a territory subtree and/or a
rep, so it can be scheduled. The territory-performance PDF shows the scope's territory map."""

from __future__ import annotations

import argparse
import difflib
from datetime import date
from pathlib import Path
from typing import Any

from fieldrep.cli.common import CommandError, add_db_option, add_json_option, emit, open_context
from fieldrep.reports.catalog import KINDS, MAP_REPORTS, build_report
from fieldrep.reports.export import ReportExportError, format_of, write_report
from fieldrep.reports.model import Report
from fieldrep.reports.periods import ACCEPTED_FORMS, PeriodError, current, parse_period
from fieldrep.reports.scope import ScopeError


class _Kind(argparse.Action):
    """Takes a report kind, suggesting the closest one for a typo (exit code 2: bad usage)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        value = str(values)
        if value not in KINDS:
            close = difflib.get_close_matches(value, list(KINDS), n=1, cutoff=0.4)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            parser.error(f"unknown report {value!r} (choose from {', '.join(KINDS)}){hint}")
        setattr(namespace, self.dest, value)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "report",
        help="write a manager report as CSV, XLSX or PDF",
        description="Write a report for a period, a territory (and the territories below it) "
        "and/or a rep. Reports: " + "; ".join(f"{k}: {v.summary}" for k, v in KINDS.items()),
    )
    parser.add_argument("kind", metavar="KIND", action=_Kind, help=" | ".join(KINDS))
    parser.add_argument("--format", choices=("csv", "xlsx", "pdf"), help="default: from -o's name")
    parser.add_argument("-o", "--output", metavar="FILE", type=Path, required=True)
    parser.add_argument(
        "--period",
        metavar="PERIOD",
        help=f"{ACCEPTED_FORMS}; default: the current quarter",
    )
    parser.add_argument("--territory", metavar="NAME", help="a territory and those below it")
    parser.add_argument("--rep", metavar="NAME", help="a rep's username or name")
    parser.add_argument("--status", help="accounts: only this status (prospect, active, ...)")
    parser.add_argument("--industry", help="accounts: only this industry")
    parser.add_argument("--excel", action="store_true", help="CSV with a BOM, for Excel")
    add_db_option(parser)
    add_json_option(parser)
    parser.set_defaults(handler=run)


def _add_map(conn: Any, report: Report, territory: str | None, rep: str | None) -> None:
    """Render the scope's map (Qt, offscreen, imported only here: the reports stay Qt-free) and
    hand the PNG to the writer; a laptop without Qt writes the report without it and says so."""
    try:
        from fieldrep.ui.map.map_export import ensure_gui_app, report_map
    except ImportError as exc:  # a server install without PySide6
        report.notes.append(f"The territory map is left out: it needs Qt ({exc.name}).")
        return
    ensure_gui_app()
    picture = report_map(conn, territory, rep)
    if picture is not None:
        report.images.append(picture)


def run(args: argparse.Namespace) -> int:
    try:
        period = parse_period(args.period) if args.period else current("quarter", date.today())
        fmt = format_of(args.output, args.format)
    except (PeriodError, ReportExportError) as exc:
        raise CommandError(str(exc), exit_code=2) from exc
    ctx = open_context(args, must_exist=True)
    try:
        options = {}
        if args.kind == "accounts":
            options = {"status": args.status, "industry": args.industry}
        elif args.status or args.industry:
            raise CommandError("--status and --industry filter the accounts report only", 2)
        report = build_report(
            ctx.conn, args.kind, period, territory=args.territory, rep=args.rep, **options
        )
        if fmt == "pdf" and args.kind in MAP_REPORTS and not report.empty:
            _add_map(ctx.conn, report, args.territory, args.rep)
        path = write_report(report, args.output, fmt, excel=args.excel)
    except ScopeError as exc:
        raise CommandError(str(exc), exit_code=2) from exc
    except ReportExportError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        ctx.close()
    rows = sum(len(t.rows) for t in report.sections)
    summary = {
        "report": args.kind,
        "format": fmt,
        "file": str(path),
        "period": period.code,
        "scope": report.scope,
        "empty": report.empty,
        "rows": rows,
    }
    text = f"wrote {report.title} for {period.label} ({report.scope}) to {path}"
    if report.empty:
        text += f"\n{report.empty_message}"
    emit(args, summary, text)
    return 0
