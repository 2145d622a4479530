"""``fieldrep demo``: build a realistic, reproducible demo database."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date

from fieldrep.cli.common import CommandError, add_db_option, add_json_option, emit, open_context
from fieldrep.store.errors import StoreError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "demo", help="fill a database with realistic demo data (reproducible for a seed)"
    )
    add_db_option(parser)
    parser.add_argument(
        "--accounts",
        type=int,
        default=5000,
        metavar="N",
        help="number of accounts (1 to 200000, default 5000)",
    )
    parser.add_argument("--seed", type=int, default=1, metavar="S", help="random seed (default 1)")
    parser.add_argument(
        "--today",
        type=_iso_date,
        default=None,
        metavar="YYYY-MM-DD",
        help="the demo's today (default: the real one); the same seed and today give the same rows",
    )
    add_json_option(parser)
    parser.set_defaults(handler=run)


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2025-01-31") from None


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.accounts <= 200_000:
        raise CommandError("--accounts must be between 1 and 200000", exit_code=2)
    from fieldrep.services.demo.build import DemoOptions, build_demo

    ctx = open_context(args)
    try:
        if ctx.db["accounts"].count:
            raise CommandError(f"{ctx.path} already holds accounts; give a new --db path")
        started = time.perf_counter()
        last = [0.0]

        def progress(done: int, total: int | None, what: str) -> None:
            now = time.perf_counter()
            if not args.json and sys.stderr.isatty() and now - last[0] > 0.2:
                last[0] = now
                of = f"/{total:,}" if total is not None else ""
                print(f"\r{what}: {done:,}{of}   ", end="", file=sys.stderr, flush=True)

        options = DemoOptions(accounts=args.accounts, seed=args.seed, today=args.today)
        try:
            counts = build_demo(ctx, options, progress)
        except StoreError as exc:
            raise CommandError(f"{exc}; nothing was written") from exc
        elapsed = time.perf_counter() - started
    finally:
        ctx.close()
    if not args.json and sys.stderr.isatty():
        print(file=sys.stderr)
    summary = {"db": str(ctx.path), "seed": args.seed, "seconds": round(elapsed, 2), "rows": counts}
    text = f"Demo database {ctx.path} built in {elapsed:.1f} s:\n" + "\n".join(
        f"  {name:<20} {n:>9,}" for name, n in counts.items()
    )
    emit(args, summary, text)
    return 0
