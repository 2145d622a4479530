"""``fieldrep geocode ...``: where the accounts are on the map, and the online geocoder.

- ``geocode status``: how many accounts are placed, by quality, how many are not, and the online
  geocoder's settings;
- ``geocode unplaced``: the accounts that could not be placed (never silently dropped);
- ``geocode configure nominatim --user-agent TEXT [--url URL] [--min-delay S]`` or
  ``geocode configure off``: the user's online geocoder (stored in the database, local only);
- ``geocode online``: place accounts with a street address more precisely through the configured
  geocoder, rate-limited as the provider requires and with every answer cached forever.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from typing import Any

from fieldrep.cli.common import CommandError, add_db_option, add_json_option, emit, open_context
from fieldrep.geo.geocoder_settings import NOMINATIM_POLICY, PUBLIC_NOMINATIM

SHOWN = 50
_OPTION = {"user_agent": "--user-agent", "url": "--url", "min_delay": "--min-delay"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("geocode", help="accounts on the map: status, unplaced, online geocoder")
    g = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    status = g.add_parser("status", help="placed accounts by quality and the geocoder settings")
    add_db_option(status)
    add_json_option(status)
    status.set_defaults(handler=run_status)

    unplaced = g.add_parser("unplaced", help="list the accounts without a location")
    add_db_option(unplaced)
    unplaced.add_argument("--limit", type=int, default=None, metavar="N")
    add_json_option(unplaced)
    unplaced.set_defaults(handler=run_unplaced)

    conf = g.add_parser(
        "configure",
        help="set the online geocoder ('nominatim') or turn it off ('off')",
        description=NOMINATIM_POLICY,
    )
    conf.add_argument("provider", choices=("nominatim", "off"))
    conf.add_argument("--user-agent", metavar="TEXT", help="e.g. 'acme-fieldrep (it@acme.com)'")
    conf.add_argument(
        "--url",
        metavar="URL",
        default=f"https://{PUBLIC_NOMINATIM}",
        help="the server (default: the public OpenStreetMap one)",
    )
    conf.add_argument(
        "--min-delay",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="seconds between requests (at least 1 on the public server)",
    )
    add_db_option(conf)
    add_json_option(conf)
    conf.set_defaults(handler=run_configure)

    online = g.add_parser("online", help="place accounts by street address through the geocoder")
    add_db_option(online)
    online.add_argument("--limit", type=int, default=None, metavar="N", help="at most N accounts")
    add_json_option(online)
    online.set_defaults(handler=run_online)


def _settings_text(settings: Any) -> str:
    if not settings.enabled:
        return "online geocoder: off (only the offline gazetteer is used)"
    return (
        f"online geocoder: {settings.provider} at {settings.scheme}://{settings.domain}, user agent"
        f" {settings.user_agent!r}, one request every {settings.min_delay_seconds:g} s"
    )


def run_status(args: argparse.Namespace) -> int:
    from fieldrep.geo.geocoder_settings import load_settings
    from fieldrep.geo.placement import placement_summary

    ctx = open_context(args, must_exist=True)
    try:
        summary = placement_summary(ctx.db.conn)
        settings = load_settings(ctx.db.conn)
    finally:
        ctx.close()
    counts, cached = summary.by_quality, summary.cached_answers
    lines = [f"{summary.total:,} accounts"]
    lines += [f"  {q.replace('_', ' ')}: {n:,}" for q, n in counts.items()]
    lines += [_settings_text(settings), f"cached online answers: {cached:,}"]
    emit(
        args,
        {"accounts_by_quality": counts, "online": asdict(settings), "cached_answers": cached},
        "\n".join(lines),
    )
    return 0


def run_unplaced(args: argparse.Namespace) -> int:
    from fieldrep.geo.geocoding import Address
    from fieldrep.geo.placement import unplaced_accounts, unplaced_count

    ctx = open_context(args, must_exist=True)
    try:
        rows = unplaced_accounts(ctx.db.conn, args.limit)
        total = unplaced_count(ctx.db.conn)
    finally:
        ctx.close()
    lines = [
        ("1 account has" if total == 1 else f"{total:,} accounts have")
        + " no location"
        + (":" if rows else ".")
    ]
    lines += [f"  {r['name']} - {Address.from_row(r).one_line()}" for r in rows[:SHOWN]]
    if len(rows) > SHOWN:
        lines.append(f"  ... and {len(rows) - SHOWN:,} more (use --json for all)")
    emit(args, {"unplaced": total, "accounts": rows}, "\n".join(lines))
    return 0


def run_configure(args: argparse.Namespace) -> int:
    from fieldrep.geo.geocoder_settings import (
        OnlineSettings,
        SettingsError,
        nominatim_settings,
        save_settings,
    )

    if args.provider == "off":
        settings = OnlineSettings()
    else:
        try:
            settings = nominatim_settings(args.user_agent, args.url, args.min_delay)
        except SettingsError as exc:
            raise CommandError(f"{_OPTION[exc.field]}: {exc.message}", exit_code=2) from None
    ctx = open_context(args)
    try:
        save_settings(ctx.db.conn, settings)
    finally:
        ctx.close()
    emit(args, asdict(settings), _settings_text(settings))
    return 0


def run_online(args: argparse.Namespace) -> int:
    from fieldrep.geo.geocoder_settings import load_settings
    from fieldrep.geo.online_refine import refine_online

    ctx = open_context(args, must_exist=True)
    try:
        settings = load_settings(ctx.db.conn)
        if not settings.enabled:
            raise CommandError(
                "no online geocoder is configured; run `fieldrep geocode configure nominatim"
                " --user-agent ...` first"
            )
        ids = None
        if args.limit is not None:
            from fieldrep.geo.online_refine import refinable_ids

            # Leave out accounts already answered with nothing better, so that the next batch
            # moves on to accounts not yet asked.
            ids = refinable_ids(ctx.db.conn, args.limit, settings)
        show = None
        if not args.json and sys.stderr.isatty():

            def show(done: int, total: int | None, text: str) -> None:
                print(f"\rchecked {done:,}/{total:,}   ", end="", file=sys.stderr, flush=True)

        report = refine_online(ctx, settings, account_ids=ids, progress=show)
    finally:
        ctx.close()
    if show is not None:
        print(file=sys.stderr)
    sent = report.requests_sent
    unreadable = (
        f", {report.unreadable:,} with an answer that could not be read (asked again next time)"
        if report.unreadable
        else ""
    )
    text = (
        f"Checked {report.checked:,} accounts online: {report.improved:,} placed more precisely"
        f" ({report.placed:,} of them had no location), {report.not_found:,} not found{unreadable};"
        f" {sent:,} request{'' if sent == 1 else 's'} sent (the rest came from the cache)."
    )
    if report.stopped_reason:
        text += f"\nStopped early: {report.stopped_reason}; what was found is kept."
    emit(args, asdict(report), text)
    return 1 if report.stopped_reason else 0
