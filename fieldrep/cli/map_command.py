"""``fieldrep map export``: the map of a database's accounts as PNG or PDF, without a window.

Rendering needs Qt, which only ``fieldrep.ui`` may import, so the command imports the renderer
there when it runs (an offscreen QGuiApplication; no display needed).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from fieldrep.cli.common import CommandError, add_db_option, add_json_option, emit, open_context
from fieldrep.services.map.data import COLOR_BY, load_accounts, resolve_names

MAX_SIDE = 8000


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("map", help="the accounts map, headless")
    map_sub = parser.add_subparsers(dest="map_command", metavar="COMMAND", required=True)
    export = map_sub.add_parser(
        "export", help="write the map (accounts, territories, legend, scale bar) as PNG or PDF"
    )
    add_db_option(export)
    add_json_option(export)
    export.add_argument("-o", "--output", required=True, type=Path, help="FILE.png or FILE.pdf")
    export.add_argument("--territory", metavar="NAME", help="only this territory's accounts")
    export.add_argument(
        "--owner", metavar="NAME", help="only this rep's accounts (username or name)"
    )
    export.add_argument(
        "--size", default="1600x1000", help="WIDTHxHEIGHT in pixels (default 1600x1000)"
    )
    export.add_argument("--color-by", choices=COLOR_BY, default="territory", help="marker colours")
    export.add_argument("--title", help="title line (default: what the map shows)")
    export.set_defaults(handler=run_export)


def parse_size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text or "")
    if not match:
        raise CommandError(f"--size must be WIDTHxHEIGHT, e.g. 1600x1000, not {text!r}", 2)
    w, h = int(match[1]), int(match[2])
    if not (200 <= w <= MAX_SIDE and 200 <= h <= MAX_SIDE):
        raise CommandError(f"--size sides must be between 200 and {MAX_SIDE} pixels", 2)
    return w, h


def run_export(args: argparse.Namespace) -> int:
    size = parse_size(args.size)
    out = Path(args.output)
    if out.suffix.lower() not in (".png", ".pdf"):
        raise CommandError(f"the output must end in .png or .pdf, not {out.name!r}", 2)
    if not out.parent.exists():
        raise CommandError(f"the folder {out.parent} does not exist")
    ctx = open_context(args, must_exist=True)
    try:
        try:
            t_ids, o_ids = resolve_names(ctx.conn, territory=args.territory, owner=args.owner)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        accounts = load_accounts(ctx.conn, territory_ids=t_ids, owner_ids=o_ids)
    finally:
        ctx.close()
    if t_ids is not None:
        accounts.territories = [t for t in accounts.territories if t.id in t_ids]
    from fieldrep.geo import basemap
    from fieldrep.ui.map.layers import territory_geoms
    from fieldrep.ui.map.map_export import MapExport, ensure_gui_app, write

    ensure_gui_app()
    parts = []
    if args.territory:
        parts.append(f"territory {args.territory}")
    if args.owner:
        parts.append(f"rep {args.owner}")
    title = args.title or ("Accounts" + (" — " + ", ".join(parts) if parts else ""))
    try:
        write(
            MapExport(
                accounts,
                territory_geoms(accounts.territories),
                basemap.load(),
                args.color_by,
                title,
            ),
            out,
            size,
        )
    except (OSError, ValueError) as exc:
        raise CommandError(str(exc)) from exc
    summary = {
        "output": str(out),
        "size": list(size),
        "accounts": len(accounts),
        "unplaced": len(accounts.unplaced),
    }
    text = f"wrote {out} ({size[0]}x{size[1]}): {len(accounts):,} accounts"
    if accounts.unplaced:
        text += f", {len(accounts.unplaced):,} without a location not shown"
    emit(args, summary, text)
    return 0
