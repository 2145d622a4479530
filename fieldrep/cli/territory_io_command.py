"""``fieldrep import territories FILE`` and ``fieldrep export territories FILE`` (GeoJSON, KML in).

Registered into the ``import``/``export`` groups through ``fieldrep.cli.import_command``'s
``IMPORT_EXPORT_MODULES`` hook; ``fieldrep territories import|export`` reuse the same handlers.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Literal

from fieldrep.cli.common import CommandError, add_db_option, add_json_option, emit, open_context


def add_import_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str = "territories"
) -> None:
    p = sub.add_parser(
        name,
        help="import territories from GeoJSON (or KML polygons)",
        description="Create territories, or change existing ones, from a GeoJSON FeatureCollection "
        "(properties: name, parent, priority, postal_codes, regions, rules, color, "
        "owner, members; see the README), TopoJSON, or KML/KMZ placemarks. All or nothing: "
        "one bad feature and nothing is imported, with every problem listed.",
    )
    p.add_argument(
        "file",
        type=Path,
        metavar="FILE",
        help="a .geojson/.json, .topojson, .kml or .kmz file",
    )
    p.add_argument(
        "--name-property",
        metavar="NAME",
        help="the property that names a feature (any case), or a template of properties such"
        ' as "{NAME} {LSAD}, {STATE}" (default: name, Name or NAME)',
    )
    p.add_argument(
        "--region-country",
        metavar="COUNTRY",
        help="whose states a bare two-letter region names (US, DE, Germany...; 'none': such"
        " codes are countries); remembered for this database's later imports (default: the"
        " country of most of the book's accounts, else US)",
    )
    add_db_option(p)
    add_json_option(p)
    p.set_defaults(handler=run_import)


def add_export_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str = "territories"
) -> None:
    p = sub.add_parser(name, help="export territories as a GeoJSON FeatureCollection")
    p.add_argument("file", type=Path, metavar="FILE", help="the .geojson file to write")
    add_db_option(p)
    add_json_option(p)
    p.set_defaults(handler=run_export)


def register_import(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    add_import_parser(sub)


def register_export(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    add_export_parser(sub)


def run_import(args: argparse.Namespace) -> int:
    from fieldrep.services.territories import geojson as territory_geojson
    from fieldrep.services.territories import region_reading
    from fieldrep.store.errors import StoreError

    if not args.file.is_file():
        raise CommandError(f"{args.file} does not exist or is not a file", exit_code=2)
    ctx = open_context(args)
    try:
        choice: str | Literal["book"] | None = "book"
        if args.region_country:
            choice = region_reading.parse_choice(args.region_country)
        result = territory_geojson.import_file(
            ctx, args.file, name_property=args.name_property, region_country=choice
        )
        from fieldrep.services.territories import assignment as assignment_service

        diff = assignment_service.assign_all(ctx, dry_run=True)
    except StoreError as exc:  # NotGeoJSONError and DefinitionError are StoreErrors
        raise CommandError(f"nothing imported: {exc}") from exc
    finally:
        ctx.close()
    moving = sum(1 for m in diff.moves if m.from_territory_id != m.to_territory_id)
    warnings = result.warning_lines()
    summary = {
        "file": str(args.file),
        "created": result.created,
        "updated": result.updated,
        "members_added": result.members_added,
        "repaired": result.repaired,
        "warnings": warnings,
        "region_reading": result.region_reading or None,
        "accounts_that_would_move": moving,
    }
    text = (
        f"Imported {args.file.name}: {len(result.created):,} created, {len(result.updated):,} "
        f"updated, {result.members_added} member(s) added."
    )
    if result.region_reading:
        text += f"\n{result.region_reading[0].upper()}{result.region_reading[1:]}."
    text += "".join(f"\nwarning: {w}" for w in _counted(warnings))
    text += (
        f"\n{moving:,} account(s) would change territory: run `fieldrep assign` to apply"
        " (`fieldrep assign --dry-run` lists them)."
        if moving
        else "\nNo account changes territory."
    )
    emit(args, summary, text)
    return 0


def _counted(warnings: list[str], shown: int = 20) -> list[str]:
    """The warnings, at most ``shown`` of them and a count of the rest."""
    if len(warnings) <= shown:
        return warnings
    return [
        *warnings[:shown],
        f"... and {len(warnings) - shown:,} more warnings (--json lists all)",
    ]


def run_export(args: argparse.Namespace) -> int:
    from fieldrep.services.territories import geojson as territory_geojson

    ctx = open_context(args)
    try:
        count = territory_geojson.export_file(ctx, args.file)
    except OSError as exc:
        raise CommandError(f"cannot write {args.file}: {exc.strerror}") from exc
    finally:
        ctx.close()
    emit(
        args,
        {"file": str(args.file), "territories": count},
        f"Exported {count} territories to {args.file}.",
    )
    return 0
