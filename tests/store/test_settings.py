"""Settings declared once: each reads its default when unset and writes the strings it always did."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import fieldrep
from fieldrep.services.context import Context
from fieldrep.store import local_meta, settings


def test_every_key_is_declared_once() -> None:
    keys = [s.key for s in settings.ALL]
    assert len(keys) == len(set(keys))
    assert {"sync_cursor", "smtp_port", "map.day_route"} <= set(keys)


def test_unset_reads_as_the_default(ctx: Context) -> None:
    conn = ctx.conn
    assert settings.get(conn, settings.SYNC_CURSOR) == 0
    assert settings.get(conn, settings.SYNC_REFETCH) == []
    assert settings.get(conn, settings.SMTP_PORT) == 587
    assert settings.get(conn, settings.SMTP_STARTTLS) is True
    assert settings.get(conn, settings.MAP_TILE_CACHE_MB) == 500
    assert settings.get(conn, settings.USER_ID) is None
    assert settings.get(conn, settings.DEMO_KEPT_AT) == ""
    # Empty text counts as unset, as the readers always treated it.
    local_meta.put(conn, "sync_cursor", "")
    assert settings.get(conn, settings.SYNC_CURSOR) == 0


def test_a_mutable_default_is_a_fresh_copy(ctx: Context) -> None:
    settings.get(ctx.conn, settings.SYNC_REFETCH).append(["accounts", "a1"])
    assert settings.get(ctx.conn, settings.SYNC_REFETCH) == []


@pytest.mark.parametrize(
    ("setting", "value", "stored"),
    [
        (settings.SYNC_CURSOR, 42, "42"),
        (settings.HLC_LAST, 1_700_000_000_000_001, "1700000000000001"),
        (settings.SYNC_REPLACING, True, "1"),
        (settings.SYNC_REPLACING, False, ""),
        (settings.SMTP_STARTTLS, False, "0"),
        (settings.SMTP_STARTTLS, True, "1"),
        (settings.SMTP_PORT, 465, "465"),
        (settings.SMTP_HOST, None, None),
        (settings.SYNC_VERIFIED_AT, 1.5, "1.5"),
        (settings.SYNC_REFETCH, [["accounts", "a1"]], '[["accounts", "a1"]]'),
        (
            settings.MAP_DAY_ROUTE,
            {"day": "2026-01-02", "ids": ["a"]},
            '{"day": "2026-01-02", "ids": ["a"]}',
        ),
    ],
)
def test_stored_strings_are_the_ones_always_written(
    ctx: Context, setting: settings.Setting[object], value: object, stored: str | None
) -> None:
    settings.put(ctx.conn, setting, value)
    assert local_meta.get(ctx.conn, setting.key) == stored
    expected = setting.default if stored in (None, "") else value
    assert settings.get(ctx.conn, setting) == expected


def test_what_a_person_typed_wrong_reads_as_the_default(ctx: Context) -> None:
    local_meta.put(ctx.conn, "map.tile_cache_mb", "lots")
    local_meta.put(ctx.conn, "smtp_port", "25x")
    assert settings.get(ctx.conn, settings.MAP_TILE_CACHE_MB) == 500
    assert settings.get(ctx.conn, settings.SMTP_PORT) == 587


def test_a_corrupt_counter_is_refused(ctx: Context) -> None:
    local_meta.put(ctx.conn, "sync_cursor", "x")
    with pytest.raises(ValueError, match="invalid literal"):
        settings.get(ctx.conn, settings.SYNC_CURSOR)


def test_clear_removes_a_marker(ctx: Context) -> None:
    settings.put(ctx.conn, settings.SEARCH_INDEX_DEFERRED, True)
    settings.clear(ctx.conn, settings.SEARCH_INDEX_DEFERRED)
    assert local_meta.get(ctx.conn, "search_index.deferred") is None


def test_no_key_is_read_or_written_by_name() -> None:
    """Every ``local_meta`` read and write of the app, the sync engine's included, goes through a
    declared setting. Not yet: the server (its own database, reworked elsewhere) and the referral
    SLA (``sla.py``), which follow later."""
    root = Path(fieldrep.__file__).parent
    later = {"server"}
    offenders = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        if rel.parts[0] in later or rel.name in {"local_meta.py", "settings.py", "sla.py"}:
            continue
        if re.search(r"local_meta\.(get|put)\(", path.read_text(encoding="utf-8")):
            offenders.append(str(rel))
    assert offenders == []
