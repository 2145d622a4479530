"""``fieldrep info``: what a database holds (tables, row counts, pending sync changes)."""

from __future__ import annotations

import argparse

from fieldrep.cli.common import add_db_option, add_json_option, emit, open_context
from fieldrep.store.catalog import synced_tables
from fieldrep.store.migrations import schema_version


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("info", help="show what a database holds")
    add_db_option(parser)
    add_json_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    ctx = open_context(args, must_exist=True)
    try:
        counts = {name: ctx.db[name].count for name in synced_tables()}
        summary = {
            "db": str(ctx.path),
            "schema_version": schema_version(ctx.db.conn),
            "device_id": ctx.writer.device_id,
            "user": (ctx.user() or {}).get("username"),
            "pending_changes": ctx.writer.pending_count(),
            "rows": counts,
        }
    finally:
        ctx.close()
    lines = [f"{summary['db']} (schema {summary['schema_version']})"]
    lines.append(f"signed-in user: {summary['user'] or '(none)'}")
    lines.append(f"changes waiting to sync: {summary['pending_changes']}")
    lines += [f"  {name:<20} {count:>9,}" for name, count in counts.items()]
    emit(args, summary, "\n".join(lines))
    return 0
