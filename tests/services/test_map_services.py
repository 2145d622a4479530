"""The map's services on a real database: bulk reads, bulk assignment, outlines with the engine's
diff, the day's route and its exports."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fieldrep.services.context import Context
from fieldrep.services.map import route_planning
from fieldrep.services.map import selection as map_selection
from fieldrep.services.map import territory as map_territory
from fieldrep.services.map.data import load_accounts, resolve_names
from fieldrep.services.territories import assignment as assignment_service
from fieldrep.services.territories import service as territories
from fieldrep.store.errors import ValidationError
from tests.services.helpers_territories import account, square, user


@pytest.fixture
def book(ctx: Context) -> dict[str, str]:
    rep = user(ctx, "jordan")
    ctx.set_user(rep)
    west = territories.create_territory(
        ctx, "West", geometry=square(-75, 40, -74, 41), color="#1f77b4"
    )
    ids = {"west": west, "rep": rep}
    for i, (lon, lat) in enumerate(
        [(-74.9, 40.1), (-74.5, 40.5), (-74.1, 40.9), (-73.5, 40.5), (-73.2, 40.2)]
    ):
        ids[f"a{i}"] = account(ctx, f"Account {i}", lat=lat, lon=lon, city="Town", status="active")
    ids["lost"] = account(ctx, "No Place Inc", city="Nowhere")
    assignment_service.assign_all(ctx, dry_run=False)  # as the app would have placed them
    return ids


def test_load_accounts_lists_the_unplaced_and_codes_every_colouring(
    ctx: Context, book: dict[str, str]
) -> None:
    acc = load_accounts(ctx.conn)
    assert len(acc) == 5
    assert [u[1] for u in acc.unplaced] == ["No Place Inc"]
    for key in ("territory", "owner", "status", "last_visit", "quality"):
        coding = acc.coding(key)
        assert len(coding.codes) == 5
        assert sum(c.count for c in coding.categories) == 5
    assert acc.coding("last_visit").categories[-1].count == 5  # never visited
    with pytest.raises(ValueError, match="cannot colour by"):
        acc.coding("shoe size")


def test_resolve_names_says_which_name_is_unknown(ctx: Context, book: dict[str, str]) -> None:
    t_ids, o_ids = resolve_names(ctx.conn, territory="west", owner="Jordan")
    assert t_ids == {book["west"]}
    assert o_ids == {book["rep"]}
    with pytest.raises(ValueError, match="no territory named 'East'; known: West"):
        resolve_names(ctx.conn, territory="East")
    with pytest.raises(ValueError, match="no user named"):
        resolve_names(ctx.conn, owner="nobody")


def test_bulk_assign_writes_history_locks_and_queues_for_sync(
    ctx: Context, book: dict[str, str]
) -> None:
    east = territories.create_territory(ctx, "East")
    before = ctx.writer.pending_count()
    moved = map_selection.assign(ctx, [book["a3"], book["a4"], book["a3"]], territory_id=east)
    assert moved == 2
    rows = ctx.conn.execute(
        "SELECT territory_id, locked FROM accounts WHERE id IN (?, ?)", (book["a3"], book["a4"])
    ).fetchall()
    assert rows == [(east, 1), (east, 1)]
    # The account's creation wrote its own entry ("kept as yours"): the map's move comes after it.
    history = ctx.conn.execute(
        "SELECT to_territory_id, reason, by_user_id FROM assignment_history WHERE entity_id = ?"
        " ORDER BY rowid",
        (book["a3"],),
    ).fetchall()
    assert history[-1] == (east, "assigned on the map", book["rep"])
    assert [h for h in history if h[1] == "assigned on the map"] == [history[-1]]
    assert ctx.writer.pending_count() > before
    with pytest.raises(ValidationError, match="choose a territory or a rep"):
        map_selection.assign(ctx, [book["a3"]])


def test_selection_export_neutralises_formulas(
    ctx: Context, book: dict[str, str], tmp_path: Path
) -> None:
    evil = account(ctx, "=HYPERLINK(1)", lat=40.0, lon=-74.0)
    out = tmp_path / "sel.csv"
    assert map_selection.export_csv(ctx, [book["a0"], evil], out) == 2
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert {r["name"] for r in rows} == {"Account 0", "'=HYPERLINK(1)"}


def test_outline_checks_refuse_too_few_points_and_offer_a_repair() -> None:
    with pytest.raises(
        map_territory.OutlineError, match="at least three corners; this outline has 2"
    ) as err:
        map_territory.check_outline([(-74, 40), (-73, 41), (-74, 40)])
    assert err.value.repaired is None
    with pytest.raises(map_territory.OutlineError, match="crosses itself") as err:
        map_territory.check_outline([(-74, 40), (-73, 41), (-73, 40), (-74, 41)])
    assert err.value.repaired is not None
    assert len(err.value.repaired["coordinates"]) == 2
    outline = map_territory.check_outline([(-74, 40), (-73, 40), (-73, 41), (-74, 41)])
    assert outline.geometry["type"] == "MultiPolygon"
    assert 8_000 < outline.area_km2 < 10_000  # one degree square at 40.5 N


def test_preview_shows_the_engines_diff_and_leaves_nothing_behind(
    ctx: Context, book: dict[str, str]
) -> None:
    count = ctx.conn.execute("SELECT count(*) FROM territories").fetchone()[0]
    pending = ctx.writer.pending_count()
    outline = map_territory.check_outline([(-74, 40), (-73, 40), (-73, 41), (-74, 41)])
    diff = map_territory.preview(ctx, outline.geometry, name="East", color="#ff7f0e")
    assert {m.account_name for m in diff.moves} == {"Account 3", "Account 4"}
    assert {m.to_territory for m in diff.moves} == {"East"}
    assert ctx.conn.execute("SELECT count(*) FROM territories").fetchone()[0] == count
    assert ctx.writer.pending_count() == pending
    tid, saved = map_territory.save(ctx, outline.geometry, name="East", color="#ff7f0e")
    assert {m.account_name for m in saved.moves} == {"Account 3", "Account 4"}
    assert ctx.conn.execute(
        "SELECT territory_id FROM accounts WHERE id = ?", (book["a4"],)
    ).fetchone() == (tid,)
    stored = json.loads(
        ctx.conn.execute("SELECT geometry FROM territories WHERE id = ?", (tid,)).fetchone()[0]
    )
    assert stored["type"] == "MultiPolygon"


def test_route_orders_stops_names_the_unplaced_and_exports(
    ctx: Context, book: dict[str, str], tmp_path: Path
) -> None:
    ids = [book["a4"], book["a0"], book["lost"], book["a2"], book["a1"], book["a3"]]
    plan = route_planning.plan(ctx.conn, ids, start=(40.0, -75.0), start_label="Home")
    assert [s.name for s in plan.stops] == [
        "Account 0",
        "Account 1",
        "Account 2",
        "Account 3",
        "Account 4",
    ]
    assert plan.skipped == [(book["lost"], "No Place Inc")]
    assert "No Place Inc" in plan.describe()
    assert "not a road network" in plan.describe()
    assert plan.straight_m == pytest.approx(sum(s.leg_m for s in plan.stops))
    gpx = tmp_path / "r.gpx"
    route_planning.write_gpx(plan, gpx)
    ns = {"g": "http://www.topografix.com/GPX/1/1"}
    root = ET.parse(gpx).getroot()
    names = [e.text for e in root.findall("g:rte/g:rtept/g:name", ns)]
    assert names[0] == "Home"
    assert names[1] == "1. Account 0"
    assert len(names) == 6
    out = tmp_path / "r.csv"
    route_planning.write_csv(plan, out)
    rows = list(csv.reader(out.open(encoding="utf-8")))
    assert rows[0][:3] == ["stop", "account_id", "name"]
    assert rows[1][2] == "Account 0"


def test_route_refuses_more_than_the_limit_and_remembers_todays_stops(
    ctx: Context, book: dict[str, str]
) -> None:
    with pytest.raises(ValidationError, match="at most 100 stops; 101 were chosen"):
        route_planning.plan(ctx.conn, [f"id{i}" for i in range(101)])
    route_planning.save_stops(ctx, [book["a1"], book["a2"]])
    assert route_planning.load_stops(ctx.conn) == [book["a1"], book["a2"]]


def test_split_then_merge_through_the_engine(ctx: Context, book: dict[str, str]) -> None:
    west = ctx.conn.execute(
        "SELECT geometry FROM territories WHERE id = ?", (book["west"],)
    ).fetchone()[0]
    with pytest.raises(map_territory.OutlineError, match="does not cross the territory"):
        map_territory.split_outline(json.loads(west), [(-72.0, 39.0), (-72.0, 42.0)])
    with pytest.raises(map_territory.OutlineError, match="does not cut the territory in two"):
        map_territory.split_outline(json.loads(west), [(-74.5, 39.5), (-74.5, 40.5)])
    # Cut West (lon -75..-74) at lon -74.3: the larger western part keeps the name.
    keep, new = map_territory.split_outline(json.loads(west), [(-74.3, 39.5), (-74.3, 41.5)])
    changes = [
        map_territory.Change(book["west"], geometry=keep),
        map_territory.Change(None, name="West 2", color="#9467bd", geometry=new),
    ]
    diff = map_territory.preview_changes(ctx, changes)
    assert {(m.account_name, m.to_territory) for m in diff.moves} == {("Account 2", "West 2")}
    assert (
        ctx.conn.execute("SELECT count(*) FROM territories WHERE name = 'West 2'").fetchone()[0]
        == 0
    )
    (west_id, new_id), _saved = map_territory.save_changes(ctx, changes)
    assert west_id == book["west"]
    assert ctx.conn.execute(
        "SELECT territory_id FROM accounts WHERE id = ?", (book["a2"],)
    ).fetchone() == (new_id,)
    # Merge them back: West takes both outlines, West 2 is archived and its account returns.
    merged = map_territory.merge_outlines(keep, new)
    diff = map_territory.preview_changes(
        ctx,
        [
            map_territory.Change(west_id, geometry=merged),
            map_territory.Change(new_id, archive=True),
        ],
    )
    assert {(m.account_name, m.to_territory) for m in diff.moves} == {("Account 2", "West")}


def test_a_timed_day_keeps_appointments_and_names_what_does_not_fit(
    ctx: Context, book: dict[str, str], tmp_path: Path
) -> None:
    from datetime import time

    ids = [book[f"a{k}"] for k in range(5)]
    day = route_planning.DayTimes(
        time(9, 0),
        time(12, 0),
        visit_minutes=45,
        appointments={book["a1"]: (time(9, 30), time(9, 45))},
    )
    plan = route_planning.plan(ctx.conn, ids, start=(40.45, -74.6), day=day)
    names = [s.name for s in plan.stops]
    assert "Account 1" in names  # the appointment, 10 km away, inside its window
    assert "09:30" <= plan.stops[names.index("Account 1")].arrival <= "09:45"
    # Three hours cannot hold five 45-minute visits plus driving: the rest are named, not lost.
    assert len(plan.stops) + len(plan.unfit) == 5
    assert plan.unfit
    assert "Do not fit before the end of the day" in plan.describe()
    assert all("09:00" <= s.arrival <= "12:00" for s in plan.stops)
    out = tmp_path / "day.csv"
    route_planning.write_csv(plan, out)
    assert "visit_at" in out.read_text(encoding="utf-8").splitlines()[0]
    with pytest.raises(ValidationError, match="end after it starts"):
        route_planning.DayTimes(time(17, 0), time(9, 0))
